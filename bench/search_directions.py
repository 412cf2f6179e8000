"""Ranking directions measured on the development half only, without changing the engine.

Each direction is a set of `--set`-style overrides of `paperfeed.search.relevance`,
`engine` or `lexical` constants, applied for one evaluation and undone. One site is built
(or reused with `--dir`) and every direction is scored on it: nDCG@10, recall@20 and
nDCG@10 without author queries over the dev queries with an answer, the no-answer
measures, and known-item search (exact titles, which must stay at 100%). The test half is
never read here: tune on dev, then report test once with `bench/search_quality.py`.

    .venv/bin/python -m bench.search_directions --dir /tmp/sq           # every direction
    .venv/bin/python -m bench.search_directions --dir /tmp/sq today "KEYWORD_WEIGHT=0.3"
    .venv/bin/python -m bench.search_directions --mode lexical "authors boost 3"

Directions that need another index (the title counted other than three times in the
keyword index's `text` field, extra vectors per paper) are not overrides: they were
measured by rebuilding the site, as docs/search-design.md#quality says.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import search_quality as quality
from paperfeed.search import engine, lexical, relevance

Override = tuple[Any, str, Any]


def boosts(authors: float = 1.5) -> list[Override]:
    return [(lexical, "FIELD_BOOSTS", {"text": 1.0, "authors": authors})]


def directions() -> dict[str, list[Override]]:
    """Every named direction: the constants of the ranking (`relevance`) and the keyword
    half (`lexical`), each moved a step either way."""
    named: dict[str, list[Override]] = {"today": []}
    for weight in (0.1, 0.15, 0.25, 0.3, 0.5):
        named[f"KEYWORD_WEIGHT={weight:g}"] = [(relevance, "KEYWORD_WEIGHT", weight)]
    for floor in (0.25, 0.35):
        named[f"MEANING_FLOOR={floor:g}"] = [(relevance, "MEANING_FLOOR", floor)]
    for floor in (0.15, 0.25):
        named[f"TYPO_MEANING_FLOOR={floor:g}"] = [(relevance, "TYPO_MEANING_FLOOR", floor)]
    for share in (0.4, 0.6):
        named[f"STRONG_KEYWORD_SHARE={share:g}"] = [(relevance, "STRONG_KEYWORD_SHARE", share)]
    for floor in (0.1, 0.2):
        named[f"RELATED_FLOOR={floor:g}"] = [(relevance, "RELATED_FLOOR", floor)]
    named["no relevance bar"] = [
        (relevance, "MEANING_FLOOR", -1.0),
        (relevance, "TYPO_MEANING_FLOOR", -1.0),
    ]
    named["CANDIDATES=100"] = [(engine, "CANDIDATES", 100)]
    for authors in (0.5, 3.0):
        named[f"authors boost {authors:g}"] = boosts(authors)
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
