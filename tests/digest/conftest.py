"""The recent days of the demo corpus, pointed at a real local SMTP server.

Digest tests only look at the last days of the feed, so they load just those papers of
the sample corpus, on the demo's days (loading all of it for every test, on two
databases, took most of their time).
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import DEMO_DAYS, data_file, demo_feed_at
from paperfeed.ingest.importer import import_file
from paperfeed.papers.records import PaperRecord
from tests.conftest import make_settings

RECENT_DAYS = 5  # Nov 15-19 at FIXED_NOW: Thursday's and Friday's daily, week 47's weekly


def load_recent(db: Database, tz: ZoneInfo, days: int = RECENT_DAYS) -> None:
    """The sample papers of the demo's last `days` feed days, placed as the demo does."""
    anchor: date = clock.now().astimezone(tz).date()
    lines = data_file("sample_papers.jsonl").read_text().splitlines()
    kept = [i for i in range(len(lines)) if i % DEMO_DAYS < days]

    def place(number: int, record: PaperRecord) -> PaperRecord:
        record.feed_at = demo_feed_at(kept[number - 1], anchor, tz)
        record.source = "demo"
        return record

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recent.jsonl"
        path.write_text("\n".join(lines[i] for i in kept) + "\n")
        import_file(db, path, "paperfeed", tz, None, place)


@pytest.fixture
def demo_db(db: Database, tmp_path: Path) -> Database:
    load_recent(db, make_settings(tmp_path, db.url).tz)
    return db


def mail_settings(server, tmp_path: Path, db: Database) -> Settings:  # type: ignore[no-untyped-def]
    return server.settings(make_settings(tmp_path, db.url)).model_copy(
        update={"digest_retry_backoff": 0.0, "site_url": "https://papers.example.org"}
    )
