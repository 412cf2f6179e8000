"""How good is search on the demo corpus: lexical, vector and hybrid, beside a pinned baseline?

The judged queries live in `bench/judgments/queries.jsonl` (138 queries of eight types:
topic, paraphrase, question, author, acronym, formula, typo, no-answer), each with graded
judgments (2 exactly on topic, 1 relevant, unlisted 0) written from reading the corpus
before any system's results were seen, and a `split`: tune on `dev`, report `test`. How
they were made: `bench/judgments/README.md`. (The older `bench/queries.json` was judged
from pools of paperfeed's own top results, which favours paperfeed's ranking; it is
retired.)

What one run does:

1. Builds the demo site in a temporary directory: a migrated SQLite database with both
   sample files loaded (the clock pinned to a fixed instant, so the feed days never
   change), then `run_index` with the real embedder: full precision by default, the
   per-channel int8 model with `--int8`. Queries go through `SearchRuntime`, exactly as
   the web page and the CLI do.
2. Builds the pinned baseline over the same papers (`bench/baseline.py`): reciprocal-rank
   fusion (k = 60, top 100 of each list) of BM25 (k1 1.2, b 0.75, title x3 + abstract,
   paperfeed's tokenizer and stemmer) and all-MiniLM-L6-v2 fp32 cosine over
   "title. abstract", with no floors or filters. It is the same under `--int8` and `--set`.
3. Checks the judgments: every judged id must exist, with the title written next to it.
4. Runs every query through `search()` in each mode (lexical, vector, hybrid), one page of
   20, and through the baseline and its two legs (bm25, minilm), and scores the ranking:
   - nDCG@10: DCG = sum over ranks i = 1..10 of grade / log2(i + 1), divided by the DCG
     of the ideal order of the judged papers (grades sorted, best first).
   - recall@20: the fraction of judged papers (any grade) among the first 20.
   Both are means over the queries that have a relevant paper, per split, overall and per
   query type. nDCG is undefined for no-answer queries: for them the share that return
   at most three results (the total the search reports, the count a user sees; the fused
   list's length for the baseline) and their mean result count.
5. Known-item search: every paper's exact title, searched in hybrid mode, must put that
   paper first (target: at least 99% of papers). Failures are listed. The same with only
   the first five words of each title is reported too, without a target.

Run it from the project root:

    .venv/bin/python -m bench.search_quality               # full precision model
    .venv/bin/python -m bench.search_quality --int8        # the quantized model
    .venv/bin/python -m bench.search_quality --split dev   # the half to tune on
    .venv/bin/python -m bench.search_quality --smoke       # 2 queries per type and split
    .venv/bin/python -m bench.search_quality --json out.json
    .venv/bin/python -m bench.search_quality --per-query   # every query, every system
    .venv/bin/python -m bench.search_quality --set relevance.KEYWORD_WEIGHT=0.3 --split dev

`--smoke` still embeds the whole corpus (most of the run time) but scores only two
queries of each type and every tenth paper's title. `--dir` keeps the built site (one
subdirectory per model, with the baseline's vectors) and a later run reuses it. `--set`
overrides a ranking constant of `paperfeed.search.engine` or `paperfeed.search.lexical`
for this run only, to measure a change before making it (tune on `--split dev` only).
With `--check` the exit status is 2 when, on the test half (the dev half if only that
was run), hybrid does not beat both other modes on nDCG@10, has a lower recall@20 than
either, is not 0.05 nDCG@10 above the baseline, or known-item search is below 99%. It is
1 when the judgments do not match the corpus.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select

from bench import baseline
from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.papers.ids import normalize_title
from paperfeed.search import engine, lexical, relevance
from paperfeed.search.embeddings import document_text, text_hash
from paperfeed.search.engine import Mode, QueryEmbeddings, SearchRequest, search
from paperfeed.search.index import SearchIndex
from paperfeed.search.indexing import run_index
from paperfeed.search.runtime import SearchRuntime

LABELS = Path(__file__).with_name("judgments") / "queries.jsonl"
# The test suite's instant (tests/conftest.py): the demo's feed days are then fixed.
FIXED_NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
MODES: tuple[Mode, ...] = ("lexical", "vector", "hybrid")
BASELINE_SYSTEMS = ("baseline", "bm25", "minilm")
SYSTEMS = (*MODES, *BASELINE_SYSTEMS)
NO_ANSWER = "no-answer"
QUERY_TYPES = (
    "topic",
    "paraphrase",
    "question",
    "author",
    "acronym",
    "formula",
    "typo",
    NO_ANSWER,
)
SPLITS = ("dev", "test")
PAGE = 20
NDCG_DEPTH = 10
RECALL_DEPTH = 20
FEW_RESULTS = 3  # a no-answer query does well when it returns at most this many
KNOWN_ITEM_TARGET = 0.99
BASELINE_MARGIN = 0.05  # hybrid nDCG@10 above the baseline's, on the test half
SMOKE_PER_TYPE = 2
SMOKE_KNOWN_ITEM_STRIDE = 10
PARTIAL_TITLE_WORDS = 5
BASELINE_VECTORS = "baseline-vectors.npz"
TUNABLE = {"engine": engine, "lexical": lexical, "relevance": relevance}


@dataclass(frozen=True)
class LabelledQuery:
    id: str
    query: str
    type: str
    split: str
    grades: dict[str, int]  # public id -> 2 or 1; empty for a no-answer query
    titles: dict[str, str]


@dataclass
class Site:
    """The demo site under test, with what building it cost."""

    db: Database
    settings: Settings
    index: SearchIndex
    embed: QueryEmbeddings
    model_id: str
    seconds: dict[str, float] = field(default_factory=dict)
    baseline: baseline.Corpus | None = None


@dataclass
class QueryScore:
    id: str
    query: str
    type: str
    split: str
    system: str
    ndcg: float | None  # None for a no-answer query
    recall: float | None
    total: int  # results the system reports (a user sees this count)
    top: list[str]


@dataclass
class KnownItem:
    checked: int
    first: int
    failures: list[dict[str, Any]]

    @property
    def rate(self) -> float:
        return self.first / self.checked if self.checked else 0.0


# --- labels ------------------------------------------------------------------------------


def load_labels(path: Path = LABELS) -> list[LabelledQuery]:
    """The judged queries, one JSON object a line (see bench/judgments/README.md)."""
    queries = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        name = f"{item['id']} {item['query']!r}"
        if item["type"] not in QUERY_TYPES:
            raise ValueError(f"{name} has unknown type {item['type']!r}")
        if item["split"] not in SPLITS:
            raise ValueError(f"{name} has unknown split {item['split']!r}")
        grades = {str(pid): int(grade) for pid, grade in item["relevant"].items()}
        if (item["type"] == NO_ANSWER) == bool(grades):
            raise ValueError(f"{name}: only no-answer queries have no relevant paper")
        if set(item["titles"]) != set(grades):
            raise ValueError(f"{name}: titles and relevant name different papers")
        queries.append(
            LabelledQuery(
                item["id"], item["query"], item["type"], item["split"], grades, item["titles"]
            )
        )
    return queries


def in_split(labels: Sequence[LabelledQuery], split: str) -> list[LabelledQuery]:
    """The queries of one half ('dev' or 'test'), or all of them ('both')."""
    return [q for q in labels if split == "both" or q.split == split]


def smoke_subset(labels: Sequence[LabelledQuery]) -> list[LabelledQuery]:
    """The first few queries of each type in each half: every path works, in seconds."""
    picked: list[LabelledQuery] = []
    for split in SPLITS:
        for kind in QUERY_TYPES:
            picked.extend(
                [q for q in labels if q.type == kind and q.split == split][:SMOKE_PER_TYPE]
            )
    return picked


def check_labels(db: Database, labels: Sequence[LabelledQuery]) -> list[str]:
    """Problems with the labels: unknown ids, or a title that is not that paper's title.

    A mistyped id would silently count as a miss for every mode, so it must fail loudly.
    """
    with db.reader() as session:
        titles = dict(session.execute(select(Paper.public_id, Paper.title)).all())
    problems = []
    for query in labels:
        for pid, title in query.titles.items():
            if pid not in titles:
                problems.append(f"{query.query!r}: no paper {pid} ({title})")
            elif normalize_title(titles[pid]) != normalize_title(title):
                problems.append(f"{query.query!r}: {pid} is {titles[pid]!r}, not {title!r}")
    return problems


# --- metrics -----------------------------------------------------------------------------


def dcg(gains: Sequence[float]) -> float:
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def ndcg_at(ranked: Sequence[str], grades: dict[str, int], k: int = NDCG_DEPTH) -> float:
    """Graded nDCG@k; the ideal ranking is the labelled papers, best grades first."""
    ideal = dcg(sorted(grades.values(), reverse=True)[:k])
    if ideal == 0:
        return 0.0
    return dcg([grades.get(pid, 0) for pid in ranked[:k]]) / ideal


def recall_at(ranked: Sequence[str], grades: dict[str, int], k: int = RECALL_DEPTH) -> float:
    """Share of the labelled papers (any grade) among the first k results."""
    if not grades:
        return 0.0
    return len(set(ranked[:k]) & grades.keys()) / len(grades)


# --- the site ----------------------------------------------------------------------------


@contextmanager
def demo_site(
    workdir: Path | None = None, quantize: bool = False, with_baseline: bool = True
) -> Iterator[Site]:
    """The demo corpus in a SQLite database, embedded and indexed for real, and (unless
    `with_baseline` is false) the pinned baseline over the same papers.

    A kept `workdir` gets one subdirectory per model: both models store their vectors
    under the same name, so a site built with one must not be searched with the other.
    """
    own_dir = workdir is None
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix="pf-quality-"))
    else:
        root = workdir / ("int8" if quantize else "fp32")
    root.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{root / 'quality.sqlite3'}"
    settings = Settings(
        data_dir=root, database_url=url, secret_key="bench", embedding_int8=quantize
    )
    db = Database(url)
    seconds: dict[str, float] = {}
    try:
        with clock.frozen(FIXED_NOW):
            started = time.perf_counter()
            db.upgrade()
            load_demo(db, settings.tz)
            seconds["load"] = time.perf_counter() - started
            started = time.perf_counter()
            run_index(db, settings)
            seconds["index"] = time.perf_counter() - started
        started = time.perf_counter()
        runtime = SearchRuntime(settings, db)
        index = runtime.index()
        embed = runtime.embeddings()
        if index is None or embed is None:
            raise RuntimeError("the search index or the embedding model did not load")
        seconds["open"] = time.perf_counter() - started
        site = Site(db, settings, index, embed, embed.encoder.model_id, seconds)
        if with_baseline:
            started = time.perf_counter()
            site.baseline = build_baseline(db, settings, root / BASELINE_VECTORS)
            seconds["baseline"] = time.perf_counter() - started
        yield site
    finally:
        db.dispose()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def build_baseline(db: Database, settings: Settings, cache: Path) -> baseline.Corpus:
    """The pinned baseline over the site's papers, with a full-precision model of its own.

    Its paper vectors are kept in `cache` (with each text's hash) so a kept `--dir`
    embeds them once.
    """
    from paperfeed.search.embedder import load_embedder

    with db.reader() as session:
        rows = session.execute(
            select(Paper.public_id, Paper.title, Paper.abstract).order_by(Paper.id)
        ).all()
    papers = [(pid, title, abstract or "") for pid, title, abstract in rows]
    encoder = load_embedder(
        settings.embedding_model, quantize=False, cache_dir=settings.data_dir / "models"
    )
    hashes = np.array([text_hash(document_text(title, abstract)) for _, title, abstract in papers])
    vectors = None
    if cache.is_file():
        with np.load(cache) as stored:
            if str(stored["model"]) == encoder.model_id and np.array_equal(
                stored["hashes"], hashes
            ):
                vectors = stored["vectors"]
    corpus = baseline.build_corpus(papers, encoder, vectors)
    if vectors is None:
        np.savez(cache, model=encoder.model_id, hashes=hashes, vectors=corpus.vectors)
    return corpus


def ranked_ids(site: Site, query: str, mode: Mode, per_page: int = PAGE) -> list[str]:
    return run_query(site, query, mode, per_page)[0]


def run_query(site: Site, query: str, mode: Mode, per_page: int = PAGE) -> tuple[list[str], int]:
    """One page of results of paperfeed's search, and the total it reports."""
    with site.db.reader() as session:
        result = search(
            session, site.index, site.embed, SearchRequest(q=query, per_page=per_page, mode=mode)
        )
        return [hit.paper.public_id for hit in result.hits], result.total


# --- evaluation --------------------------------------------------------------------------


def score(query: LabelledQuery, system: str, ranked: list[str], total: int) -> QueryScore:
    answered = bool(query.grades)
    return QueryScore(
        id=query.id,
        query=query.query,
        type=query.type,
        split=query.split,
        system=system,
        ndcg=ndcg_at(ranked, query.grades) if answered else None,
        recall=recall_at(ranked, query.grades) if answered else None,
        total=total,
        top=ranked[:NDCG_DEPTH],
    )


def evaluate(
    site: Site, labels: Sequence[LabelledQuery], modes: Sequence[Mode] = MODES
) -> list[QueryScore]:
    """Every query through each of paperfeed's modes and, if the site has it, the baseline
    and its two legs."""
    scores = []
    for query in labels:
        for mode in modes:
            ranked, total = run_query(site, query.query, mode)
            scores.append(score(query, mode, ranked, total))
        if site.baseline is not None:
            for system, ranked in site.baseline.rankings(query.query).items():
                scores.append(score(query, system, ranked[:PAGE], len(ranked)))
    return scores


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _aggregate(scores: Sequence[QueryScore]) -> dict[str, Any]:
    answered = [s for s in scores if s.ndcg is not None]
    empty = [s for s in scores if s.ndcg is None]
    row: dict[str, Any] = {
        "queries": len(answered),
        "ndcg@10": mean([s.ndcg for s in answered if s.ndcg is not None]),
        "recall@20": mean([s.recall for s in answered if s.recall is not None]),
    }
    if empty:
        row["no_answer"] = {
            "queries": len(empty),
            f"at_most_{FEW_RESULTS}": mean([float(s.total <= FEW_RESULTS) for s in empty]),
            "mean_results": mean([float(s.total) for s in empty]),
        }
    return row


def summarize(scores: Sequence[QueryScore]) -> dict[str, dict[str, Any]]:
    """Per system: mean nDCG@10 and recall@20 over the queries with an answer, and the
    no-answer measures, overall and per query type (mix the halves only knowingly)."""
    summary: dict[str, dict[str, Any]] = {}
    for system in dict.fromkeys(s.system for s in scores):
        mine = [s for s in scores if s.system == system]
        row = _aggregate(mine)
        # The baseline reads no author names, so author queries alone can put a system
        # ahead of it: the comparison without them shows what the rest is worth.
        others = _aggregate([s for s in mine if s.type != "author"])
        row["without_author"] = {k: others[k] for k in ("queries", "ndcg@10", "recall@20")}
        row["by_type"] = {
            kind: _aggregate(typed)
            for kind in QUERY_TYPES
            if (typed := [s for s in mine if s.type == kind])
        }
        summary[system] = row
    return summary


def summarize_splits(scores: Sequence[QueryScore]) -> dict[str, dict[str, dict[str, Any]]]:
    """`summarize` for each half that was run, dev first."""
    return {
        split: summarize(mine)
        for split in SPLITS
        if (mine := [s for s in scores if s.split == split])
    }


def known_item(site: Site, stride: int = 1, words: int | None = None) -> KnownItem:
    """Each paper's title (or its first `words` words) as the query, in hybrid mode: is
    that paper the first result?"""
    with site.db.reader() as session:
        papers = session.execute(select(Paper.public_id, Paper.title).order_by(Paper.id)).all()
    papers = papers[::stride]
    failures = []
    for public_id, title in papers:
        query = title if words is None else " ".join(title.split()[:words])
        ranked = ranked_ids(site, query, "hybrid", per_page=10)
        if not ranked or ranked[0] != public_id:
            rank = ranked.index(public_id) + 1 if public_id in ranked else None
            failures.append({"id": public_id, "query": query, "rank": rank, "first": ranked[:1]})
    return KnownItem(len(papers), len(papers) - len(failures), failures)


def verdict(splits: dict[str, dict[str, dict[str, Any]]], items: KnownItem) -> list[str]:
    """The targets of the search work that are missed (empty when all are met), judged on
    the test half (the dev half when only that was run)."""
    missed = []
    half = "test" if "test" in splits else "dev"
    summary = splits.get(half, {})
    hybrid = summary.get("hybrid")
    for other in ("lexical", "vector"):
        if hybrid is None or other not in summary:
            continue
        if hybrid["ndcg@10"] <= summary[other]["ndcg@10"]:
            missed.append(f"{half}: hybrid nDCG@10 does not beat {other}")
        if hybrid["recall@20"] < summary[other]["recall@20"]:
            missed.append(f"{half}: hybrid recall@20 is below {other}")
    if hybrid is not None and "baseline" in summary:
        gain = hybrid["ndcg@10"] - summary["baseline"]["ndcg@10"]
        if gain < BASELINE_MARGIN:
            missed.append(
                f"{half}: hybrid nDCG@10 is {gain:+.3f} from the baseline "
                f"(target +{BASELINE_MARGIN:.2f})"
            )
    if items.rate < KNOWN_ITEM_TARGET:
        missed.append(f"known-item first {items.rate:.1%} < {KNOWN_ITEM_TARGET:.0%}")
    return missed


# --- overrides ---------------------------------------------------------------------------


def parse_override(text: str) -> tuple[Any, str, Any]:
    """`relevance.KEYWORD_WEIGHT=0.3` -> (module, name, value); only existing constants."""
    target, sep, raw = text.partition("=")
    module_name, _, name = target.partition(".")
    if not sep or module_name not in TUNABLE or not name:
        raise argparse.ArgumentTypeError(
            f"expected MODULE.NAME=VALUE with MODULE one of {sorted(TUNABLE)}, got {text!r}"
        )
    module = TUNABLE[module_name]
    if not hasattr(module, name):
        raise argparse.ArgumentTypeError(f"{module_name} has no {name}")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        raise argparse.ArgumentTypeError(f"{raw!r} is not a Python literal") from None
    return module, name, value


@contextmanager
def overridden(overrides: Sequence[tuple[Any, str, Any]]) -> Iterator[None]:
    saved = [(module, name, getattr(module, name)) for module, name, _ in overrides]
    for module, name, value in overrides:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in reversed(saved):
            setattr(module, name, value)


# --- output ------------------------------------------------------------------------------


def _cell(row: dict[str, Any] | None) -> str:
    """nDCG@10 and recall@20, or for no-answer queries the share with at most three
    results and their mean count."""
    if row is None:
        return f"{'':>13}"
    if row["queries"]:
        return f"{row['ndcg@10']:>6.3f} {row['recall@20']:>6.3f}"
    empty = row["no_answer"]
    return f"{empty[f'at_most_{FEW_RESULTS}']:>6.0%} {empty['mean_results']:>6.1f}"


def print_split(
    split: str,
    labels: Sequence[LabelledQuery],
    summary: dict[str, dict[str, Any]],
    scores: Sequence[QueryScore],
    per_query: bool,
) -> None:
    mine = [q for q in labels if q.split == split]
    answered = sum(1 for q in mine if q.grades)
    systems = list(summary)
    print(f"{split} half: {len(mine)} queries, {answered} with a relevant paper")
    print()
    print(
        f"{'system':<9} | {'nDCG@10':>7} | {'recall@20':>9} | "
        f"{f'no-answer <={FEW_RESULTS}':>13} | {'mean results':>12} | {'nDCG w/o author':>15}"
    )
    print(f"{'-' * 9}-+-{'-' * 7}-+-{'-' * 9}-+-{'-' * 13}-+-{'-' * 12}-+-{'-' * 15}")
    for system, row in summary.items():
        empty = row.get("no_answer")
        share = f"{empty[f'at_most_{FEW_RESULTS}']:>13.0%}" if empty else f"{'':>13}"
        results = f"{empty['mean_results']:>12.1f}" if empty else f"{'':>12}"
        print(
            f"{system:<9} | {row['ndcg@10']:>7.3f} | {row['recall@20']:>9.3f} | "
            f"{share} | {results} | {row['without_author']['ndcg@10']:>15.3f}"
        )
    if "hybrid" in summary and "baseline" in summary:
        gain = summary["hybrid"]["ndcg@10"] - summary["baseline"]["ndcg@10"]
        plain = (
            summary["hybrid"]["without_author"]["ndcg@10"]
            - summary["baseline"]["without_author"]["ndcg@10"]
        )
        print(f"hybrid - baseline nDCG@10: {gain:+.3f} (without author queries: {plain:+.3f})")
    print()
    print(
        f"per type: nDCG@10 recall@20 (no-answer: share with <={FEW_RESULTS} results, mean count)"
    )
    print(f"{'type':<10} {'n':>3} | " + " | ".join(f"{m:^13}" for m in systems))
    for kind in QUERY_TYPES:
        n = sum(1 for q in mine if q.type == kind)
        if n:
            cells = [_cell(summary[m]["by_type"].get(kind)) for m in systems]
            print(f"{kind:<10} {n:>3} | " + " | ".join(cells))
    if per_query:
        print()
        print(f"{'query':<44} | " + " | ".join(f"{m:^13}" for m in systems))
        by_key = {(s.id, s.system): s for s in scores}
        for query in mine:
            cells = []
            for system in systems:
                s = by_key[(query.id, system)]
                if s.ndcg is None:
                    cells.append(f"{'n=' + str(s.total):>13}")
                else:
                    cells.append(f"{s.ndcg:>6.3f} {s.recall or 0:>6.3f}")
            text = f"{query.id} {query.query}"[:44]
            print(f"{text:<44} | " + " | ".join(cells))
    print()


def print_report(
    site: Site,
    labels: Sequence[LabelledQuery],
    scores: Sequence[QueryScore],
    items: KnownItem,
    partial: KnownItem,
    per_query: bool,
) -> None:
    splits = summarize_splits(scores)
    seconds = ", ".join(f"{name} {value:.1f}s" for name, value in site.seconds.items())
    print(f"model {site.model_id}; baseline all-MiniLM-L6-v2 fp32 + BM25, RRF k=60; {seconds}")
    print()
    for split, summary in splits.items():
        print_split(split, labels, summary, scores, per_query)
    print(
        f"known-item (exact title, hybrid): {items.first}/{items.checked} first "
        f"= {items.rate:.2%} (target {KNOWN_ITEM_TARGET:.0%})"
    )
    for failure in items.failures:
        rank = failure["rank"] or ">10"
        print(f"  rank {rank}: {failure['id']} {failure['query'][:90]}")
    print(
        f"known-item (first {PARTIAL_TITLE_WORDS} title words, hybrid, no target): "
        f"{partial.first}/{partial.checked} first = {partial.rate:.2%}"
    )
    missed = verdict(splits, items)
    print()
    print("targets met" if not missed else "targets missed: " + "; ".join(missed))


def json_report(
    site: Site,
    labels: Sequence[LabelledQuery],
    scores: Sequence[QueryScore],
    items: KnownItem,
    partial: KnownItem,
    overrides: Sequence[str],
) -> dict[str, Any]:
    splits = summarize_splits(scores)
    return {
        "model": site.model_id,
        "baseline": {
            "fusion": f"RRF k={baseline.RRF_K}, top {baseline.DEPTH} of each list",
            "bm25": f"k1={baseline.K1}, b={baseline.B}, title x{baseline.TITLE_REPEAT} + abstract",
            "vectors": "all-MiniLM-L6-v2 fp32 cosine over 'title. abstract', 256 word pieces",
        },
        "queries": len(labels),
        "overrides": list(overrides),
        "seconds": site.seconds,
        "splits": splits,
        "known_item": {
            "checked": items.checked,
            "first": items.first,
            "rate": items.rate,
            "failures": items.failures,
        },
        "known_item_partial_title": {
            "words": PARTIAL_TITLE_WORDS,
            "checked": partial.checked,
            "first": partial.first,
            "rate": partial.rate,
        },
        "targets_missed": verdict(splits, items),
        "per_query": [asdict(s) for s in scores],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/search_quality.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--int8", action="store_true", help="use the quantized model")
    parser.add_argument(
        "--smoke", action="store_true", help="two queries per type and half only, for CI"
    )
    parser.add_argument(
        "--split",
        choices=("dev", "test", "both"),
        default="both",
        help="which half of the judged queries to run (tune on dev only)",
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write the full results as JSON ('-' for stdout)"
    )
    parser.add_argument("--labels", type=Path, default=LABELS, help="judged queries (JSON lines)")
    parser.add_argument("--dir", type=Path, help="build the site here, keep it, reuse it")
    parser.add_argument("--per-query", action="store_true", help="print every query's scores")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="MODULE.NAME=VALUE",
        help="override a ranking constant of engine or lexical for this run",
    )
    parser.add_argument("--check", action="store_true", help="exit 2 if a target is missed")
    args = parser.parse_args(argv)
    try:
        overrides = [parse_override(text) for text in args.overrides]
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))

    labels = in_split(load_labels(args.labels), args.split)
    if args.smoke:
        labels = smoke_subset(labels)
    with demo_site(args.dir, quantize=args.int8) as site, overridden(overrides):
        problems = check_labels(site.db, labels)
        if problems:
            print("the labels do not match the corpus:", *problems, sep="\n  ", file=sys.stderr)
            return 1
        scores = evaluate(site, labels)
        stride = SMOKE_KNOWN_ITEM_STRIDE if args.smoke else 1
        items = known_item(site, stride)
        partial = known_item(site, stride, words=PARTIAL_TITLE_WORDS)
        to_stdout = args.json == "-"
        if not to_stdout:
            print_report(site, labels, scores, items, partial, args.per_query)
        if args.json:
            report = json_report(site, labels, scores, items, partial, args.overrides)
            text = json.dumps(report, indent=2)
            if to_stdout:
                print(text)
            else:
                Path(args.json).write_text(text + "\n")
        missed = verdict(summarize_splits(scores), items)
    return 2 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
