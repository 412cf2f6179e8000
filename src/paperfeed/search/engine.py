"""Hybrid search: one ranking for the web page, the CLI and the API.

1. An arXiv id or URL goes straight to that paper.
2. BM25 (title x3 + abstract as one field, authors x1.5) and vector similarity each
   retrieve up to 200 candidates, both with the filters applied inside retrieval; the
   keyword index also finds and counts the papers that hold every word.
3. Every candidate gets both scores (a keyword hit's cosine comes from the stored vectors)
   and `relevance.rank` keeps those that match, by a weighted sum of the two: the count is
   of papers that match, not of papers sharing one word with the query.
4. A paper whose normalized title equals the query goes first (known-item search), then
   an author's own papers when the query is their name.
5. Sorting by upvotes or date reorders that same set of matches.

Equal scores go in paper id order in every step (`ranking.best_first`), and the sorts
keep the relevance order among equals, so ties come back the same on every node.
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from threading import Lock
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.models import Paper, PaperAuthor
from paperfeed.papers.authors import author_named, find_author
from paperfeed.papers.ids import title_key
from paperfeed.papers.topics import TopicFilter
from paperfeed.search import relevance
from paperfeed.search.embeddings import Encoder, normalize
from paperfeed.search.facets import Facets
from paperfeed.search.index import SearchIndex
from paperfeed.search.lexical import Filters, KeywordHits
from paperfeed.search.query import ParsedQuery, parse_query

CANDIDATES = 200
PARTIAL_TITLE_WORDS = 4
EXACT_SUBSET_LIMIT = 50_000
AUTHOR_PAPERS_FIRST = 200  # a query that names an author: their newest papers lead
OVERFETCH_LIMIT = 51_200
SearchSort = Literal["relevance", "upvotes", "newest"]
SEARCH_SORTS: tuple[str, ...] = ("relevance", "upvotes", "newest")
Mode = relevance.Mode
OUTDATED_INDEX = (
    "The search index is being rebuilt to filter by category. Try again in a few minutes."
)
_POOL = ThreadPoolExecutor(max_workers=8, thread_name_prefix="keyword-search")
log = logging.getLogger(__name__)


class QueryEmbeddings:
    """Query vectors, cached: people repeat and page through the same searches."""

    def __init__(self, encoder: Encoder, size: int = 4096) -> None:
        self.encoder = encoder
        self.size = size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = Lock()

    def __call__(self, text: str) -> np.ndarray:
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
        vector = self.encoder.encode([text])[0]
        with self._lock:
            self._cache[text] = vector
            if len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return vector


@dataclass
class SearchRequest:
    q: str
    filters: Filters = field(default_factory=Filters)
    sort: SearchSort = "relevance"
    page: int = 1
    per_page: int = 20
    mode: Mode = "hybrid"


@dataclass
class Hit:
    paper: Paper
    score: float
    lexical_rank: int | None
    vector_rank: int | None
    similarity: float | None


@dataclass
class SearchResult:
    query: ParsedQuery
    hits: list[Hit]
    total: int
    page: int
    pages: int
    message: str | None = None
    redirect_to: str | None = None
    semantic: bool = True
    # Pages that list what the message could not (a category's papers by day): (label, path)
    see_also: list[tuple[str, str]] = field(default_factory=list)


def search(
    session: Session,
    index: SearchIndex | None,
    embed: QueryEmbeddings | None,
    request: SearchRequest,
) -> SearchResult:
    parsed = parse_query(request.q)
    request = _with_author_variants(session, request)
    empty = SearchResult(parsed, [], 0, request.page, 1)
    if parsed.arxiv_id is not None:
        public_id = session.execute(
            select(Paper.public_id).where(Paper.public_id == parsed.arxiv_id.base)
        ).scalar_one_or_none()
        if public_id:
            empty.redirect_to = public_id
        else:
            empty.message = (
                f"arXiv:{parsed.arxiv_id.base} is not here yet. Signed-in users can submit it."
            )
        return empty
    if request.filters.categories is not None and index is not None and index.ready:
        assert index.lexical is not None
        if not index.lexical.has_categories:
            empty.message = OUTDATED_INDEX
            return empty
    if parsed.is_empty and (request.filters.author or request.filters.categories is not None):
        if index is None or not index.ready:
            empty.message = "The search index is not built yet. Run `paperfeed index`."
            return empty
        return _filter_listing(session, index, request, parsed)
    if parsed.is_empty:
        empty.message = "Type a few words, an author's name, or an arXiv id to search."
        return empty
    if parsed.only_stop_words:
        empty.message = "Those words are too common to search for. Try more specific ones."
        return empty
    if index is None or not index.ready:
        empty.message = "The search index is not built yet. Run `paperfeed index`."
        return empty

    # The keyword half runs in a worker thread while this one does the vector half: tantivy
    # releases the GIL, so on two cores a hybrid search costs the slower half, not the sum.
    keyword = _POOL.submit(_keyword_half, index, parsed, request)
    query: np.ndarray | None = None
    vector_ids: list[int] = []
    semantic = request.mode in ("hybrid", "vector") and embed is not None
    try:
        if semantic and index.vectors is not None and index.vectors.count:
            assert embed is not None
            query = embed(parsed.semantic_text)
            vector_ids = _vector_candidates(index, query, parsed, request.filters)
        title_ids = _title_key_matches(session, parsed)
    except BaseException as error:
        _report_keyword_failure(keyword, error)
        raise
    hits, title_phrase_ids = keyword.result()

    evidence = _evidence(index, hits, vector_ids, query)
    floor = relevance.meaning_floor(
        request.mode,
        len(parsed.content_terms or parsed.terms),
        typo=hits is not None and hits.misspelled,
    )
    ranked = relevance.rank(evidence, request.mode, floor)
    total = relevance.count(evidence, ranked, hits.every_word_total if hits else 0, request.mode)
    exact = _known_items(
        index, request.filters, _unique(title_ids or title_phrase_ids, _by_author(session, parsed))
    )
    first = set(exact)
    ordered = exact + [pid for pid in ranked.order if pid not in first]
    total += len(first - set(ranked.order))

    ordered = _visible_in_order(session, ordered, request.sort, index.facets)
    pages = max(1, math.ceil(len(ordered) / request.per_page))
    start = (request.page - 1) * request.per_page
    page_ids = ordered[start : start + request.per_page]
    papers = _load(session, page_ids)
    lexical_rank = {pid: i + 1 for i, pid in enumerate(hits.pks if hits else [])}
    vector_rank = {pid: i + 1 for i, pid in enumerate(vector_ids)}
    cosine = dict(zip(evidence.pks.tolist(), evidence.cosine.tolist(), strict=True))
    found = [
        Hit(
            paper=papers[pid],
            score=ranked.scores.get(pid, 0.0),
            lexical_rank=lexical_rank.get(pid),
            vector_rank=vector_rank.get(pid),
            similarity=None if math.isnan(cosine.get(pid, math.nan)) else cosine[pid],
        )
        for pid in page_ids
        if pid in papers
    ]
    result = SearchResult(parsed, found, max(total, len(ordered)), request.page, pages)
    result.semantic = semantic
    if not ordered:
        result.message = "No papers match. Try other words, or fewer filters."
    return result


def _filter_listing(
    session: Session, index: SearchIndex, request: SearchRequest, parsed: ParsedQuery
) -> SearchResult:
    """An author or category filter and no words: every paper that passes the filters,
    newest first (or by upvotes), counted exactly."""
    assert index.lexical is not None
    pks, matched = index.lexical.filter_only(request.filters, EXACT_SUBSET_LIMIT)
    if matched > EXACT_SUBSET_LIMIT:
        result = SearchResult(parsed, [], matched, request.page, 1)
        result.message = "Too many papers match to list them all. Add words or narrower filters."
        if request.filters.categories is not None:
            _point_to_category_pages(result, request.filters.categories)
        return result
    sort = "upvotes" if request.sort == "upvotes" else "newest"
    ordered = _visible_in_order(session, sorted(pks), sort)
    pages = max(1, math.ceil(len(ordered) / request.per_page))
    start = (request.page - 1) * request.per_page
    page_ids = ordered[start : start + request.per_page]
    papers = _load(session, page_ids)
    hits = [Hit(papers[pid], 0.0, None, None, None) for pid in page_ids if pid in papers]
    result = SearchResult(parsed, hits, len(ordered), request.page, pages, semantic=False)
    if not ordered:
        result.message = "No papers match. Try other words, or fewer filters."
    return result


def _point_to_category_pages(result: SearchResult, topics: TopicFilter) -> None:
    """Too many papers of a category to list: its own page lists them day by day."""
    pages = " or ".join(topic.path for topic in topics.topics)
    result.message = (
        f"Too many papers in {topics.name} match to list them all. Add words or narrower "
        f"filters, or browse them day by day at {pages}."
    )
    result.see_also = [(topic.label, topic.path) for topic in topics.topics]


def _report_keyword_failure(keyword: Future[Any], error: BaseException) -> None:
    """Both halves failed: log the keyword half's error and note it on this thread's.

    This thread's error is the one raised, since it includes the database query (an
    outage must still answer 503, and the outage handler logs only its first line), so
    the keyword half's traceback is logged here and named in a note on the raised error.
    """
    other = keyword.exception()  # waits for the keyword half to end
    if other is None:
        return
    log.error("the keyword half of a search failed too", exc_info=other)
    error.add_note(f"The keyword half failed too: {other.__class__.__name__}: {other}")


def _evidence(
    index: SearchIndex, hits: KeywordHits | None, vector_ids: list[int], query: np.ndarray | None
) -> relevance.Evidence:
    """Both kinds of evidence for every candidate: a keyword hit's cosine is read from the
    stored vectors when the meaning half did not find it too."""
    keyword = dict(zip(hits.pks, hits.scores, strict=True)) if hits else {}
    every_word = set(hits.every_word) if hits else set()
    pks = list(dict.fromkeys([*keyword, *every_word, *vector_ids]))
    cosine_of: dict[int, float] = {}
    if query is not None and index.vectors is not None and pks:
        cosines = index.vectors.similarities(query, np.array(pks, dtype=np.int64))
        cosine_of = dict(zip(pks, cosines.tolist(), strict=True))
    evidence = relevance.Evidence.gather(keyword, every_word, vector_ids, cosine_of)
    source = relevance.feedback_source(evidence) if query is not None and hits is not None else None
    if source is not None:
        assert index.vectors is not None and query is not None
        source_vector = index.vectors.vector(source)
        assert source_vector is not None
        moved = normalize((query + relevance.FEEDBACK_WEIGHT * source_vector)[None])[0]
        evidence.feedback = index.vectors.similarities(moved, evidence.pks)
    return evidence


def _vector_candidates(
    index: SearchIndex, query: np.ndarray, parsed: ParsedQuery, filters: Filters
) -> list[int]:
    """Nearest papers that pass the filters: exact over a selective subset, else over-fetch."""
    assert index.vectors is not None and index.lexical is not None
    excluded = parsed.excluded_terms or parsed.excluded_phrases
    if filters.categories is not None:
        pks, _ = _category_neighbours(index, query, filters)
    elif filters.active and index.facets is not None:
        pks, _ = _filtered_neighbours(index, query, filters)
    elif filters.active:
        subset, matched = index.lexical.filter_only(filters, EXACT_SUBSET_LIMIT)
        if matched <= EXACT_SUBSET_LIMIT:
            pks, _ = index.vectors.search(query, CANDIDATES, allowed=np.array(subset))
        else:
            pks, _ = _overfetch(index, query, _passing_by_keyword_index(index, filters))
    else:
        pks, _ = index.vectors.search(query, CANDIDATES)
    ids = [int(p) for p in pks]
    if excluded and ids:
        ids = _drop_excluded(index, parsed, ids)
    return ids


def _filtered_neighbours(
    index: SearchIndex, query: np.ndarray, filters: Filters
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest papers passing the filters, by the cheaper of two plans.

    A selective filter (a month, an author) scans its few thousand papers exactly. A broad
    one (a year of a large archive) asks the HNSW graph for enough neighbours that, at the
    filter's measured selectivity, about CANDIDATES of them pass, and checks them with the
    facet arrays; a second, larger round runs only if the neighbourhood was unlucky.
    """
    assert index.vectors is not None and index.lexical is not None and index.facets
    mask = index.facets.mask(filters)
    author = Filters(author=filters.author) if filters.author else None
    if author is not None:
        subset, matched = index.lexical.filter_only(author, EXACT_SUBSET_LIMIT)
        if matched <= EXACT_SUBSET_LIMIT:
            allowed = np.asarray(subset, dtype=np.int64)
            allowed = allowed[index.facets.passes(mask, allowed)]
            return index.vectors.search(query, CANDIDATES, allowed=allowed)
    matched = int(np.count_nonzero(mask))
    if matched == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if author is None and matched <= EXACT_SUBSET_LIMIT:
        return index.vectors.search(query, CANDIDATES, allowed=np.flatnonzero(mask))
    total = max(index.vectors.count, 1)
    k = min(total, max(2 * CANDIDATES, math.ceil(CANDIDATES * total / matched * 1.5)))
    facets, lexical = index.facets, index.lexical

    def passes(pks: np.ndarray) -> np.ndarray:
        keep = facets.passes(mask, pks)
        if author is not None:
            passing = lexical.matching([int(p) for p in pks[keep]], author)
            keep &= np.fromiter((int(p) in passing for p in pks), bool, len(pks))
        return keep

    return _overfetch(index, query, passes, k)


