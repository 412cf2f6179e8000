import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from paperfeed.models import Organization, Paper
from paperfeed.search import engine
from paperfeed.search.engine import SearchRequest, search
from paperfeed.search.facets import ABSENT, NO_DATE, Facets, day_value
from paperfeed.search.index import SearchIndex
from paperfeed.search.lexical import Filters, day_number


def make_facets(tmp_path: Path) -> Facets:
    facets = Facets(tmp_path / "facets")
    facets.set(
        np.array([1, 2, 3, 4, 7]),
        np.array(
            [
                day_value(date(2026, 1, 1), hidden=False),
                day_value(date(2026, 6, 1), hidden=False),
                day_value(date(2026, 6, 1), hidden=True),
                day_value(None, hidden=False),
                day_value(date(2025, 12, 31), hidden=False),
            ]
        ),
        np.array([5, 0, 5, 5, 6]),
    )
    return facets


def passing(facets: Facets, filters: Filters) -> list[int]:
    return np.flatnonzero(facets.mask(filters)).tolist()


def test_masks_follow_dates_organizations_and_hiding(tmp_path: Path) -> None:
    facets = make_facets(tmp_path)
    assert passing(facets, Filters()) == [1, 2, 4, 7]  # hidden 3 and unknown pks never pass
    assert passing(facets, Filters(date_from=date(2026, 1, 1))) == [1, 2]
    # A paper without a date passes no date filter, open-ended or not.
    assert passing(facets, Filters(date_to=date(2026, 3, 1))) == [1, 7]
    assert passing(facets, Filters(organization_id=5)) == [1, 4]
    assert passing(facets, Filters(organization_id=5, date_to=date(2026, 12, 31))) == [1]


def test_passes_treats_unknown_pks_as_failing(tmp_path: Path) -> None:
    facets = make_facets(tmp_path)
    mask = facets.mask(Filters())
    assert Facets.passes(mask, np.array([2, 3, 10**9])).tolist() == [True, False, False]


def test_negative_pks_fail_instead_of_reading_the_end_of_the_arrays(tmp_path: Path) -> None:
    facets = make_facets(tmp_path)
    facets.set(np.array([len(facets.days) - 1]), np.array([day_number(date(2026, 1, 1))]), [0])
    mask = facets.mask(Filters())
    assert mask[-1]  # the last paper passes, so key -1 (a deleted vector row) would too
    assert Facets.passes(mask, np.array([-1, 1])).tolist() == [False, True]
    assert facets.visible(np.array([-1, 1])).tolist() == [False, True]


def test_saved_and_loaded_unchanged(tmp_path: Path) -> None:
    facets = make_facets(tmp_path)
    facets.save()
    again = Facets(tmp_path / "facets")
    assert again.load()
    assert np.array_equal(again.days, facets.days) and np.array_equal(again.orgs, facets.orgs)
    assert not Facets(tmp_path / "elsewhere").load()


def test_an_index_without_facets_gains_them_on_its_next_sync(search_site, tmp_path) -> None:
    index = SearchIndex(tmp_path / "index", search_site.settings.tz)
    index.sync(search_site.db)
    assert index.facets is not None and index.manifest and index.manifest.facets_seq > 0
    assert index.build_path is not None
    shutil.rmtree(index.build_path / "facets")  # as an index from before facets existed

    reopened = SearchIndex(tmp_path / "index", search_site.settings.tz)
    assert reopened.open() and reopened.facets is None
    reopened.sync(search_site.db)
    assert reopened.facets is not None
    with search_site.db.reader() as session:
        rows = session.execute(select(Paper.id, Paper.published_at, Paper.feed_at)).all()
    for row in rows:
        expected = day_number(reopened._day(row.published_at or row.feed_at))
        assert reopened.facets.days[row.id] == expected
    assert ABSENT not in reopened.facets.days[[r.id for r in rows]]
    assert NO_DATE not in reopened.facets.days[[r.id for r in rows]]


def filtered_ids(site, embed, q: str, filters: Filters) -> list[str]:  # type: ignore[no-untyped-def]
    with site.db.reader() as session:
        result = search(
            session, site.index, embed, SearchRequest(q=q, filters=filters, mode="vector")
        )
        return [hit.paper.public_id for hit in result.hits]


@pytest.mark.parametrize(
    "filters",
    [
        Filters(date_from=date(2007, 1, 1), date_to=date(2007, 12, 31)),
        Filters(date_from=date(2026, 11, 10)),
        Filters(author="Ileana Streinu", date_to=date(2030, 1, 1)),
    ],
    ids=["year", "open-ended", "author and date"],
)
def test_both_filtered_plans_find_the_same_papers(
    search_site, query_embeddings, monkeypatch, filters: Filters
) -> None:
    """The exact subset scan and the over-fetch through the neighbour index agree, and
    agree with the keyword index's own filtering (the path without facets)."""
    q = "learning on graphs and language"
    exact = filtered_ids(search_site, query_embeddings, q, filters)
    assert exact, "the filter should leave something to find"
    monkeypatch.setattr(engine, "EXACT_SUBSET_LIMIT", 0)  # force over-fetching
    assert filtered_ids(search_site, query_embeddings, q, filters) == exact
    facets, search_site.index.facets = search_site.index.facets, None
    try:
        assert filtered_ids(search_site, query_embeddings, q, filters) == exact
    finally:
        search_site.index.facets = facets


def test_organization_filter_through_facets(search_site, query_embeddings, monkeypatch) -> None:
    with search_site.db.reader() as session:
        meta = session.execute(
            select(Organization.id).where(Organization.name == "facebook")
        ).scalar_one()
        tagged = set(
            session.execute(select(Paper.public_id).where(Paper.organization_id == meta)).scalars()
        )
    filters = Filters(organization_id=meta)
    exact = filtered_ids(search_site, query_embeddings, "reinforcement learning", filters)
    assert exact and set(exact) <= tagged
    monkeypatch.setattr(engine, "EXACT_SUBSET_LIMIT", 0)
    assert filtered_ids(search_site, query_embeddings, "reinforcement learning", filters) == exact


def set_hidden(db, public_id: str, hidden: bool) -> None:  # type: ignore[no-untyped-def]
    from paperfeed import clock
    from paperfeed.papers.store import lock_changes, touch_paper

    with db.transaction() as session:
        lock_changes(session)
        paper = session.execute(select(Paper).where(Paper.public_id == public_id)).scalar_one()
        paper.hidden_at = clock.now() if hidden else None
        touch_paper(session, paper)


def test_a_hidden_paper_leaves_search_after_the_next_sync(
    search_site, query_embeddings, tmp_path
) -> None:
    index = SearchIndex(tmp_path / "index", search_site.settings.tz)
    index.sync(search_site.db)

    def found(q: str, sort: str) -> list[str]:
        with search_site.db.reader() as session:
            result = search(session, index, query_embeddings, SearchRequest(q=q, sort=sort))
            return [hit.paper.public_id for hit in result.hits]

    q = "triangulations of point sets and rigidity of graphs"
    assert "0704.0002" in found(q, "relevance")
    set_hidden(search_site.db, "0704.0002", True)
    try:
        index.sync(search_site.db)
        assert index.facets is not None
        for sort in ("relevance", "upvotes"):
            assert "0704.0002" not in found(q, sort)
    finally:
        set_hidden(search_site.db, "0704.0002", False)
    index.sync(search_site.db)
    assert "0704.0002" in found(q, "relevance")
