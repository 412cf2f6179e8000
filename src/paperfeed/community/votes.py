"""Upvotes: one per user per paper, and a displayed count that always agrees with them.

The vote row and the count change in one transaction, which first takes the change
counter's lock (see `lock_changes`). The row's primary key (user, paper)
makes a second vote impossible, and the count moves by `upvotes = upvotes ± 1` only when a
row was really inserted or deleted, so parallel clicks can neither double-count nor lose a
vote.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.db import insert_on_conflict
from paperfeed.models import Paper, Upvote
from paperfeed.papers.store import lock_changes, next_change_seqs


@dataclass
class VoteState:
    voted: bool
    upvotes: int


def set_vote(session: Session, user_id: int, paper_id: int, voted: bool) -> VoteState:
    """Make the user's vote on the paper `voted`; idempotent."""
    lock_changes(session)
    if voted:
        insert = insert_on_conflict(session)
        changed = session.execute(
            insert(Upvote)
            .values(user_id=user_id, paper_id=paper_id, created_at=clock.now())
            .on_conflict_do_nothing()
            .returning(Upvote.paper_id)
        ).first()
        delta = 1 if changed else 0
    else:
        removed = session.execute(
            delete(Upvote)
            .where(Upvote.user_id == user_id, Upvote.paper_id == paper_id)
            .returning(Upvote.paper_id)
        ).first()
        delta = -1 if removed else 0
    if delta:
        session.execute(
            update(Paper)
            .where(Paper.id == paper_id)
            .values(
                upvotes=Paper.upvotes + delta,
                change_seq=next_change_seqs(session)[0],
                modified_at=clock.now(),
            )
        )
    count = session.execute(select(Paper.upvotes).where(Paper.id == paper_id)).scalar_one()
    return VoteState(voted, count)


def toggle_vote(session: Session, user_id: int, paper_id: int) -> VoteState:
    lock_changes(session)
    has = session.execute(
        select(Upvote.paper_id).where(Upvote.user_id == user_id, Upvote.paper_id == paper_id)
    ).first()
    return set_vote(session, user_id, paper_id, not has)


def voted_papers(session: Session, user_id: int, paper_ids: list[int]) -> set[int]:
    if not paper_ids:
        return set()
    return set(
        session.execute(
            select(Upvote.paper_id).where(Upvote.user_id == user_id, Upvote.paper_id.in_(paper_ids))
        ).scalars()
    )
