from pathlib import Path

import numpy as np

from paperfeed.search.vectors import VectorStore


def unit(rows: int, dim: int = 16, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_exact_search_finds_the_nearest(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, 16)
    vectors = unit(500)
    store.upsert(np.arange(1, 501), vectors)
    pks, sims = store.search(vectors[41], 5)
    assert pks[0] == 42 and sims[0] > 0.99
    assert list(sims) == sorted(sims, reverse=True)
    truth = np.argsort(-(vectors @ vectors[41]))[:5] + 1
    assert list(pks) == list(truth)


def test_updates_deletes_and_reload(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, 16)
    vectors = unit(100)
    store.upsert(np.arange(1, 101), vectors)
    store.upsert(np.array([7]), vectors[50:51])  # paper 7 now has paper 51's vector
    store.delete(np.array([51]))
    rows = store.flush()
    reopened = VectorStore(tmp_path, 16)
    reopened.load(rows)
    assert reopened.count == 99
    pks, _ = reopened.search(vectors[50], 2)
    assert pks[0] == 7 and 51 not in pks
    assert reopened.vector(51) is None
    np.testing.assert_allclose(reopened.vector(7), vectors[50], atol=1e-3)


def test_search_within_an_allowed_subset(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, 16)
    vectors = unit(300)
    store.upsert(np.arange(1, 301), vectors)
    allowed = np.arange(200, 301)
    pks, _ = store.search(vectors[0], 10, allowed=allowed)
    assert len(pks) == 10 and all(200 <= p <= 300 for p in pks)


def test_a_predicate_drops_candidates_before_the_re_rank(tmp_path: Path) -> None:
    """Over-fetched neighbours that fail a filter never reach the page, in either mode."""
    vectors = unit(2000, 16, seed=4)
    even = lambda pks: pks % 2 == 0  # noqa: E731
    for threshold in (10_000, 1000):  # exact, then HNSW
        store = VectorStore(tmp_path / str(threshold), 16, ann_threshold=threshold)
        store.upsert(np.arange(1, 2001), vectors)
        store.flush()
        pks, sims = store.search(vectors[9], 50, passes=even)
        assert len(pks) > 0 and all(p % 2 == 0 for p in pks)
        assert pks[0] == 10 and sims[0] > 0.99
        assert list(sims) == sorted(sims, reverse=True)
        exact = vectors[pks - 1] @ vectors[9]
        np.testing.assert_allclose(sims, exact, atol=2e-3)


def test_hnsw_mode_matches_exact_search(tmp_path: Path) -> None:
    store = VectorStore(tmp_path, 32, ann_threshold=1000)
    vectors = unit(3000, 32, seed=3)
    store.upsert(np.arange(1, 3001), vectors)
    store.flush()
    assert store.uses_ann
    queries = unit(50, 32, seed=9)
    recall = []
    for query in queries:
        approx, _ = store.search(query, 10)
        exact, _ = store.exact_search(query, 10)
        recall.append(len(set(approx) & set(exact)) / 10)
    assert np.mean(recall) >= 0.95
    reopened = VectorStore(tmp_path, 32, ann_threshold=1000)
    reopened.load(3000)
    assert reopened.search(vectors[5], 1)[0][0] == 6


def test_hnsw_mode_then_the_embedder_loads_without_crashing(tmp_path: Path) -> None:
    """usearch imported before onnxruntime used to kill the process (SIGSEGV)."""
    import subprocess
    import sys

    code = (
        "import numpy as np\n"
        "from pathlib import Path\n"
        "from paperfeed.search.vectors import VectorStore\n"
        f"store = VectorStore(Path({str(tmp_path)!r}), 8, ann_threshold=10)\n"
        "v = np.random.default_rng(0).normal(size=(50, 8)).astype('float32')\n"
        "store.upsert(np.arange(1, 51), v / np.linalg.norm(v, axis=1, keepdims=True))\n"
        "store.flush()\n"
        "import onnxruntime\n"
        "print('alive')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-1000:]
    assert "alive" in result.stdout


def test_a_restored_graph_keeps_its_search_breadth(tmp_path: Path) -> None:
    from paperfeed.search.vectors import EXPANSION_SEARCH

    store = VectorStore(tmp_path, 16, ann_threshold=100)
    store.upsert(np.arange(1, 301), unit(300))
    rows = store.flush()
    reopened = VectorStore(tmp_path, 16, ann_threshold=100)
    reopened.load(rows)
    assert reopened._ann is not None
    assert reopened._ann.expansion_search == EXPANSION_SEARCH
