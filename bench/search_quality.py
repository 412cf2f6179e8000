"""How good is search on the bundled sample corpus: lexical vs vector vs hybrid?

The labelled queries live in `bench/queries.json`: topics ("speculative decoding"),
paraphrases that share few words with the papers they should find ("making LLM inference
cheaper and faster"), author names from the arXiv sample ("Maxim Yurkin") and a few mixed
ones ("Grabec physical laws"). Each query lists its relevant papers with a grade: 2 for
exactly on topic (or, for an author query, written by that person), 1 for relevant;
every other paper counts as not relevant. The grades were judged by reading titles and
abstracts of a pool made from keyword scans of the corpus and the top 20 of every mode.

What one run does:

1. Builds the demo site in a temporary directory: a migrated SQLite database with both
   sample files loaded (the clock pinned to a fixed instant, so the feed days never
   change), then `run_index` with the real embedder: full precision by default, the
   per-channel int8 model with `--int8`. Queries go through `SearchRuntime`, exactly as
   the web page and the CLI do.
2. Checks the labels: every labelled id must exist, with the title written next to it.
3. Runs every query through `search()` in each mode (lexical, vector, hybrid), one page of
   20, and scores the ranked ids:
   - nDCG@10: DCG = sum over ranks i = 1..10 of grade / log2(i + 1), divided by the DCG
     of the ideal order of the labelled papers (grades sorted, best first). 1.0 means the
     best possible first ten results; a relevant paper at rank 1 is worth twice one at
     rank 3.
   - recall@20: the fraction of labelled papers (any grade) on the first page of 20.
   Means are over queries, overall and per query type.
4. Known-item search: every paper's exact title, searched in hybrid mode, must put that
   paper first (target: at least 99% of papers). Failures are listed. The same with only
   the first five words of each title is reported too, without a target: people often
   paste part of a title, and no exact-title rule helps there.

Run it from the project root:

    .venv/bin/python -m bench.search_quality               # full precision model
    .venv/bin/python -m bench.search_quality --int8        # the quantized model
    .venv/bin/python -m bench.search_quality --smoke       # 2 queries per type (CI)
    .venv/bin/python -m bench.search_quality --json out.json
    .venv/bin/python -m bench.search_quality --per-query   # every query, every mode
    .venv/bin/python -m bench.search_quality --set engine.RRF_K=30 --set engine.MIN_SIMILARITY=0.25

`--smoke` still embeds the whole corpus (most of the run time) but scores only two
queries of each type and every tenth paper's title: it shows that every path works, but
eight queries are too few to judge the targets. `--dir` keeps the built site (one
subdirectory per model) and a later run reuses it. `--set` overrides a ranking constant of
`paperfeed.search.engine` or `paperfeed.search.lexical` for this run only, to measure a
change before making it. With `--check` the exit status is 2 when hybrid does not beat
both other modes on nDCG@10, has a lower recall@20 than either, or known-item search is
below 99%. It is 1 when the labels do not match the corpus.
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

from sqlalchemy import select

from paperfeed import clock
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.demo import load_demo
from paperfeed.models import Paper
from paperfeed.papers.ids import normalize_title
from paperfeed.search import engine, lexical
from paperfeed.search.engine import Mode, QueryEmbeddings, SearchRequest, search
from paperfeed.search.index import SearchIndex
from paperfeed.search.indexing import run_index
from paperfeed.search.runtime import SearchRuntime

LABELS = Path(__file__).with_name("queries.json")
# The test suite's instant (tests/conftest.py): the demo's feed days are then fixed.
FIXED_NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
MODES: tuple[Mode, ...] = ("lexical", "vector", "hybrid")
QUERY_TYPES = ("topic", "paraphrase", "author", "mixed")
PAGE = 20
NDCG_DEPTH = 10
RECALL_DEPTH = 20
KNOWN_ITEM_TARGET = 0.99
SMOKE_PER_TYPE = 2
SMOKE_KNOWN_ITEM_STRIDE = 10
PARTIAL_TITLE_WORDS = 5
TUNABLE = {"engine": engine, "lexical": lexical}


@dataclass(frozen=True)
class LabelledQuery:
    query: str
    type: str
    grades: dict[str, int]  # public id -> 2 or 1
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


@dataclass
class QueryScore:
    query: str
    type: str
    mode: str
    ndcg: float
    recall: float
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
    data = json.loads(path.read_text())
    queries = []
    for item in data["queries"]:
        grades: dict[str, int] = {}
        titles: dict[str, str] = {}
        for grade in ("2", "1"):
            for paper in item["relevant"].get(grade, []):
                if paper["id"] in grades:
                    raise ValueError(f"{item['query']!r} grades {paper['id']} twice")
                grades[paper["id"]] = int(grade)
                titles[paper["id"]] = paper["title"]
        if item["type"] not in QUERY_TYPES:
            raise ValueError(f"{item['query']!r} has unknown type {item['type']!r}")
        if not grades:
            raise ValueError(f"{item['query']!r} has no relevant paper")
        queries.append(LabelledQuery(item["query"], item["type"], grades, titles))
    return queries


def smoke_subset(labels: Sequence[LabelledQuery]) -> list[LabelledQuery]:
    """The first few queries of each type: enough to see every path work, in seconds."""
    picked: list[LabelledQuery] = []
    for kind in QUERY_TYPES:
        picked.extend([q for q in labels if q.type == kind][:SMOKE_PER_TYPE])
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
def demo_site(workdir: Path | None = None, quantize: bool = False) -> Iterator[Site]:
    """The demo corpus in a SQLite database, embedded and indexed for real.

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
        yield Site(db, settings, index, embed, embed.encoder.model_id, seconds)
    finally:
        db.dispose()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)


