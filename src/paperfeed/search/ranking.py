"""The one tie-break of every ranking: equal scores go in ascending paper id order.

Without it, tied papers (duplicates, papers with the same words) came back in whatever
order the index held them, which changed with every rebuild and differed between nodes
that had followed different histories. The paper id (primary key) is the same for every
node of a database, and the same on SQLite and PostgreSQL for the same imports.
"""

from __future__ import annotations

import numpy as np


def best_first(scores: np.ndarray, pks: np.ndarray) -> np.ndarray:
    """Positions that order these papers by score, highest first, ties by ascending pk."""
    return np.lexsort((np.asarray(pks), -np.asarray(scores)))
