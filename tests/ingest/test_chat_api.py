"""The chat-completions client against a loopback stand-in speaking OpenAI's JSON: an
answer with its usage, 429 waited out as told, a timeout, 5xx, an unreadable or
oversized answer, a refused key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from paperfeed.config import Settings
from paperfeed.ingest.chat_api import MAX_ANSWER_BYTES, ChatClient, parse_completion
from paperfeed.ingest.http_client import RemoteRefused, RemoteUnavailable
from tests.chat_server import JSON_HEADERS, FakeChatApi
from tests.servers import Response

pytest_plugins = ["tests.chat_server"]


def client_for(url: str, **options: object) -> ChatClient:
    settings = Settings(
        summary_api_url=url,
        summary_model="test-model-1",
        summary_key="sk-test-secret",
        summary_request_interval=0.0,
        summary_timeout=0.5,
    )
    return ChatClient.from_settings(settings, backoff=0.01, max_retries=2, **options)  # type: ignore[arg-type]


@pytest.fixture
def keyed_api() -> Iterator[FakeChatApi]:
    server = FakeChatApi(key="sk-test-secret").start()
    yield server
    server.stop()


def test_an_answer_is_read_with_the_usage_the_endpoint_reports(keyed_api: FakeChatApi) -> None:
    with client_for(keyed_api.url) as client:
        answer = client.complete("Be brief.", "Title: Quarks\n\nAbstract: About quarks.", 50)
    assert answer.text == (
        "This paper presents Quarks. It shows that the method works on standard tests."
    )
    assert answer.finish_reason == "stop"
    assert answer.prompt_tokens is not None and answer.prompt_tokens > 0
    assert answer.completion_tokens == 17  # 13 words * 1.3, as the stand-in counts
    assert answer.total_tokens == answer.prompt_tokens + answer.completion_tokens
    (request,) = keyed_api.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == "Bearer sk-test-secret"
    assert request.headers["user-agent"].startswith("paperfeed/")
    (body,) = keyed_api.bodies
    assert body["model"] == "test-model-1"
    assert body["max_tokens"] == 50
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_a_cut_off_answer_says_so(keyed_api: FakeChatApi) -> None:
    with client_for(keyed_api.url) as client:
        answer = client.complete("Be brief.", "Title: Quarks\n\nAbstract: x", 5)
    assert answer.finish_reason == "length"
    assert len(answer.text.split()) <= 4


def test_a_429_is_waited_out_for_its_retry_after(keyed_api: FakeChatApi) -> None:
    keyed_api.rate_limited(1, retry_after=1)
    started = time.monotonic()
    with client_for(keyed_api.url) as client:
        answer = client.complete("Be brief.", "Title: Quarks\n\nAbstract: x", 50)
    assert answer.text.startswith("This paper presents Quarks.")
    assert len(keyed_api.requests) == 2
    gap = keyed_api.requests[1].at - keyed_api.requests[0].at
    assert gap >= 0.95  # the server's word, not the 0.01 s backoff
    assert time.monotonic() - started < 5


def test_429s_past_the_retries_are_unavailable(keyed_api: FakeChatApi) -> None:
    keyed_api.rate_limited(5, retry_after=0)
    with client_for(keyed_api.url) as client, pytest.raises(RemoteUnavailable) as failed:
        client.complete("Be brief.", "Title: Quarks", 50)
    assert failed.value.attempts == 3
    assert failed.value.problem == "HTTP 429"
    assert "sk-test-secret" not in str(failed.value)


def test_a_slow_endpoint_times_out_and_is_asked_again(keyed_api: FakeChatApi) -> None:
    keyed_api.slow(1, delay=2.0)
    started = time.monotonic()
    with client_for(keyed_api.url) as client:
        answer = client.complete("Be brief.", "Title: Quarks", 50)
    assert answer.text.startswith("This paper presents Quarks.")
    assert len(keyed_api.requests) == 2
    assert time.monotonic() - started < 1.8  # the 0.5 s timeout, not the 2 s answer


def test_a_hanging_endpoint_is_unavailable_within_its_timeouts(keyed_api: FakeChatApi) -> None:
    keyed_api.slow(3, delay=3.0)
    started = time.monotonic()
    with client_for(keyed_api.url) as client, pytest.raises(RemoteUnavailable) as failed:
        client.complete("Be brief.", "Title: Quarks", 50)
    assert "no answer within 0.5 s" in failed.value.problem
    assert time.monotonic() - started < 2.5


def test_5xx_and_unreadable_answers_are_asked_again(keyed_api: FakeChatApi) -> None:
    keyed_api.server_error(1)
    keyed_api.malformed(1)
    with client_for(keyed_api.url) as client:
        answer = client.complete("Be brief.", "Title: Quarks", 50)
    assert answer.text.startswith("This paper presents Quarks.")
    assert len(keyed_api.requests) == 3


def test_an_oversized_answer_is_cut_off_and_never_read_whole(keyed_api: FakeChatApi) -> None:
    huge = json.dumps({"choices": [{"message": {"content": "x" * (MAX_ANSWER_BYTES * 4)}}]})
    for _ in range(3):
        keyed_api.faults.append(Response(200, huge.encode(), dict(JSON_HEADERS)))
    with client_for(keyed_api.url) as client, pytest.raises(RemoteUnavailable) as failed:
        client.complete("Be brief.", "Title: Quarks", 50)
    assert failed.value.problem == f"an answer over {MAX_ANSWER_BYTES} bytes"


def test_a_wrong_key_is_refused_at_once(keyed_api: FakeChatApi) -> None:
    keyed_api.key = "sk-another"
    with client_for(keyed_api.url) as client, pytest.raises(RemoteRefused) as refused:
        client.complete("Be brief.", "Title: Quarks", 50)
    assert refused.value.status == 401
    assert len(keyed_api.requests) == 1
    assert "sk-test-secret" not in str(refused.value)


def test_parse_completion_refuses_what_is_no_completion() -> None:
    for data in ([], {}, {"choices": []}, {"choices": [{"message": {"content": None}}]}):
        with pytest.raises(ValueError):
            parse_completion(data)
    odd = parse_completion(
        {"choices": [{"message": {"content": "Hi."}}], "usage": {"prompt_tokens": True}}
    )
    assert (odd.text, odd.prompt_tokens, odd.total_tokens) == ("Hi.", None, None)
