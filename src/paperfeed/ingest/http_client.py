"""The one polite HTTP client for remote services (arXiv today; GitHub, the HF Hub, PDFs next).

Polite means what the services ask of harvesters:
- a minimum interval between requests to one host, kept for the whole process: every
  client of a host (any thread) waits on the same per-host slot (`RateLimiter.for_host`);
- retries of network errors, timeouts, 429 and 5xx with exponential backoff, or after the
  server's `Retry-After` (seconds or an HTTP date), capped so a server's word never
  parks a job for hours;
- a timeout on every request, and a User-Agent naming the site and a contact
  (`user_agent(settings)`), so the service knows whom to write to instead of blocking;
- for someone waiting on a page, a `deadline` for the whole call: each attempt's timeout is
  cut to the time left, and a wait for the pace or a retry that would end past it gives up
  at once, so the answer comes within the deadline instead of after every retry.

What a service answers is the caller's business: `get` hands each answer to `read`, which
returns the result or raises `TryAgain` (a cut-off body, say) to have it asked again. A
service that keeps failing is a `RemoteUnavailable`; one that refuses (another 4xx) is a
`RemoteRefused`. Both are `RemoteError`, whose message names the service and its URL.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from email.utils import parseaddr, parsedate_to_datetime
from types import TracebackType
from typing import Self, TypedDict, TypeVar
from urllib.parse import urlsplit

import httpx

from paperfeed import __version__
from paperfeed.config import Settings
from paperfeed.plurals import plural

log = logging.getLogger(__name__)

T = TypeVar("T")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


class RemoteError(RuntimeError):
    """A remote service did not give an answer; the message says which and why."""

    def __init__(self, message: str, url: str) -> None:
        super().__init__(message)
        self.url = url


class RemoteUnavailable(RemoteError):
    """Every attempt failed (network, timeout, 429/5xx, or an answer `read` refused)."""

    def __init__(self, message: str, url: str, attempts: int, problem: str) -> None:
        super().__init__(message, url)
        self.attempts = attempts
        self.problem = problem


class RemoteRefused(RemoteError):
    """The service answered with a status that asking again will not change (404, 403...)."""

    def __init__(self, message: str, url: str, status: int) -> None:
        super().__init__(message, url)
        self.status = status


class TryAgain(Exception):
    """Raised by a `read` callback: this answer is unusable, but asking again may help."""


# --- pacing ------------------------------------------------------------------------------


@dataclass
class _Slot:
    """When the last request to one host started; shared by every limiter of that host."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    last: float | None = None


_HOSTS: dict[str, _Slot] = {}
_HOSTS_LOCK = threading.Lock()


