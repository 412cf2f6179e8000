"""A digest's topics are the search page's results, kept to the subscriber's window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from paperfeed import clock
from paperfeed.community import accounts, follows
from paperfeed.db import Database
from paperfeed.digest.content import ContentSource, follows_of
from paperfeed.digest.sending import engine_searcher
from paperfeed.models import Organization, Paper, Subscription
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import upsert_papers
from paperfeed.search.engine import SearchRequest, search
from paperfeed.search.lexical import Filters
from tests.conftest import make_settings

# Week 47's digest window at FIXED_NOW: Nov 9 to Nov 16, midnight in New York.
START = datetime(2026, 11, 9, 5, 0, tzinfo=UTC)
END = datetime(2026, 11, 16, 5, 0, tzinfo=UTC)


class Runtime:
    """What a web process passes: its index and query embeddings."""

    def __init__(self, site, embeddings) -> None:  # type: ignore[no-untyped-def]
        self.site, self.embeddings_ = site, embeddings

    def index(self):  # type: ignore[no-untyped-def]
        return self.site.index

    def embeddings(self):  # type: ignore[no-untyped-def]
        return self.embeddings_


def test_a_topic_ranks_like_the_search_page_within_the_window(
    search_site, query_embeddings
) -> None:  # type: ignore[no-untyped-def]
    searcher = engine_searcher(
        search_site.settings, search_site.db, Runtime(search_site, query_embeddings)
    )
    with search_site.db.reader() as session:
        source = ContentSource(search_site.settings, session, searcher)
        ids = source.topic("speculative decoding", None, START, END)
        page = search(
            session,
            search_site.index,
            query_embeddings,
            # What /papers?q=speculative+decoding&from=2026-10-26 shows (the window's start
            # minus the 14-day submission window).
            SearchRequest(
                q="speculative decoding",
                filters=Filters(date_from=date(2026, 10, 26)),
                per_page=200,
            ),
        )
        feed_at = dict(session.execute(select(Paper.id, Paper.feed_at)).all())
    in_window = [h.paper.id for h in page.hits if START < feed_at[h.paper.id] <= END]
    assert ids and ids == in_window
    assert all(START < feed_at[pid] <= END for pid in ids)


def test_organization_filters_and_one_appearance_per_paper(search_site, query_embeddings) -> None:  # type: ignore[no-untyped-def]
    searcher = engine_searcher(
        search_site.settings, search_site.db, Runtime(search_site, query_embeddings)
    )
    with search_site.db.reader() as session:
        org_id, org = session.execute(
            select(Organization.id, Organization.name)
            .join(Paper, Paper.organization_id == Organization.id)
            .where(Paper.feed_at > START, Paper.feed_at <= END)
            .limit(1)
        ).one()
        source = ContentSource(search_site.settings, session, searcher)
        followed = source.topic("", {"org": org}, START, END)
        orgs = dict(session.execute(select(Paper.id, Paper.organization_id)).all())
        assert followed and {orgs[pid] for pid in followed} == {org_id}
        # The same ranking, with the filter, for a topic with words.
        with_words = source.topic("language models", {"org": org}, START, END)
        assert {orgs[pid] for pid in with_words} <= {org_id}
        direct = searcher("language models", Filters(organization_id=org_id))
        assert with_words == [pid for pid in direct if pid in set(with_words)]

        subscriber = Subscription(id=1, email="x@example.org", include_trending=True)
        saved = type("Saved", (), {"name": "LMs", "query": "language models", "filters": None})
        content = source.for_subscription(subscriber, [saved], [("organization", org)], START, END)
    shown = [p.id for s in content.sections for p in s.papers]
    assert len(shown) == len(set(shown))
    assert [s.kind for s in content.sections][-1] == "trending"
    assert len(content.sections[-1].papers) == 10


# --- followed categories ------------------------------------------------------------------

INSIDE = START + timedelta(days=2)


def add_papers(db: Database, *papers: tuple[str, list[str], datetime, int]) -> dict[str, int]:
    """(title, categories, feed_at, upvotes) papers; their ids by title."""
    records = [
        PaperRecord(title=title, abstract="a", categories=cats, feed_at=at, upvotes=votes)
        for title, cats, at, votes in papers
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
        return {title: pid for title, pid in session.execute(select(Paper.title, Paper.id))}


def digest_of(db: Database, tmp_path: Path, followed: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    with db.reader() as session:
        source = ContentSource(make_settings(tmp_path, db.url), session)
        subscriber = Subscription(id=1, email="x@example.org", include_trending=False)
        return source.for_subscription(subscriber, [], followed, START, END)


def test_a_followed_category_has_its_window_papers_primary_or_cross_listed(
    db: Database, tmp_path: Path
) -> None:
    ids = add_papers(
        db,
        ("Primary", ["cs.CL"], INSIDE, 3),
        ("Cross-listed", ["cs.LG", "cs.CL"], INSIDE, 9),
        ("Under the old code", ["cmp-lg"], INSIDE, 1),
        ("At the window's end", ["cs.CL", "cs.AI"], END, 0),
        ("Other category", ["cs.LG"], INSIDE, 50),
        ("Same category, before the window", ["cs.CL"], START, 50),
        ("Same category, after the window", ["cs.CL"], END + timedelta(seconds=1), 50),
        ("Hidden", ["cs.CL"], INSIDE, 50),
    )
    with db.transaction() as session:
        session.execute(
            update(Paper).where(Paper.id == ids["Hidden"]).values(hidden_at=clock.now())
        )
        user = accounts.create_user(session, "reader", "r@example.org", "long enough password")
        follows.follow(session, user.id, "category", "cs.CL")
    with db.reader() as session:
        followed = follows_of(session, user.id)
    assert followed == [("category", "cs.CL")]
    (section,) = digest_of(db, tmp_path, followed).sections
    assert section.kind == "category"
    assert section.title == "Computation and Language (cs.CL)"
    assert section.path == "/papers/category/cs.CL"
    # Ranked as followed authors and organizations are: most upvoted first.
    assert [p.title for p in section.papers] == [
        "Cross-listed",
        "Primary",
        "Under the old code",
        "At the window's end",
    ]


def test_an_archive_follow_covers_its_categories_and_papers_show_once(
    db: Database, tmp_path: Path
) -> None:
    add_papers(
        db,
        ("Language", ["cs.CL"], INSIDE, 5),
        ("Learning", ["cs.LG", "stat.ML"], INSIDE, 4),
        ("Combinatorics, cross-listed", ["math.CO", "cs.DM"], INSIDE, 3),
        ("Physics only", ["hep-th"], INSIDE, 40),
        ("Statistics only", ["stat.ML"], INSIDE, 30),
        ("Computer science, last month", ["cs.AI"], START - timedelta(days=30), 20),
    )
    content = digest_of(db, tmp_path, [("category", "cs.CL"), ("category", "cs")])
    language, archive = content.sections
    assert [p.title for p in language.papers] == ["Language"]
    assert archive.title == "Computer Science (cs)"
    assert archive.path == "/papers/category/cs"
    assert [p.title for p in archive.papers] == ["Learning", "Combinatorics, cross-listed"]


def test_a_category_with_nothing_new_or_no_longer_defined_makes_no_section(
    db: Database, tmp_path: Path
) -> None:
    add_papers(db, ("Learning", ["cs.LG"], INSIDE, 1), ("Physics", ["hep-th"], INSIDE, 1))
    # astro-ph.GA has no paper in the window; `xx.YY` stands for a follow of a code arXiv
    # has since retired (the follow stays, it just has nothing to show).
    followed = [("category", "astro-ph.GA"), ("category", "xx.YY"), ("category", "cs.LG")]
    content = digest_of(db, tmp_path, followed)
    assert [(s.kind, s.title, [p.title for p in s.papers]) for s in content.sections] == [
        ("category", "Machine Learning (cs.LG)", ["Learning"])
    ]


# --- followed authors ---------------------------------------------------------------------


def test_a_followed_author_brings_the_papers_of_every_variant_of_the_name(
    db: Database, tmp_path: Path
) -> None:
    records = [
        PaperRecord(title=t, abstract="a", authors=a, categories=c, feed_at=INSIDE, upvotes=v)
        for t, a, c, v in [
            ("Full name", ["Edmond L. Berger", "Bo Li"], ["hep-ph"], 1),
            ("Initials", ["E. L. Berger", "Bo Li"], ["hep-ex"], 5),  # a shared co-author
            ("Namesake", ["Edward Berger"], ["q-bio.NC"], 9),
        ]
    ]
    with db.transaction() as session:
        upsert_papers(session, records)
    content = digest_of(db, tmp_path, [("author", "Edmond L. Berger")])
    [section] = content.sections
    assert [p.title for p in section.papers] == ["Initials", "Full name"]
    assert digest_of(db, tmp_path, [("author", "Nobody Listed")]).sections == []
