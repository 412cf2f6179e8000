from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.demo import DEMO_DAYS, demo_feed_at, load_demo
from paperfeed.models import Paper, SiteMeta
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
