"""The demo site: the bundled sample corpus placed on the feed days before its creation.

The first run fixes an anchor day (today in the feed's zone) and stores it, so re-running
the demo later changes nothing. Sample paper number i (0-based, file order) goes on the
day `anchor - 1 - (i mod 14)`, at 06:00 local plus 17 minutes per earlier paper of that
day: fourteen busy days of about 26 papers each. The arXiv snapshot sample keeps its real
dates (April 2007) and enters the feed on its first version's day.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.ingest.importer import Reporter, import_file
from paperfeed.models import SiteMeta
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import UpsertStats

DEMO_DAYS = 14
LAYOUT_VERSION = "1"
SAMPLE_FILES = ("sample_papers.jsonl", "arxiv_snapshot_sample.jsonl")


def data_file(name: str) -> Path:
    return Path(str(resources.files("paperfeed") / "data" / name))


def fingerprint() -> str:
    digest = hashlib.sha256(LAYOUT_VERSION.encode())
    for name in SAMPLE_FILES:
        digest.update(data_file(name).read_bytes())
    return digest.hexdigest()


def demo_feed_at(index: int, anchor: date, tz: ZoneInfo) -> datetime:
    day = anchor - timedelta(days=1 + index % DEMO_DAYS)
    local = datetime.combine(day, time(6), tzinfo=tz) + timedelta(minutes=17 * (index // DEMO_DAYS))
    return local.astimezone(UTC)


def load_demo(db: Database, tz: ZoneInfo, report: Reporter | None = None) -> UpsertStats | None:
    """Import the sample data unless this exact data is already loaded; None if it was."""
    print_ = fingerprint()
    with db.reader() as session:
        meta = dict(session.execute(select(SiteMeta.key, SiteMeta.value)).all())
    if meta.get("demo_fingerprint") == print_:
        return None
    anchor = date.fromisoformat(meta["demo_anchor"]) if "demo_anchor" in meta else None
    if anchor is None:
        anchor = clock.now().astimezone(tz).date()

    def place_sample(number: int, record: PaperRecord) -> PaperRecord:
        record.feed_at = demo_feed_at(number - 1, anchor, tz)
        record.source = "demo"
        return record

    def place_arxiv(_number: int, record: PaperRecord) -> PaperRecord:
        record.feed_at = record.published_at
        return record

    stats = import_file(db, data_file("sample_papers.jsonl"), "paperfeed", tz, report, place_sample)
    stats.merge(
        import_file(
            db, data_file("arxiv_snapshot_sample.jsonl"), "arxiv-snapshot", tz, report, place_arxiv
        )
    )
    with db.transaction() as session:
        session.merge(SiteMeta(key="demo_anchor", value=anchor.isoformat()))
        session.merge(SiteMeta(key="demo_fingerprint", value=print_))
    return stats
