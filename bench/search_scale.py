"""How fast is search on an archive the size of arXiv, and how much does it cost to hold?

For each archive size (100,000 and 1,000,000 papers by default) this benchmark builds a
synthetic archive, indexes it the way `paperfeed index` does, and measures search through
`paperfeed.search.engine.search()`, the function behind the web page and the CLI.

The archive
  - Papers come from bench/feed.py's generator: ~10-word titles,
    ~150-word abstracts of Zipf-distributed words, 1-8 authors drawn from a skewed pool,
    200 papers per feed day (1M papers span ~14 years), in a migrated SQLite database.
  - Embeddings are 384-d unit vectors with the structure of real sentence embeddings: a
    shared mean direction (random pairs have cosine ~0.1, as MiniLM's do), 64 topics,
    4,096 clusters of skewed sizes around them, and within each cluster a 16-d local
    subspace plus isotropic noise, so neighbourhoods are dense but low-dimensional and
    recall is meaningful. Each paper belongs to one cluster; clusters are spread over time.
    Vectors are stored in `paper_embeddings` as float16 blobs with `seq` 1..n, exactly as
    `paperfeed index` / `paperfeed import` leave them.
  - The index is built by `SearchIndex.sync()`, the production path (tantivy BM25 index,
    float16 vector file, and above `ann_threshold` (50k) a usearch int8 HNSW graph).

The queries (300 by default): 1-3 Zipf-frequent words, rare words, words from a paper's
title, "quoted phrases", author names, -exclusions, exact titles (known-item), and
filtered searches (last 30 days, a one-year range, an author). Each has a query vector
drawn near the centroid of a cluster (for title-derived queries, the paper's cluster).

What is reported, per size
  - build: database (papers + embeddings), index sync (lexical, then vectors + HNSW), peak
    memory of each stage; on-disk size of the lexical index, vector file and HNSW graph;
  - memory: VmRSS of a fresh process (libraries and the query embedder already loaded)
    before opening the index, after opening it and after the timed queries; index memory
    is the growth, anonymous memory plus the mmapped index pages the queries touched;
  - latency p50/p99 (wall clock) and CPU p50 (process CPU time, steadier than wall clock
    on a shared machine) of lexical, vector and hybrid search EXCLUDING query embedding
    (the query vectors are precomputed and served by a `QueryEmbeddings` whose encoder
    looks them up), with hybrid broken down by query kind; the modes take turns query by
    query so background load hits each mode alike;
  - with query embedding, interleaved with the above: the real all-MiniLM-L6-v2 embedder
    (`load_embedder`, int8 like the default setting, `--fp32` for full precision) behind a
    real `QueryEmbeddings`, the first search of each text (embedded) and the same search
    again (cached); and one query's embedding alone, computed and cached;
  - "similar papers" (`engine.similar`) for 100 papers;
  - recall@10 against exact search over the same float16 rows: `VectorStore.search` as
    `search()` calls it (k=200 candidates, the headline), with k=10 (the path of "similar
    papers"), for papers as queries, and raw HNSW top-10 before the exact re-rank;
  - baselines measured in the same run: exact numpy brute force over a float32 matrix
    in RAM (and `VectorStore.exact_search`), and an arxiv-sanity-lite-style full scan
    (every paper scored by substring counts in title/authors/abstract in a Python loop,
    over an in-memory dict, on a few queries spread over the set, since it takes seconds
    each at 1M), with the speed-up of hybrid search on the same queries.

Then a summary checks the targets at 1M papers: hybrid p50 <= 15 ms and p99 <= 60 ms
excluding query embedding, recall@10 >= 0.95, >= 100x faster than the full scan, index
memory <= 2.5 GB. When 2.6M papers are not measured, the main numbers are extrapolated to
2.6M from the growth between the two largest sizes (and labelled as such).

Each stage (database, index, measurement) runs in its own process, so memory figures are
not polluted by the others. Run it from the project root:

    .venv/bin/python -m bench.search_scale                       # 100k and 1M (~30 min)
    .venv/bin/python -m bench.search_scale --smoke               # 10k, under a minute (CI)
    .venv/bin/python -m bench.search_scale --sizes 100k,1m,2.6m --queries 500
    .venv/bin/python -m bench.search_scale --dir /tmp/pf-scale --keep   # keep the data
    .venv/bin/python -m bench.search_scale --dir /tmp/pf-scale --reuse  # re-measure only
    .venv/bin/python -m bench.search_scale --profile hybrid      # cProfile of a mode

Data goes to a temporary directory under /tmp (removed afterwards unless `--keep`).
`--check` makes the exit status 2 when a target is missed at 1M.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import io
import json
import math
import pstats
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

HERE = Path(__file__).resolve().parent
DIM = 384
DEFAULT_SIZES = (100_000, 1_000_000)
SMOKE_SIZE = 10_000
SMOKE_ANN_THRESHOLD = 2_000  # so the smoke run goes through the HNSW path too
EXTRAPOLATE_TO = 2_600_000
PER_DAY = 200
TARGET_SIZE = 1_000_000
TARGET_P50_MS = 15.0
TARGET_P99_MS = 60.0
TARGET_RECALL = 0.95
TARGET_SPEEDUP = 100.0
TARGET_MEMORY_MB = 2.5 * 1024
MODES = ("lexical", "vector", "hybrid")
PAGE = 20
SIGNATURE_VERSION = 1

# Embedding model: shape of the synthetic vector space (see the module docstring).
TOPICS = 64
CLUSTERS = 4096
LOCAL_DIMS = 16
W_MEAN, W_TOPIC, W_CLUSTER, W_LOCAL = 0.35, 0.30, 0.55, 0.45
DOC_NOISE = 0.60
QUERY_NOISE = 0.80
EMBED_BATCH = 20_000

# Query mix: kind -> share of the queries.
QUERY_MIX = {
    "words": 0.25,
    "rare": 0.10,
    "title words": 0.20,
    "phrase": 0.10,
    "author": 0.05,
    "exclusion": 0.05,
    "known item": 0.05,
    "filter: 30 days": 0.08,
    "filter: one year": 0.06,
    "filter: author": 0.06,
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- process measurements -----------------------------------------------------------------


def proc_status() -> dict[str, float]:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in MiB."""
    values: dict[str, float] = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tree_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# --- synthetic embeddings -----------------------------------------------------------------


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


