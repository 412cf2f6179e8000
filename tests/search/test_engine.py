import logging
from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select

from paperfeed.models import Organization, Paper
from paperfeed.papers.ids import local_id_for
from paperfeed.papers.topics import category_filter
from paperfeed.search.engine import QueryEmbeddings, SearchRequest, search, similar
from paperfeed.search.lexical import Filters


def run(site, embed, q: str, **kwargs):  # type: ignore[no-untyped-def]
    with site.db.reader() as session:
        result = search(session, site.index, embed, SearchRequest(q=q, **kwargs))
        ids = [hit.paper.public_id for hit in result.hits]
    return result, ids


def test_exact_title_ranks_first(search_site, query_embeddings) -> None:
    title = "Sample, Don't Search: Rethinking Test-Time Alignment for Language Models"
    _, ids = run(search_site, query_embeddings, title)
    assert ids[0] == local_id_for(title)


def test_meaning_finds_papers_without_shared_words(search_site, query_embeddings) -> None:
    # The diphoton paper (0704.0001) never says "photon pairs at the LHC" this way.
    _, lexical = run(
        search_site,
        query_embeddings,
        "pairs of light particles produced in proton collisions",
        mode="lexical",
    )
    _, hybrid = run(
        search_site, query_embeddings, "pairs of light particles produced in proton collisions"
    )
    assert "0704.0001" in hybrid[:5]
    assert hybrid != lexical


def test_an_arxiv_id_or_url_goes_to_the_paper(search_site, query_embeddings) -> None:
    result, _ = run(search_site, query_embeddings, "https://arxiv.org/abs/0704.0002v1")
    assert result.redirect_to == "0704.0002"
    missing, _ = run(search_site, query_embeddings, "2501.99999")
    assert missing.redirect_to is None and "not here yet" in (missing.message or "")


def test_author_search_and_author_filter(search_site, query_embeddings) -> None:
    _, ids = run(search_site, query_embeddings, "Streinu")
    assert ids[0] == "0704.0002"
    _, filtered = run(
        search_site, query_embeddings, "graphs", filters=Filters(author="Ileana Streinu")
    )
    assert filtered == ["0704.0002"]


def test_date_filter_keeps_full_pages(search_site, query_embeddings) -> None:
    # Only the arXiv sample is from 2007, and most papers matching "model" are not: the
    # filter narrows retrieval itself, so the filtered page is still full.
    filters = Filters(date_from=date(2007, 1, 1), date_to=date(2007, 12, 31))
    _, unfiltered = run(search_site, query_embeddings, "model", per_page=20)
    assert sum(i.startswith("0704.") for i in unfiltered) < 20
    result, ids = run(search_site, query_embeddings, "model", filters=filters, per_page=20)
    assert len(ids) == 20
    assert all(i.startswith("0704.") for i in ids)
    assert result.total >= 20


def test_organization_filter(search_site, query_embeddings) -> None:
    with search_site.db.reader() as session:
        meta = session.execute(
            select(Organization.id).where(Organization.name == "facebook")
        ).scalar_one()
        tagged = set(
            session.execute(select(Paper.public_id).where(Paper.organization_id == meta)).scalars()
        )
    _, ids = run(
        search_site,
        query_embeddings,
        "reinforcement learning",
        filters=Filters(organization_id=meta),
    )
    assert ids and set(ids) <= tagged


def test_phrases_and_exclusions_hold_for_semantic_hits_too(search_site, query_embeddings) -> None:
    _, ids = run(search_site, query_embeddings, "language models -quantization", per_page=50)
    with search_site.db.reader() as session:
        texts = session.execute(
            select(Paper.title, Paper.abstract).where(Paper.public_id.in_(ids))
        ).all()
    assert ids
    assert not any("quantization" in (t + a).lower() for t, a in texts)


@pytest.mark.parametrize("sort", ["upvotes", "newest"])
def test_sorts_reorder_the_same_matches(search_site, query_embeddings, sort: str) -> None:
    _, rel_ids = run(search_site, query_embeddings, "diffusion", per_page=200)
    result, ids = run(search_site, query_embeddings, "diffusion", sort=sort, per_page=200)
    assert set(ids) == set(rel_ids)
    papers = [hit.paper for hit in result.hits]
    keys = [p.upvotes if sort == "upvotes" else (p.published_at or p.feed_at) for p in papers]
    assert keys == sorted(keys, reverse=True)


