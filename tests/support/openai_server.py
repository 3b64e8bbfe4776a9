"""A local HTTP server that speaks OpenAI's chat-completions wire format, for tests.

Model names pick behaviours, like TensorZero's dummy provider:
  "error-500"     500 with an OpenAI error body
  "rate-limited"  429 with Retry-After: 2
  "bad-key"       401 invalid_api_key
  "too-long"      400 context_length_exceeded
anything else     200 with a chat.completion whose usage counts the words sent.
A missing bearer key is a 401, as at OpenAI. Or `recording=` serves one recorded exchange verbatim.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDINGS = Path(__file__).resolve().parents[3] / "shared" / "provider-recordings"


def load_recording(name: str) -> dict:
    """The first interaction of a file in shared/provider-recordings."""
    return json.loads((RECORDINGS / name).read_text())["interactions"][0]


def _error(status: int, message: str, type_: str, code: str | None = None) -> tuple[int, dict, bytes]:
    body = {"error": {"message": message, "type": type_, "param": None, "code": code}}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


class OpenAIServer:
    def __init__(self, *, recording: dict | None = None):
        self.recording = recording
        self.calls: list[dict] = []
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.calls.append(body)
                    server.auth_headers.append(self.headers.get("Authorization", ""))
                status, headers, payload = server.respond(self.path, body, self.headers.get("Authorization"))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def respond(self, path: str, body: dict, auth: str | None) -> tuple[int, dict, bytes]:
        if self.recording is not None:
            response = self.recording["response"]
            return response["status"], response["headers"], response["body"].encode()
        if path != "/v1/chat/completions":
            return _error(404, f"Unknown request URL: POST {path}", "invalid_request_error", "unknown_url")
        if not auth or not auth.startswith("Bearer "):
            return _error(401, "You didn't provide an API key.", "invalid_request_error")
        model = body.get("model", "")
        if model == "error-500":
            return _error(500, "The server had an error while processing your request.", "server_error")
        if model == "rate-limited":
            status, headers, payload = _error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded")
            return status, {**headers, "Retry-After": "2"}, payload
        if model == "bad-key":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if model == "too-long":
            return _error(400, "This model's maximum context length is 8192 tokens.", "invalid_request_error",
                          "context_length_exceeded")
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = {
            "id": f"chatcmpl-test{len(self.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"ok from {model}"},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": 3, "total_tokens": prompt_tokens + 3},
            "system_fingerprint": "fp_test",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(completion).encode()

    def __enter__(self) -> OpenAIServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
