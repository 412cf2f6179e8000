"""GitHub's REST API, for one thing: a repository's stars, description and last push.

`GET /repos/{owner}/{repo}` through the polite client (`PAPERFEED_GITHUB_API_URL`, paced
by `PAPERFEED_GITHUB_REQUEST_INTERVAL`). `PAPERFEED_GITHUB_TOKEN`, if set, goes as a
Bearer token (5,000 requests an hour instead of 60 per address); it is a header of the
client, never part of a URL or a message, so it is never logged.

What GitHub answers, and what it means here (docs.github.com, "Rate limits for the REST
API" and "Best practices"):
- 200: the repository (a renamed one is followed through its 301), with its `ETag`;
- 304, to a request naming the last `ETag` in `If-None-Match`: unchanged (`UNCHANGED`);
  with a token, such an answer does not count against the rate limit ("Best practices":
  conditional requests), so refreshing a quiet repository costs nothing;
- 404, 410, 451: gone (deleted, private, blocked): `repo` returns None;
- 403 or 429 with `x-ratelimit-remaining: 0`: the hourly limit is spent until
  `x-ratelimit-reset` (epoch seconds): `GitHubRateLimited` with that time, at once;
- 403 or 429 with `Retry-After`, or saying "secondary rate limit": the secondary limit
  (too many requests too fast): wait as told (a minute without a header), up to
  `max_retries` times, then `GitHubRateLimited`;
- 401: the token is refused (`GitHubError`, for the operator); other refusals are
  `RemoteRefused`, and a service that keeps failing `RemoteUnavailable`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Self, Unpack
from urllib.parse import quote

import httpx

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.ingest.http_client import (
    ClientOptions,
    PoliteClient,
    RemoteRefused,
    TryAgain,
    parse_retry_after,
    user_agent,
)

API_VERSION = "2022-11-28"
GONE = frozenset({404, 410, 451})
SECONDARY_WAIT = 60.0  # seconds, when a secondary limit names no time


class GitHubError(RuntimeError):
    """GitHub refuses this site (a bad token): the operator must act."""


class GitHubRateLimited(RuntimeError):
    """GitHub asks us to stop until `resume_at`; the job stops and resumes after it."""

    def __init__(self, message: str, resume_at: datetime) -> None:
        super().__init__(message)
        self.resume_at = resume_at


@dataclass(frozen=True)
class RepoInfo:
    full_name: str  # "Owner/Repo" as GitHub spells it now (after a rename, the new name)
    description: str | None
    stars: int
    pushed_at: datetime | None
    etag: str | None = None  # GitHub's validator of this answer, for the next request


class Unchanged:
    """GitHub's 304: the repository is as it was when it gave the `ETag` asked with."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = Unchanged()


class _Limited(Exception):
    def __init__(self, wait: float, primary: bool) -> None:
        self.wait, self.primary = wait, primary


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_repo(data: object) -> RepoInfo:
    """A `RepoInfo` from GitHub's repository JSON; ValueError if it is not one."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    name, stars = data.get("full_name"), data.get("stargazers_count")
    if not isinstance(name, str) or not isinstance(stars, int) or isinstance(stars, bool):
        raise ValueError("no full_name or stargazers_count")
    description = data.get("description")
    return RepoInfo(
        full_name=name[:250],
        description=" ".join(description.split())[:1000] if isinstance(description, str) else None,
        stars=stars,
        pushed_at=_time(data.get("pushed_at")),
    )


def _limit(response: httpx.Response) -> _Limited | None:
    """The rate limit this 403/429 reports, or None if it is some other refusal."""
    headers = response.headers
    if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
        try:
            reset = float(headers["x-ratelimit-reset"])
        except ValueError:
            reset = time.time() + SECONDARY_WAIT
        # The reset is on GitHub's clock, compared with this machine's real one.
        return _Limited(max(0.0, reset - time.time()), primary=True)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if retry_after is not None:
        return _Limited(retry_after, primary=False)
    if response.status_code == 429 or "rate limit" in response.text[:2000].lower():
        return _Limited(SECONDARY_WAIT, primary=False)
    return None


class GitHubClient(PoliteClient):
    """A polite client of GitHub's REST API (`PAPERFEED_GITHUB_API_URL`)."""

    def __init__(
        self,
        base_url: str,
        request_interval: float = 1.0,
        *,
        token: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        defaults: ClientOptions = {"timeout": 20.0, "max_retries": 3, "backoff": 2.0}
        super().__init__(
            "GitHub's API", base_url, request_interval, headers=headers, **(defaults | options)
        )
        self.base_url: str = base_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings, **options: Unpack[ClientOptions]) -> Self:
        options.setdefault("user_agent", user_agent(settings))
        return cls(
            settings.github_api_url,
            settings.github_request_interval,
            token=settings.github_token,
            **options,
        )

    def repo(self, repo: str, etag: str | None = None) -> RepoInfo | Unchanged | None:
        """The repository `owner/name`, `UNCHANGED` if it is as it was when GitHub gave
        `etag`, or None if GitHub says it is gone."""
        owner, _, name = repo.partition("/")
        url = f"{self.base_url}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        headers = {"If-None-Match": etag} if etag else None
        for attempt in range(self.max_retries + 1):
            try:
                return self.get(url, read=self._read, answers=self._answers, headers=headers)
            except _Limited as limited:
                resume_at = clock.now() + timedelta(seconds=limited.wait)
                if limited.primary:
                    raise GitHubRateLimited(
                        f"GitHub's rate limit is spent until {resume_at:%Y-%m-%d %H:%M} UTC",
                        resume_at,
                    ) from None
                if attempt == self.max_retries or limited.wait > self.max_retry_after:
                    raise GitHubRateLimited(
                        f"GitHub's secondary rate limit: asked to wait {limited.wait:.0f} s",
                        resume_at,
                    ) from None
                self._sleep(limited.wait)
        raise AssertionError("unreachable")

    @staticmethod
    def _answers(response: httpx.Response) -> bool:
        return response.status_code in {200, 304, 401, 403, 429} | GONE

    def _read(self, response: httpx.Response) -> RepoInfo | Unchanged | None:
        status = response.status_code
        if status == 304:
            return UNCHANGED
        if status in GONE:
            return None
        if status == 401:
            raise GitHubError(
                f"GitHub's API at {self.base_url} refused the token (HTTP 401): "
                "check PAPERFEED_GITHUB_TOKEN"
            )
        if status in (403, 429):
            limited = _limit(response)
            if limited is not None:
                raise limited
            raise RemoteRefused(
                f"{self.service} at {response.request.url} answered HTTP {status}",
                str(response.request.url),
                status,
            )
        try:
            info = parse_repo(json.loads(response.content))
        except ValueError as exc:  # JSONDecodeError is one
            raise TryAgain(f"an unreadable answer ({exc})") from None
        etag = response.headers.get("etag")
        return replace(info, etag=etag[:200]) if etag else info
