"""Gzip for every response that cannot carry a secret.

Feed pages are mostly text and shrink four to five times with gzip, as do the stylesheet
and the script. But a compressed page that holds a secret (a signed-in session's CSRF
token) next to text an attacker chooses (a search query in the URL) leaks the secret
through its size (the BREACH attack). So pages asked for with a session or CSRF cookie go
out as they are, and everything else (anonymous pages, the API, static files) is gzipped.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from paperfeed.web.caching import SESSION_COOKIE
from paperfeed.web.security import CSRF_COOKIE

SECRET_COOKIES = (SESSION_COOKIE, CSRF_COOKIE)


def may_hold_secret(scope: Scope) -> bool:
    """Whether the response may echo a token tied to the visitor's cookies."""
    if scope["path"].startswith("/static/"):
        return False
    cookies = Headers(scope=scope).get("cookie", "")
    return any(f"{name}=" in cookies for name in SECRET_COOKIES)


class GzipUnlessSecret:
    """Starlette's gzip middleware, applied only to responses that carry no secret."""

    def __init__(self, app: ASGIApp, minimum_size: int = 500, compresslevel: int = 6) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not may_hold_secret(scope):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
