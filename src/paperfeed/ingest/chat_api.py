"""An OpenAI-compatible chat-completions endpoint, for one thing: a paper's short summary.

`POST {PAPERFEED_SUMMARY_API_URL}/chat/completions` through the polite client (paced by
`PAPERFEED_SUMMARY_REQUEST_INTERVAL`, `PAPERFEED_SUMMARY_TIMEOUT` per attempt). The body
is the API's own (`model`, `messages`, `max_tokens`, `temperature`); the answer is read
from `choices[0].message.content`, with `finish_reason` and the `usage` the endpoint
reports (`prompt_tokens`, `completion_tokens`, `total_tokens`), which the daily token cap
is settled with. OpenAI, vLLM, llama.cpp's server, Ollama and most hosted services speak it.

`PAPERFEED_SUMMARY_KEY`, if set, goes as a Bearer token: a header of the client, never in
a URL or a message, so it is never logged. What the endpoint answers:
- 200 with a readable completion: a `Completion`; an unreadable one (not JSON, no text)
  is asked again, then `RemoteUnavailable`;
- 429 (with or without `Retry-After`), 5xx, timeouts and network errors: retried with
  backoff or after the server's `Retry-After` (capped), then `RemoteUnavailable`;
- any other status is `RemoteRefused` (401: a bad key; 400: this request, e.g. too long).
An answer over `MAX_ANSWER_BYTES` is cut off as it arrives and asked again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Self, Unpack

import httpx

from paperfeed.config import Settings
from paperfeed.ingest.http_client import ClientOptions, PoliteClient, TryAgain, user_agent

MAX_ANSWER_BYTES = 64_000  # a completion of a few hundred tokens is ~2 kB of JSON
MAX_TEXT = 4_000  # characters of the message kept; the caller's cleanup cuts further


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str | None  # "stop", or "length" when max_tokens cut it short
    prompt_tokens: int | None  # None when the endpoint reports no usage
    completion_tokens: int | None
    total_tokens: int | None


def _count(usage: dict[str, object], name: str) -> int | None:
    value = usage.get(name)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10_000_000:
        return value
    return None


def parse_completion(data: object) -> Completion:
    """A `Completion` from the endpoint's JSON; ValueError if it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("no choices")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise ValueError("no choices[0].message.content")
    reason = choices[0].get("finish_reason")
    usage = data.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    prompt, completion = _count(usage, "prompt_tokens"), _count(usage, "completion_tokens")
    total = _count(usage, "total_tokens")
    if total is None and prompt is not None and completion is not None:
        total = prompt + completion
    return Completion(
        text=content[:MAX_TEXT],
        finish_reason=reason[:20] if isinstance(reason, str) else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
    )


class ChatClient(PoliteClient):
    """A polite client of one chat-completions endpoint and model."""

    def __init__(
        self,
        base_url: str,
        model: str,
        request_interval: float = 1.0,
        *,
        key: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        headers = {"Accept": "application/json"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        defaults: ClientOptions = {"timeout": 60.0, "max_retries": 3, "backoff": 2.0}
        super().__init__(
            "The summary endpoint",
            base_url,
            request_interval,
            headers=headers,
            **(defaults | options),
        )
        self.base_url: str = base_url.rstrip("/")
        self.model = model

    @classmethod
    def from_settings(cls, settings: Settings, **options: Unpack[ClientOptions]) -> Self:
        if not settings.summary_api_url or not settings.summary_model:
            raise ValueError("PAPERFEED_SUMMARY_API_URL and PAPERFEED_SUMMARY_MODEL are needed")
        options.setdefault("user_agent", user_agent(settings))
        options.setdefault("timeout", settings.summary_timeout)
        return cls(
            settings.summary_api_url,
            settings.summary_model,
            settings.summary_request_interval,
            key=settings.summary_key,
            **options,
        )

    def complete(
        self,
        system: str,
        user: str,
        max_tokens: int,
        temperature: float = 0.2,
        before_each: Callable[[], None] | None = None,
    ) -> Completion:
        """The model's answer to one system and one user message; `before_each` runs
        before every attempt (each may be billed: the caller reserves it)."""
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": False,
        }
        return self.post(
            f"{self.base_url}/chat/completions",
            body,
            read=self._read,
            max_bytes=MAX_ANSWER_BYTES,
            before_each=before_each,
        )

    @staticmethod
    def _read(response: httpx.Response) -> Completion:
        try:
            return parse_completion(json.loads(response.content))
        except ValueError as exc:  # JSONDecodeError is one
            raise TryAgain(f"an unreadable answer ({exc})") from None
