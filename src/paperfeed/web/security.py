"""Who is asking, and did they mean to: session cookies, CSRF tokens, rate-limit answers.

- The session cookie `pf_session` is HttpOnly, SameSite=Lax, and Secure whenever the site
  is served over https (`PAPERFEED_SITE_URL`).
- Signed-in forms carry the session's CSRF token. Forms shown to anonymous visitors (log
  in, sign up, reset) use a double-submit token: a random `pf_csrf` cookie (SameSite=Strict)
  that the form must echo. Only those pages set it, so feed pages stay publicly cacheable.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response

from paperfeed import clock
from paperfeed.community.accounts import SESSION_DAYS, TOUCH_EVERY, session_user
from paperfeed.community.limits import Limit, hit
from paperfeed.db import Database
from paperfeed.models import User, WebSession
from paperfeed.plurals import plural
from paperfeed.web.caching import SESSION_COOKIE
from paperfeed.web.deps import get_db, get_settings
from paperfeed.web.forms import FormDep

CSRF_COOKIE = "pf_csrf"
CSRF_FIELD = "csrf"


class LoginRequired(Exception):
    """Raised by `require_user`; answered with a redirect to the login page."""


def resolve_user(request: Request) -> User | None:
    """The signed-in user for this request (looked up once, then remembered on the request)."""
    if hasattr(request.state, "user"):
        return request.state.user
    request.state.user = None
    request.state.web_session = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        lifetime = get_settings(request).session_lifetime_days
        with get_db(request).reader() as session:
            found = session_user(session, cookie, lifetime)
        if found is not None:
            web_session, user = found
            request.state.user, request.state.web_session = user, web_session
            if clock.now() - web_session.last_seen_at > TOUCH_EVERY:
                _touch(request, web_session)
    return request.state.user


def _touch(request: Request, web_session: WebSession) -> None:
    with get_db(request).transaction() as session:
        row = session.get(WebSession, web_session.id_hash)
        if row is not None:
            lifetime = timedelta(days=get_settings(request).session_lifetime_days)
            row.last_seen_at = clock.now()
            row.expires_at = min(
                clock.now() + timedelta(days=SESSION_DAYS), row.created_at + lifetime
            )


def current_user(request: Request) -> User | None:
    return resolve_user(request)


def require_user(request: Request) -> User:
    user = resolve_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_role(*roles: str) -> Callable[[User], User]:
    def check(user: Annotated[User, Depends(require_user)]) -> User:
        if user.role not in roles and user.role != "admin":
            raise HTTPException(403, "You do not have permission to do that.")
        return user

    return check


CurrentUser = Annotated[User | None, Depends(current_user)]
SignedInUser = Annotated[User, Depends(require_user)]


def secure_cookies(request: Request) -> bool:
    return get_settings(request).site_url.startswith("https://")


def set_lax_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int
) -> None:
    """A cookie scripts cannot read, sent on top-level navigation, Secure on https sites."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def set_session_cookie(request: Request, response: Response, value: str) -> None:
    set_lax_cookie(request, response, SESSION_COOKIE, value, SESSION_DAYS * 86400)


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(request), path="/"
    )


def csrf_token(request: Request) -> str:
    """The token forms on this page must carry."""
    user = resolve_user(request)
    if user is not None:
        return request.state.web_session.csrf_token
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(24)
        request.state.new_csrf = token
    return token


def issue_csrf_cookie(request: Request, response: Response) -> None:
    """Set the anonymous double-submit cookie if this page created a token."""
    token = getattr(request.state, "new_csrf", None)
    if token:
        response.set_cookie(
            CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=secure_cookies(request),
            path="/",
        )
        response.headers["Cache-Control"] = "private, no-store"


def check_csrf(request: Request, form: FormDep) -> None:
    """Reject a state-changing form that did not come from one of our pages.

    Sync (thread pool): finding the session's token reads the database.
    """
    sent = form.text(CSRF_FIELD, max_len=200)
    user = resolve_user(request)
    expected = (
        request.state.web_session.csrf_token
        if user is not None
        else request.cookies.get(CSRF_COOKIE)
    )
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "This form has expired. Reload the page and try again.")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def enforce(db: Database, limit: Limit, key: str) -> None:
    """Count an attempt in its own transaction (it must stick even if the attempt fails)."""
    with db.transaction() as session:
        verdict = hit(session, limit, key)
    if not verdict.allowed:
        raise HTTPException(
            429,
            f"Too many attempts. Try again in {plural(verdict.retry_after, 'second')}.",
            headers={"Retry-After": str(verdict.retry_after)},
        )