class VectorModel:
    """A clustered 384-d vector space that behaves like sentence embeddings of papers."""

    def __init__(self, seed: int, clusters: int = CLUSTERS) -> None:
        self.seed = seed
        self.clusters = clusters
        rng = np.random.default_rng([seed, 1])
        self.mean = unit(rng.standard_normal(DIM))
        self.topics = unit(rng.standard_normal((TOPICS, DIM)))
        self.topic_of = rng.integers(0, TOPICS, clusters)
        self.centroids = unit(
            0.6 * self.topics[self.topic_of] + 0.8 * unit(rng.standard_normal((clusters, DIM)))
        )
        sizes = rng.pareto(1.5, clusters) + 1
        self.weights = sizes / sizes.sum()

    def basis(self, cluster: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2, cluster])
        return unit(rng.standard_normal((LOCAL_DIMS, DIM)))

    def points(
        self, cluster: int, count: int, rng: np.random.Generator, noise: float = DOC_NOISE
    ) -> np.ndarray:
        local = rng.standard_normal((count, LOCAL_DIMS)).astype(np.float32) / math.sqrt(LOCAL_DIMS)
        iso = rng.standard_normal((count, DIM)).astype(np.float32) / math.sqrt(DIM)
        v = (
            W_MEAN * self.mean
            + W_TOPIC * self.topics[self.topic_of[cluster]]
            + W_CLUSTER * self.centroids[cluster]
            + W_LOCAL * (local @ self.basis(cluster))
            + noise * iso
        )
        return unit(v)

    def assign(self, n: int) -> np.ndarray:
        """The cluster of each paper, in primary-key order (pk = index + 1)."""
        rng = np.random.default_rng([self.seed, 3])
        return rng.choice(self.clusters, n, p=self.weights).astype(np.int16)

    def generate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(float16 vectors in pk order, cluster of each paper)."""
        assign = self.assign(n)
        rng = np.random.default_rng([self.seed, 4])
        out = np.empty((n, DIM), dtype=np.float16)
        order = np.argsort(assign, kind="stable")
        counts = np.bincount(assign, minlength=self.clusters)
        pos = 0
        for cluster in range(self.clusters):
            count = int(counts[cluster])
            if count:
                out[order[pos : pos + count]] = self.points(cluster, count, rng)
                pos += count
        return out, assign

    def query(self, cluster: int, rng: np.random.Generator) -> np.ndarray:
        return self.points(cluster, 1, rng, noise=QUERY_NOISE)[0]


# --- building -------------------------------------------------------------------------------


def size_dir(workdir: Path, size: int) -> Path:
    return workdir / f"papers-{size}"


def signature(size: int, args: argparse.Namespace) -> dict[str, Any]:
    return {
        "version": SIGNATURE_VERSION,
        "size": size,
        "seed": args.seed,
        "per_day": PER_DAY,
        "ann_threshold": args.ann_threshold,
    }


def feed_tz() -> ZoneInfo:
    from paperfeed.config import Settings

    return Settings(data_dir=Path(tempfile.gettempdir())).tz


def stage_database(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """A fresh SQLite archive of `size` papers with their embeddings."""
    from sqlalchemy import insert, update

    from bench import feed
    from paperfeed.db import Database
    from paperfeed.models import Counter, PaperEmbedding
    from paperfeed.papers.store import EMBEDDING_CHANGE

    directory = size_dir(args.dir, size)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    path = directory / "papers.sqlite3"
    tz = feed_tz()
    started = time.perf_counter()
    built = feed.build_archive(path, size, PER_DAY, args.seed, tz, log)
    papers_seconds = time.perf_counter() - started

    started = time.perf_counter()
    model = VectorModel(args.seed)
    vectors, clusters = model.generate(size)
    generate_seconds = time.perf_counter() - started
    np.save(directory / "clusters.npy", clusters)
    log(f"    {size:,} vectors generated in {generate_seconds:.1f} s")

    started = time.perf_counter()
    now = feed.pinned_now(tz)
    db = Database(f"sqlite:///{path}")
    try:
        with db.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            raw.execute("PRAGMA synchronous=OFF")
            blobs = vectors.astype("<f2", copy=False)
            for start in range(0, size, EMBED_BATCH):
                stop = min(start + EMBED_BATCH, size)
                with conn.begin():
                    conn.execute(
                        insert(PaperEmbedding.__table__),
                        [
                            {
                                "paper_id": i + 1,
                                "model": "all-MiniLM-L6-v2",
                                "text_hash": f"{i + 1:040x}",
                                "vector": blobs[i].tobytes(),
                                "seq": i + 1,
                                "created_at": now,
                            }
                            for i in range(start, stop)
                        ],
                    )
            with conn.begin():
                conn.execute(
                    update(Counter)
                    .where(Counter.name == EMBEDDING_CHANGE)
                    .values(value=size, updated_at=now)
                )
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.dispose()
    embed_seconds = time.perf_counter() - started
    return {
        "papers_seconds": papers_seconds,
        "vectors_seconds": generate_seconds + embed_seconds,
        "db_bytes": path.stat().st_size,
        "days": built.days,
        "peak_rss_mb": peak_rss_mb(),
    }


def stage_index(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """`SearchIndex.sync()` from an empty index directory, as `paperfeed index` runs it."""
    from paperfeed.db import Database
    from paperfeed.search.index import SearchIndex

    directory = size_dir(args.dir, size)
    db = Database(f"sqlite:///{directory / 'papers.sqlite3'}")
    index = SearchIndex(directory / "index", feed_tz(), args.ann_threshold)
    shutil.rmtree(index.path, ignore_errors=True)
    marks: dict[str, float] = {}
    shown: dict[str, int] = {}
    started = time.perf_counter()

    def progress(stage: str, done: int, total: int) -> None:
        marks[stage] = time.perf_counter()
        step = max(total // 5, 1)
        if done // step > shown.get(stage, -1) or done >= total:
            shown[stage] = done // step
            log(f"    index {stage}: {done:,}/{total:,} ({marks[stage] - started:.0f} s)")

    try:
        stats = index.sync(db, progress=progress)
    finally:
        db.dispose()
    seconds = time.perf_counter() - started
    lexical_seconds = marks.get("papers", started) - started
    build = index.build_path or index.path  # the live build's files
    vectors_dir = build / "vectors"
    return {
        "seconds": seconds,
        "lexical_seconds": lexical_seconds,
        "vector_seconds": seconds - lexical_seconds,
        "papers": stats.papers,
        "vectors": stats.vectors,
        "lexical_bytes": tree_bytes(build / "lexical"),
        "vector_bytes": tree_bytes(vectors_dir / "vectors.f16")
        + tree_bytes(vectors_dir / "keys.i64")
        if vectors_dir.exists()
        else 0,
        "ann_bytes": tree_bytes(vectors_dir / "ann.usearch")
        if (vectors_dir / "ann.usearch").exists()
        else 0,
        "peak_rss_mb": peak_rss_mb(),
    }


# --- queries --------------------------------------------------------------------------------


@dataclass
class Query:
    text: str
    kind: str
    vector: np.ndarray
    date_from: date | None = None
    date_to: date | None = None
    author: str | None = None

    def filters(self) -> Any:
        from paperfeed.search.lexical import Filters

        return Filters(date_from=self.date_from, date_to=self.date_to, author=self.author)


@dataclass
class SampledPaper:
    pk: int
    title: str
    authors: list[str]
    day: date


def sample_papers(db: Any, size: int, n: int, rng: random.Random, tz: ZoneInfo) -> list[Any]:
    from sqlalchemy import select

    from paperfeed.models import Paper, PaperAuthor

    wanted = sorted({rng.randint(1, size) for _ in range(n * 2)})
    with db.reader() as session:
        rows = session.execute(
            select(Paper.id, Paper.title, Paper.published_at, Paper.feed_at).where(
                Paper.id.in_(wanted), Paper.hidden_at.is_(None)
            )
        ).all()
        names: dict[int, list[str]] = {r.id: [] for r in rows}
        for pid, name in session.execute(
            select(PaperAuthor.paper_id, PaperAuthor.name)
            .where(PaperAuthor.paper_id.in_(list(names)))
            .order_by(PaperAuthor.paper_id, PaperAuthor.position)
        ):
            names[pid].append(name)
    papers = []
    for r in rows:
        instant = r.published_at or r.feed_at
        if instant.tzinfo is None:
            from datetime import UTC

            instant = instant.replace(tzinfo=UTC)
        papers.append(SampledPaper(r.id, r.title, names[r.id], instant.astimezone(tz).date()))
    rng.shuffle(papers)
    return papers


def make_queries(
    n: int,
    papers: list[SampledPaper],
    clusters: np.ndarray,
    model: VectorModel,
    feed: ModuleType,
    seed: int,
    last_day: date,
) -> list[Query]:
    """A realistic mix of `n` queries (see QUERY_MIX), deterministic for a seed."""
    rng = random.Random(seed * 31 + 7)
    vrng = np.random.default_rng([seed, 5])
    generator = feed.ArchiveGenerator(seed, feed_tz(), 40, 200)
    function_words = set(feed.FUNCTION_WORDS)
    stream = [w.strip(".,").lower() for w in generator.words]
    stream = [w for w in stream if w and w not in function_words]
    vocabulary = sorted(set(stream))
    paper_iter = iter(papers * (1 + 2 * n // max(len(papers), 1)))

    def cluster_vector() -> np.ndarray:
        return model.query(int(vrng.choice(model.clusters, p=model.weights)), vrng)

    def paper_vector(p: SampledPaper) -> np.ndarray:
        return model.query(int(clusters[p.pk - 1]), vrng)

    def title_words(p: SampledPaper, k: int) -> list[str]:
        words = [w.strip(":,.$").lower() for w in p.title.split()]
        words = [w for w in words if w.isalpha() and w not in function_words]
        start = rng.randrange(max(len(words) - k, 0) + 1)
        return words[start : start + k]

    counts = {kind: max(1, round(share * n)) for kind, share in QUERY_MIX.items()}
    kinds = [kind for kind, count in counts.items() for _ in range(count)]
    rng.shuffle(kinds)
    queries: list[Query] = []
    for kind in kinds[:n]:
        p = next(paper_iter)
        if kind == "words":
            q = Query(" ".join(rng.sample(stream, rng.randint(1, 3))), kind, cluster_vector())
        elif kind == "rare":
            q = Query(" ".join(rng.sample(vocabulary, rng.randint(1, 2))), kind, cluster_vector())
        elif kind == "title words":
            q = Query(" ".join(title_words(p, rng.randint(2, 4))), kind, paper_vector(p))
        elif kind == "phrase":
            phrase = " ".join(title_words(p, 2))
            q = Query(f'"{phrase}" {rng.choice(stream)}', kind, paper_vector(p))
        elif kind == "author":
            q = Query(rng.choice(p.authors), kind, cluster_vector())
        elif kind == "exclusion":
            words = rng.sample(stream, 2)
            q = Query(f"{' '.join(title_words(p, 2))} -{words[0]}", kind, paper_vector(p))
        elif kind == "known item":
            q = Query(p.title, kind, paper_vector(p))
        elif kind == "filter: 30 days":
            q = Query(" ".join(rng.sample(stream, rng.randint(1, 2))), kind, cluster_vector())
            q.date_from, q.date_to = last_day - timedelta(days=29), last_day
        elif kind == "filter: one year":
            q = Query(" ".join(title_words(p, 2)), kind, paper_vector(p))
            q.date_from, q.date_to = p.day - timedelta(days=182), p.day + timedelta(days=182)
        else:
            q = Query(" ".join(title_words(p, 1)), kind, paper_vector(p))
            q.author = rng.choice(p.authors)
        if not q.text.strip():
            q.text = rng.choice(stream)
        queries.append(q)
    return queries


class LookupEncoder:
    """An encoder that returns precomputed query vectors: search timed without embedding."""

    dim = DIM
    model_id = "synthetic"

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


# --- measuring ------------------------------------------------------------------------------


def p50(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p99(values: Sequence[float]) -> float:
    """Nearest-rank 99th percentile."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def latency(wall: Sequence[float], cpu: Sequence[float] | None = None) -> dict[str, float]:
    return {
        "n": len(wall),
        "p50": p50(wall),
        "p99": p99(wall),
        "mean": statistics.fmean(wall) if wall else math.nan,
        "cpu_p50": p50(cpu) if cpu else math.nan,
    }


