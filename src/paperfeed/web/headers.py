"""Security headers on every response, set in one place.

Pages get one strict Content-Security-Policy: scripts, styles, images and requests from the
site itself only, no inline script or style (so injected markup can neither run nor restyle
the page), no plugins, no `<base>`, forms post only to the site, and no framing (with
X-Frame-Options for old browsers). On top: no MIME sniffing, no referrer to other sites, and
HSTS when the site URL is https (sent over plain http it would be ignored anyway).

A route that must show what the page policy forbids (the digest preview: an email styled
inline; the API docs) gives its response its own policy with `scope_policy`, and the
middleware leaves that one in place. Every other header is the same everywhere.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from paperfeed.web.deps import app_settings

CSP = "Content-Security-Policy"


def policy(**directives: str) -> str:
    """A CSP header value from directives (`default_src="'none'"` -> `default-src 'none'`)."""
    return "; ".join(f"{name.replace('_', '-')} {value}" for name, value in directives.items())


# The site's pages: everything from 'self' and nothing inline.
PAGE_POLICY = policy(
    default_src="'none'",
    script_src="'self'",
    style_src="'self'",
    img_src="'self'",
    font_src="'self'",
    connect_src="'self'",
    manifest_src="'self'",
    form_action="'self'",
    base_uri="'none'",
    frame_ancestors="'none'",
)

# The digest preview shows the email as it is sent: inline styles (mail clients ignore
# stylesheets), no script at all, no forms, and a sandbox (an opaque origin: nothing in it
# can reach the site's cookies or pages) whose links still open when clicked.
EMAIL_PREVIEW_POLICY = policy(
    default_src="'none'",
    style_src="'unsafe-inline'",
    img_src="'self'",
    form_action="'none'",
    base_uri="'none'",
    frame_ancestors="'none'",
    sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation",
)

# The API docs (Swagger UI, served from the site): its script and stylesheet are files like
# ours and it sets styles from script (the CSSOM, which CSP allows); its stylesheet draws
# icons from `data:` images. "Try it out" calls the API on the same origin.
DOCS_POLICY = PAGE_POLICY.replace("img-src 'self'", "img-src 'self' data:")

HSTS = "max-age=31536000; includeSubDomains"
FIXED = {
    "X-Content-Type-Options": "nosniff",
}
DEFAULTS = {
    CSP: PAGE_POLICY,
    "X-Frame-Options": "DENY",  # a route framed by our own pages sends SAMEORIGIN
    "Referrer-Policy": "same-origin",  # the digest pages send `no-referrer` (tokens in URLs)
}


def scope_policy(headers: MutableHeaders, value: str) -> None:
    """Give one response a policy other than the pages' (see the policies above)."""
    headers[CSP] = value


class SecurityHeaders:
    """Pure ASGI middleware: adds the headers as the response starts (streaming bodies,
    static files and error pages alike), leaving a policy a route scoped to itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = is_https(scope["app"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                secure(MutableHeaders(scope=message), https=https)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure(headers: MutableHeaders, *, https: bool) -> None:
    """Set the security headers on one response's headers."""
    for name, value in FIXED.items():
        headers[name] = value
    for name, value in DEFAULTS.items():
        if name not in headers:
            headers[name] = value
    if https:
        headers["Strict-Transport-Security"] = HSTS


def secured(request: Request, response: Response) -> Response:
    """The headers on a response that bypasses the middleware: Starlette sends the page for
    an unexpected error (500) from its outermost layer, outside every added middleware."""
    secure(response.headers, https=is_https(request.app))
    return response


def is_https(app: Any) -> bool:
    """HSTS only for a site whose address is https, as for the cookies' Secure flag."""
    return app_settings(app).site_url.startswith("https://")
