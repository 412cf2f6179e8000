"""The score-aware fusion measured by bench/search_directions.py ranks as its formula says."""

from __future__ import annotations

from bench.search_directions import combsum, directions


def test_combsum_mixes_normalized_bm25_and_kept_cosines() -> None:
    lexical_ids, bm25 = [1, 2], {1: 10.0, 2: 5.0}
    vector_ids, cosines = [3, 2], {3: 0.9, 2: 0.8, 1: 0.1}
    # 1: 0.5 x 1 (its cosine was not kept); 2: 0.5 x 0.5 + 0.5 x 0.8; 3: 0.5 x 0.9
    assert combsum(lexical_ids, bm25, vector_ids, cosines, 0.5) == [2, 1, 3]
    assert combsum(lexical_ids, bm25, vector_ids, cosines, 1.0) == [1, 2, 3]
    assert combsum(lexical_ids, bm25, vector_ids, cosines, 0.0) == [3, 2, 1]
    # No keyword match: cosines alone; equal scores in id order.
    assert combsum([], {}, [5, 4], {5: 0.5, 4: 0.5}, 0.3) == [4, 5]


def test_every_direction_overrides_something_that_exists() -> None:
    for name, overrides in directions().items():
        for module, attribute, _ in overrides:
            assert hasattr(module, attribute), (name, attribute)
