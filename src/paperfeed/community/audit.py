"""The moderation log: one row per decision a moderator, an admin or the system took, and
per change of a paper's code and project-page links by whoever made it.

Every community module that hides, bans, approves, changes roles or changes a paper's links
writes here, in the transaction of the decision itself, so the log and what it describes
never disagree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.models import ModerationLog, User


def log(
    session: Session,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        ModerationLog(
            actor_id=actor.id if actor else None,
            action=action,
            target_type=target_type,
            target_id=target_id,
            reason=reason,
            detail=detail,
            created_at=clock.now(),
        )
    )
