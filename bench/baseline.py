"""The pinned baseline that paperfeed's ranking is measured against.

Reciprocal-rank fusion (k = 60, the top 100 of each list) of
  (a) BM25 (k1 = 1.2, b = 0.75) over the title counted three times plus the abstract, the
      words analyzed by paperfeed's own tokenizer and stemmer (`lexical.text_analyzer`:
      tantivy's simple tokenizer, lowercase, ASCII folding, English stemmer), and
  (b) all-MiniLM-L6-v2 fp32 cosine over "title. abstract" (`embeddings.document_text`,
      truncated at the model's 256 word pieces by the embedder),
with no floors, filters, exact-title rules or other extras. It is fixed on purpose: a
number only means something next to a reference that does not move when search changes.

BM25 is written out here with numpy instead of read from tantivy: tantivy's scores depend on
the field boosts and the per-field length norms of paperfeed's schema, which are the things
being compared. The idf is Lucene's (and tantivy's): ln(1 + (N - n + 0.5) / (n + 0.5)).
The query goes through the same analysis as the papers (it has no stop-word list, so
neither has the query), each distinct token counted once.
The vectors are embedded separately at full precision: the site stores float16 vectors,
from the int8 model under `--int8`, so they are not the pinned ones.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from paperfeed.search.embeddings import document_text, normalize
from paperfeed.search.lexical import text_analyzer

K1 = 1.2
B = 0.75
TITLE_REPEAT = 3
RRF_K = 60
DEPTH = 100  # each list's top 100 enter the fusion

Tokenize = Callable[[str], list[str]]


def paperfeed_tokens() -> Tokenize:
    """paperfeed's analysis of paper text (the keyword index's title and abstract fields)."""
    analyzer = text_analyzer()
    return lambda text: list(analyzer.analyze(text))


def document_tokens(tokenize: Tokenize, title: str, abstract: str) -> list[str]:
    """A paper's BM25 document: the title's tokens three times, then the abstract's."""
    return tokenize(title) * TITLE_REPEAT + tokenize(abstract)


class Bm25:
    """Okapi BM25 over a fixed list of documents (token lists), scored exhaustively."""

    def __init__(self, documents: Sequence[Sequence[str]], k1: float = K1, b: float = B) -> None:
        self.k1, self.b = k1, b
        self.size = len(documents)
        self.lengths = np.array([len(d) for d in documents], dtype=np.float64)
        self.average = float(self.lengths.mean()) if self.size else 0.0
        # term -> (document numbers, frequencies in them)
        postings: dict[str, tuple[list[int], list[int]]] = {}
        for number, document in enumerate(documents):
            for term, count in Counter(document).items():
                docs, counts = postings.setdefault(term, ([], []))
                docs.append(number)
                counts.append(count)
        self.postings = {
            term: (np.array(docs, dtype=np.int64), np.array(counts, dtype=np.float64))
            for term, (docs, counts) in postings.items()
        }

    def idf(self, term: str) -> float:
        found = len(self.postings[term][0]) if term in self.postings else 0
        return math.log(1 + (self.size - found + 0.5) / (found + 0.5))

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """Every document's score; each distinct query term counts once."""
        out = np.zeros(self.size, dtype=np.float64)
        if not self.size:
            return out
        norm = self.k1 * (1 - self.b + self.b * self.lengths / self.average)
        for term in dict.fromkeys(query):
            if term not in self.postings:
                continue
            docs, tf = self.postings[term]
            out[docs] += self.idf(term) * tf * (self.k1 + 1) / (tf + norm[docs])
        return out

    def top(self, query: Sequence[str], n: int = DEPTH) -> list[int]:
        """The best `n` documents that contain a query term, best first (ties: lower
        document number first)."""
        scores = self.scores(query)
        matched = np.flatnonzero(scores > 0)
        order = matched[np.lexsort((matched, -scores[matched]))]
        return [int(i) for i in order[:n]]


def cosine_top(vectors: np.ndarray, query: np.ndarray, n: int = DEPTH) -> list[int]:
    """The `n` rows nearest the query by cosine (rows and query are unit vectors), no floor."""
    if not len(vectors):
        return []
    sims = vectors @ query
    order = np.lexsort((np.arange(len(sims)), -sims))
    return [int(i) for i in order[:n]]


def rrf(lists: Sequence[Sequence[str]], k: int = RRF_K, depth: int = DEPTH) -> list[str]:
    """Reciprocal-rank fusion: each id scores sum of 1 / (k + rank) over the lists it is in
    (ranks from 1, each list cut at `depth`). Ties keep the order of first appearance
    (the first list's order first)."""
    scores: dict[str, float] = {}
    for ranked in lists:
        for rank, key in enumerate(ranked[:depth], start=1):
            scores[key] = scores.get(key, 0.0) + 1 / (k + rank)
    first_seen = {key: i for i, key in enumerate(scores)}
    return sorted(scores, key=lambda key: (-scores[key], first_seen[key]))


@dataclass
class Corpus:
    """The papers the baseline ranks: ids, BM25 over their text, fp32 unit vectors."""

    ids: list[str]
    bm25: Bm25
    vectors: np.ndarray
    tokenize: Tokenize
    embed_query: Callable[[str], np.ndarray]

    def bm25_ranking(self, query: str) -> list[str]:
        return [self.ids[i] for i in self.bm25.top(self.tokenize(query))]

    def minilm_ranking(self, query: str) -> list[str]:
        return [self.ids[i] for i in cosine_top(self.vectors, self.embed_query(query))]

    def rankings(self, query: str) -> dict[str, list[str]]:
        """The baseline and its two legs, for one query."""
        lexical, vector = self.bm25_ranking(query), self.minilm_ranking(query)
        return {"baseline": rrf([lexical, vector]), "bm25": lexical, "minilm": vector}


class Encoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def build_corpus(
    papers: Sequence[tuple[str, str, str]], encoder: Encoder, vectors: np.ndarray | None = None
) -> Corpus:
    """The baseline over (id, title, abstract) rows; `vectors` are reused when given (one
    fp32 row per paper, in the same order), else every paper is embedded."""
    tokenize = paperfeed_tokens()
    bm25 = Bm25([document_tokens(tokenize, title, abstract) for _, title, abstract in papers])
    if vectors is None:
        vectors = encoder.encode([document_text(title, abstract) for _, title, abstract in papers])
    if len(vectors) != len(papers):
        raise ValueError(f"{len(vectors)} vectors for {len(papers)} papers")
    return Corpus(
        ids=[pid for pid, _, _ in papers],
        bm25=bm25,
        vectors=normalize(vectors),  # cosine: unit rows (the embedder's already are)
        tokenize=tokenize,
        embed_query=lambda text: normalize(encoder.encode([text]))[0],
    )