def test_a_query_with_no_good_answer_counts_few_matches(search_site, query_embeddings) -> None:
    """No paper is about video diffusion: a shared common word is not a match, so the
    count is not half the corpus (it was 302 of 568)."""
    result, ids = run(search_site, query_embeddings, "diffusion model for video", per_page=50)
    assert result.total == len(ids) < 30
    with search_site.db.reader() as session:
        corpus = session.execute(select(func.count()).select_from(Paper)).scalar_one()
    assert result.total < corpus / 20


def test_the_count_is_every_paper_holding_all_words_plus_close_ones(
    search_site, query_embeddings
) -> None:
    result, ids = run(search_site, query_embeddings, "diffusion", per_page=500)
    with search_site.db.reader() as session:
        holding = session.execute(
            select(func.count())
            .select_from(Paper)
            .where(Paper.title.ilike("%diffusion%") | Paper.abstract.ilike("%diffusion%"))
        ).scalar_one()
    assert holding >= 10
    assert result.total == len(ids) >= holding  # every holder, and papers close in meaning


def test_a_misspelled_query_still_finds_its_topic(search_site, query_embeddings) -> None:
    """No paper holds "federeted" or "lerning": meaning alone finds federated learning."""
    result, _ = run(search_site, query_embeddings, "federeted lerning", per_page=10)
    assert result.hits, result.message
    top = result.hits[0].paper
    assert "federated" in f"{top.title} {top.abstract}".lower()


@pytest.mark.parametrize("sort", ["upvotes", "newest"])
def test_other_sorts_never_surface_a_weak_match(search_site, query_embeddings, sort: str) -> None:
    """Sorted by newest, "modular forms" started with a paper holding only "form"."""
    _, relevant = run(search_site, query_embeddings, "modular forms", per_page=500)
    result, ids = run(search_site, query_embeddings, "modular forms", sort=sort, per_page=500)
    assert ids and set(ids) == set(relevant) and result.total == len(ids)
    first = result.hits[0].paper
    assert "modular" in f"{first.title} {first.abstract}".lower()


@pytest.mark.parametrize(
    "q", ["", "   ", "the of and", "x" * 10_000, "\x00\ufffd🙂", "-", "-only -negative"]
)
def test_bad_queries_get_a_message_not_an_error(search_site, query_embeddings, q: str) -> None:
    result, ids = run(search_site, query_embeddings, q)
    assert result.message
    assert ids == []


def test_unbalanced_quotes_search_the_words(search_site, query_embeddings) -> None:
    _, quoted = run(search_site, query_embeddings, '"speculative decoding')
    _, plain = run(search_site, query_embeddings, "speculative decoding")
    assert quoted == plain and quoted


def test_pagination_covers_each_result_once(search_site, query_embeddings) -> None:
    seen: list[str] = []
    first, _ = run(search_site, query_embeddings, "neural networks", per_page=10)
    for page in range(1, first.pages + 1):
        _, ids = run(search_site, query_embeddings, "neural networks", per_page=10, page=page)
        seen.extend(ids)
    assert len(seen) == len(set(seen)) > 10


def test_similar_papers_exclude_the_paper_itself(search_site) -> None:
    with search_site.db.reader() as session:
        paper = session.execute(select(Paper).where(Paper.public_id == "0704.0001")).scalar_one()
        neighbours = similar(session, search_site.index, paper, 5)
    ids = [p.public_id for p, _ in neighbours]
    assert len(ids) == 5 and "0704.0001" not in ids
    sims = [s for _, s in neighbours]
    assert sims == sorted(sims, reverse=True)
    # A particle-physics paper's neighbours are physics papers, not language models.
    assert sum(i.startswith("0704.") for i in ids) >= 4


class BrokenModel:
    """A query model that cannot run (say its file was damaged)."""

    dim = 384
    model_id = "broken"

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        raise RuntimeError("the query model could not be loaded")


