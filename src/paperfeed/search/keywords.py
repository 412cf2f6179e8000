"""Keywords of a paper, from its title and abstract, kept as derived data.

Two established methods are implemented and compared by `bench/keywords.py` (see
docs/keywords.md for how they were judged and the numbers):

- YAKE (`yake`, Campos et al. 2020): statistics of the text itself (term position,
  frequency, casing, spread over sentences), no model. The one the worker runs.
- embedding similarity, as KeyBERT does it, with the model search already runs: candidate
  n-grams of 1-3 words (no stopword at either end), each embedded, ranked by cosine to the
  document's embedding, five picked by maximal marginal relevance for diversity.

`update_keywords` follows the papers' change sequence from a cursor in `ingest_cursors`,
one transaction per batch, so a killed run resumes where it stopped; a paper whose title
and abstract did not change (a vote, a moderation flag) keeps its keywords (the rows hold
the hash of the text they were computed from).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper, PaperKeyword
from paperfeed.papers.derived import Progress, Write, follow_changes
from paperfeed.papers.store import touch_enrichment
from paperfeed.search.embeddings import document_text, text_hash

METHOD = "yake"
CURSOR = f"keywords:{METHOD}"
COUNT = 5  # keywords kept per paper
MAX_WORDS = 3
MAX_LENGTH = 100  # characters; longer "keywords" are not tags
_WORD = re.compile(r"[^\W_][\w\-']*[\w]|[^\W_]", re.UNICODE)


@cache
def stopwords() -> frozenset[str]:
    """YAKE's English stopword list, which both methods use."""
    from importlib import resources

    path = resources.files("yake") / "core" / "StopwordsList" / "stopwords_en.txt"
    text = path.read_bytes().decode("utf-8", errors="replace")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip())


@cache
def _yake() -> Any:
    import yake  # type: ignore[import-untyped]  # yake ships no type hints

    # More candidates than kept: the overlap filter below drops near-repeats.
    return yake.KeywordExtractor(lan="en", n=MAX_WORDS, top=COUNT * 4, dedupLim=0.7)


def _words(phrase: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(phrase)]


def _stem(word: str) -> str:
    """Enough of a stem to see "bandit" and "bandits" as one word."""
    for suffix in ("ies", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)] + ("y" if suffix == "ies" else "")
    return word


def select_distinct(
    ranked: Sequence[tuple[str, float]], count: int = COUNT
) -> list[tuple[str, float]]:
    """The first `count` phrases, skipping stopword-only, overlong and overlapping ones.

    A phrase overlaps a kept one when either's words (stemmed) are contained in the
    other's: "Large Language" after "Large Language Models", "bandits" after "bandit".
    """
    kept: list[tuple[str, float]] = []
    kept_words: list[set[str]] = []
    stop = stopwords()
    for phrase, score in ranked:
        phrase = " ".join(phrase.split())
        words = _words(phrase)
        if not words or len(phrase) > MAX_LENGTH or all(w in stop for w in words):
            continue
        if all(len(w) < 2 or w.isdigit() for w in words):
            continue
        stems = {_stem(w) for w in words}
        if any(stems <= other or other <= stems for other in kept_words):
            continue
        kept.append((phrase, float(score)))
        kept_words.append(stems)
        if len(kept) == count:
            break
    return kept


def extract(title: str, abstract: str, count: int = COUNT) -> list[tuple[str, float]]:
    """About `count` keywords of a paper, best first, with a score in (0, 1] (higher better).

    YAKE's own score is lower-is-better and unbounded; 1 / (1 + score) turns it around.
    """
    text = document_text(" ".join(title.split()), " ".join(abstract.split()))
    if not _words(text):
        return []
    ranked = _yake().extract_keywords(text)
    return select_distinct([(p, 1.0 / (1.0 + s)) for p, s in ranked], count)


# --- the embedding-similarity method (compared in bench/keywords.py) -----------------------


class Encoder(Protocol):
    def encode(self, texts: Sequence[str], batch_size: int = ...) -> np.ndarray: ...