@dataclass
class Timer:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, fn: Callable[[], Any]) -> Any:
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        self.wall.append((time.perf_counter() - t0) * 1000)
        self.cpu.append((time.process_time() - c0) * 1000)
        return result


def exact_top(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
    """Row indices of the exact top-k by dot product, for every query (in chunks)."""
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_sims = np.zeros((len(queries), 0), dtype=np.float32)
    qt = np.ascontiguousarray(queries.T, dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start : start + chunk], dtype=np.float32)
        sims = block @ qt  # (rows, queries)
        kk = min(k, len(block))
        part = np.argpartition(-sims, kk - 1, axis=0)[:kk].T  # (queries, kk)
        rows = np.concatenate([best_rows, part + start], axis=1)
        vals = np.concatenate([best_sims, np.take_along_axis(sims.T, part, axis=1)], axis=1)
        order = np.argsort(-vals, axis=1, kind="stable")[:, :k]
        best_rows = np.take_along_axis(rows, order, axis=1)
        best_sims = np.take_along_axis(vals, order, axis=1)
    return best_rows


def scan_search(pdb: dict[int, dict[str, Any]], q: str) -> tuple[list[int], list[float]]:
    """arxiv-sanity-lite's `search_rank`: substring counts over every paper, in Python."""
    qs = q.lower().strip().split()

    def match(s: str) -> int:
        return sum(min(3, s.lower().count(qp)) for qp in qs)

    def matchu(s: str) -> int:
        return sum(int(s.lower().count(qp) > 0) for qp in qs)

    pairs = []
    for pid, p in pdb.items():
        score = 0.0
        score += 10.0 * matchu(" ".join([a["name"] for a in p["authors"]]))
        score += 20.0 * matchu(p["title"])
        score += 1.0 * match(p["summary"])
        if score > 0:
            pairs.append((score, pid))
    pairs.sort(reverse=True)
    return [p[1] for p in pairs], [p[0] for p in pairs]


