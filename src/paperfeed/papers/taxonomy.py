"""arXiv's subject taxonomy: names of categories and archives, their archives, aliases.

The data is arXiv's own (data/arxiv_taxonomy.json, generated from the `arxiv-base`
package by scripts/arxiv_taxonomy.py), so every category a paper has ever carried has a
name, including defunct archives (cmp-lg, solv-int, adap-org) and the aliases that make
two codes one category (math.IT is cs.IT, math.MP is math-ph).

Two kinds of alias fold into one canonical code:
- category aliases: `math.IT` -> `cs.IT`, `stat.TH` -> `math.ST`, `q-fin.EC` -> `econ.GN`;
- defunct archives taken over by a category: `cmp-lg` -> `cs.CL`, `solv-int` -> `nlin.SI`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any


@dataclass(frozen=True)
class Taxonomy:
    source: str
    archives: dict[str, str]  # archive -> name
    categories: dict[str, str]  # category -> name
    archive_of: dict[str, str]  # category -> its archive
    canonical: dict[str, str]  # alias or defunct archive -> canonical category


@cache
def taxonomy() -> Taxonomy:
    raw: dict[str, Any] = json.loads(
        (resources.files("paperfeed") / "data" / "arxiv_taxonomy.json").read_text()
    )
    return Taxonomy(
        source=raw["source"],
        archives={key: a["name"] for key, a in raw["archives"].items()},
        categories={key: c["name"] for key, c in raw["categories"].items()},
        archive_of={key: c["archive"] for key, c in raw["categories"].items()},
        canonical={**raw["subsumed"], **raw["aliases"]},
    )


def is_category(code: str) -> bool:
    """A code papers are filed under (`cs.CL`, `hep-th`, the defunct `cmp-lg`)."""
    return code in taxonomy().categories


def is_archive(code: str) -> bool:
    """An archive (`cs`, `math`, `hep-th`, `cmp-lg`); some are categories too."""
    return code in taxonomy().archives


def is_known(code: str) -> bool:
    return is_category(code) or is_archive(code)


def name(code: str) -> str | None:
    """The human-readable name of a category or archive, or None for an unknown code."""
    t = taxonomy()
    return t.categories.get(code) or t.archives.get(code)


def label(code: str) -> str:
    """`Computation and Language (cs.CL)`; an unknown code is shown as it is."""
    known = name(code)
    return f"{known} ({code})" if known else code


def archive_of(category: str) -> str | None:
    """The archive a category belongs to (`cs.CL` -> `cs`, `hep-th` -> `hep-th`)."""
    return taxonomy().archive_of.get(category)


def canonical(code: str) -> str:
    """The one code an alias stands for (`math.IT` -> `cs.IT`, `cmp-lg` -> `cs.CL`)."""
    return taxonomy().canonical.get(code, code)


def equivalents(category: str) -> list[str]:
    """Every code that means the same category, the canonical one first."""
    main = canonical(category)
    aliases = sorted(alias for alias, target in taxonomy().canonical.items() if target == main)
    return [main, *aliases]


def listing_archive(category: str) -> str:
    """The archive whose listing shows a category.

    A defunct archive is listed with the category that took it over (`cmp-lg` under `cs`,
    `solv-int` under `nlin`); a category alias stays in its own archive (`math.IT` is
    listed under `math`, its twin `cs.IT` under `cs`). A code arXiv does not define is
    listed under what precedes its dot, as arXiv spells archives.
    """
    t = taxonomy()
    successor = t.canonical.get(category) if category in t.archives else None
    return archive_of(successor or category) or category.split(".", 1)[0]


def archive_categories(archive: str) -> list[str]:
    """The categories of an archive, as filed (`cs` -> `cs.AI`, ..., and `cmp-lg`)."""
    return sorted(c for c in taxonomy().categories if listing_archive(c) == archive)
