"""The trending formula: votes and comments over age, an optional star term, topics and
a quiet site's fallback."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from paperfeed.db import Database
from paperfeed.models import GithubRepo, GithubStarCount, Paper, PaperCodeLink
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.papers.trending import Formula, star_gains, trending, trending_score


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


def test_the_star_term_adds_weighted_stars_to_the_votes() -> None:
    assert trending_score(10, 0, 0, stars=50) == trending_score(10, 0, 0)  # weight 0: off
    assert trending_score(10, 0, 0, stars=50, star_weight=0.2) == pytest.approx(
        100 * (10 + 0.2 * 50) / 2**1.5
    )
    text = Formula(star_weight=0.2).text()
    assert "0.2 × GitHub stars gained in the last 7 days" in text
    assert "stars" not in Formula().text()


def with_repo(db: Database, title: str, repo: str, counts: dict[date, int]) -> None:
    with db.transaction() as session:
        pid = session.scalar(select(Paper.id).where(Paper.title == title))
        assert pid is not None
        session.add(GithubRepo(repo=repo, status="ok", created_at=datetime(2026, 1, 1, tzinfo=UTC)))
        session.add(
            PaperCodeLink(
                paper_id=pid,
                position=0,
                url=f"https://github.com/{repo}",
                kind="github",
                source="paper",
                repo_key=repo,
                is_primary=True,
            )
        )
        session.flush()
        session.add_all(
            GithubStarCount(repo=repo, day=day, stars=stars) for day, stars in counts.items()
        )


def test_star_gains_count_the_last_week_from_the_count_before_it_or_the_first_in_it(
    db: Database, fixed_clock: datetime
) -> None:
    today = fixed_clock.date()
    for title in ("steady", "new", "first seen today", "losing", "no repo"):
        add(db, title, 5, 1, fixed_clock)
    days = {n: today - timedelta(days=n) for n in range(30)}
    with_repo(db, "steady", "a/steady", {days[20]: 40, days[8]: 100, days[3]: 150, days[0]: 190})
    with_repo(db, "new", "a/new", {days[2]: 500, days[0]: 520})
    with_repo(db, "first seen today", "a/today", {days[0]: 9000})
    with_repo(db, "losing", "a/losing", {days[9]: 80, days[1]: 70})
    with db.reader() as session:
        ids = {title: pid for title, pid in session.execute(select(Paper.title, Paper.id))}
        gains = star_gains(session, list(ids.values()), fixed_clock)
        # Five days ago: day 8's count against day 20's; the new one was not yet seen.
        earlier = star_gains(session, list(ids.values()), fixed_clock - timedelta(days=5))
    assert gains == {ids["steady"]: 90, ids["new"]: 20}
    assert earlier == {ids["steady"]: 60}


def test_a_repository_many_papers_link_shares_its_gain_among_them(
    db: Database, fixed_clock: datetime
) -> None:
    today = fixed_clock.date()
    for title in ("uses the library", "also uses it", "its own code"):
        add(db, title, 5, 1, fixed_clock)
    with_repo(db, "uses the library", "big/library", {today - timedelta(days=7): 0, today: 900})
    with_repo(db, "its own code", "a/own", {today - timedelta(days=7): 10, today: 40})
    with db.transaction() as session:  # a second paper names the same library
        pid = session.scalar(select(Paper.id).where(Paper.title == "also uses it"))
        assert pid is not None
        session.add(
            PaperCodeLink(
                paper_id=pid,
                position=0,
                url="https://github.com/big/library",
                kind="github",
                source="abstract",
                repo_key="big/library",
                is_primary=True,
            )
        )
    with db.reader() as session:
        ids = {title: pid for title, pid in session.execute(select(Paper.title, Paper.id))}
        only_one = star_gains(session, [ids["uses the library"]], fixed_clock)
        gains = star_gains(session, list(ids.values()), fixed_clock)
    assert only_one == {ids["uses the library"]: 450}  # shared with a paper not asked about
    assert gains == {
        ids["uses the library"]: 450,
        ids["also uses it"]: 450,
        ids["its own code"]: 30,
    }


def test_with_a_star_weight_a_repository_being_starred_lifts_its_paper(
    db: Database, fixed_clock: datetime
) -> None:
    add(db, "voted", 5, 20, fixed_clock)
    add(db, "starred", 5, 10, fixed_clock)
    today = fixed_clock.date()
    with_repo(db, "starred", "a/starred", {today - timedelta(days=7): 100, today: 200})
    with db.reader() as session:
        plain = trending(session, fixed_clock)
        weighted = trending(session, fixed_clock, Formula(star_weight=0.5))
    assert [p.title for p in plain.papers] == ["voted", "starred"]
    assert [p.title for p in weighted.papers] == ["starred", "voted"]
    starred = weighted.papers[0]
    assert weighted.scores[starred.id] == pytest.approx(
        trending_score(10, 0, 5, stars=100, star_weight=0.5)
    )
