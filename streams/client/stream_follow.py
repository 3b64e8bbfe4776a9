"""Turn a streamed request's events (StreamDelta..., then LLMResponse) into the text a caller shows.

Pieces are sent outside the answer's transaction, so a reader may see them out of the happy path:
  a gap in `index`       pieces were lost: stop relaying, the answer fills in the rest
  a second `stream_id`   the request is being answered again (its worker stopped): ignored, the
                         answer is the record of truth
  an answer whose text does not begin with what was shown: StreamDiverged, never a splice
An answer with no pieces before it (a cache hit, a deduplicated request) is shown as one piece.
"""

from __future__ import annotations

from streams.events import LLMResponse, StreamDelta

__all__ = ["StreamFollower", "StreamDiverged"]


class StreamDiverged(RuntimeError):
    """The answer's text is not a continuation of the pieces already shown. Holds the answer."""

    def __init__(self, response: LLMResponse, shown: str):
        super().__init__(f"the answer to {response.request_id} does not continue the {len(shown)} characters "
                         "already streamed (its worker restarted mid-stream); the answer is on .response")
        self.response = response


class StreamFollower:
    def __init__(self) -> None:
        self.stream_id: str | None = None
        self._next = 0
        self._gapped = False
        self._shown: list[str] = []

    @property
    def shown(self) -> str:
        return "".join(self._shown)

    def delta(self, delta: StreamDelta) -> str | None:
        """The text to show for this piece, or None."""
        if self.stream_id is None:
            self.stream_id = delta.stream_id
        if delta.stream_id != self.stream_id or self._gapped or delta.index < self._next:
            return None
        if delta.index > self._next:
            self._gapped = True
            return None
        self._next += 1
        if delta.text:
            self._shown.append(delta.text)
        return delta.text or None

    def answer(self, response: LLMResponse) -> str | None:
        """What the answer adds to the text shown; raises StreamDiverged when it does not continue it.
        An answer that is not ok adds nothing: the caller reports its error."""
        if response.status != "ok":
            return None
        content, shown = response.content or "", self.shown
        if not content.startswith(shown):
            raise StreamDiverged(response, shown)
        rest = content[len(shown):]
        if rest:
            self._shown.append(rest)
        return rest or None
