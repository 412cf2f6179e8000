"""Jinja2 environment: filters for LaTeX, dates, authors, numbers and plurals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates

from paperfeed import __version__, latex
from paperfeed.config import Settings
from paperfeed.ingest.hub_links import hub_url
from paperfeed.plurals import noun, plural

TEMPLATES_DIR = Path(__file__).parent / "templates"


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=TEMPLATES_DIR, context_processors=[account_context])
    env = templates.env
    env.globals.update(site_name=settings.site_name, version=__version__, settings=settings)
    env.filters["tex"] = latex.render
    env.filters["excerpt"] = latex.excerpt
    env.filters["plain_text"] = latex.plain_text  # where markup cannot go: <title>, labels
    env.filters["plural"] = plural  # {{ n|plural("paper") }}: "1 paper", "2 papers"
    env.filters["noun"] = noun  # {{ n|noun("upvote") }}: the noun alone, beside a shown count
    env.filters["local_date"] = lambda value, fmt="%b %-d, %Y": format_local(value, settings, fmt)
    env.filters["iso"] = lambda value: value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.globals["hub_url"] = hub_url  # a model's, dataset's or Space's page on the Hub
    return templates


def format_local(value: datetime | None, settings: Settings, fmt: str) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(settings.tz).strftime(fmt)


def account_context(request: Request) -> dict[str, Any]:
    """Who is signed in and the page's CSRF token, for every template (looked up lazily)."""
    from paperfeed.web import saving
    from paperfeed.web.security import csrf_token, resolve_user

    return {
        "current_user": lambda: resolve_user(request),
        "csrf_token": lambda: csrf_token(request),
        "is_following": lambda kind, target: is_following(request, kind, target),
        "in_saved": lambda paper_id: saving.in_saved(request, paper_id),
        "collections_for": lambda paper_id: saving.collections_for(request, paper_id),
    }


def is_following(request: Request, kind: str, target: str) -> bool:
    """Whether the signed-in user follows (kind, target): their follows are read once per
    request, however many follow buttons the page shows."""
    from paperfeed.community.follows import followed_set, stored_form
    from paperfeed.web.deps import get_db
    from paperfeed.web.security import resolve_user

    followed = getattr(request.state, "followed", None)
    if followed is None:
        user = resolve_user(request)
        followed = set()
        if user is not None:
            with get_db(request).reader() as session:
                followed = followed_set(session, user.id)
        request.state.followed = followed
    return stored_form(kind, target) in followed
