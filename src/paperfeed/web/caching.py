"""HTTP caching for anonymous pages: ETag and Last-Modified from the change sequences.

Every change to a paper (import, vote, comment, moderation) takes a new `change_seq`, and
every change of enrichment (keywords) a number from its own counter, so the two counters'
values identify the state of everything a page shows. The
validator is computed from one indexed row before any rendering, and a matching
conditional request is answered 304 at once. Requests with a session cookie get private
responses: per-user pages never land in a shared cache.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from fastapi import Request, Response
from sqlalchemy.orm import Session

from paperfeed import __version__
from paperfeed.papers.store import content_version

SESSION_COOKIE = "pf_session"
# Set once a visitor dismisses the demo banner (web/routes/banner.py): it changes the page,
# so it is part of the validator.
DEMO_BANNER_COOKIE = "pf_demo_banner"


def is_anonymous(request: Request) -> bool:
    return SESSION_COOKIE not in request.cookies


class Validators:
    def __init__(self, etag: str, last_modified: datetime | None) -> None:
        self.etag = etag
        self.last_modified = last_modified

    def matches(self, request: Request) -> bool:
        if_none_match = request.headers.get("if-none-match")
        if if_none_match is not None:  # the weak comparison (RFC 9110 13.1.2): a proxy
            # that compresses, as nginx's gzip does, sends our tag back as W/"..."
            tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
            return self.etag.removeprefix("W/") in tags or "*" in tags
        since = request.headers.get("if-modified-since")
        if since and self.last_modified is not None:
            try:
                return self.last_modified.replace(microsecond=0) <= parsedate_to_datetime(since)
            except (TypeError, ValueError):
                return False
        return False

    def apply(self, response: Response, max_age: int) -> Response:
        response.headers["ETag"] = self.etag
        if self.last_modified is not None:
            response.headers["Last-Modified"] = format_datetime(
                self.last_modified.astimezone(UTC), usegmt=True
            )
        response.headers["Cache-Control"] = f"public, max-age={max_age}"
        response.headers["Vary"] = "Cookie"
        return response


def validators(request: Request, session: Session, extra: str = "") -> Validators | None:
    """Validators for an anonymous GET, or None when the response must stay private."""
    if request.method not in ("GET", "HEAD") or not is_anonymous(request):
        return None
    version, updated_at = content_version(session)
    banner = request.cookies.get(DEMO_BANNER_COOKIE, "")
    digest = hashlib.sha1(
        f"{__version__}|{request.url.path}|{request.url.query}|{extra}|{banner}".encode()
    ).hexdigest()[:16]
    return Validators(f'W/"{version}-{digest}"', updated_at)


def not_modified(v: Validators, max_age: int) -> Response:
    return v.apply(Response(status_code=304), max_age)


def private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["Vary"] = "Cookie"
    return response