def candidates(text: str, max_words: int = MAX_WORDS) -> list[str]:
    """Distinct 1-3 word n-grams within a sentence, neither starting nor ending on a stopword."""
    stop = stopwords()
    seen: dict[str, str] = {}
    for sentence in re.split(r"[.;:!?()\[\]]+\s*", text):
        words = _WORD.findall(sentence)
        for i in range(len(words)):
            for n in range(1, max_words + 1):
                gram = words[i : i + n]
                if len(gram) < n:
                    break
                if gram[0].lower() in stop or gram[-1].lower() in stop:
                    continue
                if all(len(w) < 3 or w.isdigit() for w in gram):
                    continue
                phrase = " ".join(gram)
                seen.setdefault(phrase.lower(), phrase)
    return list(seen.values())


def extract_embedding(
    title: str,
    abstract: str,
    encoder: Encoder,
    count: int = COUNT,
    diversity: float = 0.5,
    document: np.ndarray | None = None,
) -> list[tuple[str, float]]:
    """KeyBERT's method: candidates by cosine to the document, picked by MMR.

    `document` is the paper's stored vector if there is one (else it is computed).
    """
    text = document_text(" ".join(title.split()), " ".join(abstract.split()))
    phrases = candidates(text)
    if not phrases:
        return []
    vectors = encoder.encode(phrases)
    doc = document if document is not None else encoder.encode([text])[0]
    relevance = vectors @ doc
    similarity = vectors @ vectors.T
    chosen: list[int] = [int(np.argmax(relevance))]
    pool = set(range(len(phrases))) - set(chosen)
    # A larger pool than kept: select_distinct then drops overlapping n-grams.
    while pool and len(chosen) < count * 3:
        rest = sorted(pool)
        redundancy = similarity[np.ix_(rest, chosen)].max(axis=1)
        mmr = (1 - diversity) * relevance[rest] - diversity * redundancy
        best = rest[int(np.argmax(mmr))]
        chosen.append(best)
        pool.discard(best)
    return select_distinct([(phrases[i], float(relevance[i])) for i in chosen], count)


# --- stored keywords -------------------------------------------------------------------------


@dataclass
class KeywordStats:
    examined: int = 0
    computed: int = 0


def update_keywords(
    db: Database,
    settings: Settings | None = None,
    batch: int | None = None,
    progress: Progress | None = None,
    limit: int | None = None,
) -> KeywordStats:
    """Compute keywords for every paper changed since the last run whose text is new or
    different; resumable (one transaction per batch, cursor saved with it)."""
    stats = KeywordStats()

    def step(papers: Sequence[Any]) -> Write:
        with db.reader() as session:
            known = dict(
                session.execute(
                    select(PaperKeyword.paper_id, PaperKeyword.text_hash).where(
                        PaperKeyword.paper_id.in_([p.id for p in papers]),
                        PaperKeyword.position == 0,
                    )
                ).all()
            )
        hashes = {p.id: text_hash(document_text(p.title, p.abstract)) for p in papers}
        todo = [p.id for p in papers if known.get(p.id) != hashes[p.id]]
        computed = {pid: extract(p.title, p.abstract) for p in papers if (pid := p.id) in todo}
        stats.computed += len(todo)

        def write(session: Session) -> None:
            if not todo:
                return
            session.execute(delete(PaperKeyword).where(PaperKeyword.paper_id.in_(todo)))
            session.add_all(
                PaperKeyword(
                    paper_id=pid, position=i, keyword=phrase, score=score, text_hash=hashes[pid]
                )
                for pid, keywords in computed.items()
                for i, (phrase, score) in enumerate(keywords)
            )
            touch_enrichment(session)  # pages show them: revalidate, do not re-index

        return write

    size = batch or (settings.keywords_batch if settings else 500)
    columns = (Paper.id, Paper.title, Paper.abstract)
    stats.examined = follow_changes(db, CURSOR, columns, size, step, progress, limit)
    return stats
