"""Turn a streamed request's events (StreamDelta..., then LLMResponse) into the pieces a caller shows:
text, and fragments of tool calls.

Pieces are sent outside the answer's transaction, so a reader may see them out of the happy path:
  a gap in `index`       pieces were lost: stop relaying, the answer fills in the rest
  a second `stream_id`   the request is being answered again (its worker stopped): ignored, the
                         answer is the record of truth
  an answer whose text does not begin with what was shown: StreamDiverged, never a splice
An answer with no pieces before it (a cache hit, a deduplicated request) is shown as one piece, and
each of its tool calls as one fragment.
"""

from __future__ import annotations

from streams.events import LLMResponse, StreamDelta, ToolCallFragment

Piece = str | ToolCallFragment

__all__ = ["StreamFollower", "StreamDiverged", "Piece"]


class StreamDiverged(RuntimeError):
    """The answer's text is not a continuation of the pieces already shown. Holds the answer."""

    def __init__(self, response: LLMResponse, shown: str):
        super().__init__(f"the answer to {response.request_id} does not continue the {len(shown)} characters "
                         "already streamed (its worker restarted mid-stream); the answer is on .response")
        self.response = response


class StreamFollower:
    def __init__(self) -> None:
        self.stream_id: str | None = None
        self.model: str | None = None  # the model of the stream shown, known from its first piece
        self._next = 0
        self._gapped = False
        self._shown: list[str] = []
        self._calls: dict[int, str] = {}  # tool call index -> the arguments shown so far

    @property
    def shown(self) -> str:
        return "".join(self._shown)

    def delta(self, delta: StreamDelta) -> Piece | None:
        """The text or tool-call fragment to show for this piece, or None."""
        if self.stream_id is None:
            self.stream_id, self.model = delta.stream_id, delta.model
        if delta.stream_id != self.stream_id or self._gapped or delta.index < self._next:
            return None
        if delta.index > self._next:
            self._gapped = True
            return None
        self._next += 1
        if (call := delta.tool_call) is not None:
            self._calls[call.index] = self._calls.get(call.index, "") + call.arguments
            return call
        if delta.text:
            self._shown.append(delta.text)
        return delta.text or None

    def answer(self, response: LLMResponse) -> list[Piece]:
        """What the answer adds to what was shown: the rest of its text, then each tool call not shown
        (whole) or the rest of its arguments. Raises StreamDiverged when the answer does not continue
        what was shown. An answer that is not ok adds nothing: the caller reports its error."""
        if response.status != "ok":
            return []
        content, shown = response.content or "", self.shown
        if not content.startswith(shown):
            raise StreamDiverged(response, shown)
        pieces: list[Piece] = []
        if rest := content[len(shown):]:
            self._shown.append(rest)
            pieces.append(rest)
        for index, call in enumerate(response.tool_calls):
            seen = self._calls.get(index)
            if seen is None:
                pieces.append(ToolCallFragment(index=index, id=call.id, name=call.name, arguments=call.arguments))
            elif not call.arguments.startswith(seen):
                raise StreamDiverged(response, shown)
            elif call.arguments != seen:
                pieces.append(ToolCallFragment(index=index, arguments=call.arguments[len(seen):]))
            self._calls[index] = call.arguments
        return pieces