def load_scan_db(path: Path) -> dict[int, dict[str, Any]]:
    """Every paper as arxiv-sanity-lite holds it: title, authors [{name}], summary."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        pdb: dict[int, dict[str, Any]] = {
            pid: {"title": title, "authors": [], "summary": abstract}
            for pid, title, abstract in conn.execute(
                "SELECT id, title, abstract FROM papers WHERE hidden_at IS NULL"
            )
        }
        for pid, name in conn.execute(
            "SELECT paper_id, name FROM paper_authors ORDER BY paper_id, position"
        ):
            paper = pdb.get(pid)
            if paper is not None:
                paper["authors"].append({"name": name})
    finally:
        conn.close()
    return pdb


def time_brute_force(
    vectors_f16: np.ndarray, keys: np.ndarray, probes: list[np.ndarray]
) -> dict[str, float]:
    """Exact top-10 by one matrix-vector product per query over float32 rows in RAM."""
    dense = np.asarray(vectors_f16, dtype=np.float32)
    timer = Timer()

    def brute_force(q: np.ndarray) -> np.ndarray:
        sims = dense @ q
        top = np.argpartition(-sims, 9)[:10]
        return keys[top[np.argsort(-sims[top])]]

    for q in probes:
        timer.run(lambda q=q: brute_force(q))
    return latency(timer.wall, timer.cpu)


def time_full_scan(db_path: Path, texts: list[str]) -> tuple[Timer, float]:
    """arxiv-sanity-lite's search over every paper; also how long loading them took."""
    started = time.perf_counter()
    pdb = load_scan_db(db_path)
    load_seconds = time.perf_counter() - started
    timer = Timer()
    for text in texts:
        timer.run(lambda text=text: scan_search(pdb, text))
    return timer, load_seconds


def import_native_libraries() -> None:
    """Import onnxruntime before usearch: the other order crashes the process.

    usearch's extension links its own copy of libstdc++ and exports it; importing
    onnxruntime after it dies with SIGSEGV inside onnxruntime's module initialisation
    (usearch 2.26.6, onnxruntime 1.31.1). This process uses both, so the order is fixed here.
    """
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    import tantivy  # noqa: F401
    import usearch.index  # noqa: F401


