"""Following authors, organizations and categories: what digests and personal pages read.

A follow is a row (user, kind, target). The target is stored in its one canonical form so
the same thing is never followed twice under two spellings: a category by its canonical
arXiv code (`math.IT` -> `cs.IT`), an organization by its name as the organization spells
it, an author by the name trimmed with runs of spaces made one. Following twice is a no-op;
each account may follow at most `MAX_FOLLOWS` things.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community import organizations
from paperfeed.community.limits import Limit, hit
from paperfeed.db import insert_on_conflict
from paperfeed.errors import NotFound, UserError
from paperfeed.models import Follow
from paperfeed.papers import taxonomy
from paperfeed.papers.authors import find_author
from paperfeed.plurals import plural

KINDS = ("author", "organization", "category")
MAX_FOLLOWS = 500
MAX_TARGET = 300  # the column's length
FOLLOW = Limit("follow", 120, 3600)


class FollowError(UserError):
    """A follow that cannot be made: unknown kind or target, too many follows, too fast."""


class FollowTargetNotFound(FollowError, NotFound):
    pass


@dataclass(frozen=True)
class Followed:
    kind: str
    target: str
    created_at: datetime


def _author_name(session: Session, raw: str) -> str:
    """An author by the name of their page (any variant or case of a listed name leads to
    the group's fullest form, papers/authors.py); a name on no paper yet, as written."""
    name = " ".join(raw.split())
    author = find_author(session, name) if name else None
    return author.name if author is not None else name


def normalize(session: Session, kind: str, target: str) -> tuple[str, str]:
    """The (kind, target) in its stored form, or FollowError saying what is wrong."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise FollowError(f"You can follow an {', '.join(KINDS[:-1])} or a {KINDS[-1]}.")
    target = (target or "").strip()
    if not target:
        raise FollowError(f"Say which {kind} to follow.")
    _no_nul(target)
    if len(target) > MAX_TARGET:
        raise FollowError(f"A {kind} to follow is at most {MAX_TARGET} characters.")
    if kind == "category":
        code = taxonomy.canonical(target)
        if not taxonomy.is_known(code):
            matches = [c for c in taxonomy.taxonomy().categories if c.lower() == target.lower()]
            matches += [a for a in taxonomy.taxonomy().archives if a.lower() == target.lower()]
            if not matches:
                raise FollowTargetNotFound(f"“{target[:80]}” is not an arXiv category.")
            code = taxonomy.canonical(matches[0])
        return kind, code
    if kind == "organization":
        org = organizations.find(session, target)
        if org is None:
            raise FollowTargetNotFound(f"There is no organization named “{target[:80]}” here.")
        return kind, org.name
    name = _author_name(session, target)
    if not name:
        raise FollowError("Say which author to follow.")
    return kind, name[:MAX_TARGET]


def _no_nul(target: str) -> None:
    """No name or code holds a NUL (PostgreSQL text cannot): a bad request, said so."""
    if "\x00" in target:
        raise FollowError("A follow's target cannot contain a NUL character.")


def _rate_limit(session: Session, user_id: int) -> None:
    verdict = hit(session, FOLLOW, str(user_id))
    if not verdict.allowed:
        raise FollowError(
            f"Too many follow changes. Try again in {plural(verdict.retry_after, 'second')}.",
            status=429,
            headers={"Retry-After": str(verdict.retry_after)},
        )


def count(session: Session, user_id: int) -> int:
    return session.execute(
        select(func.count()).select_from(Follow).where(Follow.user_id == user_id)
    ).scalar_one()


def follow(session: Session, user_id: int, kind: str, target: str) -> Followed:
    """Follow (kind, target); following what the account already follows changes nothing."""
    kind, target = normalize(session, kind, target)
    existing = session.execute(
        select(Follow).where(
            Follow.user_id == user_id, Follow.kind == kind, Follow.target == target
        )
    ).scalar_one_or_none()
    if existing is not None:
        return Followed(existing.kind, existing.target, existing.created_at)
    _rate_limit(session, user_id)
    if count(session, user_id) >= MAX_FOLLOWS:
        raise FollowError(
            f"You follow {MAX_FOLLOWS:,} things already, the most an account can. "
            "Unfollow some first (on your account page).",
            status=409,
        )
    now = clock.now()
    insert = insert_on_conflict(session)
    session.execute(
        insert(Follow)
        .values(user_id=user_id, kind=kind, target=target, created_at=now)
        .on_conflict_do_nothing()
    )
    return Followed(kind, target, now)


def unfollow(session: Session, user_id: int, kind: str, target: str) -> bool:
    """Stop following; True if there was a follow to remove. Unknown targets are refused
    only for their kind: an organization renamed or a category retired can still go."""
    kind = (kind or "").strip().lower()
    if kind not in KINDS:
        raise FollowError(f"You can follow an {', '.join(KINDS[:-1])} or a {KINDS[-1]}.")
    raw = (target or "").strip()[:MAX_TARGET]
    _no_nul(raw)
    candidates = {raw}
    with suppress(FollowError):
        candidates.add(normalize(session, kind, raw)[1])
    _rate_limit(session, user_id)
    removed = session.execute(
        delete(Follow)
        .where(Follow.user_id == user_id, Follow.kind == kind, Follow.target.in_(candidates))
        .returning(Follow.id)
    ).all()
    return bool(removed)


def list_follows(session: Session, user_id: int) -> list[Followed]:
    """Everything the account follows, by kind then in the order followed."""
    rows = session.execute(
        select(Follow).where(Follow.user_id == user_id).order_by(Follow.kind, Follow.id)
    ).scalars()
    return [Followed(row.kind, row.target, row.created_at) for row in rows]


def followed_set(session: Session, user_id: int) -> set[tuple[str, str]]:
    """(kind, target) of every follow, in one query (at most MAX_FOLLOWS rows): what a page
    asks "is this followed?" of, for as many buttons as it shows."""
    rows = session.execute(
        select(Follow.kind, Follow.target).where(Follow.user_id == user_id)
    ).all()
    return {(kind, target) for kind, target in rows}


def stored_form(kind: str, target: str) -> tuple[str, str]:
    """(kind, target) as `follow` would store it, without the database: for comparing a
    page's names with `followed_set`."""
    target = (target or "").strip()
    if kind == "category":
        return kind, taxonomy.canonical(target)
    if kind == "author":
        return kind, " ".join(target.split())[:MAX_TARGET]
    return kind, target


def grouped(follows: list[Followed]) -> dict[str, list[Followed]]:
    """Follows by kind, in KINDS order, leaving out kinds with none."""
    groups: dict[str, list[Followed]] = {}
    for kind in KINDS:
        found = [f for f in follows if f.kind == kind]
        if found:
            groups[kind] = found
    return groups
