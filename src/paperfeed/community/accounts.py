"""Accounts: sign-up, passwords (argon2), sessions stored in the database, roles and bans.

Sessions live in the `sessions` table keyed by the SHA-256 of the cookie's secret, so a
stolen database does not yield usable cookies, logout and bans end a session on every web
node at once, and nothing about who is signed in lives in one process's memory.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community.api_tokens import revoke_all_tokens
from paperfeed.community.audit import log
from paperfeed.email_address import EmailAddressError, parse_email_address
from paperfeed.errors import UserError
from paperfeed.models import User, WebSession

SESSION_DAYS = 30
TOUCH_EVERY = timedelta(hours=1)
ROLES = ("user", "moderator", "admin")
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,29}$")
RESERVED = frozenset({"admin", "api", "login", "logout", "signup", "settings", "papers", "orgs"})
MIN_PASSWORD = 10
MAX_PASSWORD = 256

_hasher = PasswordHasher()


class AccountError(UserError):
    """A request about an account that cannot be done; the message says why."""


# One argon2 call takes tens of milliseconds of CPU and 64 MiB. At most HASH_CONCURRENCY run
# at once per process, so a burst of logins waits here (in the web threads, never on the event
# loop) instead of taking every core and all the memory.
HASH_CONCURRENCY = 2
_hash_slots = threading.BoundedSemaphore(HASH_CONCURRENCY)


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        with _hash_slots:
            return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Use a password of at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"Passwords are limited to {MAX_PASSWORD} characters.")


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    username: str,
    email: str,
    password: str,
    role: str = "user",
    verified: bool = False,
) -> User:
    username, email = username.strip(), normalize_email(email)
    if not USERNAME.match(username) or username.lower() in RESERVED:
        raise AccountError(
            "Usernames have 3 to 30 letters, digits, '-' or '_', starting with a letter or digit."
        )
    try:
        email = parse_email_address(email)
    except EmailAddressError as exc:
        raise AccountError(str(exc)) from None
    check_password(password)
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    taken = session.execute(
        select(User.username, User.email).where(
            or_(func.lower(User.username) == username.lower(), User.email == email)
        )
    ).first()
    if taken is not None:
        if taken.username.lower() == username.lower():
            raise AccountError("That username is taken.")
        raise AccountError("An account with that email address exists. Try logging in.")
    now = clock.now()
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password),
        role=role,
        created_at=now,
        email_verified_at=now if verified else None,
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, login: str) -> User | None:
    login = login.strip()
    return session.execute(
        select(User).where(
            or_(func.lower(User.username) == login.lower(), User.email == normalize_email(login))
        )
    ).scalar_one_or_none()


def authenticate(session: Session, login: str, password: str) -> User:
    """The account for these credentials, or AccountError.

    An unknown login is checked against a dummy hash, so a wrong password costs the same
    time (one argon2 verification) whether or not the account exists.
    """
    user = find_user(session, login)
    if user is None:
        _dummy_user_check(password)
        raise AccountError("Wrong username or password.")
    if not password_matches(user, password):
        raise AccountError("Wrong username or password.")
    if user.banned_at is not None:
        raise AccountError("This account is banned.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


_DUMMY: list[User] = []


def _dummy_user_check(password: str) -> None:
    if not _DUMMY:
        _DUMMY.append(User(username="", email="", password_hash=hash_password(secrets.token_hex())))
    password_matches(_DUMMY[0], password)


# --- sessions -----------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class NewSession:
    cookie: str
    csrf_token: str


def start_session(session: Session, user: User, user_agent: str | None = None) -> NewSession:
    secret = secrets.token_urlsafe(32)
    now = clock.now()
    row = WebSession(
        id_hash=_digest(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=SESSION_DAYS),
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    return NewSession(secret, row.csrf_token)


def session_user(
    session: Session, cookie: str, lifetime_days: int = 90
) -> tuple[WebSession, User] | None:
    """The live session and its (unbanned) user for a cookie value, or None.

    A session ends 30 days after it was last used, and `lifetime_days` after log-in however
    often it is used, so a stolen cookie stops working even in a busy browser.
    """
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id_hash == _digest(cookie))
    ).first()
    if found is None:
        return None
    web_session, user = found
    now = clock.now()
    if web_session.expires_at <= now or user.banned_at is not None:
        return None
    if web_session.created_at + timedelta(days=lifetime_days) <= now:
        return None
    return web_session, user


def end_session(session: Session, cookie: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == _digest(cookie)))


def end_all_sessions(session: Session, user_id: int, except_cookie: str | None = None) -> None:
    query = delete(WebSession).where(WebSession.user_id == user_id)
    if except_cookie:
        query = query.where(WebSession.id_hash != _digest(except_cookie))
    session.execute(query)


def change_password(
    session: Session, user: User, new_password: str, keep_cookie: str | None
) -> None:
    """Set a new password; every other session ends and every API token is revoked (a
    password change is what someone does who fears their account is in other hands)."""
    check_password(new_password)
    user.password_hash = hash_password(new_password)
    end_all_sessions(session, user.id, except_cookie=keep_cookie)
    revoke_all_tokens(session, user.id)


# --- privacy ------------------------------------------------------------------------------


def set_upvotes_public(user: User, public: bool) -> None:
    """Show the member's upvotes on their profile and its feeds, or keep them to themselves
    (the default: what someone reads and likes is theirs to share)."""
    user.upvotes_public = public


# --- roles and bans -----------------------------------------------------------------------


def set_role(session: Session, user: User, role: str, actor: User | None = None) -> None:
    if role not in ROLES:
        raise AccountError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
    log(session, actor, "set_role", "user", user.username, detail={"from": user.role, "to": role})
    user.role = role


def ban(session: Session, user: User, reason: str, actor: User | None = None) -> None:
    user.banned_at = clock.now()
    user.ban_reason = reason or None
    end_all_sessions(session, user.id)
    log(session, actor, "ban", "user", user.username, reason=reason)


def unban(session: Session, user: User, actor: User | None = None) -> None:
    user.banned_at = None
    user.ban_reason = None
    log(session, actor, "unban", "user", user.username)
