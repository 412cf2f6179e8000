"""The bulk snapshot import: same outcome as the general importer, fast, resumable."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from paperfeed.db import Database
from paperfeed.ingest.importer import import_file
from paperfeed.ingest.jsonl import parse_snapshot
from paperfeed.ingest.snapshot import (
    fast_title_key,
    import_snapshot,
    parse_line_object,
    write_chunk,
)
from paperfeed.models import (
    IngestCursor,
    Paper,
    PaperAlias,
    PaperAuthor,
    PaperCategory,
    PaperVersion,
)
from paperfeed.papers.ids import title_key
from paperfeed.papers.records import OrganizationRef, PaperRecord
from paperfeed.papers.store import UpsertStats, lock_changes, upsert_papers

ROOT = Path(__file__).parents[2]
SAMPLE = ROOT / "src" / "paperfeed" / "data" / "arxiv_snapshot_sample.jsonl"
LINES = SAMPLE.read_text(encoding="utf-8").splitlines()


def paper_state(db: Database) -> list[tuple]:
    """Everything an import writes, in a comparable form (no surrogate keys, no times)."""
    with db.reader() as session:
        papers = session.execute(
            select(
                Paper.public_id,
                Paper.title,
                Paper.abstract,
                Paper.categories,
                Paper.primary_category,
                Paper.doi,
                Paper.journal_ref,
                Paper.arxiv_comments,
                Paper.report_no,
                Paper.license,
                Paper.published_at,
                Paper.updated_at,
                Paper.latest_version,
                Paper.author_count,
                Paper.title_key,
                Paper.feed_at,
            ).order_by(Paper.public_id)
        ).all()
        authors = session.execute(
            select(Paper.public_id, PaperAuthor.position, PaperAuthor.name)
            .join(Paper)
            .order_by(Paper.public_id, PaperAuthor.position)
        ).all()
        versions = session.execute(
            select(Paper.public_id, PaperVersion.version, PaperVersion.submitted_at)
            .join(Paper)
            .order_by(Paper.public_id, PaperVersion.version)
        ).all()
        categories = session.execute(
            select(
                Paper.public_id,
                PaperCategory.position,
                PaperCategory.category,
                PaperCategory.archive,
                PaperCategory.is_primary,
                PaperCategory.feed_at,
            )
            .join(Paper)
            .order_by(Paper.public_id, PaperCategory.position)
        ).all()
    return [*papers, *authors, *versions, *categories]


def change_seqs(db: Database) -> list[int]:
    with db.reader() as session:
        return list(session.execute(select(Paper.change_seq).order_by(Paper.id)).scalars())


def test_the_fast_parser_reads_every_sample_line_like_the_general_one() -> None:
    for line in LINES:
        obj = json.loads(line)
        assert parse_line_object(obj) == parse_snapshot(obj), obj["id"]


def test_the_fast_title_key_equals_the_general_one() -> None:
    titles = [json.loads(line)["title"] for line in LINES]
    titles += ["Über_Kähler ﬁbres: ½ and ² — Ⅻ", "٣ digits", "snake_case  title", "ÅNGSTRÖM"]
    for title in titles:
        assert fast_title_key(title) == title_key(title), title


def test_import_writes_what_the_general_importer_writes(db: Database, tmp_path: Path) -> None:
    stats = import_snapshot(db, SAMPLE, chunk_size=64)
    assert (stats.added, stats.updated, stats.unchanged, stats.skipped) == (200, 0, 0, 0)
    bulk = paper_state(db)
    reference_db = Database(f"sqlite:///{tmp_path / 'reference.sqlite3'}")
    reference_db.upgrade()
    import_file(reference_db, SAMPLE, "arxiv-snapshot")
    assert bulk == paper_state(reference_db)
    reference_db.dispose()
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "0704.0002")).scalar_one()
        assert paper.title == "Sparsity-certifying Graph Decompositions"
        assert [a.name for a in paper.authors] == ["Ileana Streinu", "Louis Theran"]
        assert [v.version for v in paper.versions] == [1, 2]


def test_a_second_import_changes_nothing(db: Database) -> None:
    import_snapshot(db, SAMPLE)
    before, seqs = paper_state(db), change_seqs(db)
    again = import_snapshot(db, SAMPLE, restart=True)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 200)
    assert paper_state(db) == before
    assert change_seqs(db) == seqs
    # Finished, so running it without --restart has nothing left to read.
    rest = import_snapshot(db, SAMPLE)
    assert rest.lines == 0 and rest.resumed_at_line == 200


def test_new_versions_update_the_paper_and_keep_its_history(db: Database, tmp_path: Path) -> None:
    import_snapshot(db, SAMPLE)
    obj = json.loads(LINES[1])  # 0704.0002, two versions
    obj["versions"].append({"version": "v3", "created": "Tue, 2 Jan 2024 10:00:00 GMT"})
    obj["abstract"] = obj["abstract"] + " Revised."
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps(obj) + "\n" + LINES[2] + "\n", encoding="utf-8")
    stats = import_snapshot(db, newer)
    assert (stats.added, stats.updated, stats.unchanged) == (0, 1, 1)
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "0704.0002")).scalar_one()
        assert [v.version for v in paper.versions] == [1, 2, 3]
        assert paper.latest_version == 3
        assert paper.abstract.endswith("Revised.")
        assert paper.change_seq == max(change_seqs(db))
    # A later snapshot line listing fewer versions never drops the history.
    older = tmp_path / "older.jsonl"
    older.write_text(LINES[1] + "\n", encoding="utf-8")
    import_snapshot(db, older)
    with db.reader() as session:
        versions = session.execute(
            select(PaperVersion.version).join(Paper).where(Paper.public_id == "0704.0002")
        ).scalars()
        assert list(versions) == [1, 2, 3]


def test_an_arxiv_line_merges_into_a_local_paper_of_the_same_title(db: Database) -> None:
    title = json.loads(LINES[0])["title"]
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title=title, abstract="Seen on a feed first.")])
    stats = import_snapshot(db, SAMPLE)
    assert (stats.added, stats.updated) == (199, 1)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 200
        alias = session.execute(select(PaperAlias.alias)).scalar_one()
        assert alias.startswith("pf-")
        merged = session.execute(select(Paper).where(Paper.public_id == "0704.0001")).scalar_one()
        assert merged.abstract.startswith("A fully differential calculation")


def bulk_write(db: Database, record: PaperRecord) -> UpsertStats:
    with db.transaction() as session:
        lock_changes(session)
        return write_chunk(session, [record])


def stored(db: Database, arxiv_id: str) -> Paper:
    with db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.arxiv_id == arxiv_id)).scalar_one()
        session.expunge(paper)
        return paper


FEED_DAY = datetime(2026, 11, 20, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "column", "expected"),
    [
        ({"github_url": "https://github.com/x/y"}, "github_url", "https://github.com/x/y"),
        ({"project_url": "https://y.example.org"}, "project_url", "https://y.example.org"),
        ({"feed_at": FEED_DAY}, "feed_at", FEED_DAY),
        ({"upvotes": 7}, "upvote_baseline", 7),
    ],
)
def test_the_bulk_path_writes_every_field_the_general_path_writes(
    db: Database, change: dict[str, Any], column: str, expected: Any
) -> None:
    record = parse_line_object(json.loads(LINES[1]))
    assert bulk_write(db, record).added == 1
    stats = bulk_write(db, dataclasses.replace(record, **change))
    assert (stats.updated, stats.unchanged) == (1, 0)
    assert getattr(stored(db, "0704.0002"), column) == expected
    assert bulk_write(db, dataclasses.replace(record, **change)).unchanged == 1


def test_the_bulk_path_follows_dates_of_a_paper_without_versions(db: Database) -> None:
    """The `arXiv` OAI format gives only the first and latest dates, no version list."""
    first = datetime(2024, 1, 2, tzinfo=UTC)
    record = PaperRecord(
        title="Dated only", abstract="No versions.", arxiv_id="2401.00002", source="arxiv",
        published_at=first, updated_at=first,
    )  # fmt: skip
    bulk_write(db, record)
    revised = dataclasses.replace(record, updated_at=datetime(2024, 3, 4, tzinfo=UTC))
    assert bulk_write(db, revised).updated == 1
    paper = stored(db, "2401.00002")
    assert (paper.published_at, paper.updated_at) == (first, revised.updated_at)


def test_the_bulk_path_keeps_a_records_organization(db: Database) -> None:
    record = parse_line_object(json.loads(LINES[1]))
    org = OrganizationRef(name="mit", fullname="MIT")
    assert bulk_write(db, dataclasses.replace(record, organization=org)).added == 1
    known = parse_line_object(json.loads(LINES[2]))
    bulk_write(db, known)
    assert bulk_write(db, dataclasses.replace(known, organization=org)).updated == 1
    with db.reader() as session:
        named = session.execute(
            select(Paper.arxiv_id).where(Paper.organization_id.is_not(None)).order_by(Paper.id)
        ).scalars()
        assert list(named) == ["0704.0002", "0704.0003"]


def test_a_duplicate_line_in_one_chunk_counts_once(db: Database, tmp_path: Path) -> None:
    twice = tmp_path / "twice.jsonl"
    twice.write_text("\n".join([LINES[0], LINES[1], LINES[0]]) + "\n", encoding="utf-8")
    stats = import_snapshot(db, twice)
    assert (stats.added, stats.unchanged) == (2, 1)


def test_bad_lines_are_reported_with_their_number_and_skipped(db: Database, tmp_path: Path) -> None:
    no_title = json.loads(LINES[3])
    del no_title["title"]
    bad_id = {**json.loads(LINES[4]), "id": "not-an-id"}
    bad_version = json.loads(LINES[5])
    bad_version["versions"] = [{"version": "v1", "created": "yesterday"}]
    source = tmp_path / "bad.jsonl"
    source.write_bytes(
        b"\n".join(
            [
                LINES[0].encode(),
                b'{"id": "0704.0002", "title": "broken',
                b"[1, 2, 3]",
                json.dumps(no_title).encode(),
                json.dumps(bad_id).encode(),
                json.dumps(bad_version).encode(),
                b"",
                b'{"id": "0704.0009", "title": "caf\xe9"}',
                LINES[6].encode(),
            ]
        )
        + b"\n"
    )
    reported: list[tuple[int, str]] = []
    stats = import_snapshot(db, source, report=lambda n, why: reported.append((n, why)))
    assert stats.added == 2 and stats.skipped == 6
    reasons = dict(reported)
    assert sorted(reasons) == [2, 3, 4, 5, 6, 8]
    assert "not valid JSON" in reasons[2]
    assert "expected a JSON object" in reasons[3]
    assert reasons[4] == "missing title"
    assert "not-an-id" in reasons[5]
    assert "bad version entry" in reasons[6]
    assert "UTF-8" in reasons[8]


def test_a_line_the_database_rejects_is_reported_and_the_rest_written(
    db: Database, tmp_path: Path
) -> None:
    nul = json.loads(LINES[1])
    nul["title"] = "A title with a NUL \u0000 character"
    source = tmp_path / "nul.jsonl"
    source.write_text("\n".join([LINES[0], json.dumps(nul), LINES[2]]) + "\n", encoding="utf-8")
    reported: list[tuple[int, str]] = []
    stats = import_snapshot(db, source, report=lambda n, why: reported.append((n, why)))
    if db.engine.dialect.name == "postgresql":  # text cannot hold NUL there
        assert (stats.added, stats.skipped) == (2, 1)
        assert reported[0][0] == 2 and "rejected by the database" in reported[0][1]
    else:
        assert (stats.added, stats.skipped, reported) == (3, 0, [])
    with db.reader() as session:
        assert session.execute(select(IngestCursor)).scalar_one().state["line"] == 3


def test_an_interrupted_import_resumes_after_its_last_chunk(db: Database) -> None:
    first = import_snapshot(db, SAMPLE, chunk_size=50, stop_after_chunks=2)
    assert first.added == 100
    with db.reader() as session:
        cursor = session.execute(select(IngestCursor)).scalar_one()
        assert cursor.state["line"] == 100
        assert int(cursor.cursor) == sum(len(line.encode()) + 1 for line in LINES[:100])
    rest = import_snapshot(db, SAMPLE, chunk_size=50)
    assert rest.resumed_at_line == 100
    assert (rest.added, rest.unchanged) == (100, 0)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 200


def test_progress_reports_lines_and_an_estimated_total(db: Database) -> None:
    seen: list[tuple[int, int]] = []
    import_snapshot(db, SAMPLE, chunk_size=80, progress=lambda d, t: seen.append((d, t)))
    assert [done for done, _ in seen] == [80, 160, 200]
    assert all(abs(total - 200) <= 20 for _, total in seen)


def _synthetic(path: Path, n: int) -> None:
    templates = [json.loads(line) for line in LINES]
    with path.open("w", encoding="utf-8") as out:
        for i in range(n):
            obj = {**templates[i % 200], "id": f"2401.{i + 1:05d}"}
            obj["title"] = f"{obj['title']} number {i}"
            out.write(json.dumps(obj) + "\n")


def test_a_killed_import_command_resumes_where_it_stopped(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "snapshot.jsonl"
    _synthetic(source, 30_000)
    env = {
        **os.environ,
        "PAPERFEED_DATA_DIR": str(tmp_path),
        "PAPERFEED_DATABASE_URL": db.url,
        "PAPERFEED_CLOCK": "2026-11-20T20:00:00Z",
    }
    command = [sys.executable, "-m", "paperfeed.cli", "import", "--format", "arxiv-snapshot"]
    process = subprocess.Popen(
        [*command, "--no-index", str(source)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    committed = 0
    while time.monotonic() < deadline and committed == 0 and process.poll() is None:
        time.sleep(0.05)
        with db.reader() as session:
            row = session.execute(select(IngestCursor)).scalar_one_or_none()
            committed = row.state["line"] if row else 0
    assert process.poll() is None, "the import finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    with db.reader() as session:
        stopped_at = session.execute(select(IngestCursor)).scalar_one().state["line"]
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == stopped_at
    assert 0 < stopped_at < 30_000
    result = subprocess.run(
        [*command, str(source)], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert f"resumed after line {stopped_at:,}" in result.stdout
    assert f"{30_000 - stopped_at} added, 0 updated, 0 unchanged, 0 skipped" in result.stdout
    assert "Keyword index: 30,000 papers indexed" in result.stdout
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 30_000
        assert (
            session.execute(select(func.count(func.distinct(Paper.arxiv_id)))).scalar_one()
            == 30_000
        )
    found = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "search", "Sparsity certifying number 29801"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert found.returncode == 0, found.stderr
    assert "2401.29802" in found.stdout.splitlines()[1]


@pytest.mark.parametrize("flag", ["--restart", "--no-index"])
def test_snapshot_flags_are_documented(flag: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "paperfeed.cli", "import", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert flag in result.stdout
