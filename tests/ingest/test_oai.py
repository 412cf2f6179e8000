"""The OAI-PMH harvester over real HTTP against a local stand-in of arXiv's interface.

Pages are the recorded sample and records written following arXiv.xsd and arXivRaw.xsd
(see data/README.md); faults, OAI errors and expired tokens are scripted per request.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.ingest.jsonl import parse_snapshot
from paperfeed.ingest.oai import (
    DELETED_REASON,
    HarvestCursor,
    HarvestRange,
    OaiClient,
    OaiError,
    OaiProtocolError,
    harvest,
    parse_page,
    split_authors,
)
from paperfeed.ingest.snapshot import import_snapshot
from paperfeed.models import IngestCursor, Paper, PaperVersion
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.servers import FakeOaiPmh, Response, free_port

pytest_plugins = ["tests.servers"]

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parents[2]
SNAPSHOT = ROOT / "src" / "paperfeed" / "data" / "arxiv_snapshot_sample.jsonl"
RECENT = "Thu, 19 Nov 2026 18:00:00 GMT"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(oai_pmh: FakeOaiPmh, sleeps: Sleeps) -> Iterator[Callable[..., OaiClient]]:
    made: list[OaiClient] = []

    def make(**kwargs: Any) -> OaiClient:
        kwargs.setdefault("request_interval", 0.0)
        kwargs.setdefault("timeout", 5.0)
        kwargs.setdefault("sleep", sleeps)
        made.append(OaiClient(kwargs.pop("base_url", oai_pmh.url), **kwargs))
        return made[-1]

    yield make
    for each in made:
        each.close()


def settings_for(tmp_path: Path, db: Database, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db.url, secret_key="x", **extra)


def count(db: Database) -> int:
    with db.reader() as session:
        return session.execute(select(func.count()).select_from(Paper)).scalar_one()


def paper(db: Database, arxiv_id: str) -> Paper:
    with db.reader() as session:
        found = session.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).scalar_one()
        _ = found.versions, found.authors
        return found


# --- parsing -----------------------------------------------------------------------------


def test_the_recorded_arxiv_format_page_parses() -> None:
    page = parse_page((DATA / "oai_arXiv_sample.xml").read_bytes(), "arXiv")
    assert page.token is None and page.deleted == [] and page.unreadable == []
    assert page.response_date == date(2013, 4, 3)
    (record,) = page.records
    assert record.arxiv_id == "0801.3931"
    assert record.title == "Dynamical study of 2D and 3D barred galaxy models"
    assert record.authors == ["T. Manos", "E. Athanassoula"]
    assert record.categories == ["astro-ph"]
    assert record.doi == "10.1007/978-3-540-75826-6_11"
    assert record.journal_ref.startswith("Chaos in Astronomy Astrophysics")
    assert record.arxiv_comments.startswith("8 pages, 3 figures")
    assert record.published_at == datetime(2008, 1, 25, tzinfo=UTC)
    assert record.abstract.startswith("We study the dynamics of 2D and 3D barred galaxy")


@pytest.mark.parametrize("prefix", ["arXivRaw", "arXiv"])
def test_both_formats_carry_what_the_snapshot_has(prefix: str) -> None:
    page = parse_page((DATA / f"oai_{prefix}_records.xml").read_bytes(), prefix)
    assert page.deleted == ["0704.0012"]
    snapshot = {
        r.arxiv_id: r
        for r in (parse_snapshot(json.loads(line)) for line in SNAPSHOT.open(encoding="utf-8"))
    }
    assert len(page.records) == 11
    for record in page.records:
        expected = snapshot[record.arxiv_id]
        for name in ("title", "abstract", "categories", "doi", "journal_ref", "report_no"):
            assert getattr(record, name) == getattr(expected, name), (record.arxiv_id, name)
        assert record.arxiv_comments == expected.arxiv_comments
        assert record.authors == expected.authors, record.arxiv_id
        if prefix == "arXivRaw":  # every version with its instant
            assert [(v.version, v.submitted_at) for v in record.versions] == [
                (v.version, v.submitted_at) for v in expected.versions
            ]
        else:  # only the days of the first and the latest version
            assert record.published_at.date() == expected.versions[0].submitted_at.date()
            assert record.updated_at.date() == expected.versions[-1].submitted_at.date()


def test_raw_author_strings_are_split_and_decoded() -> None:
    assert split_authors(r"C. Bal\'azs, E. L. Berger and C.-P. Yuan") == [
        "C. Balázs",
        "E. L. Berger",
        "C.-P. Yuan",
    ]
    assert split_authors(r"A. M\"uller (MIT), B. \v{S}koda, and F. G\"{o}del (IAS)") == [
        "A. Müller",
        "B. Škoda",
        "F. Gödel",
    ]


def test_malformed_xml_and_foreign_documents_are_errors() -> None:
    with pytest.raises(OaiError, match="malformed XML"):
        parse_page(b"<OAI-PMH><ListRecords><record>", "arXivRaw")
    with pytest.raises(OaiError, match="not an OAI-PMH answer"):
        parse_page(b"<html><body>Service unavailable</body></html>", "arXivRaw")


# --- harvesting --------------------------------------------------------------------------


def test_a_harvest_pages_through_tokens_and_writes_everything(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    seen: list[tuple[int, int]] = []
    stats = harvest(
        db,
        settings_for(tmp_path, db),
        client(),
        HarvestRange(date(2000, 1, 1)),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert stats.complete and stats.pages == 3
    assert (stats.added, stats.updated, stats.unchanged, stats.skipped) == (11, 0, 0, 0)
    assert seen == [(4, 12), (8, 12), (12, 12)]
    first, *rest = oai_pmh.requests
    assert first.param("metadataPrefix") == "arXivRaw" and first.param("from") == "2000-01-01"
    assert all(set(r.query) == {"verb", "resumptionToken"} for r in rest)
    record = paper(db, "0704.0002")
    assert [a.name for a in record.authors] == ["Ileana Streinu", "Louis Theran"]
    assert [(v.version, v.size) for v in record.versions] == [(1, "12kb"), (2, "24kb")]
    assert record.feed_at is None  # the default: only submissions enter the feed
    again = harvest(db, settings_for(tmp_path, db), client(), HarvestRange(date(2000, 1, 1)))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 11)


def test_a_set_and_a_date_range_are_asked_for(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    stats = harvest(
        db,
        settings_for(tmp_path, db),
        client(),
        HarvestRange(date(2007, 5, 1), date(2008, 12, 31), "math"),
    )
    assert oai_pmh.requests[0].param("set") == "math"
    assert oai_pmh.requests[0].param("until") == "2008-12-31"
    assert stats.added == 4  # 0704.0002, .0004, .0010, .0011 (not .0005: updated 2013)
    with db.reader() as session:
        ids = set(session.execute(select(Paper.arxiv_id)).scalars())
    assert ids == {"0704.0002", "0704.0004", "0704.0010", "0704.0011"}


def test_the_arxiv_format_harvests_too(
    db: Database, tmp_path: Path, client: Callable[..., OaiClient]
) -> None:
    stats = harvest(
        db, settings_for(tmp_path, db), client(), HarvestRange(date(2000, 1, 1), prefix="arXiv")
    )
    assert stats.added == 11
    assert paper(db, "0704.0001").authors[0].name == "C. Balázs"


def test_deleted_records_hide_their_paper(
    db: Database, tmp_path: Path, client: Callable[..., OaiClient]
) -> None:
    import_snapshot(db, SNAPSHOT)
    assert paper(db, "0704.0012").hidden_at is None
    stats = harvest(db, settings_for(tmp_path, db), client(), HarvestRange(date(2000, 1, 1)))
    assert stats.deleted == 1 and stats.unchanged == 11 - stats.updated
    hidden = paper(db, "0704.0012")
    assert hidden.hidden_at is not None and hidden.hidden_reason == DELETED_REASON


def test_a_new_version_updates_the_paper_and_keeps_its_history(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    oai_pmh.records.clear()
    v1 = "Mon, 16 Nov 2026 10:00:00 GMT"
    oai_pmh.add(FakeOaiPmh.raw_record("2611.01234", "2026-11-17", [v1]))
    settings = settings_for(tmp_path, db)
    harvest(db, settings, client(), HarvestRange(date(2026, 11, 1)))
    oai_pmh.records.clear()
    oai_pmh.add(
        FakeOaiPmh.raw_record(
            "2611.01234", "2026-11-19", [v1, RECENT], abstract="We harvest papers, twice."
        )
    )
    stats = harvest(db, settings, client(), HarvestRange(date(2026, 11, 18)))
    assert stats.updated == 1
    updated = paper(db, "2611.01234")
    assert [v.version for v in updated.versions] == [1, 2]
    assert updated.latest_version == 2 and updated.abstract == "We harvest papers, twice."
    assert updated.published_at == datetime(2026, 11, 16, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("policy", "categories", "expected"),
    [
        ("submissions", "", set()),
        ("all", "", {"2611.00001", "2611.00002"}),
        ("categories", "cs", {"2611.00001"}),
        ("categories", "math.AG, hep-th", {"2611.00002"}),
    ],
)
def test_newly_announced_papers_enter_the_feed_by_policy(
    db: Database,
    tmp_path: Path,
    oai_pmh: FakeOaiPmh,
    client: Callable[..., OaiClient],
    policy: str,
    categories: str,
    expected: set[str],
) -> None:
    oai_pmh.add(FakeOaiPmh.raw_record("2611.00001", "2026-11-20", [RECENT], categories="cs.CL"))
    oai_pmh.add(
        FakeOaiPmh.raw_record(
            "2611.00002", "2026-11-20", [RECENT], categories="math.AG", set_spec="math"
        )
    )
    oai_pmh.add(  # announced long ago, only revised now: never "new"
        FakeOaiPmh.raw_record("2301.00003", "2026-11-20", ["Mon, 2 Jan 2023 10:00:00 GMT", RECENT])
    )
    settings = settings_for(tmp_path, db, harvest_feed=policy, harvest_feed_categories=categories)
    stats = harvest(db, settings, client(), HarvestRange(date(2026, 11, 1)))
    with db.reader() as session:
        query = select(Paper.arxiv_id, Paper.feed_at).where(Paper.feed_at.is_not(None))
        entered = {arxiv_id: feed_at for arxiv_id, feed_at in session.execute(query)}
    assert set(entered) == expected and stats.entered_feed == len(expected)
    assert all(at == datetime(2026, 11, 20, 20, tzinfo=UTC) for at in entered.values())


def test_a_harvested_paper_merging_into_a_feed_paper_keeps_its_feed_day(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    day = datetime(2026, 11, 19, 17, tzinfo=UTC)
    with db.transaction() as session:
        upsert_papers(
            session,
            [PaperRecord(title="Attention Is Enough", abstract="Seen on HF.", feed_at=day)],
        )
    oai_pmh.add(
        FakeOaiPmh.raw_record("2611.00001", "2026-11-20", [RECENT], title="Attention is enough")
    )
    settings = settings_for(tmp_path, db, harvest_feed="all")
    stats = harvest(db, settings, client(), HarvestRange(date(2026, 11, 1)))
    assert (stats.added, stats.updated, stats.entered_feed) == (0, 1, 0)
    merged = paper(db, "2611.00001")
    assert merged.feed_at == day and merged.abstract == "We harvest papers."


def test_busy_answers_are_waited_out_as_arxiv_asks(
    db: Database,
    tmp_path: Path,
    oai_pmh: FakeOaiPmh,
    client: Callable[..., OaiClient],
    sleeps: Sleeps,
) -> None:
    oai_pmh.faults.extend(
        [
            Response(503, b"Retry after 7 seconds", {"Retry-After": "7"}),
            Response(500, b"oops"),
            Response(200, b'<?xml version="1.0"?><OAI-PMH xmlns="http://www.open'),
        ]
    )
    stats = harvest(
        db, settings_for(tmp_path, db), client(backoff=1.5), HarvestRange(date(2000, 1, 1))
    )
    assert stats.complete and stats.added == 11
    assert sleeps == [7, 3.0, 6.0]  # Retry-After, then exponential backoff


def test_a_server_that_keeps_failing_stops_the_harvest_with_advice(
    db: Database, tmp_path: Path, client: Callable[..., OaiClient], sleeps: Sleeps
) -> None:
    dead = client(base_url=f"http://127.0.0.1:{free_port()}/oai", max_retries=2)
    with pytest.raises(OaiError, match=r"failed 3 time.*network error.*resumes where it stopped"):
        harvest(db, settings_for(tmp_path, db), dead, HarvestRange(date(2000, 1, 1)))
    assert len(sleeps) == 2


def test_malformed_xml_every_time_fails_without_writing(
    db: Database,
    tmp_path: Path,
    oai_pmh: FakeOaiPmh,
    client: Callable[..., OaiClient],
) -> None:
    broken = Response(200, b"<OAI-PMH xmlns='http://www.openarchives.org/OAI/2.0/'><List")
    oai_pmh.faults.extend([broken, broken, broken])
    with pytest.raises(OaiError, match="malformed XML"):
        harvest(
            db, settings_for(tmp_path, db), client(max_retries=2), HarvestRange(date(2000, 1, 1))
        )
    assert count(db) == 0


def test_an_unknown_metadata_prefix_is_refused(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    with pytest.raises(OaiError, match="unknown metadata format 'oai_dc'"):
        harvest(
            db,
            settings_for(tmp_path, db),
            client(),
            HarvestRange(date(2000, 1, 1), prefix="oai_dc"),
        )
    assert oai_pmh.requests == []
    oai_pmh.formats = {"arXiv"}
    with pytest.raises(OaiProtocolError, match="cannotDisseminateFormat") as caught:
        harvest(db, settings_for(tmp_path, db), client(), HarvestRange(date(2000, 1, 1)))
    assert caught.value.code == "cannotDisseminateFormat"


def test_no_records_is_a_complete_empty_harvest(
    db: Database, tmp_path: Path, client: Callable[..., OaiClient]
) -> None:
    stats = harvest(db, settings_for(tmp_path, db), client(), HarvestRange(date(2030, 1, 1)))
    assert stats.complete and stats.pages == 1 and stats.added == 0


def test_an_unreadable_record_is_reported_and_skipped(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    oai_pmh.add(FakeOaiPmh.raw_record("2611.00009", "2026-11-20", [RECENT], title=""))
    reported: list[tuple[str, str]] = []
    stats = harvest(
        db,
        settings_for(tmp_path, db),
        client(),
        HarvestRange(date(2000, 1, 1)),
        report=lambda where, why: reported.append((where, why)),
    )
    assert stats.skipped == 1 and stats.added == 11
    assert reported == [("oai:arXiv.org:2611.00009", "2611.00009 has no title")]


def test_an_expired_token_restarts_the_range(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    settings = settings_for(tmp_path, db)
    first = harvest(db, settings, client(), HarvestRange(date(2000, 1, 1)), stop_after_pages=1)
    assert not first.complete and count(db) == 4
    oai_pmh.expire_tokens()
    rest = harvest(db, settings, client())  # no --from: continue the unfinished harvest
    assert rest.resumed and rest.restarts == 1 and rest.complete
    assert oai_pmh.requests[1].param("resumptionToken") is not None
    assert oai_pmh.requests[2].param("from") == "2000-01-01"
    assert count(db) == 11 and rest.added == 7 and rest.unchanged == 4


def test_the_next_harvest_starts_where_the_last_one_ended(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh, client: Callable[..., OaiClient]
) -> None:
    settings = settings_for(tmp_path, db)
    with pytest.raises(OaiError, match="give the first date with --from"):
        harvest(db, settings, client())
    harvest(db, settings, client(), HarvestRange(date(2000, 1, 1)))
    oai_pmh.requests.clear()
    harvest(db, settings, client())
    assert oai_pmh.requests[0].param("from") == "2026-11-20"  # the server's responseDate


def test_a_cursor_reads_and_writes_the_stored_state_unchanged() -> None:
    """Cursors saved by earlier versions (the same JSON keys) resume as they were."""
    stored = {
        "from": "2026-11-01",
        "until": None,
        "set": "cs",
        "prefix": "arXivRaw",
        "token": "7|1001",
        "complete": False,
        "started": "2026-11-20",
        "records": 1000,
        "next_from": "2026-10-31",
    }
    cursor = HarvestCursor.from_state(stored)
    assert cursor is not None and cursor.unfinished
    assert cursor.state() == stored
    assert HarvestCursor.from_state({}) is None


def test_a_harvest_killed_between_pages_resumes_at_the_next_page(
    db: Database, tmp_path: Path, oai_pmh: FakeOaiPmh
) -> None:
    oai_pmh.resume_delay = 30  # the second page never comes before the kill
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_OAI_URL": oai_pmh.url,
        "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
        "PAPERFEED_CLOCK": "2026-11-20T20:00:00Z",
    }
    command = [sys.executable, "-m", "paperfeed.cli", "ingest", "arxiv"]
    process = subprocess.Popen(
        [*command, "--from", "2000-01-01"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(oai_pmh.requests) < 2:
        time.sleep(0.05)
    assert process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    with db.reader() as session:
        state = session.execute(select(IngestCursor)).scalar_one().state
    assert state["token"] and not state["complete"] and count(db) == 4
    oai_pmh.resume_delay = 0
    oai_pmh.requests.clear()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "(resumed): 2 pages, 7 added, 0 updated, 0 unchanged, 0 deleted" in result.stdout
    assert oai_pmh.requests[0].param("resumptionToken") == state["token"]
    assert count(db) == 11


def test_the_command_reports_errors_with_advice(tmp_path: Path, db: Database) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_OAI_URL": f"http://127.0.0.1:{free_port()}/oai",
    }
    result = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "ingest", "arxiv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "--from YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr


def test_ids_are_fetched_from_the_api_and_written(
    db: Database, tmp_path: Path, arxiv_api: Any
) -> None:
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_ARXIV_API_URL": arxiv_api.url,
        "PAPERFEED_ARXIV_REQUEST_INTERVAL": "0",
    }
    command = [sys.executable, "-m", "paperfeed.cli", "ingest", "arxiv", "--ids"]
    result = subprocess.run(
        [*command, "2408.00716,1706.03762,2401.99999"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "2 added, 0 updated, 0 unchanged, 1 not found" in result.stdout
    assert "2401.99999: arXiv has no paper 2401.99999" in result.stderr
    with db.reader() as session:
        versions = session.execute(
            select(PaperVersion.version).join(Paper).where(Paper.arxiv_id == "1706.03762")
        ).scalars()
        assert 7 in list(versions)


def test_the_recorded_sample_is_a_valid_oai_document() -> None:
    root = ET.parse(DATA / "oai_arXiv_sample.xml").getroot()
    assert root.tag == "{http://www.openarchives.org/OAI/2.0/}OAI-PMH"
