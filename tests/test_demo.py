from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from paperfeed import clock
from paperfeed.community.accounts import create_user, find_user, hash_password
from paperfeed.db import Database
from paperfeed.demo import (
    DEMO_DAYS,
    NotADemoDatabase,
    demo_feed_at,
    ensure_demo_accounts,
    is_demo_database,
    load_demo,
)
from paperfeed.models import Paper, SiteMeta, User
from paperfeed.papers import feeds
from paperfeed.papers.store import current_change_seq


def test_places_sample_papers_on_the_days_before_the_anchor(settings, db: Database) -> None:
    stats = load_demo(db, settings.tz)
    assert stats is not None and stats.added == 568 and stats.skipped == 0
    tz = settings.tz
    with db.reader() as session:
        days = {
            at.astimezone(tz).date()
            for at in session.execute(select(Paper.feed_at).where(Paper.source == "demo")).scalars()
        }
        anchor = date(2026, 11, 20)
        assert days == {anchor - timedelta(days=n) for n in range(1, DEMO_DAYS + 1)}
        assert session.get(SiteMeta, "demo_anchor").value == "2026-11-20"
        _papers, total = feeds.papers_in_period(
            session, feeds.day_period(anchor - timedelta(1)), tz
        )
        assert total == 27


def test_rerunning_the_demo_later_changes_nothing(settings, db: Database) -> None:
    load_demo(db, settings.tz)
    with db.reader() as session:
        seq = current_change_seq(session)[0]
        count = session.execute(select(func.count()).select_from(Paper)).scalar_one()
    with clock.frozen(datetime(2027, 3, 1, tzinfo=UTC)):
        assert load_demo(db, settings.tz) is None
    with db.reader() as session:
        assert current_change_seq(session)[0] == seq
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == count


def test_placement_is_deterministic(settings) -> None:
    anchor = date(2026, 1, 10)
    first = [demo_feed_at(i, anchor, settings.tz) for i in range(40)]
    assert first == [demo_feed_at(i, anchor, settings.tz) for i in range(40)]
    assert first[0].astimezone(settings.tz).date() == date(2026, 1, 9)
    assert first[13].astimezone(settings.tz).date() == date(2025, 12, 27)
    assert first[14].astimezone(settings.tz).date() == date(2026, 1, 9)


def test_demo_accounts_are_made_once_and_their_passwords_shown_again(settings, db) -> None:
    load_demo(db, settings.tz)
    first = ensure_demo_accounts(db)
    assert [(a.username, a.role) for a in first] == [
        ("demo-admin", "admin"),
        ("demo-member", "user"),
    ]
    assert ensure_demo_accounts(db) == first
    with db.transaction() as session:
        member = find_user(session, "demo-member")
        member.password_hash = hash_password("changed on the site")
    again = {a.username: a.password for a in ensure_demo_accounts(db)}
    assert again == {"demo-admin": first[0].password, "demo-member": None}
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(User)).scalar_one() == 2
        assert is_demo_database(session)


def test_the_sample_is_never_loaded_into_a_site_of_its_own(settings, db) -> None:
    with db.transaction() as session:
        create_user(session, "owner", "owner@example.com", "a long password 1")
    with pytest.raises(NotADemoDatabase, match="not a demo database"):
        load_demo(db, settings.tz)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() == 0
        assert not is_demo_database(session)


def test_a_first_run_stopped_midway_can_be_run_again(settings, db: Database) -> None:
    # The first load takes seconds: Ctrl+C (here, as the next papers are written after some
    # were committed) leaves part of the sample behind. It is the demo's, so the next run
    # finishes the job instead of calling the database a site of its own.
    seen = {"written": False, "committed": False}

    def on_execute(conn, cursor, statement: str, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO PAPERS "):
            if seen["committed"]:
                raise KeyboardInterrupt
            seen["written"] = True

    def on_commit(conn) -> None:  # type: ignore[no-untyped-def]
        seen["committed"] = seen["committed"] or seen["written"]

    event.listen(db.engine, "before_cursor_execute", on_execute)
    event.listen(db.engine, "commit", on_commit)
    try:
        with pytest.raises(KeyboardInterrupt):
            load_demo(db, settings.tz)
    finally:
        event.remove(db.engine, "before_cursor_execute", on_execute)
        event.remove(db.engine, "commit", on_commit)
    with db.reader() as session:
        assert session.execute(select(func.count()).select_from(Paper)).scalar_one() > 0
    assert load_demo(db, settings.tz) is not None
    with db.reader() as session:
        assert is_demo_database(session)
    assert load_demo(db, settings.tz) is None  # now fully loaded
