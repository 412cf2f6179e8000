"""The vector index: exact search for small archives, HNSW (usearch) for large ones.

Vectors live in a float16 memory-mapped file, one row per paper, with the paper's primary
key beside it. Below `ann_threshold` rows (50k) a float32 copy is kept in memory and every
query is an exact dot product (about 1 ms at 50k; it grows linearly, 12 ms at 200k, which
would make paper pages with "similar papers" cost more on larger archives). Above it an
int8 HNSW graph finds 100 candidates which are then re-ranked exactly from the float16
rows: recall stays ~1.0 and memory stays ~1 KB per paper.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperfeed.search.ranking import best_first

if TYPE_CHECKING:  # imported at run time by _usearch_index, after onnxruntime
    from usearch.index import Index

ANN_THRESHOLD = 50_000
ANN_CANDIDATES = 100
# Measured on 1M clustered vectors (bench/search_scale.py): connectivity 16 and a search
# breadth of 64-128 left queries stuck in the wrong cluster (recall@10 0.91); 32 / 256 / 512
# reach 0.995 for about 1.5 ms more per search and a 25% larger graph. A search breadth
# of 384 keeps recall@10 at 0.993 (0.999 at 512, 0.979 at 256) for 0.9 ms less per search.
CONNECTIVITY = 32
EXPANSION_ADD = 256
EXPANSION_SEARCH = 384
# Rows this close to the k-th best similarity are scored again exactly (see `_top`): well
# above the float32 rounding of a 384-term dot product (~1e-6), and above the float16
# rounding of a stored vector (~1e-5), so no tied or near-tied row is cut by noise.
TIE_MARGIN = 1e-4
RESCORE_ROWS = 1024  # up to this many rows, `_rescore` all of them instead of shortlisting


def _usearch_index() -> type[Index]:
    """usearch's Index class, with onnxruntime loaded first.

    Importing onnxruntime after usearch crashes the process (SIGSEGV in onnxruntime's
    module initialisation); the other order is fine. The query embedder loads onnxruntime
    after the index is open, so make sure it is already there.
    """
    with contextlib.suppress(ImportError):
        import onnxruntime  # noqa: F401
    from usearch.index import Index

    return Index


class VectorStore:
    _count: int | None = None  # see `count`; reset by every change

    def __init__(
        self, path: Path, dim: int, ann_threshold: int = ANN_THRESHOLD, create: bool = True
    ) -> None:
        """A store in `path`, created there if `create`; readers pass `create=False` and so
        never write to an index directory (`load` then fails if the files are missing)."""
        self.path = path
        self.dim = dim
        self.ann_threshold = ann_threshold
        if create:
            path.mkdir(parents=True, exist_ok=True)
        self._vectors_file = path / "vectors.f16"
        self._keys_file = path / "keys.i64"
        self._ann_file = path / "ann.usearch"
        self.rows = 0
        self.keys = np.zeros(0, dtype=np.int64)
        self.vectors = np.zeros((0, dim), dtype=np.float16)
        self.row_of = np.full(1, -1, dtype=np.int64)  # indexed by primary key
        self._dense: np.ndarray | None = None
        self._ann: Index | None = None
        self._dirty_ann = False

    # --- persistence --------------------------------------------------------------------

    def load(self, rows: int) -> None:
        """Open the first `rows` rows written by an earlier `flush`.

        Files shorter than `rows` (or missing) raise FileNotFoundError: an index that lost
        its vectors must be rebuilt, not served as if it had none.
        """
        self.rows = rows
        if rows and not self.holds(rows):
            raise FileNotFoundError(f"the vector files in {self.path} hold fewer than {rows} rows")
        if rows:
            self.keys = np.fromfile(self._keys_file, dtype=np.int64, count=rows).copy()
            self.vectors = np.memmap(
                self._vectors_file, dtype=np.float16, mode="r", shape=(rows, self.dim)
            )
        else:
            self.keys = np.zeros(0, dtype=np.int64)
            self.vectors = np.zeros((0, self.dim), dtype=np.float16)
            self.rows = 0
        self._rebuild_lookup()
        self._count = None
        self._dense = None
        self._ann = None
        if self.rows >= self.ann_threshold and self._ann_file.exists():
            Index = _usearch_index()
            self._ann = Index.restore(str(self._ann_file), view=False)
            # None only if the file went away since exists(): `_ensure_ann` builds it anew.
            if self._ann is not None:
                # Not kept in the saved file.
                self._ann.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]  # usearch's setter is apart from its getter

    def holds(self, rows: int) -> bool:
        """Whether the files hold at least `rows` rows (written by `flush`)."""
        try:
            return (
                self._keys_file.stat().st_size >= rows * 8
                and self._vectors_file.stat().st_size >= rows * self.dim * 2
            )
        except OSError:
            return False

    def flush(self) -> int:
        """Write everything to disk (temp files renamed into place); return the row count."""
        tmp_keys = self._keys_file.with_suffix(".tmp")
        self.keys[: self.rows].tofile(tmp_keys)
        vectors = np.ascontiguousarray(self.vectors[: self.rows], dtype=np.float16)
        tmp_vectors = self._vectors_file.with_suffix(".tmp")
        vectors.tofile(tmp_vectors)
        os.replace(tmp_vectors, self._vectors_file)
        os.replace(tmp_keys, self._keys_file)
        if self.rows >= self.ann_threshold:
            self._ensure_ann()
            if self._dirty_ann and self._ann is not None:
                tmp = self._ann_file.with_suffix(".tmp")
                self._ann.save(str(tmp))
                os.replace(tmp, self._ann_file)
                self._dirty_ann = False
        return self.rows

    # --- writing ------------------------------------------------------------------------

    def upsert(self, pks: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace the vectors of these papers (float32, L2-normalized)."""
        pks = np.asarray(pks, dtype=np.int64)
        vectors = np.asarray(vectors, dtype=np.float32)
        self._grow_lookup(int(pks.max()) if len(pks) else 0)
        existing = self.row_of[pks]
        new = existing < 0
        new_rows = np.arange(self.rows, self.rows + int(new.sum()))
        rows = existing.copy()
        rows[new] = new_rows
        total = self.rows + len(new_rows)
        if (
            total > len(self.keys)
            or not isinstance(self.vectors, np.ndarray)
            or (isinstance(self.vectors, np.memmap))
        ):
            self._materialize(total)
        self.keys[rows] = pks
        self.vectors[rows] = vectors.astype(np.float16)
        self.row_of[pks] = rows
        self.rows = total
        self._count = None
        if self._dense is not None:
            if len(self._dense) < total:
                grown = np.zeros((len(self.keys), self.dim), dtype=np.float32)
                grown[: len(self._dense)] = self._dense
                self._dense = grown
            # The stored (float16) values, as a process that loads the files would hold.
            self._dense[rows] = vectors.astype(np.float16)
        if self._ann is not None:
            replaced = pks[~new]
            if len(replaced):
                self._ann.remove(replaced)
            self._ann.add(pks, vectors)
            self._dirty_ann = True

    def delete(self, pks: np.ndarray) -> None:
        pks = np.asarray(pks, dtype=np.int64)
        pks = pks[pks < len(self.row_of)]
        rows = self.row_of[pks]
        keep = rows >= 0
        pks, rows = pks[keep], rows[keep]
        if not len(rows):
            return
        self._materialize(self.rows)
        self.keys[rows] = -1
        self.vectors[rows] = 0
        self.row_of[pks] = -1
        self._count = None
        if self._dense is not None:
            self._dense[rows] = 0
        if self._ann is not None:
            self._ann.remove(pks)
            self._dirty_ann = True

    # --- reading ------------------------------------------------------------------------

    @property
    def count(self) -> int:
        """Papers with a vector; cached, since counting 1M keys cost 1.5 ms per search."""
        if self._count is None:
            self._count = int((self.keys[: self.rows] >= 0).sum())
        return self._count

    @property
    def uses_ann(self) -> bool:
        return self.rows >= self.ann_threshold

    def vector(self, pk: int) -> np.ndarray | None:
        if pk >= len(self.row_of) or self.row_of[pk] < 0:
            return None
        return np.asarray(self.vectors[self.row_of[pk]], dtype=np.float32)

    def similarities(self, query: np.ndarray, pks: np.ndarray) -> np.ndarray:
        """The query's cosine with each of these papers, NaN for one without a vector.

        Read from the stored rows (the same numbers `search` re-ranks with), so a paper
        found by its words alone gets its meaning score too.
        """
        pks = np.asarray(pks, dtype=np.int64)
        found = np.full(len(pks), np.nan, dtype=np.float32)
        rows = np.full(len(pks), -1, dtype=np.int64)
        inside = (pks >= 0) & (pks < len(self.row_of))
        rows[inside] = self.row_of[pks[inside]]
        has = rows >= 0
        if has.any():
            found[has] = np.asarray(self.vectors[rows[has]], dtype=np.float32) @ query
        return found

    def has(self, pk: int) -> bool:
        return pk < len(self.row_of) and self.row_of[pk] >= 0

    def search(
        self,
        query: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        passes: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most similar papers (pks, cosine similarities), best first.

        `allowed` restricts an exact search to those pks. `passes` (pks -> booleans) drops
        approximate candidates before their exact re-rank: a filtered search over-fetches
        thousands of neighbours and only re-reads the vectors of the few that pass.
        """
        if self.rows == 0 or k <= 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        query = np.asarray(query, dtype=np.float32)
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            allowed = allowed[allowed < len(self.row_of)]
            rows = self.row_of[allowed]
            rows = rows[rows >= 0]
            return self._exact(rows, query, k)
        if self.uses_ann:
            self._ensure_ann()
            assert self._ann is not None
            matches = self._ann.search(query, max(k, ANN_CANDIDATES))
            keys = np.asarray(matches.keys, dtype=np.int64)
            if passes is not None:
                keys = keys[passes(keys)]
            candidates = self.row_of[keys[keys < len(self.row_of)]]
            return self._exact(candidates[candidates >= 0], query, k)
        dense = self._dense_matrix()
        sims = dense[: self.rows] @ query
        sims[self.keys[: self.rows] < 0] = -np.inf
        if passes is not None:
            sims[~passes(self.keys[: self.rows])] = -np.inf
        return self._top(np.arange(self.rows), sims, query, k)

    def exact_search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Brute force over every row (the baseline the HNSW index is measured against)."""
        rows = np.nonzero(self.keys[: self.rows] >= 0)[0]
        return self._exact(rows, query, k)

    # --- internals ----------------------------------------------------------------------

    def _exact(self, rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if not len(rows):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if len(rows) <= RESCORE_ROWS:  # the HNSW candidates, a small filtered subset
            rows = np.sort(rows)
            return self._top(rows, self._rescore(rows, query), None, k)
        if self._dense is not None:
            block = self._dense[rows]
        else:
            block = np.asarray(self.vectors[np.sort(rows)], dtype=np.float32)
            rows = np.sort(rows)
        sims = block @ query
        return self._top(rows, sims, query, k)

    def _top(
        self, rows: np.ndarray, sims: np.ndarray, query: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best of these rows by `sims` (pks, similarities), ties by ascending pk.

        A matrix product gives identical vectors results a few units in the last place
        apart, depending on where they sit in the matrix (BLAS kernels treat a block's last
        rows differently), so `sims` only shortlists: the rows within TIE_MARGIN of the
        k-th best are scored again by `_rescore`, which gives identical stored vectors
        identical scores on every node, whatever their row. `query=None`: `sims` came
        from `_rescore` already.
        """
        if k < len(rows):
            kth = sims[np.argpartition(sims, len(sims) - k)[len(sims) - k :]].min()
            near = sims >= kth - TIE_MARGIN
        else:
            near = np.isfinite(sims)
        keep = np.flatnonzero(near & (sims > -np.inf))
        rows = rows[keep]
        keys = self.keys[rows]
        exact = sims[keep] if query is None else self._rescore(rows, query)
        order = best_first(exact, keys)[:k]
        return keys[order], exact[order]

    def _rescore(self, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Cosines of a few rows, one dot product per row (`einsum` sums each row by itself,
        so identical vectors get identical results), from the float16 values every node
        holds (the float32 copy holds them too, see `upsert`)."""
        if self._dense is not None:
            block = self._dense[rows]
        else:
            block = np.asarray(self.vectors[rows], dtype=np.float32)
        return np.einsum("ij,j->i", block, np.asarray(query, dtype=np.float32))

    def _dense_matrix(self) -> np.ndarray:
        if self._dense is None or len(self._dense) < self.rows:
            dense = np.zeros((max(len(self.keys), self.rows), self.dim), dtype=np.float32)
            dense[: self.rows] = self.vectors[: self.rows]
            self._dense = dense
        return self._dense

    def _ensure_ann(self) -> None:
        if self._ann is not None:
            return
        Index = _usearch_index()
        index = Index(
            ndim=self.dim,
            metric="cos",
            dtype="i8",
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )
        valid = np.nonzero(self.keys[: self.rows] >= 0)[0]
        for start in range(0, len(valid), 100_000):
            rows = valid[start : start + 100_000]
            index.add(self.keys[rows], np.asarray(self.vectors[rows], dtype=np.float32), threads=0)
        self._ann = index
        self._dirty_ann = True

    def _materialize(self, capacity: int) -> None:
        """Make the arrays writable in memory, with room for `capacity` rows."""
        size = max(capacity, 1024, int(len(self.keys) * 1.5) if capacity > len(self.keys) else 0)
        size = max(size, len(self.keys))
        keys = np.full(size, -1, dtype=np.int64)
        keys[: self.rows] = self.keys[: self.rows]
        vectors = np.zeros((size, self.dim), dtype=np.float16)
        vectors[: self.rows] = self.vectors[: self.rows]
        self.keys, self.vectors = keys, vectors

    def _grow_lookup(self, max_pk: int) -> None:
        if max_pk < len(self.row_of):
            return
        grown = np.full(max(max_pk + 1, len(self.row_of) * 2), -1, dtype=np.int64)
        grown[: len(self.row_of)] = self.row_of
        self.row_of = grown

    def _rebuild_lookup(self) -> None:
        valid = self.keys[: self.rows] >= 0
        max_pk = int(self.keys[: self.rows].max()) if self.rows else 0
        self.row_of = np.full(max_pk + 1, -1, dtype=np.int64)
        self.row_of[self.keys[: self.rows][valid]] = np.nonzero(valid)[0]
