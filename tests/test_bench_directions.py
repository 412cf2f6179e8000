"""The directions of bench/search_directions.py and the views of bench/search_views.py."""

from __future__ import annotations

import numpy as np

from bench.search_directions import directions
from bench.search_views import best_view, passages


def test_every_direction_overrides_something_that_exists() -> None:
    for name, overrides in directions().items():
        for module, attribute, _ in overrides:
            assert hasattr(module, attribute), (name, attribute)


def test_a_paper_scores_its_best_view() -> None:
    query = np.array([1.0, 0.0])
    views = np.array([[0.2, 0.98], [0.9, 0.44], [0.5, 0.87]])
    owners = np.array([0, 0, 1])
    assert best_view(query, views, owners, papers=3).tolist() == [0.9, 0.5, -1.0]


def test_passages_cover_the_whole_abstract_within_the_limit() -> None:
    def pieces(text: str) -> int:
        return len(text.split())

    abstract = "One two three. Four five six. Seven eight nine ten."
    found = passages("Title", abstract, limit=6, length=pieces)
    assert found == [
        "Title. One two three.",
        "Title. Four five six.",
        "Title. Seven eight nine ten.",
    ]
    assert passages("Title", "Short one.", limit=6, length=pieces) == ["Title. Short one."]
