"""The demo site: the bundled sample corpus placed on the feed days before its creation.

The first run fixes an anchor day (today in the feed's zone) and stores it, so re-running
the demo later changes nothing. Sample paper number i (0-based, file order) goes on the
day `anchor - 1 - (i mod 14)`, at 06:00 local plus 17 minutes per earlier paper of that
day: fourteen busy days of about 26 papers each. The arXiv snapshot sample keeps its real
dates (April 2007) and enters the feed on its first version's day.

The demo's database is marked as such (the `demo_anchor` row of `site_meta`): it holds
accounts whose passwords are printed on the terminal, so `paperfeed serve` refuses it unless
told otherwise, and the demo refuses to load its sample into a database that is not a demo.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community.accounts import create_user, find_user, password_matches
from paperfeed.db import Database
from paperfeed.errors import Conflict
from paperfeed.ingest.importer import Reporter, import_file
from paperfeed.models import Paper, SiteMeta, User
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import UpsertStats

DEMO_DAYS = 14
LAYOUT_VERSION = "1"
SAMPLE_FILES = ("sample_papers.jsonl", "arxiv_snapshot_sample.jsonl")
DEMO_MARK = "demo_anchor"
# The accounts a newcomer acts with at once: (username, role).
DEMO_ACCOUNTS = (("demo-admin", "admin"), ("demo-member", "user"))
_PASSWORD_KEY = "demo_password:"  # + username, in site_meta: printed again at every start


class NotADemoDatabase(Conflict):
    """The sample corpus and demo accounts would land in a real site's database."""


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str
    password: str | None  # None: changed on the site since the demo made it


def is_demo_database(session: Session) -> bool:
    """Whether the demo made this database (it marks it when loading the sample)."""
    return session.get(SiteMeta, DEMO_MARK) is not None


def check_demo_target(session: Session, where: str) -> None:
    """Refuse a database that holds a site of its own (papers or accounts, no demo mark)."""
    if is_demo_database(session):
        return
    if session.execute(select(exists().where(Paper.id.isnot(None)))).scalar() or (
        session.execute(select(exists().where(User.id.isnot(None)))).scalar()
    ):
        raise NotADemoDatabase(
            f"{where} holds papers or accounts and is not a demo database, so the demo will "
            "not add its sample papers and accounts to it. Give the demo a file of its own: "
            "PAPERFEED_DATABASE_URL=sqlite:///demo.sqlite3 paperfeed demo"
        )


def ensure_demo_accounts(db: Database) -> list[DemoAccount]:
    """An admin and a member, made once with random passwords kept to be shown again."""
    accounts = []
    with db.transaction() as session:
        for username, role in DEMO_ACCOUNTS:
            key = _PASSWORD_KEY + username
            stored = session.get(SiteMeta, key)
            user = find_user(session, username)
            if user is None:
                password = secrets.token_urlsafe(12)
                create_user(
                    session, username, f"{username}@example.com", password, role, verified=True
                )
                session.merge(SiteMeta(key=key, value=password))
            elif stored is not None and password_matches(user, stored.value):
                password = stored.value
            else:
                accounts.append(DemoAccount(username, user.role, None))
                continue
            accounts.append(DemoAccount(username, role, password))
    return accounts


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


def load_demo(
    db: Database, tz: ZoneInfo, report: Reporter | None = None, where: str = "This database"
) -> UpsertStats | None:
    """Import the sample data unless this exact data is already loaded; None if it was.

    Raises NotADemoDatabase (saying `where`) for a database that is not the demo's.
    """
    print_ = fingerprint()
    with db.reader() as session:
        check_demo_target(session, where)
        meta = dict(session.execute(select(SiteMeta.key, SiteMeta.value)).all())
    if meta.get("demo_fingerprint") == print_:
        return None
    anchor = date.fromisoformat(meta[DEMO_MARK]) if DEMO_MARK in meta else None
    if anchor is None:
        anchor = clock.now().astimezone(tz).date()
        # Marked before the first paper lands: a first run stopped midway leaves a database
        # the next run knows as the demo's, and finishes loading.
        with db.transaction() as session:
            session.merge(SiteMeta(key=DEMO_MARK, value=anchor.isoformat()))

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
        session.merge(SiteMeta(key=DEMO_MARK, value=anchor.isoformat()))
        session.merge(SiteMeta(key="demo_fingerprint", value=print_))
    return stats
