"""Authors as groups of name variants: which names on the papers here are one person.

Every name that may be a variant of another shares its `name_key` (papers/names.py), so
the candidates are one index lookup. They are grouped by `names.may_merge`, fullest form
first: a name joins a group only if it may be merged with one of the group's names and
is compatible with all of them, and only if exactly one group would take it ("E. Berger"
stays alone when both an "Edmond Berger" and an "Edward Berger" would, unless a claim by
one account of both names says which). The grouping of a
key is the same whichever of its names is asked for, so every variant leads to the same
page, named by the group's fullest form.

Evidence (co-authors, categories, claims) is read only for the names that need it, and
only from their newest papers, so a page costs the same on a huge archive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.models import Paper, PaperAuthor, PaperCategory
from paperfeed.papers.names import (
    Evidence,
    compatible,
    fold,
    full_form_score,
    may_merge,
    name_key,
    needs_evidence,
    parse,
)

MAX_VARIANTS = 100  # names of one key that are grouped (most papers first); others stand alone
EVIDENCE_PAPERS = 10  # newest papers of a name read for its evidence
EVIDENCE_AUTHORS = 30  # first authors of each such paper read as co-authors (collaborations)
CHUNK = 500  # ids per IN list


@dataclass(frozen=True)
class Author:
    """One author: the fullest form of the name first, then its other variants."""

    names: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.names[0]


def collapse(name: str) -> str:
    """A name as stored: whitespace collapsed."""
    return " ".join(name.split())


def find_author(session: Session, name: str) -> Author | None:
    """The author listed under `name` (any variant, any case), or None if no visible paper
    lists it."""
    wanted = collapse(name)
    key = name_key(wanted)
    counts = _names_of_key(session, key)
    if wanted not in counts:
        # The name in other case or accents ("edmond l. berger") is the name as listed.
        listed = [n for n in counts if fold(n) == fold(wanted)]
        if listed:
            wanted = listed[0]
        else:
            # Beyond the variants grouped, or a row written without its key: the name alone.
            return Author((wanted,)) if _listed(session, wanted) else None
    for group in _groups(session, key, counts):  # a name listed in other case has this key too
        if wanted in group:
            return Author(group)
    raise AssertionError("every name is in a group")  # pragma: no cover


def author_named(session: Session, typed: str) -> Author | None:
    """The author a typed name means: the one listed so (any case), or else the one
    author with a name compatible with it ("Maxim Yurkin" for "Maxim A. Yurkin"); None if
    none or several could be meant. One indexed read for words that are nobody's name."""
    wanted = collapse(typed)
    key = name_key(wanted)
    counts = _names_of_key(session, key)
    if not counts:
        return None
    groups = _groups(session, key, counts)
    listed = [g for g in groups if any(fold(n) == fold(wanted) for n in g)]
    if listed:
        return Author(listed[0])
    parsed = parse(wanted)
    meant = [g for g in groups if any(compatible(parsed, parse(n)) for n in g)]
    return Author(meant[0]) if len(meant) == 1 else None


def _names_of_key(session: Session, key: str) -> dict[str, int]:
    """The names sharing `key` on visible papers, with their paper counts, most first."""
    return dict(
        session.execute(
            select(PaperAuthor.name, func.count(PaperAuthor.paper_id))
            .join(Paper, Paper.id == PaperAuthor.paper_id)
            .where(
                PaperAuthor.name_key == key,
                PaperAuthor.hidden.is_(False),
                Paper.hidden_at.is_(None),
            )
            .group_by(PaperAuthor.name)
            .order_by(func.count(PaperAuthor.paper_id).desc(), PaperAuthor.name)
            .limit(MAX_VARIANTS)
        ).all()
    )


def _groups(session: Session, key: str, counts: dict[str, int]) -> list[tuple[str, ...]]:
    if not counts:
        return []
    claims: dict[str, set[int]] = defaultdict(set)
    for author_name, user_id in session.execute(
        select(PaperAuthor.name, PaperAuthor.user_id)
        .where(PaperAuthor.name_key == key, PaperAuthor.user_id.is_not(None))
        .distinct()
    ):
        if user_id is not None:
            claims[author_name].add(user_id)

    def evidence(names: Sequence[str]) -> dict[str, Evidence]:
        return _evidence(session, key, names)

    claimed = {n: frozenset(users) for n, users in claims.items()}
    return group_variants(list(counts), counts, evidence, claimed)