def _category_neighbours(
    index: SearchIndex, query: np.ndarray, filters: Filters
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest papers passing filters that include categories, which only the keyword
    index knows (a paper has several; the facet arrays hold one value per paper).

    The keyword index counts the papers passing every filter: few enough, and the exact
    scan covers them; else neighbours are over-fetched in proportion to that share, and
    checked by the facet arrays (dates, organization) before the keyword index.
    """
    assert index.vectors is not None and index.lexical is not None
    subset, matched = index.lexical.filter_only(filters, EXACT_SUBSET_LIMIT)
    if matched == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    if matched <= EXACT_SUBSET_LIMIT:
        return index.vectors.search(query, CANDIDATES, allowed=np.asarray(subset, dtype=np.int64))
    total = max(index.vectors.count, 1)
    k = min(total, max(4 * CANDIDATES, math.ceil(CANDIDATES * total / matched * 1.5)))
    by_keywords = _passing_by_keyword_index(index, filters)
    facets = index.facets
    if facets is None:
        return _overfetch(index, query, by_keywords, k)
    mask = facets.mask(filters)

    def passes(pks: np.ndarray) -> np.ndarray:
        keep = facets.passes(mask, pks)
        if keep.any():
            keep[keep] = by_keywords(pks[keep])
        return keep

    return _overfetch(index, query, passes, k)


def _overfetch(
    index: SearchIndex,
    query: np.ndarray,
    passes: Callable[[np.ndarray], np.ndarray],
    k: int = 4 * CANDIDATES,
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest CANDIDATES papers that pass: k neighbours, then 4k, ... until enough do."""
    assert index.vectors is not None
    total = max(index.vectors.count, 1)
    while True:
        pks, sims = index.vectors.search(query, k, passes=passes)
        if len(pks) >= CANDIDATES or k >= total or k >= OVERFETCH_LIMIT:
            return pks[:CANDIDATES], sims[:CANDIDATES]
        k = min(total, k * 4)


def _passing_by_keyword_index(
    index: SearchIndex, filters: Filters
) -> Callable[[np.ndarray], np.ndarray]:
    """`passes` for an index without facet arrays: ask the keyword index."""
    assert index.lexical is not None
    lexical = index.lexical

    def passes(pks: np.ndarray) -> np.ndarray:
        passing = lexical.matching([int(p) for p in pks], filters)
        return np.fromiter((int(p) in passing for p in pks), bool, len(pks))

    return passes


def _drop_excluded(index: SearchIndex, parsed: ParsedQuery, ids: list[int]) -> list[int]:
    """Vector hits must respect -word exclusions too."""
    assert index.lexical is not None
    import tantivy

    clauses = []
    for term in parsed.excluded_terms:
        q = index.lexical.term_clause(term)
        if q is not None:
            clauses.append((tantivy.Occur.Should, q))
    for phrase in parsed.excluded_phrases:
        q = index.lexical.phrase_clause(phrase)
        if q is not None:
            clauses.append((tantivy.Occur.Should, q))
    if not clauses:
        return ids
    query = tantivy.Query.boolean_query(
        [
            (tantivy.Occur.Must, tantivy.Query.boolean_query(clauses)),
            (tantivy.Occur.Must, index.lexical.pk_clause(ids)),
        ]
    )
    bad, _, _ = index.lexical._run(query, len(ids), ranked=False)
    banned = set(bad)
    return [pid for pid in ids if pid not in banned]


def _keyword_half(
    index: SearchIndex, parsed: ParsedQuery, request: SearchRequest
) -> tuple[KeywordHits | None, list[int]]:
    """What BM25 found (None in meaning-only mode), and papers whose title holds the query."""
    assert index.lexical is not None
    hits = None
    if request.mode in ("hybrid", "lexical"):
        hits = index.lexical.search(parsed, request.filters, CANDIDATES)
    return hits, _title_phrase_matches(index, parsed, request.filters)


def _title_key_matches(session: Session, parsed: ParsedQuery) -> list[int]:
    """Known-item search: the papers titled exactly so."""
    if len(parsed.text) < 8:
        return []
    return list(
        session.execute(
            select(Paper.id)
            .where(Paper.title_key == title_key(parsed.text), Paper.hidden_at.is_(None))
            .order_by(Paper.id)
        ).scalars()
    )


def _title_phrase_matches(index: SearchIndex, parsed: ParsedQuery, filters: Filters) -> list[int]:
    """The few papers whose title holds the query as a phrase.

    A query of four or more plain words that appears as a phrase in at most three titles is
    almost always someone pasting the start of a title.
    """
    plain = not (parsed.phrases or parsed.excluded_terms or parsed.excluded_phrases)
    if len(parsed.text) < 8 or not plain or len(parsed.terms) < PARTIAL_TITLE_WORDS:
        return []
    assert index.lexical is not None
    found, total = index.lexical.title_phrase(parsed.terms, filters, 4)
    return found if 0 < total <= 3 else []


def _with_author_variants(session: Session, request: SearchRequest) -> SearchRequest:
    """The author filter accepts every name of its author ("E. L. Berger" finds the papers
    of "Edmond L. Berger" too): the names papers/authors.py groups with it."""
    wanted = request.filters.author
    if not wanted or request.filters.author_names:
        return request
    author = find_author(session, wanted)
    if author is None or author.names == (wanted,):
        return request
    return replace(request, filters=replace(request.filters, author_names=author.names))


def _by_author(session: Session, parsed: ParsedQuery) -> list[int]:
    """A query that is an author's name: that author's papers (under any of their names),
    newest first, go right after exact title matches."""
    if not 2 <= len(parsed.terms) <= 4 or parsed.phrases or parsed.excluded_terms:
        return []
    author = author_named(session, parsed.text)
    if author is None:
        return []
    return list(
        session.execute(
            select(PaperAuthor.paper_id)
            .join(Paper, Paper.id == PaperAuthor.paper_id)
            .where(PaperAuthor.name.in_(author.names), Paper.hidden_at.is_(None))
            .group_by(PaperAuthor.paper_id, Paper.feed_at)
            .order_by(Paper.feed_at.desc(), PaperAuthor.paper_id.desc())
            .limit(AUTHOR_PAPERS_FIRST)
        ).scalars()
    )


def _unique(*lists: list[int]) -> list[int]:
    return list(dict.fromkeys(pid for ids in lists for pid in ids))


def _known_items(index: SearchIndex, filters: Filters, ids: list[int]) -> list[int]:
    """Known items that pass the filters; they go first."""
    if ids and filters.active and index.lexical is not None:
        passing = index.lexical.matching(ids, filters)
        ids = [pid for pid in ids if pid in passing]
    return ids


def _visible_in_order(
    session: Session, ids: list[int], sort: str, facets: Facets | None = None
) -> list[int]:
    """Drop hidden papers and apply the sort, reading only the few columns it needs.

    In relevance order the facet arrays know which papers are hidden: asking the database
    about a few hundred random rows cost ~12 ms per search at 1M papers. A paper hidden
    since the last index sync is still dropped when the page's papers are loaded.
    """
    if not ids:
        return []
    if sort == "relevance" and facets is not None:
        keep = facets.visible(np.asarray(ids, dtype=np.int64))
        return [pid for pid, ok in zip(ids, keep.tolist(), strict=True) if ok]
    if sort == "relevance":
        visible = set(
            session.execute(
                select(Paper.id).where(Paper.id.in_(ids), Paper.hidden_at.is_(None))
            ).scalars()
        )
        return [pid for pid in ids if pid in visible]
    rows = session.execute(
        select(Paper.id, Paper.upvotes, Paper.published_at, Paper.feed_at, Paper.created_at).where(
            Paper.id.in_(ids), Paper.hidden_at.is_(None)
        )
    ).all()
    rank = {pid: i for i, pid in enumerate(ids)}
    if sort == "upvotes":
        rows = sorted(rows, key=lambda r: (-r.upvotes, rank[r.id]))
    else:
        rows = sorted(
            rows,
            key=lambda r: (-(r.published_at or r.feed_at or r.created_at).timestamp(), rank[r.id]),
        )
    return [r.id for r in rows]


def _load(session: Session, ids: list[int]) -> dict[int, Paper]:
    if not ids:
        return {}
    return {
        p.id: p
        for p in session.execute(
            select(Paper).where(Paper.id.in_(ids), Paper.hidden_at.is_(None))
        ).scalars()
    }


def similar(
    session: Session, index: SearchIndex | None, paper: Paper, k: int = 6
) -> list[tuple[Paper, float]]:
    """Nearest neighbours of a paper by embedding, excluding itself."""
    if index is None or not index.ready or index.vectors is None:
        return []
    vector = index.vectors.vector(paper.id)
    if vector is None:
        return []
    pks, sims = index.vectors.search(vector, k + 1)
    pairs = [(int(p), float(s)) for p, s in zip(pks, sims, strict=True) if int(p) != paper.id]
    papers = _load(session, [p for p, _ in pairs])
    return [(papers[p], s) for p, s in pairs if p in papers][:k]
