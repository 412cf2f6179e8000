"""Moderation outside comments: hiding papers, and the admin side of roles and bans.

A hidden paper keeps its row (votes, claims and comments survive an unhide) but every
listing filters on `hidden_at`; touching it gives it a new change_seq, so the search index
drops it on its next catch-up and cached feeds stop validating. Every action is written
to the moderation log with who did it and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from paperfeed import clock, errors
from paperfeed.community import accounts, audit
from paperfeed.errors import UserError
from paperfeed.models import ModerationLog, Paper, User
from paperfeed.papers.lookup import any_paper
from paperfeed.papers.store import lock_changes, touch_paper

MAX_REASON = 500


class ModerationError(UserError):
    """A moderation request that cannot be done; the message says why."""

    status = 400


class NotFound(ModerationError, errors.NotFound):
    status = 404


def _reason(reason: str, required: bool = True) -> str:
    reason = reason.strip()
    if required and not reason:
        raise ModerationError("Give a reason: it is shown to moderators and kept in the log.")
    if len(reason) > MAX_REASON:
        raise ModerationError(f"Reasons are limited to {MAX_REASON} characters.")
    return reason


# --- papers -------------------------------------------------------------------------------


def find_paper(session: Session, text: str) -> Paper:
    """A paper, hidden or not, by any id form (see papers/lookup.py)."""
    if not text.strip().strip("/"):
        raise ModerationError("Enter a paper id, like 2401.01234.")
    return any_paper(session, text, missing=NotFound)


def hide_paper(session: Session, text: str, actor: User, reason: str) -> Paper:
    """Take a paper off every feed, search and listing. Call at the start of a transaction."""
    lock_changes(session)
    reason = _reason(reason)
    paper = find_paper(session, text)
    if paper.hidden_at is not None:
        raise ModerationError(f"{paper.public_id} is already hidden.")
    paper.hidden_at = clock.now()
    paper.hidden_reason = reason
    touch_paper(session, paper)
    audit.log(session, actor, "hide_paper", "paper", paper.public_id, reason=reason)
    return paper


def unhide_paper(session: Session, text: str, actor: User, reason: str = "") -> Paper:
    """Put a hidden paper back. Call at the start of a transaction."""
    lock_changes(session)
    reason = _reason(reason, required=False)
    paper = find_paper(session, text)
    if paper.hidden_at is None:
        raise ModerationError(f"{paper.public_id} is not hidden.")
    before = paper.hidden_reason
    paper.hidden_at = None
    paper.hidden_reason = None
    touch_paper(session, paper)
    audit.log(
        session,
        actor,
        "unhide_paper",
        "paper",
        paper.public_id,
        reason=reason or None,
        detail={"was": before} if before else None,
    )
    return paper


def hidden_papers(session: Session, limit: int = 100) -> list[Paper]:
    return list(
        session.execute(
            select(Paper)
            .where(Paper.hidden_at.is_not(None))
            .order_by(Paper.hidden_at.desc(), Paper.id.desc())
            .limit(limit)
        ).scalars()
    )


# --- users --------------------------------------------------------------------------------


def find_user(session: Session, username: str) -> User:
    username = username.strip().lstrip("@")
    user = session.execute(
        select(User).where(func.lower(User.username) == username.lower()[:40])
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"There is no user named “{username[:40]}”.")
    return user


def search_users(session: Session, query: str, limit: int = 50) -> list[User]:
    """Users whose name contains `query`; without one, staff and banned users first."""
    query = query.strip().lstrip("@")[:40]
    statement = select(User)
    if query:
        pattern = "%" + query.lower().replace("\\", "").replace("%", "").replace("_", "\\_") + "%"
        statement = statement.where(func.lower(User.username).like(pattern, escape="\\"))
    else:
        statement = statement.where(or_(User.role != "user", User.banned_at.is_not(None)))
    return list(
        session.execute(statement.order_by(func.lower(User.username)).limit(limit)).scalars()
    )


def set_role(session: Session, username: str, role: str, actor: User) -> User:
    """Change a user's site role; nobody changes their own, so an admin always remains."""
    if role not in accounts.ROLES:
        raise ModerationError(
            f"Unknown role “{role[:20]}”: use one of {', '.join(accounts.ROLES)}."
        )
    user = find_user(session, username)
    if user.id == actor.id:
        raise ModerationError("You cannot change your own role.")
    if user.role == role:
        raise ModerationError(f"{user.username} is already a {role}.")
    accounts.set_role(session, user, role, actor=actor)
    return user


def ban(session: Session, username: str, reason: str, actor: User) -> User:
    """Ban a user and end all their sessions; admins must be demoted first."""
    reason = _reason(reason)
    user = find_user(session, username)
    if user.id == actor.id:
        raise ModerationError("You cannot ban yourself.")
    if user.role == "admin":
        raise ModerationError(f"{user.username} is an admin: change their role first.")
    if user.banned_at is not None:
        raise ModerationError(f"{user.username} is already banned.")
    accounts.ban(session, user, reason, actor=actor)
    return user


def unban(session: Session, username: str, actor: User) -> User:
    user = find_user(session, username)
    if user.banned_at is None:
        raise ModerationError(f"{user.username} is not banned.")
    accounts.unban(session, user, actor=actor)
    return user


# --- the audit log ------------------------------------------------------------------------


@dataclass
class LogEntry:
    created_at: datetime
    actor: str | None
    action: str
    target_type: str
    target_id: str
    reason: str | None
    detail: dict[str, Any] | None


def recent_log(session: Session, limit: int = 50) -> list[LogEntry]:
    rows = session.execute(
        select(
            ModerationLog.created_at,
            User.username,
            ModerationLog.action,
            ModerationLog.target_type,
            ModerationLog.target_id,
            ModerationLog.reason,
            ModerationLog.detail,
        )
        .outerjoin(User, User.id == ModerationLog.actor_id)
        .order_by(ModerationLog.created_at.desc(), ModerationLog.id.desc())
        .limit(limit)
    ).all()
    return [LogEntry(*row) for row in rows]