def ranked_ids(site: Site, query: str, mode: Mode, per_page: int = PAGE) -> list[str]:
    with site.db.reader() as session:
        result = search(
            session, site.index, site.embed, SearchRequest(q=query, per_page=per_page, mode=mode)
        )
        return [hit.paper.public_id for hit in result.hits]


# --- evaluation --------------------------------------------------------------------------


def evaluate(
    site: Site, labels: Sequence[LabelledQuery], modes: Sequence[Mode] = MODES
) -> list[QueryScore]:
    scores = []
    for query in labels:
        for mode in modes:
            ranked = ranked_ids(site, query.query, mode)
            scores.append(
                QueryScore(
                    query=query.query,
                    type=query.type,
                    mode=mode,
                    ndcg=ndcg_at(ranked, query.grades),
                    recall=recall_at(ranked, query.grades),
                    top=ranked[:NDCG_DEPTH],
                )
            )
    return scores


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summarize(scores: Sequence[QueryScore]) -> dict[str, dict[str, Any]]:
    """Per mode: mean nDCG@10 and recall@20, overall and per query type."""
    summary: dict[str, dict[str, Any]] = {}
    for mode in dict.fromkeys(s.mode for s in scores):
        mine = [s for s in scores if s.mode == mode]
        by_type = {}
        for kind in QUERY_TYPES:
            typed = [s for s in mine if s.type == kind]
            if typed:
                by_type[kind] = {
                    "queries": len(typed),
                    "ndcg@10": mean([s.ndcg for s in typed]),
                    "recall@20": mean([s.recall for s in typed]),
                }
        summary[mode] = {
            "queries": len(mine),
            "ndcg@10": mean([s.ndcg for s in mine]),
            "recall@20": mean([s.recall for s in mine]),
            "by_type": by_type,
        }
    return summary


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


def verdict(summary: dict[str, dict[str, Any]], items: KnownItem) -> list[str]:
    """The targets of the search work that are missed (empty when all are met)."""
    missed = []
    hybrid = summary.get("hybrid")
    for other in ("lexical", "vector"):
        if hybrid is None or other not in summary:
            continue
        if hybrid["ndcg@10"] <= summary[other]["ndcg@10"]:
            missed.append(f"hybrid nDCG@10 does not beat {other}")
        if hybrid["recall@20"] < summary[other]["recall@20"]:
            missed.append(f"hybrid recall@20 is below {other}")
    if items.rate < KNOWN_ITEM_TARGET:
        missed.append(f"known-item first {items.rate:.1%} < {KNOWN_ITEM_TARGET:.0%}")
    return missed


# --- overrides ---------------------------------------------------------------------------


def parse_override(text: str) -> tuple[Any, str, Any]:
    """`engine.RRF_K=30` -> (module, name, value); only existing constants may change."""
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


def print_report(
    site: Site,
    labels: Sequence[LabelledQuery],
    scores: Sequence[QueryScore],
    items: KnownItem,
    partial: KnownItem,
    per_query: bool,
) -> None:
    summary = summarize(scores)
    counts = {kind: sum(1 for q in labels if q.type == kind) for kind in QUERY_TYPES}
    print(
        f"model {site.model_id}; {len(labels)} queries "
        f"({', '.join(f'{n} {kind}' for kind, n in counts.items() if n)}); "
        f"load {site.seconds['load']:.1f}s, index {site.seconds['index']:.1f}s, "
        f"open {site.seconds['open']:.1f}s"
    )
    print()
    print(f"{'mode':<9} | {'nDCG@10':>7} | {'recall@20':>9}")
    print(f"{'-' * 9}-+-{'-' * 7}-+-{'-' * 9}")
    for mode, row in summary.items():
        print(f"{mode:<9} | {row['ndcg@10']:>7.3f} | {row['recall@20']:>9.3f}")
    print()
    print(f"{'type':<10} {'n':>3} | " + " | ".join(f"{m:^17}" for m in summary))
    print(f"{'':<14} | " + " | ".join(f"{'nDCG':>7} {'recall':>9}" for _ in summary))
    for kind in QUERY_TYPES:
        if not counts[kind]:
            continue
        cells = [
            f"{row['by_type'][kind]['ndcg@10']:>7.3f} {row['by_type'][kind]['recall@20']:>9.3f}"
            for row in summary.values()
        ]
        print(f"{kind:<10} {counts[kind]:>3} | " + " | ".join(cells))
    if per_query:
        print()
        print(f"{'query':<54} | " + " | ".join(f"{m:^13}" for m in summary))
        for query in labels:
            cells = []
            for mode in summary:
                s = next(x for x in scores if x.query == query.query and x.mode == mode)
                cells.append(f"{s.ndcg:>6.3f} {s.recall:>6.3f}")
            print(f"{query.query[:54]:<54} | " + " | ".join(cells))
    print()
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
    missed = verdict(summary, items)
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
    summary = summarize(scores)
    return {
        "model": site.model_id,
        "queries": len(labels),
        "overrides": list(overrides),
        "seconds": site.seconds,
        "modes": summary,
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
        "targets_missed": verdict(summary, items),
        "per_query": [asdict(s) for s in scores],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/search_quality.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--int8", action="store_true", help="use the quantized model")
    parser.add_argument("--smoke", action="store_true", help="two queries per type only, for CI")
    parser.add_argument(
        "--json", metavar="PATH", help="also write the full results as JSON ('-' for stdout)"
    )
    parser.add_argument("--labels", type=Path, default=LABELS, help="labelled queries file")
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

    labels = load_labels(args.labels)
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
        missed = verdict(summarize(scores), items)
    return 2 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
