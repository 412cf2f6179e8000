from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from paperfeed.db import Database
from paperfeed.papers import feeds
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from tests.papers.test_related import counted, listed, seed

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("kind", "text", "first", "last"),
    [
        ("date", "2024-02-29", date(2024, 2, 29), date(2024, 2, 29)),
        ("week", "2024-W01", date(2024, 1, 1), date(2024, 1, 7)),
        ("week", "2020-W53", date(2020, 12, 28), date(2021, 1, 3)),
        ("month", "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
        ("month", "2023-12", date(2023, 12, 1), date(2023, 12, 31)),
    ],
)
def test_parses_periods(kind: str, text: str, first: date, last: date) -> None:
    period = feeds.parse_period(kind, text)
    assert (period.first, period.last) == (first, last)
    assert period.key == text


@pytest.mark.parametrize(
    ("kind", "text"),
    [
        ("date", "2023-02-29"),
        ("date", "2024-1-5"),
        ("date", "yesterday"),
        ("week", "2021-W53"),
        ("week", "2024-W1"),
        ("month", "2024-13"),
        ("month", "2024"),
        ("date", "9999-12-31"),
        ("week", "9999-W52"),
        ("month", "0001-01"),
        # Digits of other scripts: one address per period, in the digits its links use.
        ("month", "２０２６-１１"),
        ("week", "٢٠٢٦-W٤٧"),
        ("date", "٢٠٢٦-١١-١٩"),
        ("month", "²⁰²⁶-11"),  # digits to Unicode, not to int()
    ],
)
def test_rejects_malformed_periods_with_the_right_form(kind: str, text: str) -> None:
    with pytest.raises(feeds.PeriodError, match="use"):
        feeds.parse_period(kind, text)


def test_day_boundaries_follow_the_feed_time_zone() -> None:
    start, end = feeds.day_period(date(2024, 7, 4)).utc_range(NY)
    assert start == datetime(2024, 7, 4, 4, 0, tzinfo=UTC)  # EDT is UTC-4
    assert end == datetime(2024, 7, 5, 4, 0, tzinfo=UTC)
    winter_start, _ = feeds.day_period(date(2024, 1, 4)).utc_range(NY)
    assert winter_start == datetime(2024, 1, 4, 5, 0, tzinfo=UTC)


def add(db: Database, title: str, feed_at: datetime, upvotes: int = 0) -> None:
    with db.transaction() as session:
        upsert_papers(
            session, [PaperRecord(title=title, abstract="a", feed_at=feed_at, upvotes=upvotes)]
        )


def test_papers_land_on_their_local_day_ordered_by_upvotes(db: Database) -> None:
    # 03:30 UTC on the 5th is still the evening of the 4th in New York.
    add(db, "late evening", datetime(2024, 7, 5, 3, 30, tzinfo=UTC), upvotes=1)
    add(db, "popular", datetime(2024, 7, 4, 15, 0, tzinfo=UTC), upvotes=9)
    add(db, "next morning", datetime(2024, 7, 5, 4, 30, tzinfo=UTC), upvotes=50)
    with db.reader() as session:
        papers, total = feeds.papers_in_period(session, feeds.day_period(date(2024, 7, 4)), NY)
        assert [p.title for p in papers] == ["popular", "late evening"]
        assert total == 2
        newest, _ = feeds.papers_in_period(
            session, feeds.day_period(date(2024, 7, 4)), NY, sort="newest"
        )
        assert [p.title for p in newest] == ["late evening", "popular"]
        page2, total = feeds.papers_in_period(
            session, feeds.day_period(date(2024, 7, 4)), NY, limit=1, offset=1
        )
        assert [p.title for p in page2] == ["late evening"] and total == 2


def test_neighbours_skip_empty_periods(db: Database) -> None:
    add(db, "a", datetime(2024, 7, 1, 15, tzinfo=UTC))
    add(db, "b", datetime(2024, 7, 10, 15, tzinfo=UTC))
    add(db, "c", datetime(2024, 9, 2, 15, tzinfo=UTC))
    with db.reader() as session:
        before, after = feeds.neighbours(session, feeds.day_period(date(2024, 7, 10)), NY)
        assert before == feeds.day_period(date(2024, 7, 1))
        assert after == feeds.day_period(date(2024, 9, 2))
        before, after = feeds.neighbours(session, feeds.month_period(date(2024, 7, 1)), NY)
        assert before is None
        assert after == feeds.month_period(date(2024, 9, 1))
        week_before, _ = feeds.neighbours(session, feeds.week_period(date(2024, 7, 10)), NY)
        assert week_before == feeds.week_period(date(2024, 7, 1))


def test_latest_day_ignores_future_papers(db: Database, fixed_clock: datetime) -> None:
    add(db, "past", datetime(2026, 11, 18, 15, tzinfo=UTC))
    add(db, "future", datetime(2026, 11, 25, 15, tzinfo=UTC))
    with db.reader() as session:
        assert feeds.latest_feed_day(session, NY, fixed_clock) == date(2026, 11, 18)


def test_cards_get_authors_organization_submitter_categories_keywords_code_thumbnails_in_7_queries(
    db: Database,
) -> None:
    seed(db, extra=20)
    papers = listed(db)
    with db.reader() as session, counted(db) as statements:
        extras = feeds.card_extras(session, papers)
    # authors, organizations, users, categories, keywords, code links, thumbnails: not one
    # query per card
    assert len(statements) == 7
    many, none = papers[0], papers[1]
    assert extras.authors[many.id] == list("ABCD")  # CARD_AUTHORS of six
    assert extras.authors[none.id] == []
    assert many.organization_id is not None
    assert extras.organizations[many.organization_id].name == "lab"
    assert many.submitted_by_id is not None
    assert extras.submitters[many.submitted_by_id].username == "alice"
    assert none.submitted_by_id is None and extras.categories[none.id] == []