class RateLimiter:
    """At least `interval` seconds between request starts, across threads.

    `RateLimiter(interval)` paces only those who share the object; `RateLimiter.for_host`
    paces against every request any client of this process made to that host, each caller
    keeping its own interval.
    """

    def __init__(
        self,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        _slot: _Slot | None = None,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._slot = _slot or _Slot()

    @classmethod
    def for_host(
        cls,
        host: str,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> RateLimiter:
        with _HOSTS_LOCK:
            slot = _HOSTS.setdefault(host.lower(), _Slot())
        return cls(interval, clock=clock, sleep=sleep, _slot=slot)

    def wait(self, until: float | None = None) -> bool:
        """Wait for this host's slot and take it; False (having taken nothing) if the slot
        would not be free before `until` (a time on this limiter's clock)."""
        if until is None:
            self._slot.lock.acquire()
        elif not self._slot.lock.acquire(timeout=max(0.0, until - self._clock())):
            return False
        try:
            if self._slot.last is not None:
                delay = self._slot.last + self.interval - self._clock()
                if delay > 0:
                    if until is not None and self._clock() + delay > until:
                        return False
                    self._sleep(delay)
            self._slot.last = self._clock()
            return True
        finally:
            self._slot.lock.release()


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²" is a digit to isdigit, not to float
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, as HTTP dates always are
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def user_agent(settings: Settings) -> str:
    """`paperfeed/1.2 (Site name; +https://site; mailto:contact)`: who is asking, and whom to tell.

    The contact is `PAPERFEED_CONTACT_EMAIL`, else the address of `PAPERFEED_MAIL_FROM`.
    """
    contact = settings.contact_email or parseaddr(settings.mail_from)[1]
    parts = [settings.site_name, f"+{settings.site_url}"]
    if contact:
        parts.append(f"mailto:{contact}")
    return f"paperfeed/{__version__} ({'; '.join(parts)})"


# --- requests ----------------------------------------------------------------------------


def _ok(response: httpx.Response) -> bool:
    return response.status_code == 200


class ClientOptions(TypedDict, total=False):
    """What a service's client lets its caller tune (its own defaults fill the rest)."""

    user_agent: str
    timeout: float
    max_retries: int
    backoff: float
    max_backoff: float
    max_retry_after: float | None
    sleep: Callable[[float], None]
    clock: Callable[[], float]
    limiter: RateLimiter | None


class PoliteClient:
    """Paced, retried, timed-out GETs for one service (`service` names it in errors).

    A service's client subclasses it. `limiter` paces every request of this client; without
    one, requests wait on the process-wide slot of `base_url`'s host at `request_interval`
    (or, without a `base_url`, of each request's host).
    """

    def __init__(
        self,
        service: str,
        base_url: str | None = None,
        request_interval: float = 1.0,
        *,
        user_agent: str = f"paperfeed/{__version__}",
        timeout: float = 30.0,
        max_retries: int = 4,
        backoff: float = 2.0,
        max_backoff: float = 120.0,
        max_retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.service = service
        self.base_url = base_url
        self.request_interval = request_interval
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_backoff if max_retry_after is None else max_retry_after
        self._sleep = sleep
        self._clock = clock
        if limiter is None and base_url is not None:
            limiter = self._host_limiter(base_url)
        self.limiter = limiter
        self._http = httpx.Client(
            timeout=timeout,
            headers={"User-Agent": user_agent, **(headers or {})},
            follow_redirects=True,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _host_limiter(self, url: str) -> RateLimiter:
        host = urlsplit(url).netloc
        return RateLimiter.for_host(
            host, self.request_interval, clock=self._clock, sleep=self._sleep
        )

    def get(
        self,
        url: str,
        params: Mapping[str, str] | None = None,
        *,
        read: Callable[[httpx.Response], T],
        answers: Callable[[httpx.Response], bool] = _ok,
        deadline: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> T:
        """`read` of the first answer (`answers` says which statuses are answers: 200).

        `headers` go with this request only (a conditional request's `If-None-Match`).

        Other statuses in `RETRY_STATUSES` or 5xx are retried, the rest are refused.
        `deadline` (a time on this client's clock) ends the attempts when it comes.
        """
        return self._call("GET", url, params, None, read, answers, deadline, headers, None)

    def post(
        self,
        url: str,
        json: object,
        *,
        read: Callable[[httpx.Response], T],
        answers: Callable[[httpx.Response], bool] = _ok,
        max_bytes: int | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> T:
        """As `get`, for a JSON body POSTed: only for requests that change nothing remote,
        so retrying is safe (a chat completion; a retry may cost its tokens again, which
        the caller counts: `before_each` runs before every attempt, and what it raises
        ends the call). An answer over `max_bytes` is cut off as it arrives, never held
        whole, and asked again."""
        return self._call(
            "POST", url, None, json, read, answers, None, None, max_bytes, before_each
        )

    def _call(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: object,
        read: Callable[[httpx.Response], T],
        answers: Callable[[httpx.Response], bool],
        deadline: float | None,
        headers: Mapping[str, str] | None,
        max_bytes: int | None,
        before_each: Callable[[], None] | None = None,
    ) -> T:
        attempts = self.max_retries + 1
        limiter = self.limiter or self._host_limiter(url)
        problem = ""
        made = 0
        for attempt in range(attempts):
            retry_after: float | None = None
            timeout = self.timeout
            if deadline is None:
                limiter.wait()
            else:
                if not limiter.wait(until=deadline):
                    problem = problem or "no turn to ask before the deadline (others were asking)"
                    break
                timeout = min(timeout, deadline - self._clock())
                if timeout <= 0:
                    problem = problem or "no time left to ask"
                    break
            if before_each is not None:
                before_each()
            made += 1
            try:
                if method == "GET":
                    response = self._fetch(url, params, timeout, deadline, headers)
                else:
                    response = self._send(method, url, json, timeout, max_bytes)
            except _TooLong as exc:
                problem = str(exc)
            except httpx.TimeoutException:
                problem = f"no answer within {round(timeout, 1):g} s"
            except httpx.TransportError as exc:
                problem = f"network error ({exc.__class__.__name__}: {exc})"
            else:
                status = response.status_code
                if answers(response):
                    try:
                        return read(response)
                    except TryAgain as exc:
                        problem = str(exc)
                elif status in RETRY_STATUSES or status >= 500:
                    problem = f"HTTP {status}"
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                else:
                    raise RemoteRefused(
                        f"{self.service} at {url} answered HTTP {status}", url, status
                    )
            if attempt + 1 < attempts and not self._pause(attempt, retry_after, problem, deadline):
                break
        cut_short = " before the deadline" if made < attempts else ""
        raise RemoteUnavailable(
            f"{self.service} at {url} failed {plural(made, 'time')}{cut_short}, last with "
            f"{problem}",
            url,
            made,
            problem,
        )

    def _fetch(
        self,
        url: str,
        params: Mapping[str, str] | None,
        timeout: float,
        deadline: float | None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The whole answer. httpx's timeout bounds each read, not the body: with a
        deadline, a body still arriving when it comes is cut off as a timeout."""
        if deadline is None:
            return self._http.get(url, params=params, headers=headers, timeout=timeout)
        with self._http.stream(
            "GET", url, params=params, headers=headers, timeout=timeout
        ) as response:
            response.stream = _Until(response.stream, deadline, self._clock, response.request)
            response.read()
        return response

    def _send(
        self, method: str, url: str, json: object, timeout: float, max_bytes: int | None
    ) -> httpx.Response:
        """The whole answer to a request with a JSON body, at most `max_bytes` of it."""
        with self._http.stream(method, url, json=json, timeout=timeout) as response:
            if max_bytes is None:
                response.read()
                return response
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _TooLong(f"an answer over {max_bytes} bytes")
        headers = response.headers.copy()
        headers.pop("Content-Encoding", None)  # the body kept is the decoded one
        return httpx.Response(
            response.status_code,
            headers=headers,
            content=bytes(body),
            request=response.request,
        )

    def _pause(
        self, attempt: int, retry_after: float | None, problem: str, deadline: float | None
    ) -> bool:
        """Wait before the next attempt; False, without waiting, if it would end past the
        deadline."""
        if retry_after is not None:
            delay = min(retry_after, self.max_retry_after)
        else:
            delay = min(self.backoff * 2**attempt, self.max_backoff)
        if deadline is not None and self._clock() + delay >= deadline:
            log.warning("%s: %s; no time left for a retry", self.service, problem)
            return False
        log.warning(
            "%s: %s; retry %d of %d in %.1f s",
            self.service,
            problem,
            attempt + 1,
            self.max_retries,
            delay,
        )
        self._sleep(delay)
        return True


class _TooLong(Exception):
    """An answer longer than the caller's cap (cut off as it arrived)."""


class _Until(httpx.SyncByteStream):
    """A response body that raises ReadTimeout once `deadline` (on `clock`) has passed."""

    def __init__(
        self,
        stream: httpx.SyncByteStream | httpx.AsyncByteStream,
        deadline: float,
        clock: Callable[[], float],
        request: httpx.Request,
    ) -> None:
        assert isinstance(stream, httpx.SyncByteStream)
        self._stream, self._deadline, self._clock, self._request = stream, deadline, clock, request

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._stream:
            if self._clock() > self._deadline:
                raise httpx.ReadTimeout(
                    "the deadline came during the answer", request=self._request
                )
            yield chunk

    def close(self) -> None:
        self._stream.close()
