"""Filter values of every paper (feed day, organization) as arrays indexed by primary key.

Vector search cannot apply a filter inside the HNSW graph, so a filtered semantic query
either scans the matching subset exactly or over-fetches neighbours and drops those that
fail. Both need "does paper p pass?" for thousands of papers per query; a numpy lookup
answers it in microseconds, where a keyword-index query over the same pks took
milliseconds. The arrays are derived from the database like the rest of the index, with
their own position in the change sequence (`Manifest.facets_seq`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import numpy as np

from paperfeed.search.lexical import Filters, day_number

ABSENT = np.iinfo(np.int32).min  # hidden, deleted or unknown papers pass no filter
NO_DATE = ABSENT + 1  # a visible paper without a date passes no date filter
NO_ORG = 0


class Facets:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._days_file = path / "days.i32"
        self._orgs_file = path / "orgs.i32"
        self.days = np.full(0, ABSENT, dtype=np.int32)
        self.orgs = np.zeros(0, dtype=np.int32)

    def load(self) -> bool:
        """Read the saved arrays; False when there are none yet (the next sync fills them)."""
        if not (self._days_file.exists() and self._orgs_file.exists()):
            return False
        days = np.fromfile(self._days_file, dtype=np.int32)
        orgs = np.fromfile(self._orgs_file, dtype=np.int32)
        if len(days) != len(orgs):
            return False
        self.days, self.orgs = days, orgs
        return True

    def save(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        for array, target in ((self.days, self._days_file), (self.orgs, self._orgs_file)):
            tmp = target.with_suffix(".tmp")
            array.tofile(tmp)
            os.replace(tmp, target)

    def set(self, pks: np.ndarray, days: np.ndarray, orgs: np.ndarray) -> None:
        """Record papers' filter values (see `day_value`; `NO_ORG` for no organization)."""
        pks = np.asarray(pks, dtype=np.int64)
        if not len(pks):
            return
        self._grow(int(pks.max()))
        self.days[pks] = days
        self.orgs[pks] = orgs

    def mask(self, filters: Filters) -> np.ndarray:
        """A boolean array over primary keys: which papers pass the date and organization
        filters (the author and category filters need the keyword index and are not applied
        here)."""
        keep = self.days != ABSENT
        if filters.date_from is not None:
            keep &= self.days >= day_number(filters.date_from)
        if filters.date_to is not None:
            keep &= (self.days <= day_number(filters.date_to)) & (self.days != NO_DATE)
        if filters.organization_id is not None:
            keep &= self.orgs == filters.organization_id
        return keep

    @staticmethod
    def passes(mask: np.ndarray, pks: np.ndarray) -> np.ndarray:
        """Which of these pks pass. Pks beyond the arrays are unknown papers, and negative
        ones the deleted rows of a vector scan (key -1): both fail, rather than being read
        from the end of the mask."""
        pks = np.asarray(pks, dtype=np.int64)
        inside = (pks >= 0) & (pks < len(mask))
        result = np.zeros(len(pks), dtype=bool)
        result[inside] = mask[pks[inside]]
        return result

    def visible(self, pks: np.ndarray) -> np.ndarray:
        """Which of these pks are known and not hidden (no filter applied)."""
        pks = np.asarray(pks, dtype=np.int64)
        inside = (pks >= 0) & (pks < len(self.days))
        result = np.zeros(len(pks), dtype=bool)
        result[inside] = self.days[pks[inside]] != ABSENT
        return result

    def _grow(self, max_pk: int) -> None:
        if max_pk < len(self.days):
            return
        size = max(max_pk + 1, int(len(self.days) * 1.25), 1024)
        days = np.full(size, ABSENT, dtype=np.int32)
        orgs = np.full(size, NO_ORG, dtype=np.int32)
        days[: len(self.days)] = self.days
        orgs[: len(self.orgs)] = self.orgs
        self.days, self.orgs = days, orgs


def day_value(day: date | None, hidden: bool) -> int:
    if hidden:
        return int(ABSENT)
    return int(NO_DATE) if day is None else day_number(day)
