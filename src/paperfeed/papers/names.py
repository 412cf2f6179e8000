"""Author names: their parts, a folded surname key, and conservative grouping of variants.

An author is known only by the name string a paper lists. The same person appears as
"Edmond L. Berger", "E. L. Berger" and "Berger, E.L."; different people share a surname
and often initials (two "J. Wang" in different fields). The rule (docs/authors.md) is:

- two names can be one person only if their folded surnames are equal (accents and case
  folded, particles such as "van der" and hyphenated parts kept);
- their given names must be compatible, token by token: a full name matches the same full
  name or its initial, an initial matches an initial; a missing middle name is allowed,
  but two different full given names ("Edmond" / "Edward") never match;
- if both have a full first given name, these agree and both list as many given names,
  they are merged;
- otherwise (an initial, or a middle name one of them lacks) they are merged only with
  evidence: a shared co-author or a shared arXiv category.

`name_key` (the folded surname and the first given initial) is stored on `paper_authors`
(indexed): two names can only be variants if their keys are equal, so every candidate
variant of a name is found by one index lookup. papers/authors.py groups them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

MAX_KEY = 130  # paper_authors.name_key

PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "la", "le", "du", "dos",
     "das", "ter", "ten", "zu", "al", "el", "bin", "ibn", "st", "st."}
)  # fmt: skip
SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"})


def fold(text: str) -> str:
    """Lower case, accents removed, ß as ss, ø as o, spaces collapsed."""
    if text.isascii():  # most names: nothing to decompose
        return " ".join(text.lower().split())
    text = text.replace("ß", "ss").replace("ø", "o").replace("Ø", "O").replace("ł", "l")
    text = text.replace("Ł", "L").replace("đ", "d").replace("Đ", "D").replace("æ", "ae")
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@dataclass(frozen=True)
class Name:
    """A name split into given-name tokens (folded; an initial is one letter) and surname."""

    given: tuple[str, ...]
    surname: str  # folded, particles included: "van der berg", "garcia-perez"

    @property
    def initials_only(self) -> bool:
        return all(len(g) == 1 for g in self.given)

    @property
    def first_full(self) -> str | None:
        return self.given[0] if self.given and len(self.given[0]) > 1 else None


def _given_tokens(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for part in re.split(r"[\s.]+", fold(text)):
        part = part.strip(",")
        if not part:
            continue
        # "Jean-Pierre" -> jean, pierre; "J.-P." -> j, p
        tokens.extend(p for p in part.split("-") if p)
    return tuple(tokens)


def _split_initials(raw: str) -> str:
    """ "E.L." and "EL" (all capitals, at most 3) read as separate initials."""
    out = []
    for word in raw.split():
        bare = word.replace(".", "").replace("-", "")
        if bare.isalpha() and bare.isupper() and 1 < len(bare) <= 3:
            out.append(" ".join(bare))
        else:
            out.append(word)
    return " ".join(out)


@lru_cache(maxsize=65536)  # grouping a key compares every pair of its names, parsing each
def parse(name: str) -> Name:
    """A name's parts: "Last, First" or "First Middle Last" (particles join the surname)."""
    name = " ".join(name.split())
    if "," in name:
        last, _, first = name.partition(",")
        first_words = [w for w in first.split() if fold(w).strip(".") not in SUFFIXES]
        return Name(_given_tokens(_split_initials(" ".join(first_words))), _surname(last))
    words = [w for w in name.split() if fold(w).strip(".,") not in SUFFIXES]
    if not words:
        return Name((), "")
    if len(words) == 1:
        return Name((), _surname(words[0]))
    # The surname is the last word and the particles right before it ("van der Berg"),
    # "de la Cruz"); a particle never starts the name.
    start = len(words) - 1
    while start > 1 and fold(words[start - 1]) in PARTICLES:
        start -= 1
    return Name(
        _given_tokens(_split_initials(" ".join(words[:start]))), _surname(" ".join(words[start:]))
    )


def _surname(text: str) -> str:
    return fold(text).strip(" .,")


def surname_key(name: str) -> str:
    """The folded surname, with spaces and hyphens as written (co-authors compare by it)."""
    return parse(name).surname[: MAX_KEY - 2]


@lru_cache(maxsize=65536)  # a bulk import meets the same names again and again
def name_key(name: str) -> str:
    """The stored lookup key: "berger|e" for "Edmond L. Berger", "E. L. Berger" and
    "Berger, E.L." alike. Compatible names always share it (same surname, same first
    initial); a name without given names has the key "berger|" and matches only itself."""
    parsed = parse(name)
    initial = parsed.given[0][0] if parsed.given else ""
    return f"{parsed.surname[: MAX_KEY - 2]}|{initial}"


def compatible(a: Name, b: Name) -> bool:
    """Same surname and given names that could be the same person's (no evidence needed)."""
    if not a.surname or a.surname != b.surname:
        return False
    if not a.given or not b.given:
        return False
    # Token by token; the shorter list may omit trailing middle names.
    for x, y in zip(a.given, b.given, strict=False):
        if len(x) > 1 and len(y) > 1:
            if x != y:
                return False
        elif x[0] != y[0]:
            return False
    return True


def needs_evidence(a: Name, b: Name) -> bool:
    """Whether compatible names still need a shared co-author or category to be merged."""
    return a.first_full is None or b.first_full is None or len(a.given) != len(b.given)


@dataclass(frozen=True)
class Evidence:
    """What the papers listing a name show about its author."""

    coauthors: frozenset[str] = frozenset()  # folded surnames of the co-authors
    categories: frozenset[str] = frozenset()
    claimed_by: frozenset[int] = frozenset()  # accounts whose approved claims list it


def may_merge(a: str, b: str, evidence_a: Evidence, evidence_b: Evidence) -> bool:
    """The grouping rule for two names, given the evidence of their papers.

    An approved claim is the strongest evidence either way: one account's claims make
    two names one person, two accounts' claims keep them apart.
    """
    if evidence_a.claimed_by and evidence_b.claimed_by:
        return bool(evidence_a.claimed_by & evidence_b.claimed_by)
    pa, pb = parse(a), parse(b)
    if not compatible(pa, pb):
        return False
    if fold(a) == fold(b) or not needs_evidence(pa, pb):
        return True
    return bool(
        evidence_a.coauthors & evidence_b.coauthors or evidence_a.categories & evidence_b.categories
    )


def same_author(
    a: str,
    b: str,
    coauthors_a: Iterable[str] = (),
    coauthors_b: Iterable[str] = (),
    categories_a: Iterable[str] = (),
    categories_b: Iterable[str] = (),
) -> bool:
    """`may_merge` for two names, from their co-authors' names and their categories."""
    return may_merge(
        a,
        b,
        Evidence(frozenset(map(surname_key, coauthors_a)), frozenset(categories_a)),
        Evidence(frozenset(map(surname_key, coauthors_b)), frozenset(categories_b)),
    )


def full_form_score(name: str) -> tuple[int, int]:
    """How complete a name is: full given names first, then length (the canonical form)."""
    parsed = parse(name)
    return (sum(1 for g in parsed.given if len(g) > 1), len(name))
