"""Ranking directions measured on the development half only, without changing the engine.

Each direction is a set of `--set`-style overrides of `paperfeed.search.engine` or
`paperfeed.search.lexical` constants, or a bench-only variant of the fusion, applied for
one evaluation and undone. One site is built (or reused with `--dir`) and every direction
is scored on it: nDCG@10, recall@20 and nDCG@10 without author queries over the dev queries
with an answer, the no-answer measures, and known-item search (exact titles, which must
stay at 100%). The test half is never read here: tune on dev, then report test once with
`bench/search_quality.py`.

    .venv/bin/python -m bench.search_directions --dir /tmp/sq           # every direction
    .venv/bin/python -m bench.search_directions --dir /tmp/sq today "combsum 0.2"
    .venv/bin/python -m bench.search_directions --mode lexical "title boost 1"

`combsum A` replaces reciprocal-rank fusion in hybrid mode by a score-aware one:
A x (BM25 / the best BM25 of the query) + (1 - A) x cosine, the cosine counting only where
the engine's floors keep the paper (as in RRF). Exact-title and author-first rules are
the engine's own and stay.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import search_quality as quality
from paperfeed.search import engine, lexical
from paperfeed.search.ranking import best_first

Override = tuple[Any, str, Any]


def combsum(
    lexical_ids: Sequence[int],
    lexical_scores: dict[int, float],
    vector_ids: Sequence[int],
    similarities: dict[int, float],
    alpha: float,
) -> list[int]:
    """Candidates by alpha x (BM25 / best BM25) + (1 - alpha) x cosine, best first (ties in
    id order); `vector_ids` are those that passed the floors."""
    best = max((lexical_scores.get(pid, 0.0) for pid in lexical_ids), default=0.0) or 1.0
    kept = set(vector_ids)
    candidates = list(dict.fromkeys([*lexical_ids, *vector_ids]))
    scores = np.array(
        [
            alpha * lexical_scores.get(pid, 0.0) / best
            + (1 - alpha) * (similarities.get(pid, 0.0) if pid in kept else 0.0)
            for pid in candidates
        ]
    )
    order = best_first(scores, np.array(candidates, dtype=np.int64)).tolist()
    return [candidates[i] for i in order]


def combsum_variant(alpha: float) -> list[Override]:
    """Overrides that make hybrid search fuse with `combsum` (the keyword half also keeps
    its BM25 scores for it)."""
    scores: dict[int, float] = {}
    keyword_half = engine._keyword_half
    fuse = engine.fuse

    def scored_keyword_half(index: Any, parsed: Any, request: Any) -> Any:
        found = keyword_half(index, parsed, request)
        scores.clear()
        if request.mode in ("hybrid", "lexical"):
            pks, values, _ = index.lexical.search(parsed, request.filters, engine.CANDIDATES)
            scores.update(zip(pks, values, strict=True))
        return found

    def score_fuse(
        lexical_ids: list[int], vector_ids: list[int], similarities: dict[int, float], mode: Any
    ) -> Any:
        fused = fuse(lexical_ids, vector_ids, similarities, mode)
        if mode == "hybrid":
            kept = [pid for pid in vector_ids if pid in fused.vector_rank]
            fused.order = combsum(lexical_ids, scores, kept, similarities, alpha)
        return fused

    return [(engine, "_keyword_half", scored_keyword_half), (engine, "fuse", score_fuse)]


def boosts(title: float, authors: float = 1.5, abstract: float = 1.0) -> list[Override]:
    return [(lexical, "FIELD_BOOSTS", {"title": title, "authors": authors, "abstract": abstract})]


def directions() -> dict[str, list[Override]]:
    """Every named direction (built before any is applied, so each wraps the engine's own
    functions)."""
    named: dict[str, list[Override]] = {"today": []}
    for k in (10, 20, 30, 100):
        named[f"RRF_K={k}"] = [(engine, "RRF_K", k)]
    for floor in (0.20, 0.25, 0.35, 0.40):
        named[f"MIN_SIMILARITY={floor}"] = [(engine, "MIN_SIMILARITY", floor)]
    for floor in (0.0, 0.35):
        named[f"LEXICAL_MATCH_SIMILARITY={floor}"] = [(engine, "LEXICAL_MATCH_SIMILARITY", floor)]
    named["no cosine floors"] = [
        (engine, "MIN_SIMILARITY", -1.0),
        (engine, "LEXICAL_MATCH_SIMILARITY", -1.0),
    ]
    named["CANDIDATES=100"] = [(engine, "CANDIDATES", 100)]
    for title in (1.0, 1.5, 2.0, 5.0):
        named[f"title boost {title:g}"] = boosts(title)
    named["title boost 1.5, authors 0.5"] = boosts(1.5, authors=0.5)
    named["title boost 1.5 + RRF_K=20"] = [*boosts(1.5), (engine, "RRF_K", 20)]
    for alpha in (0.2, 0.3, 0.4, 0.5, 0.7):
        named[f"combsum {alpha:g}"] = combsum_variant(alpha)
    named["combsum 0.3 + title boost 1.5"] = [*combsum_variant(0.3), *boosts(1.5)]
    return named


def measure(site: quality.Site, labels: Sequence[quality.LabelledQuery], mode: quality.Mode) -> str:
    summary = quality.summarize(quality.evaluate(site, labels, modes=(mode,)))[mode]
    items = quality.known_item(site)
    empty = summary.get("no_answer", {})
    return (
        f"{summary['ndcg@10']:>7.3f} | {summary['recall@20']:>9.3f} | "
        f"{summary['without_author']['ndcg@10']:>15.3f} | "
        f"{empty.get(f'at_most_{quality.FEW_RESULTS}', 0):>13.0%} | "
        f"{empty.get('mean_results', 0):>12.1f} | {items.rate:>10.2%}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    named = directions()
    parser = argparse.ArgumentParser(
        prog="bench/search_directions.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", help=f"directions (default all): {', '.join(named)}")
    parser.add_argument("--dir", type=Path, help="build the site here, keep it, reuse it")
    parser.add_argument("--int8", action="store_true", help="use the quantized model")
    parser.add_argument("--mode", choices=quality.MODES, default="hybrid")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in named]
    if unknown:
        parser.error(f"unknown directions: {', '.join(unknown)}")
    labels = quality.in_split(quality.load_labels(), "dev")
    with quality.demo_site(args.dir, quantize=args.int8, with_baseline=False) as site:
        print(f"model {site.model_id}; {args.mode} search on the dev half ({len(labels)} queries)")
        print(
            f"{'direction':<32} | {'nDCG@10':>7} | {'recall@20':>9} | {'nDCG w/o author':>15} | "
            f"{f'no-answer <={quality.FEW_RESULTS}':>13} | {'mean results':>12} | "
            f"{'known-item':>10}"
        )
        for name in args.names or named:
            started = time.perf_counter()
            with quality.overridden(named[name]):
                row = measure(site, labels, args.mode)
            print(f"{name:<32} | {row}  ({time.perf_counter() - started:.0f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
