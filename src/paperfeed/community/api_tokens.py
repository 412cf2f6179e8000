"""Personal API tokens: what a script sends (`Authorization: Bearer pf_...`) instead of a cookie.

Only the SHA-256 of a token is stored, so a copy of the database yields no usable token; the
token itself is shown once, when it is created. Tokens are named (so people recognise the
one to revoke) and revoked by setting `revoked_at`, which keeps the row for the record.
A password change or reset revokes every token of the account.
A banned user's tokens stop working with the ban, like their sessions.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.errors import UserError
from paperfeed.models import ApiToken, User

PREFIX = "pf_"
SHOWN_PREFIX = 10  # "pf_" and the first 7 secret characters, to tell tokens apart
MAX_NAME = 100
MAX_ACTIVE = 20
TOUCH_EVERY = timedelta(minutes=5)


class ApiTokenError(UserError):
    """A token request that cannot be done; the message says why."""


class InvalidToken(ApiTokenError):
    """The token is unknown, revoked, malformed, or belongs to a banned user."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class NewToken:
    row: ApiToken
    token: str  # the only time the plain token exists outside the client


def create_token(session: Session, user: User, name: str) -> NewToken:
    name = " ".join(name.split())
    if not name:
        raise ApiTokenError("Give the token a name, e.g. the script or machine that will use it.")
    if len(name) > MAX_NAME:
        raise ApiTokenError(f"Token names are limited to {MAX_NAME} characters.")
    active = session.execute(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).scalar_one()
    if active >= MAX_ACTIVE:
        raise ApiTokenError(
            f"You already have {MAX_ACTIVE} tokens. Revoke one you no longer use first."
        )
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(token),
        prefix=token[:SHOWN_PREFIX],
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    return NewToken(row, token)


def user_tokens(session: Session, user_id: int) -> list[ApiToken]:
    """The user's tokens that still work, newest first."""
    return list(
        session.execute(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        ).scalars()
    )


def revoke_token(session: Session, user: User, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise ApiTokenError(
            "There is no such token on your account (it may be revoked already).", status=404
        )
    row.revoked_at = clock.now()
    return row


def revoke_all_tokens(session: Session, user_id: int) -> int:
    """Revoke every live token of an account (on a password change or reset); how many."""
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def token_user(session: Session, token: str) -> tuple[ApiToken, User]:
    """The live token row and its user, or InvalidToken."""
    if not token.startswith(PREFIX) or len(token) > 200:
        raise InvalidToken("This is not a paperfeed API token (they start with “pf_”).")
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _digest(token))
    ).first()
    if found is None:
        raise InvalidToken("This API token is not valid. Create one on your account page.")
    row, user = found
    if row.revoked_at is not None:
        raise InvalidToken("This API token was revoked. Create a new one on your account page.")
    if user.banned_at is not None:
        raise InvalidToken("This account is banned.")
    return row, user


def needs_touch(row: ApiToken) -> bool:
    """Whether `last_used_at` is stale enough to be worth a write."""
    return row.last_used_at is None or clock.now() - row.last_used_at > TOUCH_EVERY


def touch(session: Session, token_id: int) -> None:
    row = session.get(ApiToken, token_id)
    if row is not None:
        row.last_used_at = clock.now()
