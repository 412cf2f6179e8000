"""The GitHub client against a loopback stand-in that answers as GitHub's REST API does."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.ingest.github_api import (
    UNCHANGED,
    GitHubClient,
    GitHubError,
    GitHubRateLimited,
    parse_repo,
)
from paperfeed.ingest.http_client import RemoteRefused, RemoteUnavailable
from tests.servers import FakeGitHubApi, Response, github_repo_json

pytest_plugins = ["tests.servers"]

ClientFactory = Callable[..., GitHubClient]


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def client(github_api: FakeGitHubApi) -> Iterator[ClientFactory]:
    made: list[GitHubClient] = []

    def make(**kwargs: Any) -> GitHubClient:
        kwargs.setdefault("request_interval", 0.0)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("timeout", 5.0)
        made.append(GitHubClient(github_api.url, **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


def test_stars_description_and_last_push(github_api: FakeGitHubApi, client: ClientFactory) -> None:
    github_api.add("Luolc/AdaBound", 2900, "An optimizer that trains as fast as Adam.")
    info = client().repo("luolc/adabound")  # names are case-insensitive
    assert info is not None
    assert (info.full_name, info.stars, info.description) == (
        "Luolc/AdaBound",
        2900,
        "An optimizer that trains as fast as Adam.",
    )
    assert info.pushed_at == datetime(2026, 11, 28, 8, 15, 3, tzinfo=UTC)
    sent = github_api.requests[-1]
    assert sent.path == "/repos/luolc/adabound"
    assert sent.headers["accept"] == "application/vnd.github+json"
    assert sent.headers["x-github-api-version"] == "2022-11-28"
    assert sent.headers["user-agent"].startswith("paperfeed/")
    assert "authorization" not in sent.headers


def test_a_renamed_repository_is_followed(github_api: FakeGitHubApi, client: ClientFactory) -> None:
    github_api.add("new-owner/new-name", 5)
    github_api.renamed["old/name"] = "new-owner/new-name"
    info = client().repo("old/name")
    assert info is not None and info.full_name == "new-owner/new-name"


def test_404_means_gone(github_api: FakeGitHubApi, client: ClientFactory) -> None:
    assert client().repo("nobody/nothing") is None
    assert len(github_api.requests) == 1  # not retried


def test_the_token_goes_as_a_bearer_token_and_is_never_logged(
    github_api: FakeGitHubApi, client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    github_api.tokens = {"ghp_secret123"}
    github_api.add("a/b", 1)
    caplog.set_level(logging.DEBUG)
    assert client(token="ghp_secret123").repo("a/b") is not None
    assert github_api.requests[-1].headers["authorization"] == "Bearer ghp_secret123"
    with pytest.raises(GitHubError, match="PAPERFEED_GITHUB_TOKEN") as refused:
        client(token="ghp_wrong").repo("a/b")
    assert "ghp_" not in str(refused.value)
    assert "ghp_" not in caplog.text


def test_the_spent_limit_stops_until_the_reset(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.add("a/b", 1)
    github_api.remaining = 0
    github_api.reset = int(time.time()) + 1800
    sleep = SleepRecorder()
    with pytest.raises(GitHubRateLimited, match="rate limit is spent") as limited:
        client(sleep=sleep).repo("a/b")
    assert len(github_api.requests) == 1  # no retry: nothing changes before the reset
    assert sleep.calls == []
    wait = (limited.value.resume_at - clock.now()).total_seconds()
    assert 1790 < wait <= 1800


def test_a_429_with_the_limit_spent_is_the_same(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    reset = int(time.time()) + 600
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)}
    github_api.faults.append(Response(429, b'{"message": "API rate limit exceeded"}', headers))
    with pytest.raises(GitHubRateLimited):
        client().repo("a/b")
    assert len(github_api.requests) == 1


def test_the_secondary_limit_is_waited_out(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.add("a/b", 7)
    github_api.secondary(2, retry_after=30)
    sleep = SleepRecorder()
    info = client(sleep=sleep).repo("a/b")
    assert info is not None and info.stars == 7
    assert sleep.calls == [30, 30]
    assert len(github_api.requests) == 3


def test_a_secondary_limit_that_lasts_stops_the_run(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.secondary(10, retry_after=45)
    sleep = SleepRecorder()
    with pytest.raises(GitHubRateLimited, match="secondary") as limited:
        client(sleep=sleep, max_retries=2).repo("a/b")
    assert sleep.calls == [45, 45]
    assert (limited.value.resume_at - clock.now()).total_seconds() > 40
    # A wait longer than the client will sleep ends the run at once.
    github_api.faults.clear()
    github_api.secondary(1, retry_after=3600)
    with pytest.raises(GitHubRateLimited):
        client(sleep=sleep, max_retry_after=120).repo("a/b")
    assert sleep.calls == [45, 45]


def test_other_refusals_and_a_service_that_is_down(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.faults.append(Response(403, b'{"message": "Forbidden"}', {}))
    with pytest.raises(RemoteRefused) as refused:
        client().repo("a/b")
    assert refused.value.status == 403
    for _ in range(3):
        github_api.faults.append(Response(502, b"Bad gateway"))
    with pytest.raises(RemoteUnavailable, match="HTTP 502"):
        client(max_retries=2).repo("a/b")


def test_an_unreadable_answer_is_asked_again(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.add("a/b", 3)
    github_api.faults.append(Response(200, b'{"full_name": "a/b", "stargazers_c'))
    info = client().repo("a/b")
    assert info is not None and info.stars == 3


def test_parse_repo_reads_the_real_shape() -> None:
    data = github_repo_json("o/r", 12, "  A   description\nover lines ")
    data["pushed_at"] = None  # an empty repository has never been pushed to
    info = parse_repo(data)
    assert (info.stars, info.description, info.pushed_at) == (12, "A description over lines", None)
    with pytest.raises(ValueError):
        parse_repo({"full_name": "o/r", "stargazers_count": "12"})


def test_from_settings(github_api: FakeGitHubApi) -> None:
    settings = Settings(
        github_api_url=github_api.url + "/",
        github_token="ghp_x",
        github_request_interval=0,
        contact_email="ops@example.org",
    )
    github_api.add("a/b", 1)
    with GitHubClient.from_settings(settings) as gh:
        assert gh.repo("a/b") is not None
    sent = github_api.requests[-1]
    assert sent.path == "/repos/a/b"
    assert sent.headers["authorization"] == "Bearer ghp_x"
    assert "mailto:ops@example.org" in sent.headers["user-agent"]


def test_a_conditional_request_for_an_unchanged_repository_is_a_free_304(
    github_api: FakeGitHubApi, client: ClientFactory
) -> None:
    github_api.tokens = {"ghp_secret123"}
    github_api.add("a/b", 5)
    asking = client(token="ghp_secret123")
    first = asking.repo("a/b")
    assert first is not None and first is not UNCHANGED
    assert first.etag is not None and first.etag.startswith('W/"')
    assert "if-none-match" not in github_api.requests[-1].headers
    remaining = github_api.remaining
    assert asking.repo("a/b", first.etag) is UNCHANGED
    assert github_api.requests[-1].headers["if-none-match"] == first.etag
    assert github_api.remaining == remaining  # a 304 with a token costs nothing
    github_api.add("a/b", 6)  # a new star: the old validator no longer matches
    again = asking.repo("a/b", first.etag)
    assert again is not None and again is not UNCHANGED
    assert (again.stars, again.etag != first.etag) == (6, True)
