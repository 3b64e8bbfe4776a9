"""A local HTTP server that speaks each provider family's wire format, for tests.

One server answers every family, since their paths differ:
  POST /v1/chat/completions                      OpenAI and local servers (JSON, or SSE with stream)
  POST /v1/files, /v1/batches; GET /v1/batches/ID OpenAI batch
  POST /v1/messages (+ /batches, GET /batches/ID) Anthropic (JSON, or named SSE events)
  POST /v1beta/models/M:generateContent           Gemini (and :streamGenerateContent?alt=sse, \\r\\n framing)
  POST /v2/chat, /v1/chat, /v2/embed             Cohere (v2 SSE, v1 NDJSON)
Model names pick failures, like TensorZero's dummy provider: "error-500", "rate-limited",
"bad-key", "too-long", "overloaded". A missing key is a 401, as at the real APIs.
With `recording=` it serves one recorded exchange from shared/provider-recordings verbatim.

For streaming tests: `stream_parts=N` answers N pieces ("w0 ", "w1 ", ...), `chunk_delay_s` paces
the chunks of a stream, and `streams` logs each one (chunks written, finished, cut by the client).
Streamed model names: "breaks-mid-stream" fails after 5 pieces (OpenAI's and Anthropic's in-stream
error event; Gemini and Cohere have none, so the connection is cut), "no-usage" leaves the usage out
(OpenAI without stream_options.include_usage), "usage-mid-stream" sends the usage on a chunk that
still has choices and more chunks after it (as OpenAI does when it appends moderation chunks).

Model lists: GET .../models answers every family's shape at once (OpenAI's and Anthropic's `data`,
Cohere's and Gemini's `models`). With `served_models` set, those are the models listed, and a call of
any other model is a 404 in the family's shape, as the real APIs answer an unknown model id. Without it
the list is a 404, as from a server that has no such endpoint.

Tools: a request that offers tools, whose last turn is not a tool's result, is answered with a call
of its first tool (or the one tool_choice names) in the family's own shape, plain or streamed (the
arguments in pieces where the family streams them so); a request whose last turn is a tool's result
is answered in text that quotes the result: "the tool said: ...".
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from providers.schema_example import example_of
from tests.support.clock import iso

RECORDINGS = Path(__file__).resolve().parents[3] / "shared" / "provider-recordings"
ANSWER_CHUNKS = ("ok ", "from ", "{model}")


@dataclass
class StreamLog:
    path: str
    model: str
    prompt: str
    written: int = 0  # chunks written
    finished: bool = False  # the last chunk is written
    cut: bool = False  # the client closed the connection before the last chunk


def load_recording(name: str) -> dict:
    """The first interaction of a file in shared/provider-recordings."""
    path = RECORDINGS / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: the recordings live in shared/ beside the checkout")
    return json.loads(path.read_text())["interactions"][0]


def _family(path: str) -> str:
    if path.startswith(("/v1/chat/completions", "/v1/embeddings", "/v1/files", "/v1/batches")):
        return "openai"
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith("/v1beta/models/"):
        return "google"
    return "cohere"


EMBED_SIZE = 8  # the length of the vectors this server makes, unless a request asks for another


def _vector(model: str, text: str, size: int) -> list[float]:
    digest = hashlib.sha256(f"{model}:{text}".encode()).digest()
    return [round(digest[i % len(digest)] / 255 - 0.5, 4) for i in range(size)]


def _error_body(family: str, status: int, message: str, kind: str) -> dict:
    if family == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    if family == "google":
        return {"error": {"code": status, "message": message, "status": kind}}
    if family == "cohere":
        return {"message": message}
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


# model name -> status, message, and the error type each family would use
_FAILURES = {
    "error-500": (500, "The server had an error while processing your request.",
                  {"openai": "server_error", "anthropic": "api_error", "google": "INTERNAL", "cohere": ""}),
    "overloaded": (529, "Overloaded", {"openai": "server_error", "anthropic": "overloaded_error",
                                       "google": "UNAVAILABLE", "cohere": ""}),
    "rate-limited": (429, "Rate limit reached", {"openai": "rate_limit_exceeded", "anthropic": "rate_limit_error",
                                                 "google": "RESOURCE_EXHAUSTED", "cohere": ""}),
    "bad-key": (401, "Invalid API key provided.", {"openai": "invalid_api_key", "anthropic": "authentication_error",
                                                    "google": "UNAUTHENTICATED", "cohere": ""}),
    "too-long": (400, "This model's maximum context length is 8192 tokens; prompt is too long.",
                 {"openai": "context_length_exceeded", "anthropic": "invalid_request_error",
                  "google": "INVALID_ARGUMENT", "cohere": ""}),
}


def _prompt_text(body: dict) -> str:
    """Every piece of prompt text in a request body, whichever family's shape it has."""
    texts = [m.get("content", "") for m in body.get("messages") or [] if isinstance(m.get("content"), str)]
    texts += [block.get("text", "") for m in body.get("messages") or [] if isinstance(m.get("content"), list)
              for block in m["content"] if isinstance(block, dict) and isinstance(block.get("text"), str)]
    texts += [p.get("text", "") for c in body.get("contents") or [] for p in c.get("parts") or []]
    texts += [p.get("text", "") for p in (body.get("systemInstruction") or {}).get("parts") or []]
    texts += [t for t in (body.get("system"), body.get("message"), body.get("preamble")) if isinstance(t, str)]
    texts += [m.get("message", "") for m in body.get("chat_history") or []]
    return " ".join(texts)


