"""Keyword extraction and its incremental update, on both backends."""

from __future__ import annotations

from sqlalchemy import func, select

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import IngestCursor, Paper, PaperKeyword
from paperfeed.papers.records import PaperRecord
from paperfeed.papers.store import touch_paper, upsert_papers
from paperfeed.search.keywords import (
    CURSOR,
    candidates,
    extract,
    select_distinct,
    stopwords,
    update_keywords,
)

TITLE = (
    "A Framework for Adapting Offline Algorithms to Solve Combinatorial Multi-Armed Bandit "
    "Problems with Bandit Feedback"
)
ABSTRACT = (
    "We investigate the problem of stochastic, combinatorial multi-armed bandits where the "
    "learner only has access to bandit feedback and the reward function can be non-linear. "
    "We provide a general framework for adapting discrete offline approximation algorithms "
    "into sublinear alpha-regret methods that only require bandit feedback."
)


def test_extract_gives_sensible_distinct_keywords() -> None:
    keywords = extract(TITLE, ABSTRACT)
    phrases = [k for k, _ in keywords]
    assert 3 <= len(phrases) <= 5
    assert any("bandit" in p.lower() for p in phrases)
    stop = stopwords()
    for phrase in phrases:
        assert not all(w.lower() in stop for w in phrase.split()), phrase
    lowered = [p.lower() for p in phrases]
    assert len(set(lowered)) == len(lowered)
    # No keyword is a part of another ("Multi-Armed Bandit" beside "Multi-Armed Bandit Problems").
    for a in lowered:
        for b in lowered:
            assert a == b or not set(a.split()) <= set(b.split()), (a, b)
    scores = [s for _, s in keywords]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < s <= 1 for s in scores)


def test_extract_empty_and_stopword_text() -> None:
    assert extract("", "") == []
    assert extract("The of and", "") == []


def test_select_distinct_drops_plurals_and_stopwords() -> None:
    ranked = [("the", 1.0), ("bandit", 0.9), ("bandits", 0.8), ("Bandit", 0.7), ("regret", 0.6)]
    assert [k for k, _ in select_distinct(ranked)] == ["bandit", "regret"]


def test_candidates_do_not_start_or_end_on_stopwords() -> None:
    stop = stopwords()
    found = candidates(ABSTRACT)
    assert "bandit feedback" in [c.lower() for c in found]
    for phrase in found:
        words = phrase.lower().split()
        assert words[0] not in stop and words[-1] not in stop


def _count(db: Database) -> int:
    with db.reader() as session:
        return session.scalar(select(func.count()).select_from(PaperKeyword)) or 0


def _keywords(db: Database, arxiv_id: str) -> list[tuple[str, str]]:
    with db.reader() as session:
        return [
            (k.keyword, k.text_hash)
            for k in session.scalars(
                select(PaperKeyword)
                .join(Paper, Paper.id == PaperKeyword.paper_id)
                .where(Paper.arxiv_id == arxiv_id)
                .order_by(PaperKeyword.position)
            )
        ]


def test_update_keywords_is_incremental(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(title=TITLE, abstract=ABSTRACT, arxiv_id="2401.00001"),
                PaperRecord(
                    title="Large Language Models for Code Repair",
                    abstract="We study large language models that repair program bugs.",
                    arxiv_id="2401.00002",
                ),
            ],
        )
    stats = update_keywords(db, settings)
    assert (stats.examined, stats.computed) == (2, 2)
    first = _keywords(db, "2401.00001")
    assert first and any("bandit" in k.lower() for k, _ in first)

    # Nothing changed: nothing examined, nothing computed.
    stats = update_keywords(db, settings)
    assert (stats.examined, stats.computed) == (0, 0)

    # A vote changes the paper's sequence but not its text: examined, not recomputed.
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2401.00002")).one()
        touch_paper(session, paper)
    stats = update_keywords(db, settings)
    assert (stats.examined, stats.computed) == (1, 0)

    # A changed abstract is recomputed; a new paper gets keywords.
    with db.transaction() as session:
        paper = session.scalars(select(Paper).where(Paper.arxiv_id == "2401.00001")).one()
        paper.abstract = "Graph neural networks predict molecular properties of proteins."
        touch_paper(session, paper)
        upsert_papers(
            session,
            [
                PaperRecord(
                    title="Diffusion Models for Image Synthesis",
                    abstract="Denoising diffusion models generate images.",
                    arxiv_id="2401.00003",
                )
            ],
        )
    stats = update_keywords(db, settings)
    assert (stats.examined, stats.computed) == (2, 2)
    changed = _keywords(db, "2401.00001")
    assert changed[0][1] != first[0][1]
    assert [k for k, _ in changed] != [k for k, _ in first]
    assert _keywords(db, "2401.00003")


def test_update_keywords_resumes_from_its_cursor(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        upsert_papers(
            session,
            [
                PaperRecord(
                    title=f"Sparse attention study {i}",
                    abstract="Sparse attention makes long context transformers cheaper.",
                    arxiv_id=f"2402.{i:05d}",
                )
                for i in range(1, 6)
            ],
        )
    # A run stopped after its first batch of two (as a killed run would be)...
    stats = update_keywords(db, settings, batch=2, limit=2)
    assert (stats.examined, stats.computed) == (2, 2)
    with db.reader() as session:
        assert session.get(IngestCursor, CURSOR) is not None
    # ...is continued by the next, which does only the rest.
    seen: list[tuple[int, int]] = []
    stats = update_keywords(db, settings, batch=2, progress=lambda d, t: seen.append((d, t)))
    assert (stats.examined, stats.computed) == (3, 3)
    assert seen and seen[-1][0] == seen[-1][1]
    with db.reader() as session:
        papers_with = session.scalar(select(func.count(func.distinct(PaperKeyword.paper_id))))
    assert papers_with == 5


def test_deleting_a_paper_deletes_its_keywords(db: Database, settings: Settings) -> None:
    with db.transaction() as session:
        upsert_papers(session, [PaperRecord(title=TITLE, abstract=ABSTRACT, arxiv_id="2403.00001")])
    update_keywords(db, settings)
    assert _count(db) > 0
    with db.transaction() as session:
        session.delete(session.scalars(select(Paper)).one())
    assert _count(db) == 0
