from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import event, update

from paperfeed.db import Database
from paperfeed.models import Paper
from paperfeed.papers import feeds
from paperfeed.papers.calendar import Month, day_counts, month_of
from tests.papers.test_feeds import add

NY = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def test_counts_papers_on_their_local_days_and_leaves_empty_days_out(db: Database) -> None:
    add(db, "a", datetime(2024, 7, 4, 15, tzinfo=UTC))
    add(db, "b", datetime(2024, 7, 4, 18, tzinfo=UTC))
    add(db, "c", datetime(2024, 7, 22, 12, tzinfo=UTC))
    add(db, "june", datetime(2024, 6, 30, 15, tzinfo=UTC))
    add(db, "august", datetime(2024, 8, 1, 15, tzinfo=UTC))
    with db.reader() as session:
        counts = day_counts(session, feeds.month_period(date(2024, 7, 1)), NY)
    assert counts == {date(2024, 7, 4): 2, date(2024, 7, 22): 1}


def test_month_edges_follow_the_feed_time_zone(db: Database) -> None:
    # 03:30 UTC on August 1st is still July 31st in New York, and already August 1st in Tokyo;
    # 23:00 UTC on June 30th is July 1st in Tokyo but June 30th in New York.
    add(db, "late evening", datetime(2024, 8, 1, 3, 30, tzinfo=UTC))
    add(db, "tokyo morning", datetime(2024, 6, 30, 23, 0, tzinfo=UTC))
    july = feeds.month_period(date(2024, 7, 1))
    with db.reader() as session:
        assert day_counts(session, july, NY) == {date(2024, 7, 31): 1}
        assert day_counts(session, july, TOKYO) == {date(2024, 7, 1): 1}
        august = day_counts(session, feeds.month_period(date(2024, 8, 1)), TOKYO)
        assert august == {date(2024, 8, 1): 1}


def test_days_stay_right_across_daylight_saving_changes(db: Database) -> None:
    # New York moves its clocks on March 10th, 2024: that day has 23 hours, so midnight of
    # the 11th is 04:00 UTC, where midnight of the 10th was 05:00 UTC.
    add(db, "before midnight of the 11th", datetime(2024, 3, 11, 3, 59, tzinfo=UTC))
    add(db, "midnight of the 11th", datetime(2024, 3, 11, 4, 0, tzinfo=UTC))
    add(db, "before midnight of the 10th", datetime(2024, 3, 10, 4, 59, tzinfo=UTC))
    with db.reader() as session:
        counts = day_counts(session, feeds.month_period(date(2024, 3, 1)), NY)
    assert counts == {date(2024, 3, 9): 1, date(2024, 3, 10): 1, date(2024, 3, 11): 1}


def test_hidden_papers_do_not_count(db: Database) -> None:
    add(db, "kept", datetime(2024, 7, 4, 15, tzinfo=UTC))
    add(db, "hidden", datetime(2024, 7, 5, 15, tzinfo=UTC))
    with db.transaction() as session:
        session.execute(
            update(Paper).where(Paper.title == "hidden").values(hidden_at=datetime.now(UTC))
        )
    with db.reader() as session:
        assert day_counts(session, feeds.month_period(date(2024, 7, 1)), NY) == {
            date(2024, 7, 4): 1
        }


def test_a_month_is_one_query(db: Database) -> None:
    for day in range(1, 29):
        add(db, f"paper {day}", datetime(2024, 2, day, 15, tzinfo=UTC))
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.reader() as session:
            month = month_of(session, date(2024, 2, 14), NY)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(month.counts) == 28 and month.total == 28
    assert len([s for s in statements if "papers" in s]) == 1


def test_weeks_start_on_monday_and_pad_the_month() -> None:
    month = feeds.month_period(date(2026, 11, 1))  # November 1st, 2026 is a Sunday
    weeks = Month(month, {}).weeks
    assert weeks[0] == [None] * 6 + [date(2026, 11, 1)]
    assert weeks[-1][0] == date(2026, 11, 30) and weeks[-1][1:] == [None] * 6
    assert all(len(week) == 7 for week in weeks)
