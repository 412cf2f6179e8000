"""Counts with their nouns: "1 paper", "2 papers", "1,204 papers", never "1 papers".

One helper for the command line, pages (the `plural` and `noun` filters) and emails.
"""

from __future__ import annotations


def noun(count: int, singular: str, plural: str | None = None) -> str:
    """The noun that agrees with `count`: `singular` for 1, else `plural` (default +s)."""
    if count == 1:
        return singular
    return plural if plural is not None else singular + "s"


def plural(count: int, singular: str, plural: str | None = None) -> str:
    """`count` (with thousands separators) and its noun: "1 paper", "1,204 papers"."""
    return f"{count:,} {noun(count, singular, plural)}"
