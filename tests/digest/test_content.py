"""A digest's topics are the search page's results, kept to the subscriber's window."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from paperfeed.digest.content import ContentSource
from paperfeed.digest.sending import engine_searcher
from paperfeed.models import Organization, Paper, Subscription
from paperfeed.search.engine import SearchRequest, search
from paperfeed.search.lexical import Filters

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
