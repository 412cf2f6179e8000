"""The polite HTTP client over real HTTP against a scripted server on loopback.

Pacing is measured where the requests arrive; backoff and Retry-After are read from an
injected sleep where waiting for real would only slow the suite, and waited out for real
where the point is that the client really waits.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from paperfeed.config import Settings
from paperfeed.ingest.http_client import (
    PoliteClient,
    RateLimiter,
    RemoteRefused,
    RemoteUnavailable,
    TryAgain,
    parse_retry_after,
    user_agent,
)
from tests.servers import HOST, HttpServer, Request, Response, SilentServer, free_port


class ScriptedServer:
    """Answers `script` in order, one response per request, then 200 "ok"."""

    def __init__(self) -> None:
        self.script: deque[Response] = deque()
        self.http = HttpServer(self)

    def __call__(self, request: Request) -> Response:
        return self.script.popleft() if self.script else Response(200, b"ok")

    @property
    def url(self) -> str:
        return f"{self.http.url}/thing"

    @property
    def requests(self) -> list[Request]:
        return self.http.requests


class Sleeps(list[float]):
    """An injected sleep: remembers how long the client wanted to wait, waits not at all."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    scripted = ScriptedServer()
    scripted.http.start()
    yield scripted
    scripted.http.stop()


@pytest.fixture
def client() -> Iterator[Callable[..., PoliteClient]]:
    made: list[PoliteClient] = []

    def make(**kwargs: Any) -> PoliteClient:
        kwargs.setdefault("request_interval", 0.0)
        kwargs.setdefault("timeout", 5.0)
        made.append(PoliteClient("the test service", **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


def text(response: httpx.Response) -> str:
    return response.text


def gaps(requests: list[Request]) -> list[float]:
    return [b.at - a.at for a, b in itertools.pairwise(requests)]


# --- pacing ------------------------------------------------------------------------------


def test_clients_of_one_host_share_its_pace(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    first, second = client(request_interval=0.2), client(request_interval=0.2)
    for each in (first, second, first, second):
        assert each.get(server.url, read=text) == "ok"
    # Measured where the requests arrive: a new connection's setup may shift one a little.
    assert all(gap >= 0.15 for gap in gaps(server.requests)), gaps(server.requests)
    assert server.requests[-1].at - server.requests[0].at >= 0.55


def test_the_pace_holds_across_threads(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    shared = client(request_interval=0.1)
    threads = [
        threading.Thread(target=lambda: [shared.get(server.url, read=text) for _ in range(3)])
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(server.requests) == 9
    # Eight intervals between nine starts (unpaced, they all arrive within a few ms). Not
    # gap by gap: a thread descheduled between its turn and its send arrives late.
    assert server.requests[-1].at - server.requests[0].at >= 0.7, gaps(server.requests)


def test_another_host_is_not_held_up(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    other = ScriptedServer()
    other.http.start()
    try:
        paced = client(request_interval=5.0)
        started = time.monotonic()
        paced.get(server.url, read=text)
        paced.get(other.url, read=text)  # a different host:port, so no wait
        assert time.monotonic() - started < 2.0
    finally:
        other.http.stop()


def test_rate_limiter_waits_only_for_what_is_left() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3.0, clock=lambda: now[0], sleep=sleep)
    limiter.wait()  # the first request goes at once
    now[0] += 1.0
    limiter.wait()  # 1 s later: wait the 2 s left
    now[0] += 5.0
    limiter.wait()  # long after: no wait
    limiter.wait()  # right after: the full interval
    assert slept == [pytest.approx(2.0), pytest.approx(3.0)]


def test_rate_limiter_gives_up_at_once_when_its_turn_comes_too_late() -> None:
    now = [100.0]
    slept: list[float] = []
    limiter = RateLimiter(3.0, clock=lambda: now[0], sleep=slept.append)
    assert limiter.wait(until=101.0)  # free: taken at once
    now[0] += 1.0
    assert not limiter.wait(until=102.5)  # its turn is at 103: no wait, nothing taken
    assert limiter.wait(until=103.5) and slept == [pytest.approx(2.0)]


# --- retries -----------------------------------------------------------------------------


def test_retry_after_in_seconds_is_waited_out(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.append(Response(503, b"busy", {"Retry-After": "1"}))
    assert client(backoff=30.0).get(server.url, read=text) == "ok"
    first, second = server.requests
    assert 1.0 <= second.at - first.at < 2.0  # Retry-After, not the 30 s backoff


def test_retry_after_as_an_http_date_and_its_cap(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    server.script.extend(
        [
            Response(429, headers={"Retry-After": soon}),
            Response(503, headers={"Retry-After": later}),
        ]
    )
    sleeps = Sleeps()
    client(sleep=sleeps, max_backoff=60, max_retry_after=600).get(server.url, read=text)
    assert 17 <= sleeps[0] <= 20
    assert sleeps[1] == 600  # never wait for hours on a server's word


def test_backoff_doubles_then_gives_up_with_a_clear_message(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.extend([Response(500), Response(502)] + [Response(503, b"busy")] * 5)
    sleeps = Sleeps()
    with pytest.raises(RemoteUnavailable) as caught:
        client(max_retries=3, backoff=0.5, sleep=sleeps).get(server.url, read=text)
    assert str(caught.value) == (
        f"the test service at {server.url} failed 4 times, last with HTTP 503"
    )
    assert (caught.value.attempts, caught.value.problem) == (4, "HTTP 503")
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(server.requests) == 4


def test_backoff_is_capped(server: ScriptedServer, client: Callable[..., PoliteClient]) -> None:
    server.script.extend([Response(500)] * 4)
    sleeps = Sleeps()
    client(max_retries=4, backoff=1.0, max_backoff=3.0, sleep=sleeps).get(server.url, read=text)
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_network_errors_are_retried_then_reported(client: Callable[..., PoliteClient]) -> None:
    url = f"http://{HOST}:{free_port()}/thing"  # nothing listens there
    sleeps = Sleeps()
    with pytest.raises(RemoteUnavailable) as caught:
        client(max_retries=2, sleep=sleeps).get(url, read=text)
    assert "network error (ConnectError" in str(caught.value) and url in str(caught.value)
    assert len(sleeps) == 2


def test_a_refusal_is_not_retried(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.append(Response(404, b"no such thing"))
    with pytest.raises(RemoteRefused) as caught:
        client().get(server.url, read=text)
    assert caught.value.status == 404 and "answered HTTP 404" in str(caught.value)
    assert len(server.requests) == 1


def test_an_answer_the_reader_cannot_use_is_asked_again(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.append(Response(200, b"<cut off"))

    def read(response: httpx.Response) -> str:
        if response.text.startswith("<"):
            raise TryAgain("a cut-off answer")
        return response.text

    assert client(backoff=0.01).get(server.url, read=read) == "ok"
    server.script.extend([Response(200, b"<cut off")] * 2)
    with pytest.raises(RemoteUnavailable, match=r"last with a cut-off answer$"):
        client(max_retries=1, backoff=0.01).get(server.url, read=read)


def test_which_statuses_are_answers_is_the_callers_choice(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.append(Response(400, b"<error>bad id</error>"))
    answer = client().get(
        server.url, read=lambda r: (r.status_code, r.text), answers=lambda r: r.status_code < 500
    )
    assert answer == (400, "<error>bad id</error>")


# --- timeouts ----------------------------------------------------------------------------


def test_a_slow_server_times_out(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    server.script.append(Response(delay=3.0))
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable, match=r"no answer within 0\.2 s"):
        client(timeout=0.2, max_retries=0).get(server.url, read=text)
    assert 0.2 <= time.monotonic() - started < 1.5


def test_a_timeout_is_retried(server: ScriptedServer, client: Callable[..., PoliteClient]) -> None:
    server.script.append(Response(delay=3.0))
    assert client(timeout=0.2, max_retries=1, backoff=0.01).get(server.url, read=text) == "ok"
    assert len(server.requests) == 2


def test_a_deadline_cuts_the_attempt_and_skips_a_retry_that_would_end_past_it(
    silent_server: SilentServer, client: Callable[..., PoliteClient]
) -> None:
    # A harvester's patience (30 s per attempt, 4 retries) with a 1 s deadline: one attempt
    # cut to what is left, then no retry, since its 2 s backoff ends past the deadline.
    patient = client(timeout=30.0, max_retries=4, backoff=2.0)
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable) as caught:
        patient.get(silent_server.url, read=text, deadline=started + 1.0)
    assert 1.0 <= time.monotonic() - started < 1.5
    assert str(caught.value) == (
        f"the test service at {silent_server.url} failed 1 time before the deadline, last "
        "with no answer within 1 s"
    )
    assert silent_server.connections == 1


def test_a_deadline_leaves_time_for_quick_retries(client: Callable[..., PoliteClient]) -> None:
    url = f"http://{HOST}:{free_port()}/thing"  # refused at once
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable) as caught:
        client(max_retries=10, backoff=0.1).get(url, read=text, deadline=started + 1.0)
    elapsed = time.monotonic() - started
    # Retries 0.1, 0.2 and 0.4 s apart fit in the second; the next (0.8 s) would not.
    assert caught.value.attempts == 4 and elapsed < 1.0
    assert "network error (ConnectError" in caught.value.problem


def test_a_deadline_gives_up_rather_than_wait_for_its_turn(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    paced = client(request_interval=5.0)
    assert paced.get(server.url, read=text) == "ok"
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable, match="no turn to ask before the deadline"):
        paced.get(server.url, read=text, deadline=started + 1.0)
    assert time.monotonic() - started < 0.5 and len(server.requests) == 1


@pytest.fixture
def trickling_url() -> Iterator[str]:
    """A server that answers at once, then sends its 40-byte body a byte every 0.1 s: no
    single read waits long, the whole answer takes 4 s."""
    listener = socket.create_server((HOST, 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
            for _ in range(40):
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(b"x")
                except OSError:  # the client hung up
                    return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    yield f"http://{HOST}:{listener.getsockname()[1]}/thing"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_deadline_ends_an_answer_that_is_still_trickling_in(
    trickling_url: str, client: Callable[..., PoliteClient]
) -> None:
    # httpx's timeout bounds each read, not the whole answer: a body that keeps arriving
    # slowly would hold the person on the page far past the deadline. The message names the
    # time that was left when the request went out: a loaded machine may have spent some of it.
    started = time.monotonic()
    with pytest.raises(RemoteUnavailable, match=r"no answer within (1|0\.\d) s"):
        client(timeout=30.0, max_retries=0).get(trickling_url, read=text, deadline=started + 1.0)
    assert 1.0 <= time.monotonic() - started < 1.5


# --- who is asking -----------------------------------------------------------------------


def test_the_user_agent_names_the_site_and_a_contact(
    server: ScriptedServer, client: Callable[..., PoliteClient]
) -> None:
    settings = Settings(
        site_name="Papers of Example",
        site_url="https://papers.example.org",
        mail_from="Papers <papers@example.org>",
    )
    agent = user_agent(settings)
    assert agent.startswith("paperfeed/")
    assert agent.endswith(
        "(Papers of Example; +https://papers.example.org; mailto:papers@example.org)"
    )
    other = Settings(site_url="https://papers.example.org", contact_email="ops@example.org")
    assert user_agent(other).endswith("mailto:ops@example.org)")
    client(user_agent=agent).get(server.url, read=text)
    [request] = server.requests
    assert request.headers["user-agent"] == agent


def test_parse_retry_after() -> None:
    assert parse_retry_after(None) is None
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after("²") is None  # a digit to str.isdigit, not a number
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412480.0) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000", now=lambda: 1445412470.0) == 10.0
