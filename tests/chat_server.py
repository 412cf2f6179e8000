"""A stand-in for an OpenAI-compatible chat-completions endpoint, over real HTTP on loopback.

`POST /v1/chat/completions` answers as OpenAI does: `chat.completion` JSON with
`choices[0].message.content`, `finish_reason` and `usage` (prompt, completion and total
tokens, counted here as words * 1.3, rounded up). With `key` set, a request without it as
a Bearer token is OpenAI's 401 `invalid_api_key`. `faults` are answered first, one per
request: `rate_limited` (OpenAI's 429 body and headers, with Retry-After), `slow` (an
answer later than the client waits), `server_error` (500) and `malformed` (200, not JSON).
`answer(request_body) -> str` writes the completion (by default a sentence naming the
paper's title), `finish_reason` is "length" when that exceeds `max_tokens`.

Every request's JSON body is kept in `bodies`; the HTTP server is tests/servers.py's, with
a handler that keeps the POSTed body for this stand-in. PYTEST_DONT_REWRITE (no asserts here).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.servers import HttpServer, Request, Response, _Handler

JSON_HEADERS = {"Content-Type": "application/json", "openai-processing-ms": "321"}

_BODY = threading.local()


class _BodyHandler(_Handler):
    """tests/servers.py's handler, keeping the POSTed body for the stand-in (each request
    is answered on its own thread, so a thread-local hands it over)."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        _BODY.value = self.rfile.read(length) if length else b""
        self._answer()


def tokens(text: str) -> int:
    return math.ceil(len(text.split()) * 1.3)


def default_answer(body: dict[str, Any]) -> str:
    user = body["messages"][-1]["content"]
    title = user.split("\n", 1)[0].removeprefix("Title: ").rstrip(".")
    return f"This paper presents {title}. It shows that the method works on standard tests."


def _error(status: int, message: str, kind: str, code: str | None) -> Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return Response(status, json.dumps(body).encode(), dict(JSON_HEADERS))


class FakeChatApi:
    def __init__(self, key: str | None = None) -> None:
        self.key = key
        self.faults: deque[Response] = deque()
        self.answer: Callable[[dict[str, Any]], str] = default_answer
        self.bodies: list[dict[str, Any]] = []
        self.http = HttpServer(self)
        self.http._server.RequestHandlerClass = _BodyHandler

    @property
    def url(self) -> str:
        return self.http.url + "/v1"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests

    def start(self) -> FakeChatApi:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    # --- faults ---------------------------------------------------------------------

    def rate_limited(self, n: int = 1, retry_after: int = 1) -> None:
        for _ in range(n):
            fault = _error(
                429,
                "Rate limit reached for gpt-4o-mini in organization org-test on requests per "
                "min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. Visit "
                "https://platform.openai.com/account/rate-limits to learn more.",
                "requests",
                "rate_limit_exceeded",
            )
            fault.headers.update(
                {
                    "Retry-After": str(retry_after),
                    "x-ratelimit-limit-requests": "3",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": "20s",
                }
            )
            self.faults.append(fault)

    def slow(self, n: int = 1, delay: float = 2.0) -> None:
        for _ in range(n):
            self.faults.append(Response(200, b"{}", dict(JSON_HEADERS), delay=delay))

    def server_error(self, n: int = 1) -> None:
        for _ in range(n):
            self.faults.append(
                _error(
                    500,
                    "The server had an error while processing your request. Sorry about that!",
                    "server_error",
                    None,
                )
            )

    def malformed(self, n: int = 1) -> None:
        for _ in range(n):
            self.faults.append(Response(200, b'{"choices": [', dict(JSON_HEADERS)))

    # --- answering ------------------------------------------------------------------

    def __call__(self, request: Request) -> Response:
        raw: bytes = getattr(_BODY, "value", b"")
        if request.method != "POST" or request.path != "/v1/chat/completions":
            return _error(
                404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error", None
            )
        if self.key and request.headers.get("authorization") != f"Bearer {self.key}":
            return _error(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        if self.faults:
            return self.faults.popleft()
        try:
            body = json.loads(raw)
            messages = body["messages"]
            prompt = " ".join(m["content"] for m in messages)
        except (ValueError, KeyError, TypeError):
            return _error(
                400,
                "We could not parse the JSON body of your request.",
                "invalid_request_error",
                None,
            )
        self.bodies.append(body)
        text = self.answer(body)
        finish = "stop"
        limit = body.get("max_tokens")
        if isinstance(limit, int) and tokens(text) > limit:
            words = text.split()[: int(limit / 1.3)]
            text, finish = " ".join(words), "length"
        prompt_tokens, completion_tokens = tokens(prompt) + 4 * len(messages), tokens(text)
        answer = {
            "id": f"chatcmpl-test{len(self.bodies)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_test",
        }
        return Response(200, json.dumps(answer).encode(), dict(JSON_HEADERS))


@pytest.fixture
def chat_api() -> Iterator[FakeChatApi]:
    server = FakeChatApi().start()
    yield server
    server.stop()
