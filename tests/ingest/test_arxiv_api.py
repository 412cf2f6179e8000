"""The arXiv API client over real HTTP against a local stand-in of the query API.

Responses are the recorded sample and hand-written feeds in arXiv's format (see
data/README.md); faults (503 with Retry-After, 5xx, slow answers, broken XML) are scripted
per request.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from paperfeed.config import Settings
from paperfeed.ingest.arxiv_api import ArxivClient, ArxivError, ArxivIdError, parse_feed
from paperfeed.ingest.http_client import RateLimiter
from paperfeed.papers.records import RecordError, Version
from tests.servers import HOST, FakeArxivApi, Response, free_port, refused_url

pytest_plugins = ["tests.servers"]

DATA = Path(__file__).parent / "data"
ClientFactory = Callable[..., ArxivClient]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


@pytest.fixture
def client(arxiv_api: FakeArxivApi) -> Iterator[ClientFactory]:
    """ArxivClient on the stand-in; no pacing and quick retries unless a test asks."""
    made: list[ArxivClient] = []

    def make(**kwargs: Any) -> ArxivClient:
        kwargs.setdefault("request_interval", 0.0)
        kwargs.setdefault("backoff", 0.01)
        kwargs.setdefault("timeout", 5.0)
        made.append(ArxivClient(kwargs.pop("base_url", arxiv_api.url), **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


class SleepRecorder:
    """An injected sleep: remembers how long the client wanted to wait, waits not at all."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


# --- parsing -----------------------------------------------------------------------------