def test_when_both_halves_fail_both_errors_are_reported(
    search_site, query_embeddings, caplog: pytest.LogCaptureFixture
) -> None:
    broken = QueryEmbeddings(BrokenModel())
    refused = Filters(organization_id=-1)  # the keyword index refuses a negative id
    with (
        caplog.at_level(logging.ERROR, "paperfeed.search.engine"),
        pytest.raises(RuntimeError, match="query model") as both,
    ):
        run(search_site, broken, "speculative decoding", filters=refused)
    assert both.value.__notes__ == [
        "The keyword half failed too: ValueError: Expected U64 type for field org, got -1"
    ]
    (logged,) = [r for r in caplog.records if "keyword half" in r.getMessage()]
    assert logged.exc_info and logged.exc_info[0] is ValueError  # with its traceback
    # One half failing alone raises its own error, with nothing added.
    with pytest.raises(ValueError, match="U64"):
        run(search_site, query_embeddings, "speculative decoding", filters=refused)
    with pytest.raises(RuntimeError) as alone:
        run(search_site, broken, "speculative decoding")
    assert not getattr(alone.value, "__notes__", None)


def _most_frequent_author(site) -> tuple[str, set[str]]:  # type: ignore[no-untyped-def]
    """An author's full name with more than one visible paper, and those papers' ids."""
    from sqlalchemy import func

    from paperfeed.models import PaperAuthor

    with site.db.reader() as session:
        name = session.execute(
            select(PaperAuthor.name)
            .join(Paper, Paper.id == PaperAuthor.paper_id)
            .where(Paper.hidden_at.is_(None))
            .group_by(PaperAuthor.name)
            .having(func.count() > 1)
            .order_by(func.count().desc(), PaperAuthor.name)
            .limit(1)
        ).scalar_one()
        ids = set(
            session.execute(
                select(Paper.public_id)
                .join(PaperAuthor, PaperAuthor.paper_id == Paper.id)
                .where(PaperAuthor.name == name, Paper.hidden_at.is_(None))
            ).scalars()
        )
    return name, ids


def test_an_author_filter_without_words_lists_the_authors_papers(
    search_site, query_embeddings
) -> None:
    name, expected = _most_frequent_author(search_site)
    result, ids = run(search_site, query_embeddings, "", filters=Filters(author=name))
    assert set(ids) == expected and len(ids) == len(expected) > 1
    assert result.total == len(expected) and result.message is None
    with search_site.db.reader() as session:
        papers = {
            p.public_id: p
            for p in session.execute(select(Paper).where(Paper.public_id.in_(ids))).scalars()
        }
    dates = [(papers[i].published_at or papers[i].feed_at or papers[i].created_at) for i in ids]
    assert dates == sorted(dates, reverse=True)
    nobody, none = run(search_site, query_embeddings, "", filters=Filters(author="Zzyzx Qwerty"))
    assert none == [] and nobody.total == 0 and "No papers match" in (nobody.message or "")


# --- the category filter ----------------------------------------------------------------------


def in_categories(*codes: str) -> Filters:
    return Filters(categories=category_filter(codes))


def papers_in_topics(site, *codes: str) -> dict[str, Paper]:  # type: ignore[no-untyped-def]
    """The visible papers the feed pages list under these topics (`paper_categories`)."""
    topics = category_filter(codes)
    assert topics is not None
    with site.db.reader() as session:
        return {
            p.public_id: p
            for p in session.execute(
                select(Paper).where(Paper.id.in_(topics.paper_ids()), Paper.hidden_at.is_(None))
            ).scalars()
        }


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "vector"])
def test_a_category_filter_holds_for_both_halves_and_the_count(
    search_site, query_embeddings, mode: str
) -> None:
    expected = papers_in_topics(search_site, "hep-ph")
    result, ids = run(
        search_site,
        query_embeddings,
        "particle physics at colliders",
        filters=in_categories("hep-ph"),
        per_page=200,
        mode=mode,
    )
    assert ids and set(ids) <= set(expected)
    assert result.total == len(ids), "the count is of papers in the category"
    _, unfiltered = run(
        search_site, query_embeddings, "particle physics at colliders", per_page=200, mode=mode
    )
    assert set(unfiltered) - set(expected), "the words alone find papers of other categories"


