"""Who is calling a write endpoint: an API token, or a signed-in browser that proves intent.

- `Authorization: Bearer pf_...` is looked up by its hash (`community/api_tokens.py`). Such
  a request carries no cookie, so a forged cross-site request cannot use it: no CSRF check.
- Without a token, the session cookie counts only with an `X-CSRF-Token` header equal to
  the session's CSRF token. A cross-site page cannot read that token nor set the header
  without a CORS preflight we never grant, so a cookie alone never changes anything here.

Read endpoints are public and do not look at credentials at all, so a client configured
with some other site's token still reads.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paperfeed.community import api_tokens
from paperfeed.db import Database
from paperfeed.models import User
from paperfeed.web.deps import DatabaseDep
from paperfeed.web.security import resolve_user

CSRF_HEADER = "x-csrf-token"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="paperfeed"'}


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers=CHALLENGE)


def bearer_token(request: Request) -> str | None:
    """The token in `Authorization`, None without the header; 401 when it is malformed."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _unauthorized("Send the token as “Authorization: Bearer <token>”.")
    return value.strip()


# Declares the scheme in the OpenAPI schema; the header is parsed by `bearer_token` so that a
# malformed one is refused instead of being mistaken for "no token".
_documented_scheme = HTTPBearer(auto_error=False, description="A paperfeed API token (pf_…)")


def api_user(
    request: Request,
    db: DatabaseDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_documented_scheme)],
) -> User:
    """The user a write request acts for; 401 without valid credentials, 403 without CSRF."""
    return identify(request, db, csrf=True)


def api_reader(
    request: Request,
    db: DatabaseDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_documented_scheme)],
) -> User:
    """The user asking a read-only question about themselves (no CSRF needed to read)."""
    return identify(request, db, csrf=False)


def identify(request: Request, db: Database, csrf: bool) -> User:
    if hasattr(request.state, "api_user"):
        return request.state.api_user
    token = bearer_token(request)
    if token is not None:
        try:
            with db.reader() as session:
                row, user = api_tokens.token_user(session, token)
        except api_tokens.InvalidToken as exc:
            raise _unauthorized(str(exc)) from None
        if api_tokens.needs_touch(row):
            with db.transaction() as session:
                api_tokens.touch(session, row.id)
        request.state.api_user = user
        request.state.api_token_id = row.id
        request.state.api_token_name = row.name
        return user
    signed_in = resolve_user(request)
    if signed_in is None:
        raise _unauthorized(
            "Sign in first: send an API token (create one on your account page) as "
            "“Authorization: Bearer <token>”."
        )
    sent = request.headers.get(CSRF_HEADER, "")
    expected = request.state.web_session.csrf_token
    if csrf and (not sent or not hmac.compare_digest(sent, expected)):
        raise HTTPException(
            403,
            "A request signed in by cookie must send the page's CSRF token in the "
            "X-CSRF-Token header (scripts should use an API token instead).",
        )
    request.state.api_user = signed_in
    return signed_in


ApiUser = Annotated[User, Depends(api_user)]
ApiReader = Annotated[User, Depends(api_reader)]