def _tools(family: str, body: dict) -> list[tuple[str, dict]]:
    """(name, JSON schema) of each tool the request offers, in the family's own spelling."""
    if family == "google":
        # The API takes proto field names in either spelling; google-genai sends parameters_json_schema.
        return [(d["name"], d.get("parametersJsonSchema") or d.get("parameters_json_schema") or d.get("parameters") or {})
                for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    if family == "anthropic":
        return [(t["name"], t.get("input_schema") or {}) for t in body.get("tools") or []]
    return [(t["function"]["name"], t["function"].get("parameters") or {}) for t in body.get("tools") or []]


def _tool_result(family: str, body: dict) -> str | None:
    """The last turn's tool result, when the last turn is one."""
    if family == "google":
        last = (body.get("contents") or [{}])[-1]
        found = [p["functionResponse"]["response"] for p in last.get("parts") or [] if "functionResponse" in p]
        return json.dumps(found[-1]) if found else None
    last = (body.get("messages") or [{}])[-1]
    if family == "anthropic":
        blocks = last.get("content") if isinstance(last.get("content"), list) else []
        found = [b.get("content") for b in blocks if b.get("type") == "tool_result"]
        return str(found[-1]) if found else None
    return str(last.get("content")) if last.get("role") == "tool" else None


def _tool_to_call(family: str, body: dict) -> tuple[str, dict] | None:
    """(tool name, arguments) to call, or None: no tools, a tool's result to answer, or tool_choice none."""
    tools = _tools(family, body)
    if not tools or _tool_result(family, body) is not None:
        return None
    choice = body.get("tool_choice") or (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    if choice in ("none", "NONE") or (isinstance(choice, dict) and choice.get("type") == "none"):
        return None
    named = (choice.get("name") or (choice.get("function") or {}).get("name")
             or (choice.get("allowedFunctionNames") or [None])[0]) if isinstance(choice, dict) else None
    name, schema = next(((n, s) for n, s in tools if n == named), tools[0])
    return name, example_of(schema) or {}


class ProviderServer:
    def __init__(self, *, recording: dict | None = None, stream_parts: int = 0, chunk_delay_s: float = 0.0):
        self.recording = recording
        self.stream_parts = stream_parts
        self.chunk_delay_s = chunk_delay_s
        self.streams: list[StreamLog] = []
        self.failing: set[str] = set()  # models answered with a 500 until removed: an outage and its recovery
        self.retry_after = "2"  # the Retry-After of a "rate-limited" model's 429
        # model -> time.monotonic() until which it answers 429 with the seconds left as Retry-After
        self.limited_until: dict[str, float] = {}
        self.served_models: set[str] | None = None  # None: every model is served and listing shows none
        self.calls: list[dict] = []
        self.paths: list[str] = []
        self.auth_headers: list[str] = []
        self._batches: dict[str, dict] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self._serve(None)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                ctype = self.headers.get("Content-Type", "")
                body = json.loads(raw or b"{}") if "json" in ctype or not ctype else {"_raw": raw.decode(errors="replace")}
                self._serve(body)

            def _serve(self, body: dict | None) -> None:
                auth = (self.headers.get("Authorization") or self.headers.get("x-api-key")
                        or self.headers.get("x-goog-api-key") or "")
                with server._lock:
                    server.paths.append(self.path)
                    server.auth_headers.append(auth)
                    if body is not None:
                        server.calls.append(body)
                status, headers, chunks = server.respond(self.command, self.path, body or {}, auth)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                if isinstance(chunks, bytes):
                    self.send_header("Content-Length", str(len(chunks)))
                    self.end_headers()
                    self.wfile.write(chunks)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                log = StreamLog(self.path, str((body or {}).get("model") or self.path), _prompt_text(body or {}))
                with server._lock:
                    server.streams.append(log)
                try:
                    for i, chunk in enumerate(chunks):
                        if i and server.chunk_delay_s:
                            time.sleep(server.chunk_delay_s)
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        log.written += 1
                    log.finished = True
                except (BrokenPipeError, ConnectionResetError):
                    log.cut = True
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (with /v1)."""
        return self.root + "/v1"

    def respond(self, method: str, path: str, body: dict, auth: str):  # noqa: ANN201
        if self.recording is not None:
            response = self.recording["response"]
            payload = response["body"].encode()
            streamed = "event-stream" in str(response["headers"]) or "stream+json" in str(response["headers"])
            return response["status"], response["headers"], ([payload] if streamed else payload)
        family = _family(path)
        if not auth or auth in ("Bearer", "Bearer "):
            return self._json(401, _error_body(family, 401, "No API key provided.", "authentication_error"))
        if path.startswith(("/v1/files", "/v1/batches", "/v1/messages/batches")):
            return self._batch(method, path, body)
        if method == "GET" and path.split("?")[0].endswith("/models"):
            if self.served_models is None:  # as a server without the endpoint: the router keeps its catalog
                return self._json(404, _error_body(family, 404, "Not found", "not_found_error"))
            served = sorted(self.served_models)
            return self._json(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in served],
                                    "has_more": False, "models": [{"name": f"models/{m}" if family == "google" else m}
                                                                  for m in served]})
        model = body.get("model") or (re.search(r"/models/([^:]+):", path) or [None, ""])[1]
        if self.served_models is not None and model not in self.served_models:
            kind = {"openai": "model_not_found", "anthropic": "not_found_error", "google": "NOT_FOUND", "cohere": ""}[family]
            return self._json(404, _error_body(family, 404, f"model: {model} was not found", kind))
        if (left := self.limited_until.get(model, 0.0) - time.monotonic()) > 0:
            status, message, kinds = _FAILURES["rate-limited"]
            answer = self._json(status, _error_body(family, status, message, kinds[family]))
            answer[1]["Retry-After"] = str(int(left) + 1)
            return answer
        failure = _FAILURES.get("error-500" if model in self.failing else model)
        if failure:
            status, message, kinds = failure
            status_, headers, payload = self._json(status, _error_body(family, status, message, kinds[family]))
            if status == 429:
                headers["Retry-After"] = self.retry_after
            return status_, headers, payload
        words = len(_prompt_text(body).split())
        parts = [f"w{i} " for i in range(self.stream_parts)] or [c.format(model=model) for c in ANSWER_CHUNKS]
        stream = body.get("stream") or "streamGenerateContent" in path
        if (tool := _tool_to_call(family, body)) is not None:
            return getattr(self, f"_{family}_call")(model, tool, words, stream)
        if (result := _tool_result(family, body)) is not None:
            parts = ["the tool ", "said: ", result]
        handler = getattr(self, f"_{family}")
        if path.startswith(("/v2/embed", "/v1/embeddings")) or ":batchEmbedContents" in path:
            return self._embeddings(family, path, body, model)
        if path.startswith("/v1/chat") and family == "cohere":
            answer = self._cohere_v1(model, parts, words, stream)
        else:
            answer = handler(model, parts, words, stream)
        if stream and model == "no-usage" and family == "openai":
            answer = (*answer[:2], [c for c in answer[2] if b'"usage"' not in c])
        if stream and model == "usage-mid-stream" and family == "openai":
            answer = (*answer[:2], self._usage_mid_stream(answer[2]))
        if stream and model == "breaks-mid-stream":
            answer = (*answer[:2], self._broken(family, answer[2], parts))
        return answer

    def _embeddings(self, family: str, path: str, body: dict, model: str):  # noqa: ANN205
        """Each family's embeddings answer: a vector of EMBED_SIZE (or the length asked for) per text,
        made from the text and the model, and the family's usage (Gemini reports none)."""
        if family == "google":
            texts = [r["content"]["parts"][0]["text"] for r in body["requests"]]
            size = body["requests"][0].get("outputDimensionality") or EMBED_SIZE
            return self._json(200, {"embeddings": [{"values": _vector(model, t, size)} for t in texts]})
        if path.startswith("/v2/embed"):
            texts, size = body["texts"], body.get("output_dimension") or EMBED_SIZE
            return self._json(200, {"id": "emb-1", "embeddings": {"float": [_vector(model, t, size) for t in texts]},
                                    "texts": texts, "meta": {"billed_units": {"input_tokens": 2 * len(texts)}}})
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = body.get("dimensions") or EMBED_SIZE
        return self._json(200, {"object": "list", "model": model, "usage": {"prompt_tokens": 2 * len(texts),
                                                                          "total_tokens": 2 * len(texts)},
                                "data": [{"object": "embedding", "index": i, "embedding": _vector(model, t, size)}
                                         for i, t in enumerate(texts)]})

    @staticmethod
    def _usage_mid_stream(chunks: list[bytes]) -> list[bytes]:
        """The usage moved onto the finish chunk (which has choices), then a chunk after it, then [DONE]."""
        events = [json.loads(c.decode()[6:]) for c in chunks if not c.startswith(b"data: [DONE]")]
        usage = next(e["usage"] for e in events if e.get("usage"))
        events = [e for e in events if not e.get("usage")]
        events[-1]["usage"] = usage
        events.append({**events[-1], "usage": None, "choices": [{"index": 0, "delta": {}, "logprobs": None,
                                                                 "finish_reason": None}]})
        return [f"data: {json.dumps(e)}\n\n".encode() for e in events] + [b"data: [DONE]\n\n"]

    def _broken(self, family: str, chunks: list[bytes], parts: list[str], after: int = 5) -> list[bytes]:
        """The stream up to its `after`-th piece, then the family's in-stream error, or nothing (a cut)."""
        marker = json.dumps(parts[after - 1])[1:-1].encode()
        kept = chunks[:next(i for i, c in enumerate(chunks) if marker in c) + 1]
        if family == "openai":
            kept += self._sse([(None, _error_body("openai", 500, "The server had an error while streaming.",
                                                  "server_error"))])[2]
        elif family == "anthropic":
            kept += self._sse([("error", _error_body("anthropic", 529, "Overloaded", "overloaded_error"))])[2]
        return kept

    @staticmethod
    def _json(status: int, payload: dict) -> tuple[int, dict, bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(payload).encode()

    @staticmethod
    def _sse(events: list[tuple[str | None, dict | str]], sep: str = "\n") -> tuple[int, dict, list[bytes]]:
        out = []
        for name, data in events:
            text = data if isinstance(data, str) else json.dumps(data)
            out.append(((f"event: {name}{sep}" if name else "") + f"data: {text}{sep}{sep}").encode())
        return 200, {"Content-Type": "text/event-stream"}, out

    def _openai(self, model: str, parts: list[str], words: int, stream: bool):  # noqa: ANN205
        usage = {"prompt_tokens": words, "completion_tokens": len(parts), "total_tokens": words + len(parts)}
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": model, "system_fingerprint": "fp_test"}
        if not stream:
            return self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "".join(parts)}, "logprobs": None,
                 "finish_reason": "stop"}]})
        chunk = {**base, "object": "chat.completion.chunk"}
        events = [(None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                                "logprobs": None, "finish_reason": None}]})]
        events += [(None, {**chunk, "choices": [{"index": 0, "delta": {"content": p}, "logprobs": None,
                                                 "finish_reason": None}]}) for p in parts]
        events.append((None, {**chunk, "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]}))
        events.append((None, {**chunk, "choices": [], "usage": usage}))  # stream_options.include_usage
        events.append((None, "[DONE]"))
        return self._sse(events)

    def _anthropic(self, model: str, parts: list[str], words: int, stream: bool):  # noqa: ANN205
        message = {"id": "msg_test", "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
        if not stream:
            return self._json(200, {**message, "content": [{"type": "text", "text": "".join(parts)}],
                                    "stop_reason": "end_turn", "usage": {"input_tokens": words, "output_tokens": len(parts)}})
        events = [("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                                          "usage": {"input_tokens": words, "output_tokens": 1}}}),
                  ("content_block_start", {"type": "content_block_start", "index": 0,
                                           "content_block": {"type": "text", "text": ""}}),
                  ("ping", {"type": "ping"})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": p}}) for p in parts]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                      "usage": {"output_tokens": len(parts)}}),
                   ("message_stop", {"type": "message_stop"})]
        return self._sse(events)

    def _google(self, model: str, parts: list[str], words: int, stream: bool):  # noqa: ANN205
        def chunk(text: str, outputs: int, finish: str | None) -> dict:
            candidate = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
            if finish:
                candidate["finishReason"] = finish
            return {"candidates": [candidate], "modelVersion": model, "responseId": "resp-test",
                    "usageMetadata": {"promptTokenCount": words, "candidatesTokenCount": outputs,
                                      "totalTokenCount": words + outputs}}
        if not stream:
            return self._json(200, chunk("".join(parts), len(parts), "STOP"))
        events = [(None, chunk(p, i + 1, "STOP" if i == len(parts) - 1 else None)) for i, p in enumerate(parts)]
        return self._sse(events, sep="\r\n")

    def _cohere(self, model: str, parts: list[str], words: int, stream: bool):  # noqa: ANN205
        # billed_units differ from tokens on purpose: cost must follow billed_units.
        usage = {"billed_units": {"input_tokens": words, "output_tokens": len(parts)},
                 "tokens": {"input_tokens": words + 60, "output_tokens": len(parts)}}
        if not stream:
            return self._json(200, {"id": "co-test", "finish_reason": "COMPLETE", "usage": usage,
                                    "message": {"role": "assistant", "content": [{"type": "text", "text": "".join(parts)}]}})
        events = [("message-start", {"type": "message-start", "id": "co-test",
                                     "delta": {"message": {"role": "assistant", "content": []}}}),
                  ("content-start", {"type": "content-start", "index": 0,
                                     "delta": {"message": {"content": {"type": "text", "text": ""}}}})]
        events += [("content-delta", {"type": "content-delta", "index": 0,
                                      "delta": {"message": {"content": {"text": p}}}}) for p in parts]
        events += [("content-end", {"type": "content-end", "index": 0}),
                   ("message-end", {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": usage}}),
                   (None, "[DONE]")]  # as the real v2 API ends its streams
        return self._sse(events)

    # ---- tool calls, in each family's shape ----

    def _openai_call(self, model: str, tool: tuple[str, dict], words: int, stream: bool):  # noqa: ANN205
        name, args = tool
        arguments = json.dumps(args)
        usage = {"prompt_tokens": words, "completion_tokens": 9, "total_tokens": words + 9}
        base = {"id": "chatcmpl-test", "created": int(time.time()), "model": model, "system_fingerprint": "fp_test"}
        call = {"id": "call_wire_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        if not stream:
            return self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call], "refusal": None},
                 "logprobs": None, "finish_reason": "tool_calls"}]})
        chunk = {**base, "object": "chat.completion.chunk"}
        half = len(arguments) // 2

        def delta(d: dict, finish: str | None = None) -> tuple[None, dict]:
            return None, {**chunk, "choices": [{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}]}
        events = [delta({"role": "assistant", "content": None, "tool_calls": [
                      {"index": 0, "id": "call_wire_1", "type": "function", "function": {"name": name, "arguments": ""}}]}),
                  delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:half]}}]}),
                  delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[half:]}}]}),
                  delta({}, "tool_calls"), (None, {**chunk, "choices": [], "usage": usage}), (None, "[DONE]")]
        return self._sse(events)

    def _anthropic_call(self, model: str, tool: tuple[str, dict], words: int, stream: bool):  # noqa: ANN205
        name, args = tool
        message = {"id": "msg_test", "type": "message", "role": "assistant", "model": model, "stop_sequence": None}
        block = {"type": "tool_use", "id": "toolu_wire_1", "name": name}
        if not stream:
            return self._json(200, {**message, "content": [{"type": "text", "text": "Let me look."}, {**block, "input": args}],
                                    "stop_reason": "tool_use", "usage": {"input_tokens": words, "output_tokens": 9}})
        arguments = json.dumps(args)
        half = len(arguments) // 2
        events = [("message_start", {"type": "message_start", "message": {**message, "content": [], "stop_reason": None,
                                                                          "usage": {"input_tokens": words, "output_tokens": 1}}}),
                  ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {**block, "input": {}}}),
                  ("ping", {"type": "ping"})]
        events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "input_json_delta", "partial_json": piece}})
                   for piece in ("", arguments[:half], arguments[half:])]
        events += [("content_block_stop", {"type": "content_block_stop", "index": 0}),
                   ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                                      "usage": {"output_tokens": 9}}),
                   ("message_stop", {"type": "message_stop"})]
        return self._sse(events)

    def _google_call(self, model: str, tool: tuple[str, dict], words: int, stream: bool):  # noqa: ANN205
        name, args = tool
        body = {"candidates": [{"content": {"parts": [{"functionCall": {"name": name, "args": args},
                                                       "thoughtSignature": "c2lnbmF0dXJl"}], "role": "model"},
                                "finishReason": "STOP", "index": 0}],
                "modelVersion": model, "responseId": "resp-test",
                "usageMetadata": {"promptTokenCount": words, "candidatesTokenCount": 9, "totalTokenCount": words + 9}}
        return self._sse([(None, body)], sep="\r\n") if stream else self._json(200, body)

    def _cohere_call(self, model: str, tool: tuple[str, dict], words: int, stream: bool):  # noqa: ANN205
        name, args = tool
        arguments = json.dumps(args)
        usage = {"billed_units": {"input_tokens": words, "output_tokens": 9},
                 "tokens": {"input_tokens": words + 60, "output_tokens": 9}}
        call = {"id": "cohere_wire_1", "type": "function", "function": {"name": name, "arguments": arguments}}
        if not stream:
            return self._json(200, {"id": "co-test", "finish_reason": "TOOL_CALL", "usage": usage, "message": {
                "role": "assistant", "tool_plan": "I will call the tool.", "tool_calls": [call]}})
        half = len(arguments) // 2
        events = [("message-start", {"type": "message-start", "id": "co-test",
                                     "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                                                           "tool_calls": []}}}),
                  ("tool-plan-delta", {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I will call it."}}}),
                  ("tool-call-start", {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": {
                      **call, "function": {"name": name, "arguments": ""}}}}})]
        events += [("tool-call-delta", {"type": "tool-call-delta", "index": 0,
                                        "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}}})
                   for piece in (arguments[:half], arguments[half:])]
        events += [("tool-call-end", {"type": "tool-call-end", "index": 0}),
                   ("message-end", {"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": usage}}),
                   (None, "[DONE]")]
        return self._sse(events)

    def _cohere_v1(self, model: str, parts: list[str], words: int, stream: bool):  # noqa: ANN205
        meta = {"api_version": {"version": "1"}, "billed_units": {"input_tokens": words, "output_tokens": len(parts)},
                "tokens": {"input_tokens": words + 60, "output_tokens": len(parts)}}
        response = {"response_id": "r", "text": "".join(parts), "generation_id": "g", "finish_reason": "COMPLETE", "meta": meta}
        if not stream:
            return self._json(200, response)
        lines = [{"is_finished": False, "event_type": "stream-start", "generation_id": "g"}]
        lines += [{"is_finished": False, "event_type": "text-generation", "text": p} for p in parts]
        lines.append({"is_finished": True, "event_type": "stream-end", "response": response, "finish_reason": "COMPLETE"})
        return 200, {"Content-Type": "application/stream+json"}, [json.dumps(line).encode() + b"\n" for line in lines]

    def _batch(self, method: str, path: str, body: dict):  # noqa: ANN205
        if path == "/v1/files":
            lines = [line for line in body.get("_raw", "").splitlines() if line.startswith("{")]
            self._batches["file"] = {"lines": lines}
            return self._json(200, {"id": "file-test", "object": "file", "bytes": len(body.get("_raw", "")),
                                    "created_at": int(time.time()), "filename": "batch.jsonl", "purpose": "batch",
                                    "status": "processed"})
        if path == "/v1/batches" and method == "POST":
            total = len(self._batches.get("file", {}).get("lines", []))
            batch = {"id": "batch_test", "object": "batch", "endpoint": body["endpoint"], "input_file_id": body["input_file_id"],
                     "completion_window": body["completion_window"], "status": "validating", "created_at": int(time.time()),
                     "request_counts": {"total": total, "completed": 0, "failed": 0}}
            self._batches["batch_test"] = batch
            return self._json(200, batch)
        if path.startswith("/v1/batches/"):
            batch = {**self._batches[path.rsplit("/", 1)[1]], "status": "in_progress"}
            return self._json(200, batch)
        if path == "/v1/messages/batches" and method == "POST":
            batch = {"id": "msgbatch_test", "type": "message_batch", "processing_status": "in_progress",
                     "request_counts": {"processing": len(body["requests"]), "succeeded": 0, "errored": 0,
                                        "canceled": 0, "expired": 0},
                     "created_at": iso(now := datetime.now(timezone.utc)), "expires_at": iso(now + timedelta(days=1)),
                     "ended_at": None, "archived_at": None, "cancel_initiated_at": None, "results_url": None}
            self._batches["msgbatch_test"] = batch
            return self._json(200, batch)
        return self._json(200, self._batches[path.rsplit("/", 1)[1]])

    def __enter__(self) -> ProviderServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
