from datetime import datetime, timedelta

import pytest

from paperfeed.db import Database
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.trending import trending, trending_score


def test_score_follows_the_documented_formula() -> None:
    assert trending_score(10, 0, 0) == pytest.approx(100 * 10 / 2**1.5)
    assert trending_score(10, 5, 22) == pytest.approx(100 * 20 / 24**1.5)
    assert trending_score(10, 0, 10, gravity=1.8) == pytest.approx(100 * 10 / 12**1.8)
    # Older papers need more votes to keep up.
    assert trending_score(10, 0, 48) < trending_score(10, 0, 2)


def add(db: Database, title: str, hours_ago: float, upvotes: int, now: datetime) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=title,
                    abstract="a",
                    upvotes=upvotes,
                    feed_at=now - timedelta(hours=hours_ago),
                )
            ],
        )


def test_fresh_papers_outrank_older_ones_with_more_votes(db: Database, fixed_clock) -> None:
    add(db, "old but big", 72, 40, fixed_clock)
    add(db, "fresh", 3, 10, fixed_clock)
    add(db, "too old", 24 * 20, 1000, fixed_clock)
    with db.reader() as session:
        result = trending(session, fixed_clock)
    assert [p.title for p in result.papers] == ["fresh", "old but big"]
    assert result.total == 2 and not result.stale
    fresh = result.papers[0]
    assert result.scores[fresh.id] == pytest.approx(trending_score(10, 0, 3))


def test_a_quiet_site_shows_trending_as_of_its_latest_activity(db: Database, fixed_clock) -> None:
    add(db, "last month", 24 * 40, 5, fixed_clock)
    add(db, "earlier", 24 * 41, 500, fixed_clock)
    with db.reader() as session:
        result = trending(session, fixed_clock)
    assert result.stale
    assert [p.title for p in result.papers] == ["earlier", "last month"]
    assert result.as_of < fixed_clock - timedelta(days=39)