def stage_measure(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Open the index in this fresh process and measure everything."""
    from bench import feed
    from paperfeed.db import Database
    from paperfeed.search.engine import CANDIDATES, QueryEmbeddings, SearchRequest, search
    from paperfeed.search.index import SearchIndex, existing_database_id
    from paperfeed.search.query import parse_query

    directory = size_dir(args.dir, size)
    db_path = directory / "papers.sqlite3"
    db = Database(f"sqlite:///{db_path}")
    tz = feed_tz()
    result: dict[str, Any] = {}
    # Touch the database, the libraries and the query embedder first, so that the memory
    # baseline holds them and the difference is the index alone.
    with db.reader() as session:
        search(session, None, None, SearchRequest(q="warm up"))
    import_native_libraries()
    loaded = proc_status()
    encoder, result["embedder"] = load_query_encoder(args)
    if encoder is not None:
        encoder.encode(["warm up the query embedder"])
        result["embedder"]["rss_mb"] = proc_status()["VmRSS"] - loaded["VmRSS"]

    gc.collect()
    before = proc_status()
    started = time.perf_counter()
    index = SearchIndex(directory / "index", tz, args.ann_threshold)
    if not index.open(existing_database_id(db)):
        raise SystemExit(f"no index for {db_path}")
    result["open_seconds"] = time.perf_counter() - started
    opened = proc_status()
    assert index.vectors is not None and index.lexical is not None
    vectors = index.vectors
    result["uses_ann"] = vectors.uses_ann
    result["expansion_search"] = int(vectors._ann.expansion_search) if vectors._ann else None

    model = VectorModel(args.seed)
    clusters = np.load(directory / "clusters.npy")
    rng = random.Random(args.seed * 1009 + size)
    papers = sample_papers(db, size, max(args.queries, 50), rng, tz)
    queries = make_queries(args.queries, papers, clusters, model, feed, args.seed, feed.LAST_DAY)
    table: dict[str, np.ndarray] = {}
    for q in queries:
        table.setdefault(parse_query(q.text).semantic_text, q.vector)
    fixed = QueryEmbeddings(LookupEncoder(table))

    def run(q: Query, mode: str, embed: QueryEmbeddings | None = fixed) -> Any:
        request = SearchRequest(q=q.text, filters=q.filters(), mode=mode, per_page=PAGE)  # type: ignore[arg-type]
        with db.reader() as session:
            return search(session, index, embed, request)

    # Warm-up: a slice of the queries in every mode (first touches of mmapped files).
    for q in queries[: max(5, len(queries) // 10)]:
        for mode in MODES:
            run(q, mode)
    gc.collect()
    timed = measure_searches(queries, run, encoder, args.profile, size)
    after = proc_status()
    result.update(timed)
    result["memory"] = {"before": before, "opened": opened, "after": after}
    result["latency"]["similar papers"] = time_similar(db, index, [p.pk for p in papers[:100]])
    if encoder is not None:
        result["embedder"].update(time_embedding(encoder, queries))

    # Recall@10 of the vector index against exact search over the same float16 rows.
    result["recall"], truth = measure_recall(vectors, queries, rng, CANDIDATES)
    # The in-repo brute force agrees with the ground truth (a few queries; slow at 1M).
    exact_timer = Timer()
    agree: list[float] = []
    for i in range(min(args.exact_queries, len(queries))):
        pks, _ = exact_timer.run(lambda i=i: vectors.exact_search(queries[i].vector, 10))
        agree.append(len(set(pks.tolist()) & set(truth[i, :10].tolist())) / 10)
    result["latency"]["VectorStore.exact_search"] = latency(exact_timer.wall, exact_timer.cpu)
    result["exact_agreement"] = statistics.fmean(agree) if agree else None

    # Baseline 1: exact numpy brute force over a float32 matrix held in RAM.
    result["latency"]["numpy brute force"] = time_brute_force(
        vectors.vectors[: vectors.rows],
        vectors.keys[: vectors.rows],
        [q.vector for q in queries[: args.brute_queries]],
    )
    gc.collect()

    # Baseline 2: arxiv-sanity-lite's full scan, on queries spread evenly over the set.
    step = max(1, len(queries) // args.scan_queries)
    sample = list(range(0, len(queries), step))[: args.scan_queries]
    scan, result["scan_load_seconds"] = time_full_scan(db_path, [queries[i].text for i in sample])
    result["latency"]["full scan"] = latency(scan.wall, scan.cpu)
    hybrid_ms = timed["hybrid_ms"]
    result["scan_speedups"] = [w / hybrid_ms[i] for w, i in zip(scan.wall, sample, strict=True)]
    result["scan_queries"] = [queries[i].text for i in sample]
    gc.collect()
    db.dispose()
    return result


def load_query_encoder(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The real query embedder (int8 unless --fp32), or None and why not."""
    if args.no_embedder:
        return None, {"skipped": "--no-embedder"}
    try:
        from paperfeed.search.embedder import default_cache_dir, load_embedder
    except ImportError as exc:
        return None, {"skipped": f"paperfeed.search.embedder is not available ({exc})"}
    started = time.perf_counter()
    try:
        encoder = load_embedder(
            None, quantize=not args.fp32, cache_dir=args.model_cache or default_cache_dir()
        )
    except Exception as exc:
        return None, {"skipped": f"the embedder could not be loaded: {exc}"}
    return encoder, {"model": encoder.model_id, "load_seconds": time.perf_counter() - started}


def measure_searches(
    queries: list[Query],
    run: Callable[..., Any],
    encoder: Any,
    profile: str | None,
    size: int,
) -> dict[str, Any]:
    """Every query in every mode, the modes taking turns; with the real embedder too.

    "hybrid + embedding (first)" is the first search of a text through a real
    `QueryEmbeddings` (the query is embedded), "(cached)" the same search right after.
    """
    from paperfeed.search.engine import QueryEmbeddings
    from paperfeed.search.query import parse_query

    timers = {mode: Timer() for mode in MODES}
    first, cached = Timer(), Timer()
    real = QueryEmbeddings(encoder) if encoder is not None else None
    seen: set[str] = set()
    by_kind: dict[str, Timer] = {}
    empty = dict.fromkeys(MODES, 0)
    profiler = cProfile.Profile() if profile else None
    for i, q in enumerate(queries):
        for mode in MODES[i % 3 :] + MODES[: i % 3]:
            if profiler is not None and mode == profile:
                profiler.enable()
            found = timers[mode].run(lambda q=q, mode=mode: run(q, mode))
            if profiler is not None and mode == profile:
                profiler.disable()
            if not found.hits:
                empty[mode] += 1
        kind = by_kind.setdefault(q.kind, Timer())
        kind.wall.append(timers["hybrid"].wall[-1])
        kind.cpu.append(timers["hybrid"].cpu[-1])
        text = parse_query(q.text).semantic_text
        if real is not None and text not in seen:
            seen.add(text)
            first.run(lambda q=q: run(q, "hybrid", real))
            cached.run(lambda q=q: run(q, "hybrid", real))
    if profiler is not None:
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
        log(f"cProfile of {profile} search at {size:,} papers:\n{out.getvalue()}")
    lat = {m: latency(t.wall, t.cpu) for m, t in timers.items()}
    if real is not None:
        lat["hybrid + embedding (first)"] = latency(first.wall, first.cpu)
        lat["hybrid + embedding (cached)"] = latency(cached.wall, cached.cpu)
    return {
        "latency": lat,
        "hybrid_by_kind": {k: latency(t.wall, t.cpu) for k, t in sorted(by_kind.items())},
        "empty_pages": empty,
        "hybrid_ms": timers["hybrid"].wall,
    }


def time_similar(db: Any, index: Any, pks: list[int]) -> dict[str, float]:
    """ "Similar papers" as a paper page asks for them."""
    from paperfeed.models import Paper
    from paperfeed.search.engine import similar

    timer = Timer()
    for pk in pks:
        with db.reader() as session:
            paper = session.get(Paper, pk)
            timer.run(lambda session=session, paper=paper: similar(session, index, paper))
    return latency(timer.wall, timer.cpu)


def time_embedding(encoder: Any, queries: list[Query]) -> dict[str, Any]:
    """One query's embedding: computed (a fresh cache) and then served from the cache."""
    from paperfeed.search.engine import QueryEmbeddings
    from paperfeed.search.query import parse_query

    embeddings = QueryEmbeddings(encoder)
    uncached, cached = Timer(), Timer()
    for text in dict.fromkeys(parse_query(q.text).semantic_text for q in queries):
        uncached.run(lambda text=text: embeddings(text))
        cached.run(lambda text=text: embeddings(text))
    return {
        "embed uncached": latency(uncached.wall, uncached.cpu),
        "embed cached": latency(cached.wall, cached.cpu),
    }


def measure_recall(
    vectors: Any, queries: list[Query], rng: random.Random, candidates: int
) -> tuple[dict[str, Any], np.ndarray]:
    """Recall@10 against exact search, and the exact top-11 pks of every query."""
    query_vectors = np.stack([q.vector for q in queries]).astype(np.float32)
    doc_rows = np.sort(
        np.array(rng.sample(range(vectors.rows), min(100, vectors.rows)), dtype=np.int64)
    )
    doc_vectors = np.asarray(vectors.vectors[doc_rows], dtype=np.float32)
    probes = np.concatenate([query_vectors, doc_vectors])
    started = time.perf_counter()
    truth = vectors.keys[exact_top(vectors.vectors[: vectors.rows], probes, 11)]
    seconds = time.perf_counter() - started

    def overlap(got: Sequence[int], want: Sequence[int]) -> float:
        return len(set(got) & set(want)) / 10

    engine_path: list[float] = []
    top10: list[float] = []
    raw: list[float] = []
    docs: list[float] = []
    for i in range(len(queries)):
        want = truth[i, :10].tolist()
        engine_path.append(overlap(vectors.search(probes[i], candidates)[0][:10].tolist(), want))
        top10.append(overlap(vectors.search(probes[i], 10)[0].tolist(), want))
        if vectors._ann is not None:
            raw.append(overlap(np.asarray(vectors._ann.search(probes[i], 10).keys).tolist(), want))
    for j, row in enumerate(doc_rows):
        # A paper's neighbours, itself excluded (what "similar papers" shows).
        own = int(vectors.keys[row])
        got = [p for p in vectors.search(probes[len(queries) + j], 11)[0].tolist() if p != own]
        want = [p for p in truth[len(queries) + j].tolist() if p != own]
        docs.append(overlap(got[:10], want[:10]))
    return {
        "engine": statistics.fmean(engine_path),
        "engine_min": min(engine_path),
        "k10": statistics.fmean(top10),
        "k10_min": min(top10),
        "k10_below_half": sum(r < 0.5 for r in top10),
        "similar": statistics.fmean(docs),
        "raw_hnsw": statistics.fmean(raw) if raw else None,
        "n": len(queries),
        "candidates": candidates,
        "ground_truth_seconds": seconds,
    }, truth


# --- orchestration --------------------------------------------------------------------------


def run_stage(stage: str, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one stage in a fresh interpreter; its result comes back as JSON."""
    out = size_dir(args.dir, size).parent / f".{stage}-{size}.json"
    out.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "bench.search_scale",
        "--stage",
        stage,
        "--stage-size",
        str(size),
        "--stage-out",
        str(out),
        "--dir",
        str(args.dir),
        "--seed",
        str(args.seed),
        "--queries",
        str(args.queries),
        "--scan-queries",
        str(args.scan_queries),
        "--brute-queries",
        str(args.brute_queries),
        "--exact-queries",
        str(args.exact_queries),
        "--ann-threshold",
        str(args.ann_threshold),
    ]
    if args.profile:
        command += ["--profile", args.profile]
    if args.fp32:
        command.append("--fp32")
    if args.no_embedder:
        command.append("--no-embedder")
    if args.model_cache:
        command += ["--model-cache", str(args.model_cache)]
    started = time.perf_counter()
    completed = subprocess.run(command, check=False, cwd=HERE.parent)
    if completed.returncode != 0 or not out.exists():
        raise RuntimeError(f"stage {stage} at {size:,} papers failed ({completed.returncode})")
    result = json.loads(out.read_text())
    out.unlink()
    result["stage_seconds"] = time.perf_counter() - started
    return result


def build(size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Database and index for `size` papers, reused when asked and already complete."""
    directory = size_dir(args.dir, size)
    record = directory / "build.json"
    if args.reuse and record.exists():
        saved = json.loads(record.read_text())
        if saved.get("signature") == signature(size, args):
            log(f"{size:,} papers: reusing {directory}")
            saved["reused"] = True
            return saved
    log(f"{size:,} papers: building the database in {directory}")
    database = run_stage("database", size, args)
    log(f"{size:,} papers: indexing (SearchIndex.sync)")
    index = run_stage("index", size, args)
    saved = {"signature": signature(size, args), "database": database, "index": index}
    record.write_text(json.dumps(saved))
    saved["reused"] = False
    return saved


def mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MB"


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    if value >= 10_000:
        return f"{value / 1000:,.1f} s"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"


def index_memory_mb(res: dict[str, Any]) -> float:
    memory = res["measure"]["memory"]
    return memory["after"]["VmRSS"] - memory["before"]["VmRSS"]


def report_size(size: int, res: dict[str, Any]) -> None:
    b, m = res["build"], res["measure"]
    d, ix = b["database"], b["index"]
    print()
    print(f"=== {size:,} papers ===")
    reused = " (reused; times from the original build)" if b.get("reused") else ""
    print(
        f"build{reused}: database {d['papers_seconds']:.0f} s papers + "
        f"{d['vectors_seconds']:.0f} s embeddings ({mb(d['db_bytes'])}, peak RSS "
        f"{d['peak_rss_mb']:,.0f} MB); index sync {ix['seconds']:.0f} s = lexical "
        f"{ix['lexical_seconds']:.0f} s + vectors/HNSW {ix['vector_seconds']:.0f} s "
        f"({size / ix['seconds']:,.0f} papers/s, peak RSS {ix['peak_rss_mb']:,.0f} MB)"
    )
    total = ix["lexical_bytes"] + ix["vector_bytes"] + ix["ann_bytes"]
    print(
        f"index on disk: lexical {mb(ix['lexical_bytes'])}, vectors {mb(ix['vector_bytes'])}, "
        f"HNSW {mb(ix['ann_bytes'])}, total {mb(total)}"
    )
    mem = m["memory"]
    print(
        f"memory (VmRSS): {mem['before']['VmRSS']:,.0f} MB before opening, "
        f"{mem['opened']['VmRSS']:,.0f} MB opened ({m['open_seconds']:.1f} s), "
        f"{mem['after']['VmRSS']:,.0f} MB after the queries "
        f"(anon {mem['after']['RssAnon']:,.0f} MB + file {mem['after']['RssFile']:,.0f} MB) "
        f"-> index memory {index_memory_mb(res):,.0f} MB"
    )
    ann = "HNSW int8 + exact re-rank" if m["uses_ann"] else "exact (below ann_threshold)"
    if m["expansion_search"] is not None:
        ann += f", expansion_search={m['expansion_search']}"
    print(f"vector index: {ann}")
    print()
    header = f"{'':<36} {'p50 ms':>9} {'p99 ms':>9} {'mean ms':>9} {'cpu p50':>9} {'n':>5}"
    print(header)
    print("-" * len(header))

    def row(name: str, stats: dict[str, float]) -> None:
        print(
            f"{name:<36} {fmt_ms(stats['p50']):>9} {fmt_ms(stats['p99']):>9} "
            f"{fmt_ms(stats['mean']):>9} {fmt_ms(stats['cpu_p50']):>9} {stats['n']:>5}"
        )

    lat = m["latency"]
    for mode in MODES:
        row(f"{mode} (no query embedding)", lat[mode])
    for kind, stats in m["hybrid_by_kind"].items():
        row(f"  hybrid: {kind}", stats)
    row("similar papers", lat["similar papers"])
    emb = m["embedder"]
    if "skipped" in emb:
        print(f"{'with query embedding':<36} skipped: {emb['skipped']}")
    else:
        print(
            f"with query embedding ({emb['model']}, loaded in {emb['load_seconds']:.1f} s, "
            f"{emb['rss_mb']:,.0f} MB):"
        )
        row("  embed uncached", emb["embed uncached"])
        row("  embed cached", emb["embed cached"])
        row("  hybrid + embedding (first)", lat["hybrid + embedding (first)"])
        row("  hybrid + embedding (cached)", lat["hybrid + embedding (cached)"])
    print("baselines:")
    row("  numpy brute force (f32 in RAM)", lat["numpy brute force"])
    row("  VectorStore.exact_search", lat["VectorStore.exact_search"])
    row("  full scan (arxiv-sanity-lite)", lat["full scan"])
    r = m["recall"]
    print(
        f"recall@10 vs exact search, {r['n']} queries: {r['engine']:.3f} as search() asks "
        f"(k={r['candidates']}, worst query {r['engine_min']:.1f}); {r['k10']:.3f} with k=10 "
        f"(worst {r['k10_min']:.1f}, {r['k10_below_half']} below 0.5)"
    )
    raw = f"; raw HNSW top-10 {r['raw_hnsw']:.3f}" if r["raw_hnsw"] is not None else ""
    print(
        f"    similar papers (papers as queries) {r['similar']:.3f}{raw}; "
        f"exact_search agrees with the ground truth {m['exact_agreement']:.2f}"
    )
    speedup = lat["full scan"]["p50"] / lat["hybrid"]["p50"]
    print(
        f"full scan vs hybrid: {speedup:,.0f}x (p50 / p50); on the same "
        f"{len(m['scan_speedups'])} queries {min(m['scan_speedups']):,.0f}x-"
        f"{max(m['scan_speedups']):,.0f}x (median {p50(m['scan_speedups']):,.0f}x); "
        f"numpy brute force (vectors only) {lat['numpy brute force']['p50']:.1f} ms"
    )
    print(f"    full-scan queries: {', '.join(repr(t[:40]) for t in m['scan_queries'])}")
    print(f"pages with no results: {m['empty_pages']}")


def extrapolate(sizes: list[int], results: dict[int, dict[str, Any]]) -> None:
    """Power-law growth between the two largest sizes, carried to EXTRAPOLATE_TO."""
    a, b = sizes[-2], sizes[-1]
    ra, rb = results[a], results[b]

    def metrics(res: dict[str, Any]) -> dict[str, float]:
        ix = res["build"]["index"]
        lat = res["measure"]["latency"]
        return {
            "index build (s)": ix["seconds"],
            "index on disk (MB)": (ix["lexical_bytes"] + ix["vector_bytes"] + ix["ann_bytes"])
            / 2**20,
            "index memory (MB)": index_memory_mb(res),
            "hybrid p50 (ms)": lat["hybrid"]["p50"],
            "hybrid p99 (ms)": lat["hybrid"]["p99"],
            "lexical p50 (ms)": lat["lexical"]["p50"],
            "vector p50 (ms)": lat["vector"]["p50"],
            "full scan per query (s)": lat["full scan"]["p50"] / 1000,
        }

    ma, mb_ = metrics(ra), metrics(rb)
    print()
    print(
        f"Extrapolated to {EXTRAPOLATE_TO:,} papers (NOT measured): power law through the "
        f"{a:,} and {b:,} measurements"
    )
    for name in ma:
        va, vb = ma[name], mb_[name]
        if va > 0 and vb > 0:
            slope = math.log(vb / va) / math.log(b / a)
            value = vb * (EXTRAPOLATE_TO / b) ** slope
            print(f"  {name:<26} {value:>10,.1f}   (growth exponent {slope:.2f})")


def summary(sizes: list[int], results: dict[int, dict[str, Any]]) -> bool:
    """Print the targets at 1M papers; True when all are met there."""
    at = next((s for s in sizes if s >= TARGET_SIZE), sizes[-1])
    res = results[at]
    lat = res["measure"]["latency"]
    hybrid = lat["hybrid"]
    speedup = lat["full scan"]["p50"] / hybrid["p50"]
    memory = index_memory_mb(res)
    recall = res["measure"]["recall"]["engine"]
    recall_k10 = res["measure"]["recall"]["k10"]
    print()
    note = "" if at >= TARGET_SIZE else f" (targets are for 1,000,000; measured at {at:,})"
    print(f"Targets at {at:,} papers{note}:")
    checks = [
        ("hybrid p50 excl. query embedding", f"{hybrid['p50']:.2f} ms",
         f"<= {TARGET_P50_MS:.0f} ms", hybrid["p50"] <= TARGET_P50_MS),
        ("hybrid p99 excl. query embedding", f"{hybrid['p99']:.2f} ms",
         f"<= {TARGET_P99_MS:.0f} ms", hybrid["p99"] <= TARGET_P99_MS),
        ("recall@10 of the vector index", f"{recall:.3f}", f">= {TARGET_RECALL}",
         recall >= TARGET_RECALL),
        ("recall@10 with k=10 (similar papers)", f"{recall_k10:.3f}", f">= {TARGET_RECALL}",
         recall_k10 >= TARGET_RECALL),
        ("speed-up over the full scan (p50)", f"{speedup:,.0f}x", f">= {TARGET_SPEEDUP:.0f}x",
         speedup >= TARGET_SPEEDUP),
        ("index memory (RSS growth)", f"{memory:,.0f} MB", f"<= {TARGET_MEMORY_MB:,.0f} MB",
         memory <= TARGET_MEMORY_MB),
    ]  # fmt: skip
    for name, value, target, ok in checks:
        print(f"  {name:<36} {value:>12}  target {target:<12} {'met' if ok else 'MISSED'}")
    return all(ok for *_, ok in checks) and at >= TARGET_SIZE


# --- command line ---------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    sizes: list[int] = []
    for part in text.split(","):
        part = part.strip().lower().replace("_", "")
        scale = 1
        if part.endswith("k"):
            part, scale = part[:-1], 1_000
        elif part.endswith("m"):
            part, scale = part[:-1], 1_000_000
        try:
            value = round(float(part) * scale)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{part!r} is not a number of papers") from None
        if value < 1_000:
            raise argparse.ArgumentTypeError("sizes must be at least 1000 papers")
        sizes.append(value)
    return sorted(set(sizes))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/search_scale.py",
        description=(
            "Build synthetic archives (Zipf text, clustered embeddings) and measure index "
            "build, size and memory, lexical/vector/hybrid search latency, vector recall@10, "
            "and two baselines (numpy brute force, arxiv-sanity-lite full scan)."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="comma-separated archive sizes, k and m suffixes work (default: 100k,1m)",
    )
    parser.add_argument(
        "--queries", type=int, default=300, help="timed queries per size (default: %(default)s)"
    )
    parser.add_argument(
        "--scan-queries",
        type=int,
        default=5,
        help="queries timed on the full-scan baseline (default: %(default)s)",
    )
    parser.add_argument(
        "--brute-queries",
        type=int,
        default=30,
        help="queries timed on the numpy brute-force baseline (default: %(default)s)",
    )
    parser.add_argument(
        "--exact-queries",
        type=int,
        default=3,
        help="queries timed on VectorStore.exact_search (default: %(default)s)",
    )
    parser.add_argument(
        "--ann-threshold",
        type=int,
        default=None,
        help="rows above which the vector index uses HNSW (default: the product's, 50000)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--fp32",
        action="store_true",
        help="time the full-precision query embedder instead of int8 (the default setting)",
    )
    parser.add_argument(
        "--no-embedder", action="store_true", help="skip the with-query-embedding measurements"
    )
    parser.add_argument(
        "--model-cache",
        type=Path,
        default=None,
        help="where the embedder's ONNX graph is cached (default: $PAPERFEED_DATA_DIR/models)",
    )
    parser.add_argument(
        "--profile",
        choices=MODES,
        default=None,
        help="print a cProfile of this mode's timed searches (to stderr)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="working directory for databases and indexes (default: a new one under /tmp)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --dir, reuse databases and indexes already built there with the same seed",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 2 when a target is missed at 1M"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help=f"{SMOKE_SIZE:,} papers, few queries, HNSW from {SMOKE_ANN_THRESHOLD:,} rows (CI)",
    )
    parser.add_argument("--stage", choices=("database", "index", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--stage-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--stage-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes = [SMOKE_SIZE]
        args.queries = min(args.queries, 30)
        args.scan_queries = min(args.scan_queries, 2)
        args.brute_queries = min(args.brute_queries, 5)
        args.exact_queries = min(args.exact_queries, 2)
        if args.ann_threshold is None:
            args.ann_threshold = SMOKE_ANN_THRESHOLD
    if args.ann_threshold is None:
        from paperfeed.search.vectors import ANN_THRESHOLD

        args.ann_threshold = ANN_THRESHOLD
    if args.queries < 10 or args.scan_queries < 1 or args.brute_queries < 1:
        parser.error("--queries must be at least 10, --scan-queries and --brute-queries 1")
    if args.reuse and args.dir is None:
        parser.error("--reuse needs --dir")
    return args


STAGES: dict[str, Callable[[int, argparse.Namespace], dict[str, Any]]] = {
    "database": stage_database,
    "index": stage_index,
    "measure": stage_measure,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.stage:
        result = STAGES[args.stage](args.stage_size, args)
        args.stage_out.write_text(json.dumps(result))
        return 0
    remove = args.dir is None and not args.keep
    if args.dir is None:
        args.dir = Path(tempfile.mkdtemp(prefix="paperfeed-search-scale-", dir="/tmp"))
    args.dir.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        for size in args.sizes:
            built = build(size, args)
            log(f"{size:,} papers: measuring")
            measured = run_stage("measure", size, args)
            results[size] = {"build": built, "measure": measured}
            report_size(size, results[size])
            sys.stdout.flush()
    finally:
        if remove:
            shutil.rmtree(args.dir, ignore_errors=True)
        else:
            log(f"data kept in {args.dir}")
    print()
    print(f"(whole run: {time.perf_counter() - started:,.0f} s)")
    met = summary(args.sizes, results)
    if EXTRAPOLATE_TO not in args.sizes and len(args.sizes) >= 2:
        extrapolate(args.sizes, results)
    return 2 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