def group_variants(
    names: Sequence[str],
    papers: Mapping[str, int],
    evidence: Callable[[Sequence[str]], Mapping[str, Evidence]],
    claimed: Mapping[str, frozenset[int]] | None = None,
) -> list[tuple[str, ...]]:
    """Names grouped into authors, each group fullest form first.

    `evidence` is asked once, for the names that have a compatible partner needing it;
    `claimed` names the accounts whose approved claims list each name.
    """
    claimed = claimed or {}
    parsed = {n: parse(n) for n in names}
    needing = sorted(
        {
            n
            for n in names
            for m in names
            if n != m and compatible(parsed[n], parsed[m]) and needs_evidence(parsed[n], parsed[m])
        }
    )
    found = evidence(needing) if needing else {}
    known = {
        n: replace(found.get(n, Evidence()), claimed_by=claimed.get(n, frozenset())) for n in names
    }
    order = sorted(names, key=lambda n: (full_form_score(n), papers.get(n, 0), n), reverse=True)
    groups: list[list[str]] = []

    def joinable(n: str, m: str) -> bool:
        """`n` may share a group with `m`: no two accounts claim them, and their names fit."""
        a, b = known[n].claimed_by, known[m].claimed_by
        if a and b and not a & b:
            return False
        return compatible(parsed[n], parsed[m]) or may_merge(n, m, known[n], known[m])

    for n in order:

        def fits(group: list[str], n: str = n) -> bool:
            return all(joinable(n, m) for m in group) and any(
                may_merge(n, m, known[n], known[m]) for m in group
            )

        taking = [g for g in groups if fits(g)]
        if len(taking) > 1:  # ambiguous, unless a claim says which
            taking = [
                g for g in taking if any(known[n].claimed_by & known[m].claimed_by for m in g)
            ]
        if len(taking) == 1:
            taking[0].append(n)
        else:
            groups.append([n])
    return [tuple(g) for g in groups]


def _listed(session: Session, name: str) -> bool:
    return (
        session.execute(
            select(PaperAuthor.paper_id)
            .join(Paper, Paper.id == PaperAuthor.paper_id)
            .where(
                PaperAuthor.name == name,
                PaperAuthor.hidden.is_(False),
                Paper.hidden_at.is_(None),
            )
            .limit(1)
        ).first()
        is not None
    )


def _evidence(session: Session, key: str, names: Sequence[str]) -> dict[str, Evidence]:
    """Co-author surnames and categories of each name's newest papers."""
    papers_of: dict[str, list[int]] = defaultdict(list)
    newest = (
        select(
            PaperAuthor.name,
            PaperAuthor.paper_id,
            func.row_number()
            .over(partition_by=PaperAuthor.name, order_by=PaperAuthor.paper_id.desc())
            .label("rank"),
        )
        .where(PaperAuthor.name_key == key, PaperAuthor.name.in_(list(names)))  # <= MAX_VARIANTS
        .subquery()
    )
    for author_name, paper_id in session.execute(
        select(newest.c.name, newest.c.paper_id).where(newest.c.rank <= EVIDENCE_PAPERS)
    ):
        papers_of[author_name].append(paper_id)
    ids = sorted({pid for pids in papers_of.values() for pid in pids})
    coauthors: dict[int, set[tuple[str, str]]] = defaultdict(set)
    categories: dict[int, set[str]] = defaultdict(set)
    for start in range(0, len(ids), CHUNK):
        id_chunk = ids[start : start + CHUNK]
        for paper_id, author_name, author_key in session.execute(
            select(PaperAuthor.paper_id, PaperAuthor.name, PaperAuthor.name_key).where(
                PaperAuthor.paper_id.in_(id_chunk), PaperAuthor.position < EVIDENCE_AUTHORS
            )
        ):
            coauthors[paper_id].add((author_name, author_key.partition("|")[0]))
        for paper_id, category in session.execute(
            select(PaperCategory.paper_id, PaperCategory.category).where(
                PaperCategory.paper_id.in_(id_chunk)
            )
        ):
            categories[paper_id].add(category)
    found: dict[str, Evidence] = {}
    for n in names:
        pids = papers_of.get(n, [])
        found[n] = Evidence(
            coauthors=frozenset(
                surname for pid in pids for other, surname in coauthors[pid] if other != n
            ),
            categories=frozenset(c for pid in pids for c in categories[pid]),
        )
    return found