def test_a_category_filter_with_words_finds_cross_listed_papers(
    search_site, query_embeddings
) -> None:
    # 0704.0002 is math.CO, cross-listed in cs.CG; 0704.0098 is cs.IT itself.
    _, ids = run(search_site, query_embeddings, "sparse", filters=in_categories("cs"), per_page=200)
    assert {"0704.0002", "0704.0098"} <= set(ids)
    assert set(ids) <= set(papers_in_topics(search_site, "cs"))


def test_an_archive_filter_combines_with_the_other_filters(search_site, query_embeddings) -> None:
    filters = in_categories("hep-ph", "hep-th")
    filters.date_from, filters.date_to = date(2007, 1, 1), date(2007, 12, 31)
    result, ids = run(search_site, query_embeddings, "quarks", filters=filters, per_page=200)
    expected = papers_in_topics(search_site, "hep-ph", "hep-th")
    assert ids and set(ids) <= set(expected) and result.total == len(ids)


@pytest.mark.parametrize("sort", ["newest", "upvotes"])
def test_a_category_filter_without_words_lists_the_categorys_papers(
    search_site, query_embeddings, sort: str
) -> None:
    expected = papers_in_topics(search_site, "cs")
    cross_listed = {i for i, p in expected.items() if not p.categories.startswith("cs")}
    assert cross_listed, "the sample has papers cross-listed in cs"
    result, ids = run(
        search_site, query_embeddings, "", filters=in_categories("cs"), per_page=200, sort=sort
    )
    assert set(ids) == set(expected) and result.total == len(expected)
    assert result.message is None and not result.semantic
    papers = [expected[i] for i in ids]
    keys = [
        p.upvotes if sort == "upvotes" else (p.published_at or p.feed_at or p.created_at)
        for p in papers
    ]
    assert keys == sorted(keys, reverse=True)
    paged, first = run(search_site, query_embeddings, "", filters=in_categories("cs"), per_page=3)
    assert (
        paged.pages == -(-len(expected) // 3)
        and first
        == run(search_site, query_embeddings, "", filters=in_categories("cs"), per_page=3)[1]
    )


def test_too_many_papers_of_a_category_to_list_point_to_its_page(
    search_site, query_embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import paperfeed.search.engine as engine

    monkeypatch.setattr(engine, "EXACT_SUBSET_LIMIT", 10)
    many = len(papers_in_topics(search_site, "math"))
    assert many > 10
    result, ids = run(search_site, query_embeddings, "", filters=in_categories("math"))
    assert ids == [] and result.total == many
    assert "/papers/category/math" in (result.message or "")
    assert result.see_also == [("Mathematics (math)", "/papers/category/math")]
    both, _ = run(search_site, query_embeddings, "", filters=in_categories("math", "cs"))
    assert [path for _, path in both.see_also] == ["/papers/category/math", "/papers/category/cs"]


def test_a_broad_category_filter_over_fetches_neighbours_that_pass(
    search_site, query_embeddings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the exact-scan limit the vector half checks over-fetched neighbours."""
    import paperfeed.search.engine as engine

    expected = papers_in_topics(search_site, "math")
    _, exact = run(
        search_site,
        query_embeddings,
        "algebraic structures",
        filters=in_categories("math"),
        mode="vector",
        per_page=200,
    )
    monkeypatch.setattr(engine, "EXACT_SUBSET_LIMIT", 10)
    result, fetched = run(
        search_site,
        query_embeddings,
        "algebraic structures",
        filters=in_categories("math"),
        mode="vector",
        per_page=200,
    )
    assert fetched and set(fetched) <= set(expected) and result.total == len(fetched)
    assert fetched == exact, "the sample is small: every neighbour is fetched either way"


def test_no_paper_in_the_category_matches(search_site, query_embeddings) -> None:
    result, ids = run(search_site, query_embeddings, "graphs", filters=in_categories("econ"))
    assert ids == [] and result.total == 0 and "No papers match" in (result.message or "")
    listing, none = run(search_site, query_embeddings, "", filters=in_categories("econ.GN"))
    assert none == [] and listing.total == 0 and "No papers match" in (listing.message or "")
