"""Rendering a digest: subject, plain text, HTML and headers, from digest/templates/.

The Message-ID is derived from (subscription, period, site host), so a digest sent again
after a crash carries the same id and mail clients can tell it is the same message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from paperfeed.config import Settings
from paperfeed.digest.content import DigestContent
from paperfeed.digest.periods import DigestPeriod
from paperfeed.digest.subscriptions import MANAGE, UNSUBSCRIBE, link, link_token
from paperfeed.mail import build_message, unsubscribe_headers
from paperfeed.models import Subscription
from paperfeed.plurals import plural

# The digest's own templates (web/ renders pages; these are emails, owned here).
TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(name: str, **context: object) -> str:
    return environment().get_template(name).render(**context)


@dataclass
class ComposedDigest:
    to: str
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    message_id: str


def site_host(settings: Settings) -> str:
    return urlsplit(settings.site_url).hostname or "localhost"


def digest_message_id(settings: Settings, subscription_id: int, period_key: str) -> str:
    """The same id every time this subscriber's digest for this period is sent."""
    host = site_host(settings)
    digest = hashlib.sha256(f"{subscription_id}|{period_key}|{host}".encode()).hexdigest()[:32]
    return f"<digest.{digest}@{host}>"


def compose(
    settings: Settings,
    subscription: Subscription,
    period: DigestPeriod,
    content: DigestContent,
) -> ComposedDigest:
    unsubscribe_url = link(
        settings, "/digest/unsubscribe", link_token(settings, subscription, UNSUBSCRIBE)
    )
    manage_url = link(settings, "/digest/manage", link_token(settings, subscription, MANAGE))
    count = content.paper_count
    papers = plural(count, "new paper")
    heading = f"Your {period.frequency} digest · {period.label}"
    context = {
        "site_name": settings.site_name,
        "site_url": settings.site_url.rstrip("/"),
        "heading": heading,
        "intro": f"{papers} since your last digest.",
        "sections": content.sections,
        "frequency": period.frequency,
        "email": subscription.email,
        "manage_url": manage_url,
        "unsubscribe_url": unsubscribe_url,
    }
    message_id = digest_message_id(settings, subscription.id, period.key)
    headers = {
        **unsubscribe_headers(unsubscribe_url),
        "Message-ID": message_id,
        "List-Id": f"{settings.site_name} digest <digest.{site_host(settings)}>",
        "Auto-Submitted": "auto-generated",
        "Precedence": "bulk",
    }
    return ComposedDigest(
        to=subscription.email,
        subject=f"{settings.site_name}: {papers} · {period.label}",
        text=render("digest.txt", **context),
        html=render("digest.html", **context),
        headers=headers,
        message_id=message_id,
    )


def to_message(settings: Settings, digest: ComposedDigest) -> EmailMessage:
    """The complete email (text + HTML alternatives) with the digest's headers."""
    return build_message(
        settings.mail_from, digest.to, digest.subject, digest.text, digest.html, digest.headers
    )
