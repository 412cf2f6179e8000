"""`paperfeed import`: stream a JSON-lines file into the database in batches.

Each batch is one transaction. If a batch fails in the database, its records are retried
one by one so a single bad record is reported and skipped instead of sinking its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError

from paperfeed.db import Database
from paperfeed.ingest.jsonl import Line, read_lines
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import UpsertStats, upsert_papers

Reporter = Callable[[int, str], None]
BATCH_SIZE = 500


def import_file(
    db: Database,
    path: Path,
    fmt: str = "auto",
    feed_tz: ZoneInfo | None = None,
    report: Reporter | None = None,
    transform: Callable[[int, PaperRecord], PaperRecord] | None = None,
) -> UpsertStats:
    with path.open("rb") as stream:
        return import_lines(db, read_lines(stream, fmt, feed_tz), report, transform)


def import_lines(
    db: Database,
    lines: Iterable[Line],
    report: Reporter | None = None,
    transform: Callable[[int, PaperRecord], PaperRecord] | None = None,
) -> UpsertStats:
    stats = UpsertStats()
    batch: list[tuple[int, PaperRecord]] = []
    for line in lines:
        if line.record is None:
            stats.skipped += 1
            if report:
                report(line.number, line.error or "invalid record")
            continue
        record = transform(line.number, line.record) if transform else line.record
        batch.append((line.number, record))
        if len(batch) >= BATCH_SIZE:
            stats.merge(_write(db, batch, report))
            batch = []
    if batch:
        stats.merge(_write(db, batch, report))
    return stats


def _write(
    db: Database, batch: list[tuple[int, PaperRecord]], report: Reporter | None
) -> UpsertStats:
    try:
        with db.transaction() as session:
            return upsert_papers(session, [record for _, record in batch])
    except SQLAlchemyError:
        if len(batch) == 1:
            raise
    stats = UpsertStats()
    for number, record in batch:
        try:
            with db.transaction() as session:
                stats.merge(upsert_papers(session, [record]))
        except SQLAlchemyError as exc:
            stats.skipped += 1
            if report:
                report(number, f"rejected by the database: {exc.__class__.__name__}")
    return stats
