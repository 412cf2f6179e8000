"""Several vectors per paper, measured: does scoring a paper by its best view rank better?

all-MiniLM-L6-v2 reads 256 word pieces, so the end of a long abstract is invisible to
"title. abstract". This embeds, with the fp32 model, the title alone and passages of the
abstract (sentences packed up to the model's limit, each led by the title), scores a paper
by its best view, and reports nDCG@10 over the judged queries without author queries
(a view changes nothing for a name) for meaning alone and fused with BM25 the way the
pinned baseline fuses (bench/baseline.py), on each half. Nothing here changes the product.

    .venv/bin/python -m bench.search_views --dir /tmp/sq     # a few minutes on 2 cores
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import select

from bench import baseline
from bench import search_quality as quality
from paperfeed.models import Paper
from paperfeed.search.embeddings import normalize

SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
VIEW_LIMIT = 254  # word pieces, leaving the model's two special tokens


def passages(title: str, abstract: str, limit: int, length: Callable[[str], int]) -> list[str]:
    """The abstract in passages of whole sentences, each "title. passage" at most `limit`
    long by `length` (a sentence longer than that is a passage of its own)."""
    found: list[str] = []
    current: list[str] = []
    for sentence in SENTENCE_END.split(abstract.strip()):
        if current and length(f"{title}. {' '.join([*current, sentence])}") > limit:
            found.append(" ".join(current))
            current = []
        current.append(sentence)
    if current:
        found.append(" ".join(current))
    return [f"{title}. {text}" for text in found]


def best_view(query: np.ndarray, views: np.ndarray, owners: np.ndarray, papers: int) -> np.ndarray:
    """Each paper's best cosine over its views (-1 for a paper without one)."""
    scores = np.full(papers, -1.0)
    np.maximum.at(scores, owners, views @ query)
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/search_views.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--dir", type=Path, help="build the site here, keep it, reuse it")
    args = parser.parse_args(argv)
    from paperfeed.search.embedder import load_embedder

    labels = [q for q in quality.load_labels() if q.grades and q.type != "author"]
    with quality.demo_site(args.dir) as site:
        assert site.baseline is not None
        with site.db.reader() as session:
            rows = session.execute(
                select(Paper.public_id, Paper.title, Paper.abstract).order_by(Paper.id)
            ).all()
        encoder = load_embedder(
            site.settings.embedding_model,
            quantize=False,
            cache_dir=site.settings.data_dir / "models",
        )

        def pieces(text: str) -> int:
            return len(encoder._tokenizer.encode(text, add_special_tokens=False).ids)

        count = len(rows)
        everyone = np.arange(count)
        whole = (site.baseline.vectors, everyone)
        titles = (normalize(encoder.encode([title for _, title, _ in rows])), everyone)
        texts, owners = [], []
        for i, (_, title, abstract) in enumerate(rows):
            for text in passages(title, abstract or "", VIEW_LIMIT, pieces):
                texts.append(text)
                owners.append(i)
        parts = (normalize(encoder.encode(texts)), np.array(owners))
        print(f"{count} papers, {len(texts)} passages ({len(texts) / count:.2f} per paper)")
        systems = {
            '"title. abstract" (today)': [whole],
            "+ the title alone": [whole, titles],
            "passages instead": [parts],
            '"title. abstract" + title + passages': [whole, titles, parts],
        }
        print(f"{'vectors per paper':<40} | {'split':<5} | {'meaning':>7} | {'fused':>7}")
        for name, views in systems.items():
            matrix = np.vstack([v for v, _ in views])
            owner = np.concatenate([o for _, o in views])
            for split in quality.SPLITS:
                alone, fused = [], []
                for query in quality.in_split(labels, split):
                    scores = best_view(site.baseline.embed_query(query.query), matrix, owner, count)
                    ranked = [rows[i][0] for i in np.argsort(-scores, kind="stable")[:100]]
                    alone.append(quality.ndcg_at(ranked, query.grades))
                    lists = [site.baseline.bm25_ranking(query.query), ranked]
                    fused.append(quality.ndcg_at(baseline.rrf(lists), query.grades))
                print(
                    f"{name:<40} | {split:<5} | {np.mean(alone):>7.3f} | {np.mean(fused):>7.3f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
