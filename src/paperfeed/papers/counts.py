"""Displayed counts and the rows behind them.

`papers.upvotes` must equal `upvote_baseline` + the paper's vote rows, and
`papers.comment_count` its visible comments. Writers keep them in step in one
transaction; `inconsistent` finds any paper where they drifted and `recount` repairs it.
"""

from __future__ import annotations

from sqlalchemy import ScalarSelect, and_, func, select
from sqlalchemy.orm import Session

from paperfeed.models import Comment, Paper, Upvote
from paperfeed.papers.store import touch_paper


def _vote_rows() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Upvote)
        .where(Upvote.paper_id == Paper.id)
        .scalar_subquery()
    )


def _visible_comments() -> ScalarSelect[int]:
    return (
        select(func.count())
        .select_from(Comment)
        .where(
            and_(
                Comment.paper_id == Paper.id,
                Comment.deleted_at.is_(None),
                Comment.hidden_at.is_(None),
            )
        )
        .scalar_subquery()
    )


def inconsistent(session: Session) -> list[tuple[str, int, int, int, int]]:
    """(public id, shown upvotes, true upvotes, shown comments, true comments) that differ."""
    votes, comments = _vote_rows(), _visible_comments()
    rows = session.execute(
        select(
            Paper.public_id,
            Paper.upvotes,
            Paper.upvote_baseline + votes,
            Paper.comment_count,
            comments,
        ).where(
            (Paper.upvotes != Paper.upvote_baseline + votes) | (Paper.comment_count != comments)
        )
    ).all()
    return [(pid, shown, true, shown_c, true_c) for pid, shown, true, shown_c, true_c in rows]


def recount(session: Session) -> int:
    """Repair every drifted paper; return how many were fixed."""
    fixed = 0
    for public_id, _, upvotes, _, comments in inconsistent(session):
        paper = session.execute(select(Paper).where(Paper.public_id == public_id)).scalar_one()
        paper.upvotes, paper.comment_count = upvotes, comments
        touch_paper(session, paper)
        fixed += 1
    return fixed