def test_recorded_sample_every_field(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.canned["2408.00716"] = (200, (DATA / "arxiv_api_sample.xml").read_bytes())

    record = client(user_agent="paperfeed-test/1").fetch_one("2408.00716")

    assert record.arxiv_id == "2408.00716"
    assert record.version == 1
    assert record.title == (
        "A Natural Language Processing Framework for Hotel Recommendation Based on "
        "Users' Text Reviews"
    )
    assert record.abstract.startswith("Recently, the application of Artificial Intelligence")
    assert "hotel recommendation systems has become" in record.abstract  # line break collapsed
    assert record.abstract.endswith("to create more efficient recommendation systems.")
    assert "\n" not in record.abstract and "  " not in record.abstract
    assert record.authors == [
        "Lavrentia Aravani",
        "Emmanuel Pintelas",
        "Christos Pierrakeas",
        "Panagiotis Pintelas",
    ]
    assert record.affiliations == [[], [], [], []]
    assert record.published_at == utc(2024, 8, 1, 17, 1, 29)
    assert record.updated_at == utc(2024, 8, 1, 17, 1, 29)
    assert record.versions == [Version(1, utc(2024, 8, 1, 17, 1, 29))]
    assert record.categories == ["cs.LG"]
    assert record.abs_url == "http://arxiv.org/abs/2408.00716v1"
    assert record.pdf_url == "http://arxiv.org/pdf/2408.00716v1"
    assert (record.doi, record.journal_ref, record.arxiv_comments) == (None, None, None)
    assert record.source == "arxiv"

    [request] = arxiv_api.requests
    assert request.path == "/api/query"
    assert request.param("id_list") == "2408.00716"
    assert request.param("start") == "0"
    assert request.param("max_results") == "1"
    assert request.headers["user-agent"] == "paperfeed-test/1"


def test_several_versions_and_every_optional_element(client: ClientFactory) -> None:
    record = client().fetch_one("2311.09999")

    assert record.arxiv_id == "2311.09999" and record.version == 3
    assert record.title == "Scaling Laws for $\\mathcal{O}(n)$ Sparse Attention: Theory & Practice"
    assert "power law in compute & data" in record.abstract
    assert "keeps $k < n$ neighbours" in record.abstract
    assert record.authors == ["Ana María Pérez", "Jürgen Müller", "Wei Zhang"]
    assert record.affiliations == [
        ["Universidad de Chile"],
        ["ETH Zürich", "Max Planck Institute for Intelligent Systems"],
        [],
    ]
    # The API gives v1's date (published) and the returned version's (updated), no more.
    assert record.published_at == utc(2023, 11, 16, 18, 59, 59)
    assert record.updated_at == utc(2024, 3, 5, 9, 12, 44)
    assert record.versions == [
        Version(1, utc(2023, 11, 16, 18, 59, 59)),
        Version(3, utc(2024, 3, 5, 9, 12, 44)),
    ]
    assert record.categories == ["stat.ML", "cs.LG", "cs.CL"]  # primary first
    assert record.doi == "10.1000/example.2024.0042"
    assert record.journal_ref == "Proceedings of ICLR 2024, pp. 1-24"
    assert record.arxiv_comments == "Accepted at ICLR 2024; 24 pages, 9 figures"
    assert record.abs_url == "https://arxiv.org/abs/2311.09999v3"
    assert record.pdf_url == "https://arxiv.org/pdf/2311.09999v3"


def test_multi_entry_feed_keyed_by_the_ids_as_given(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    asked = [
        "1706.03762",
        "hep-ex/0307015",
        "math.DG/0211159",
        "arXiv:1706.03762v7",
        "https://arxiv.org/abs/hep-ex/0307015",
    ]
    records = client().fetch(asked)

    assert list(records) == asked
    [request] = arxiv_api.requests
    assert request.param("id_list") == "1706.03762,hep-ex/0307015,math.DG/0211159,1706.03762v7"
    assert request.param("max_results") == "4"

    attention = records["1706.03762"]
    assert records["arXiv:1706.03762v7"] == attention
    assert attention.title == "Attention Is All You Need" and attention.version == 7
    assert len(attention.authors) == 8 and attention.authors[5] == "Aidan N. Gomez"
    assert attention.versions == [
        Version(1, utc(2017, 6, 12, 17, 57, 34)),
        Version(7, utc(2023, 8, 2, 0, 41, 18)),
    ]
    assert attention.categories == ["cs.CL", "cs.LG"]
    assert attention.arxiv_comments == "15 pages, 5 figures"

    h1 = records["hep-ex/0307015"]
    assert records["https://arxiv.org/abs/hep-ex/0307015"] == h1
    assert h1.arxiv_id == "hep-ex/0307015"
    assert h1.title == (
        "Multi-Electron Production at High Transverse Momenta in ep Collisions at HERA"
    )
    assert h1.published_at == utc(2003, 7, 7, 17, 46, 39)  # 13:46:39-04:00
    assert h1.doi == "10.1140/epjc/s2003-01326-x"
    assert h1.journal_ref == "Eur.Phys.J. C31 (2003) 17-29"
    assert h1.arxiv_comments == "23 pages, 8 figures and 4 tables"
    assert h1.pdf_url == "http://arxiv.org/pdf/hep-ex/0307015v1"

    ricci = records["math.DG/0211159"]
    assert ricci.arxiv_id == "math/0211159"  # arXiv's own spelling of the id
    assert ricci.categories == ["math.DG"]


def test_written_files_parse_as_they_are() -> None:
    multi = parse_feed((DATA / "arxiv_api_multi.xml").read_bytes())
    assert multi.total_results == 3 and not multi.errors and not multi.unreadable
    assert [r.arxiv_id for r in multi.entries] == ["1706.03762", "hep-ex/0307015", "math/0211159"]

    error = parse_feed((DATA / "arxiv_api_error.xml").read_bytes())
    assert error.entries == [] and error.errors == ["incorrect id format for 2413.00716"]

    empty = parse_feed((DATA / "arxiv_api_empty.xml").read_bytes())
    assert empty.entries == [] and empty.errors == [] and empty.total_results == 1


# --- per-id errors -----------------------------------------------------------------------


def test_unknown_id_is_a_per_id_error(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.canned["2408.99999"] = (200, (DATA / "arxiv_api_empty.xml").read_bytes())
    api = client()

    with pytest.raises(ArxivIdError) as caught:
        api.fetch_one("2408.99999")
    assert str(caught.value) == "arXiv has no paper 2408.99999"
    assert isinstance(caught.value, RecordError) and caught.value.arxiv_id == "2408.99999"

    result = api.lookup(["2408.00716", "2408.88888"])
    assert list(result.records) == ["2408.00716"]
    assert str(result.errors["2408.88888"]) == "arXiv has no paper 2408.88888"
    assert api.fetch(["2408.00716", "2408.88888"]).keys() == {"2408.00716"}


def test_error_entry_for_a_malformed_id(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.canned["2413.00716"] = (400, (DATA / "arxiv_api_error.xml").read_bytes())

    with pytest.raises(ArxivIdError) as caught:
        client().fetch_one("2413.00716")
    assert "incorrect id format for 2413.00716" in str(caught.value)
    assert len(arxiv_api.requests) == 1  # a refusal is an answer, not a failure to retry


def test_a_malformed_id_spoils_only_itself(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    # arXiv refuses the whole request (400, one error entry) for one bad id in the list.
    result = client().lookup(["2408.00716", "2413.00716", "1706.03762"])

    assert set(result.records) == {"2408.00716", "1706.03762"}
    assert "incorrect id format for 2413.00716" in str(result.errors["2413.00716"])
    assert [r.param("id_list") for r in arxiv_api.requests] == [
        "2408.00716,2413.00716,1706.03762",
        "2408.00716,1706.03762",
    ]


def test_an_unattributed_refusal_is_narrowed_down(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    vague = (DATA / "arxiv_api_error.xml").read_bytes().replace(b"2413.00716", b"something")
    arxiv_api.canned["2408.00716,2413.00716,1706.03762,2311.09999"] = (400, vague)

    result = client().lookup(["2408.00716", "2413.00716", "1706.03762", "2311.09999"])

    assert set(result.records) == {"2408.00716", "1706.03762", "2311.09999"}
    assert set(result.errors) == {"2413.00716"}


def test_ids_that_are_not_arxiv_ids_never_reach_arxiv(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    result = client().lookup(["not an id", "2408.00716", "https://example.org/x"])

    assert list(result.records) == ["2408.00716"]
    assert "is not an arXiv id" in str(result.errors["not an id"])
    assert "is not an arXiv id" in str(result.errors["https://example.org/x"])
    assert [r.param("id_list") for r in arxiv_api.requests] == ["2408.00716"]
    assert client().lookup([]).records == {}


# --- batching and pacing -----------------------------------------------------------------


def test_250_ids_take_three_requests(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.generate = True
    ids = [f"2401.{n:05d}" for n in range(1, 251)]

    records = client().fetch(ids)

    assert list(records) == ids
    assert all(records[i].title == f"Generated paper {i}" for i in ids)
    requests = arxiv_api.requests
    assert [r.param("max_results") for r in requests] == ["100", "100", "50"]
    assert [len((r.param("id_list") or "").split(",")) for r in requests] == [100, 100, 50]


def test_requests_are_spaced_by_the_interval(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    arxiv_api.generate = True
    api = client(request_interval=0.1, batch_size=1)

    started = time.monotonic()
    records = api.fetch([f"2401.{n:05d}" for n in range(1, 7)])
    elapsed = time.monotonic() - started

    assert len(records) == 6
    arrivals = [r.at for r in arxiv_api.requests]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 5
    # Measured where the requests arrive, so a little connection-setup jitter is allowed.
    # No two requests come closer than the interval; a loaded machine may delay one, but
    # the pace is the interval, not more.
    assert min(gaps) >= 0.085, gaps
    assert statistics.median(gaps) < 0.2, gaps
    assert 0.5 <= elapsed < 1.5


def test_one_limiter_can_pace_several_clients(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    shared = RateLimiter(0.1)
    first, second = client(limiter=shared), client(limiter=shared)
    first.fetch_one("2408.00716")
    second.fetch_one("1706.03762")
    first.fetch_one("2311.09999")
    arrivals = [r.at for r in arxiv_api.requests]
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.08


# --- retries -----------------------------------------------------------------------------


def test_503_with_retry_after_is_honoured(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.faults.append(Response(503, b"busy", {"Retry-After": "1"}))

    record = client(backoff=30.0).fetch_one("2408.00716")

    assert record.arxiv_id == "2408.00716"
    first, second = arxiv_api.requests
    assert 1.0 <= second.at - first.at < 2.0  # Retry-After, not the 30 s backoff


def test_backoff_doubles_on_server_errors(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.faults.extend([Response(500), Response(502), Response(504)])
    sleep = SleepRecorder()

    record = client(backoff=0.5, sleep=sleep).fetch_one("2408.00716")

    assert record.arxiv_id == "2408.00716"
    assert sleep.calls == [0.5, 1.0, 2.0]
    assert len(arxiv_api.requests) == 4


def test_429_with_an_http_date_and_a_cap(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    later = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    arxiv_api.faults.extend(
        [
            Response(429, headers={"Retry-After": soon}),
            Response(503, headers={"Retry-After": later}),
        ]
    )
    sleep = SleepRecorder()

    client(sleep=sleep, max_backoff=600).fetch_one("2408.00716")

    assert 17 <= sleep.calls[0] <= 20
    assert sleep.calls[1] == 600  # never wait for hours on a server's word


def test_gives_up_after_max_retries(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.faults.extend(Response(503, b"busy") for _ in range(10))
    sleep = SleepRecorder()

    with pytest.raises(ArxivError) as caught:
        client(max_retries=3, backoff=1.0, sleep=sleep).fetch_one("2408.00716")

    assert "failed 4 times" in str(caught.value) and "HTTP 503" in str(caught.value)
    assert len(arxiv_api.requests) == 4
    assert sleep.calls == [1.0, 2.0, 4.0]


def test_network_errors_are_retried_then_reported(client: ClientFactory) -> None:
    sleep = SleepRecorder()
    url = f"http://{HOST}:{free_port()}/api/query"  # nothing listens there

    with pytest.raises(ArxivError) as caught:
        client(base_url=url, max_retries=2, sleep=sleep).fetch(["2408.00716"])

    assert "network error (ConnectError" in str(caught.value)
    assert url in str(caught.value)
    assert len(sleep.calls) == 2


def test_timeout(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.faults.append(Response(delay=3.0))

    started = time.monotonic()
    with pytest.raises(ArxivError) as caught:
        client(timeout=0.2, max_retries=0).fetch_one("2408.00716")
    elapsed = time.monotonic() - started

    assert "no answer within 0.2 s" in str(caught.value)
    assert 0.2 <= elapsed < 1.5


def test_a_timeout_is_retried(arxiv_api: FakeArxivApi, client: ClientFactory) -> None:
    arxiv_api.faults.append(Response(delay=3.0))
    record = client(timeout=0.2, max_retries=1).fetch_one("2408.00716")
    assert record.arxiv_id == "2408.00716"
    assert len(arxiv_api.requests) == 2


def test_broken_xml_is_retried_then_reported(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    truncated = (DATA / "arxiv_api_sample.xml").read_bytes()[:700]
    arxiv_api.faults.extend([Response(200, truncated), Response(200, b"<html>oops</html>")])

    with pytest.raises(ArxivError) as caught:
        client(max_retries=1).fetch_one("2408.00716")
    assert "not an Atom feed" in str(caught.value)

    arxiv_api.faults.append(Response(200, truncated))
    assert client(max_retries=1).fetch_one("2408.00716").arxiv_id == "2408.00716"


def test_other_client_errors_are_not_retried(
    arxiv_api: FakeArxivApi, client: ClientFactory
) -> None:
    with pytest.raises(ArxivError) as caught:
        client(base_url=arxiv_api.url.replace("/api/query", "/wrong")).fetch_one("2408.00716")
    assert "HTTP 404" in str(caught.value) and "PAPERFEED_ARXIV_API_URL" in str(caught.value)
    assert len(arxiv_api.requests) == 1


def test_from_settings(arxiv_api: FakeArxivApi) -> None:
    settings = Settings(
        arxiv_api_url=arxiv_api.url,
        arxiv_request_interval=0.25,
        site_url="https://papers.example.org",
    )
    with ArxivClient.from_settings(settings) as api:
        assert api.limiter.interval == 0.25
        api.fetch_one("2408.00716")
    [request] = arxiv_api.requests
    assert request.headers["user-agent"].startswith("paperfeed/")
    assert "https://papers.example.org" in request.headers["user-agent"]


# --- someone waiting: the interactive client ------------------------------------------------


def test_the_harvesters_client_keeps_its_patience() -> None:
    with ArxivClient.from_settings(Settings(arxiv_timeout=2.0)) as patient:
        assert patient.lookup_timeout is None
        assert (patient.timeout, patient.max_retries, patient.backoff) == (30.0, 4, 2.0)
    with ArxivClient.interactive(Settings(arxiv_timeout=2.0)) as waited_on:
        assert waited_on.lookup_timeout == 2.0


@pytest.mark.parametrize("down", ["silent", "refused"])
def test_an_interactive_lookup_ends_within_the_timeout(down: str, request) -> None:  # type: ignore[no-untyped-def]
    """A stand-in that accepts and never answers, and an address that refuses: with the
    harvester's settings these took 3 minutes and 31 s; a person waits 1.5 s at most."""
    url = request.getfixturevalue("silent_server").url if down == "silent" else refused_url()
    settings = Settings(arxiv_api_url=url, arxiv_timeout=1.5, arxiv_request_interval=0.0)
    started = time.monotonic()
    with ArxivClient.interactive(settings) as api, pytest.raises(ArxivError) as caught:
        api.fetch_one("2408.00716")
    elapsed = time.monotonic() - started
    assert elapsed < 1.5 + 0.5, elapsed
    assert caught.value.url == url
    if down == "silent":
        assert elapsed >= 1.4 and caught.value.problem == "no answer within 1.5 s"
    else:
        assert "network error (ConnectError" in caught.value.problem
        # Refused at once, again after 1 s; the next wait (2 s) would end past the deadline.
        assert "failed 2 times before the deadline" in str(caught.value)
