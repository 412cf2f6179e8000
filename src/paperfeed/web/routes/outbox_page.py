"""/demo/outbox: the messages the site queued or kept, for reading in the browser.

With PAPERFEED_MAIL_BACKEND=outbox (the demo's default) nothing leaves the machine, so this
page is where a newcomer opens the confirmation link of a sign-up or a digest. On a demo
database anyone may read it (the demo's accounts are throwaway); on any other site only
admins may, since the messages carry live sign-in and reset links.

A message's HTML part is shown in a sandboxed frame from its own address, under the email
preview's policy (inline styles, no script, an opaque origin).
"""

from __future__ import annotations

import re
from email.message import EmailMessage

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from paperfeed.demo import is_demo_database
from paperfeed.mail import parse_message
from paperfeed.models import OutgoingMail
from paperfeed.web import headers, responses
from paperfeed.web.deps import ReaderDep
from paperfeed.web.forms import query_int
from paperfeed.web.security import CurrentUser, LoginRequired

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20
# Linear: one character class, no nesting. Stops before what ends a sentence or a bracket.
_URL = re.compile(r"https?://[^\s<>\"')\]]+")

# The HTML part inside a frame of the outbox page: the preview's policy, framed by us only.
FRAMED_EMAIL_POLICY = headers.EMAIL_PREVIEW_POLICY.replace(
    "frame-ancestors 'none'", "frame-ancestors 'self'"
)


def check_reader(session: Session, user: CurrentUser) -> None:
    if is_demo_database(session):
        return
    if user is None:
        raise LoginRequired()
    if user.role != "admin":
        raise HTTPException(403, "Only admins may read the outbox of this site.")


def part(message: EmailMessage, subtype: str) -> str | None:
    body = message.get_body(preferencelist=(subtype,))
    if body is None or body.get_content_subtype() != subtype:
        return None
    content = body.get_content()
    return content if isinstance(content, str) else None


def linkify(text: str) -> Markup:
    """The text, escaped, with its web addresses as links (the confirmation links)."""
    pieces: list[str] = []
    position = 0
    for match in _URL.finditer(text):
        pieces.append(str(escape(text[position : match.start()])))
        url = escape(match.group(0))
        pieces.append(f'<a href="{url}">{url}</a>')
        position = match.end()
    pieces.append(str(escape(text[position:])))
    return Markup("".join(pieces))


@router.get("/demo/outbox")
def outbox(request: Request, session: ReaderDep, user: CurrentUser) -> Response:
    check_reader(session, user)
    page = query_int(request, "p", 1, 10_000, default=1)
    total = session.execute(select(func.count()).select_from(OutgoingMail)).scalar_one()
    rows = session.execute(
        select(OutgoingMail)
        .order_by(OutgoingMail.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).scalars()
    messages = []
    for row in rows:
        message = parse_message(row.message)
        messages.append(
            {
                "row": row,
                "text": linkify(part(message, "plain") or ""),
                "has_html": part(message, "html") is not None,
            }
        )
    return responses.page(
        request,
        "outbox.html",
        headers={"Referrer-Policy": "no-referrer"},  # the links carry tokens
        view="outbox",
        messages=messages,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
    )


@router.get("/demo/outbox/{message_id}/html")
def outbox_html(
    request: Request, session: ReaderDep, user: CurrentUser, message_id: int
) -> Response:
    check_reader(session, user)
    row = session.get(OutgoingMail, message_id) if 0 < message_id < 2**31 else None
    html = part(parse_message(row.message), "html") if row is not None else None
    if html is None:
        raise HTTPException(404, "There is no such message with an HTML part.")
    response = HTMLResponse(html)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    headers.scope_policy(response.headers, FRAMED_EMAIL_POLICY)
    return response
