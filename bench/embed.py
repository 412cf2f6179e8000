"""How fast, and how faithful, is each way of embedding abstracts without torch?

Every row encodes the same texts, the sample corpus's papers (title + ". " + abstract,
whitespace collapsed, from both files in src/paperfeed/data), and reports:

- abstracts/s (wall clock, best of `--repeat` runs) and CPU ms per abstract (all threads;
  steadier than wall clock on a machine shared with other work),
- cosine to the reference vectors of those texts (min / mean): sentence-transformers in
  torch when that row runs, else the ONNX fp32 row,
- cosine to the stored sentence-transformers vectors of tests/search/data (min / mean),
- speed relative to the baseline, measured in the same run: sentence-transformers + torch
  when it runs, else the numpy forward pass.

Rows:
- numpy fp32: a plain numpy forward pass of the same BERT (matmuls in numpy's BLAS, which
  threads over the cores itself); the alternative to ONNX Runtime that was not kept,
- onnx fp32 and onnx int8: paperfeed.search.embedder as shipped,
- sentence-transformers + torch: only with `--st-python` pointing at an interpreter that
  has torch and sentence-transformers (a throwaway venv, never the project's); the row is
  skipped otherwise. It runs there in a subprocess, on the same texts.

Run it from the project root:

    .venv/bin/python -m bench.embed                 # all 568 sample abstracts
    .venv/bin/python -m bench.embed --smoke         # a few seconds (CI)
    .venv/bin/python -m bench.embed --st-python /tmp/refvenv/bin/python

Note: numpy's speed here depends on OpenBLAS settings of the machine (OPENBLAS_CORETYPE);
ONNX Runtime brings its own kernels.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paperfeed.search.embedder import (
    DEFAULT_BATCH_SIZE,
    Embedder,
    ModelFiles,
    load_embedder,
    paper_text,
    resolve_source,
)
from paperfeed.search.onnx_graph import BertShape, strip_prefix

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "src" / "paperfeed" / "data"
FIXTURE = ROOT / "tests" / "search" / "data" / "reference_vectors.npz"

Encode = Callable[[Sequence[str]], np.ndarray]


def sample_texts() -> list[str]:
    texts = []
    for name in ("sample_papers.jsonl", "arxiv_snapshot_sample.jsonl"):
        for line in (DATA / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(paper_text(row["title"], row["abstract"]))
    return texts


class NumpyBert:
    """The same BERT forward pass in numpy, fed by the embedder's own tokenizer."""

    def __init__(self, files: ModelFiles, tokenizer_from: Embedder) -> None:
        from safetensors.numpy import load_file

        config = files.read_json("config.json")
        self.shape = BertShape.from_config(config)
        w = strip_prefix(load_file(str(files.weights)))
        self.word = w["embeddings.word_embeddings.weight"]
        self.pos = (
            w["embeddings.position_embeddings.weight"]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self.w = w
        self.layers = []
        for i in range(self.shape.layers):
            p = f"encoder.layer.{i}"
            names = ("query", "key", "value")
            qkv_w = np.concatenate([w[f"{p}.attention.self.{n}.weight"].T for n in names], axis=1)
            qkv_b = np.concatenate([w[f"{p}.attention.self.{n}.bias"] for n in names])
            self.layers.append(
                (
                    np.ascontiguousarray(qkv_w),
                    qkv_b,
                    *self._dense(f"{p}.attention.output.dense"),
                    *self._norm(f"{p}.attention.output.LayerNorm"),
                    *self._dense(f"{p}.intermediate.dense"),
                    *self._dense(f"{p}.output.dense"),
                    *self._norm(f"{p}.output.LayerNorm"),
                )
            )
        self.embedder = tokenizer_from

    def _dense(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(self.w[f"{name}.weight"].T), self.w[f"{name}.bias"]

    def _norm(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        return self.w[f"{name}.weight"], self.w[f"{name}.bias"]

    def layer_norm(self, x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.shape.layer_norm_eps) * g + b

    @staticmethod
    def gelu(x: np.ndarray) -> np.ndarray:
        """Erf GELU; numpy has no erf, so Abramowitz-Stegun 7.1.26 (error < 1.5e-7)."""
        z = np.abs(x) / math.sqrt(2.0)
        t = 1.0 / (1.0 + 0.3275911 * z)
        poly = t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))
        poly = t * (0.254829592 + t * (-0.284496736 + poly))
        erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
        return 0.5 * x * (1.0 + erf)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        batch, seq = ids.shape
        heads, hidden = self.shape.heads, self.shape.hidden
        dim = hidden // heads
        x = self.layer_norm(self.word[ids] + self.pos[:seq], *self._norm("embeddings.LayerNorm"))
        bias = ((1.0 - mask) * -1e4).astype(np.float32)[:, None, None, :]
        for qkv_w, qkv_b, o_w, o_b, n1g, n1b, i_w, i_b, f_w, f_b, n2g, n2b in self.layers:
            qkv = (x @ qkv_w + qkv_b).reshape(batch, seq, 3, heads, dim).transpose(2, 0, 3, 1, 4)
            q, k, v = (np.ascontiguousarray(part) for part in qkv)
            q *= 1.0 / math.sqrt(dim)
            # One 2-D BLAS call per (text, head): numpy's stacked matmul measured slower.
            scores = np.empty((batch, heads, seq, seq), dtype=np.float32)
            context = np.empty((batch, heads, seq, dim), dtype=np.float32)
            for b in range(batch):
                for h in range(heads):
                    np.matmul(q[b, h], k[b, h].T, out=scores[b, h])
            scores += bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            for b in range(batch):
                for h in range(heads):
                    np.matmul(scores[b, h], v[b, h], out=context[b, h])
            context = context.transpose(0, 2, 1, 3).reshape(batch, seq, hidden)
            x = self.layer_norm(context @ o_w + o_b + x, n1g, n1b)
            x = self.layer_norm(self.gelu(x @ i_w + i_b) @ f_w + f_b + x, n2g, n2b)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: Sequence[str], batch_size: int) -> np.ndarray:
        tokenizer = self.embedder._tokenizer
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        out = np.zeros((len(texts), self.shape.hidden), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(ids[i]) for i in batch)
            arr = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, i in enumerate(batch):
                arr[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            out[batch] = self.forward(arr, mask)
        return out


ST_SCRIPT = """
import json, sys, time
import numpy as np, torch
from sentence_transformers import SentenceTransformer
job = json.load(sys.stdin)
model = SentenceTransformer(job["model_dir"], device="cpu")
model.encode(job["texts"][:8])
best = None
for _ in range(job["repeat"]):
    t0, c0 = time.perf_counter(), time.process_time()
    vectors = model.encode(job["texts"], batch_size=32, normalize_embeddings=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if best is None or wall < best[0]:
        best = (wall, cpu)
fixture = model.encode(job["fixture"], normalize_embeddings=True)
np.save(job["out"], vectors.astype(np.float32))
np.save(job["out_fixture"], fixture.astype(np.float32))
print(json.dumps({"wall": best[0], "cpu": best[1], "torch": torch.__version__,
                  "threads": torch.get_num_threads()}))
"""


@dataclass
class Row:
    method: str
    wall: float
    cpu: float
    vectors: np.ndarray
    fixture_vectors: np.ndarray
    note: str = ""


def timed(encode: Encode, texts: list[str], repeat: int) -> tuple[float, float, np.ndarray]:
    encode(texts[:4])  # warm-up: first calls allocate
    best: tuple[float, float, np.ndarray] | None = None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        vectors = encode(texts)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if best is None or wall < best[0]:
            best = (wall, cpu, vectors)
    assert best is not None
    return best


def run_sentence_transformers(
    python: str, files: ModelFiles, texts: list[str], fixture: list[str], repeat: int
) -> Row | str:
    with tempfile.TemporaryDirectory() as tmp:
        job = {
            "model_dir": str(files.directory),
            "texts": texts,
            "fixture": fixture,
            "repeat": repeat,
            "out": f"{tmp}/vectors.npy",
            "out_fixture": f"{tmp}/fixture.npy",
        }
        try:
            proc = subprocess.run(
                [python, "-c", ST_SCRIPT], input=json.dumps(job), capture_output=True, text=True
            )
        except OSError as exc:
            return f"cannot run {python}: {exc.strerror}"
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            return f"failed in {python}: {tail[0]}"
        info = json.loads(proc.stdout.strip().splitlines()[-1])
        return Row(
            "sentence-transformers + torch",
            info["wall"],
            info["cpu"],
            np.load(job["out"]),
            np.load(job["out_fixture"]),
            f"torch {info['torch']}, {info['threads']} threads, batch 32",
        )


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="4 texts, one run: a few seconds")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N texts")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per row (best kept)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--threads", type=int, default=None, help="default: usable cores")
    parser.add_argument("--cache-dir", type=Path, default=None, help="ONNX cache directory")
    parser.add_argument("--st-python", default=None, help="interpreter with torch for the ST row")
    parser.add_argument("--no-numpy", action="store_true", help="skip the numpy row")
    args = parser.parse_args(argv)

    texts = sample_texts()
    limit = 4 if args.smoke else args.limit
    repeat = 1 if args.smoke else args.repeat
    if limit:
        texts = texts[:limit]
    ref = np.load(FIXTURE)
    fixture_texts = [str(t) for t in ref["texts"]]
    fixture_ref = ref["vectors"].astype(np.float32)
    if args.smoke:
        fixture_texts, fixture_ref = fixture_texts[:4], fixture_ref[:4]
    cache_dir = args.cache_dir
    if cache_dir is None:
        cache_dir = Path(tempfile.gettempdir()) / "paperfeed-bench-models"

    rows: list[Row] = []
    files = resolve_source(None, cache_dir=cache_dir)
    skipped = "no --st-python given"
    if args.st_python:
        row = run_sentence_transformers(args.st_python, files, texts, fixture_texts, repeat)
        if isinstance(row, Row):
            rows.append(row)
        else:
            skipped = row

    onnx_rows = []
    for quantize in (False, True):
        embedder = load_embedder(quantize=quantize, threads=args.threads, cache_dir=cache_dir)
        onnx_rows.append((embedder, lambda t, e=embedder: e.encode(t, batch_size=args.batch_size)))
    if not args.no_numpy:
        numpy_bert = NumpyBert(files, onnx_rows[0][0])
        wall, cpu, vectors = timed(lambda t: numpy_bert.encode(t, args.batch_size), texts, repeat)
        rows.append(Row("numpy fp32", wall, cpu, vectors, numpy_bert.encode(fixture_texts, 8), ""))
    for embedder, encode in onnx_rows:
        wall, cpu, vectors = timed(encode, texts, repeat)
        kind = "int8" if embedder.model_id.endswith(":int8") else "fp32"
        note = f"{embedder.threads} threads, batch {args.batch_size}"
        rows.append(Row(f"onnx {kind}", wall, cpu, vectors, encode(fixture_texts), note))

    st = [r for r in rows if r.method.startswith("sentence")]
    reference_row = st[0] if st else next(r for r in rows if r.method == "onnx fp32")
    baseline = st[0] if st else next((r for r in rows if r.method == "numpy fp32"), rows[0])

    print(f"{len(texts)} sample abstracts; reference = {reference_row.method};")
    print(f"baseline = {baseline.method} (measured in this run); ST fixture = {FIXTURE.name}")
    header = (
        f"{'method':<30} {'abstracts/s':>11} {'cpu ms/abs':>10} {'vs base':>7} "
        f"{'cos ref min/mean':>17} {'cos ST fixture min/mean':>24}  notes"
    )
    print(header)
    print("-" * len(header))
    base_rate = len(texts) / baseline.wall
    for row in rows:
        rate = len(texts) / row.wall
        c = cosines(row.vectors, reference_row.vectors)
        f = cosines(row.fixture_vectors, fixture_ref)
        print(
            f"{row.method:<30} {rate:>11.1f} {1000 * row.cpu / len(texts):>10.1f} "
            f"{rate / base_rate:>6.2f}x {c.min():>8.4f}/{c.mean():.4f} "
            f"{f.min():>15.4f}/{f.mean():.4f}  {row.note}"
        )
    if not st:
        print(f"(sentence-transformers + torch row skipped: {skipped})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
