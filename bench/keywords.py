"""Keywords: YAKE against embedding similarity (KeyBERT's method), on the demo corpus.

    .venv/bin/python bench/keywords.py [--limit N] [--quantize]

Both methods run in the same process over the same papers (data/sample_papers.jsonl).
Quality: the share of a method's keywords whose words all occur in the paper's title
(authors put their key terms there; a crude but method-neutral proxy), and the mean
number of distinct words across a paper's five keywords (diversity). Speed: papers/s
on this machine, projected to 2.6M papers. The embedding method runs the model the
search index already uses (all-MiniLM-L6-v2 through ONNX Runtime).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from pathlib import Path

from paperfeed.progress import format_duration
from paperfeed.search.keywords import extract, extract_embedding, stopwords

DATA = Path(__file__).resolve().parent.parent / "src" / "paperfeed" / "data" / "sample_papers.jsonl"
ARCHIVE = 2_600_000
WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text)} - stopwords()


def judge(
    name: str, papers: list[dict], run: Callable[[str, str], list[tuple[str, float]]]
) -> dict:
    started = time.perf_counter()
    results = [run(p["title"], p["abstract"] or "") for p in papers]
    seconds = time.perf_counter() - started
    in_title = total = distinct = 0
    for paper, keywords in zip(papers, results, strict=True):
        title = words(paper["title"])
        for phrase, _ in keywords:
            total += 1
            in_title += words(phrase) <= title
        distinct += len(set().union(*(words(k) for k, _ in keywords))) if keywords else 0
    rate = len(papers) / seconds
    return {
        "method": name,
        "papers/s": rate,
        "in title": in_title / max(total, 1),
        "words/paper": distinct / len(papers),
        "2.6M on 1 process": format_duration(ARCHIVE / rate),
        "example": [k for k, _ in results[0]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--quantize", action="store_true", help="int8 embedding model")
    args = parser.parse_args()
    papers = [json.loads(line) for line in DATA.open(encoding="utf-8")][: args.limit]
    from paperfeed.search.embedder import load_embedder

    encoder = load_embedder(quantize=args.quantize)
    encoder.encode(["warm up"])
    rows = [
        judge("yake", papers, extract),
        judge("embedding+MMR", papers, lambda t, a: extract_embedding(t, a, encoder)),
    ]
    print(f"{len(papers)} papers; {papers[0]['title']}")
    print(f"{'method':<15} {'papers/s':>9} {'in title':>9} {'words/paper':>12} {'2.6M':>10}")
    for row in rows:
        print(
            f"{row['method']:<15} {row['papers/s']:>9.1f} {row['in title']:>9.0%} "
            f"{row['words/paper']:>12.1f} {row['2.6M on 1 process']:>10}  {row['example']}"
        )


if __name__ == "__main__":
    main()
