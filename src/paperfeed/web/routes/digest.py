"""Digest pages: subscribe (header form, account), confirm, unsubscribe, manage, preview.

Links in emails carry signed tokens (see digest/subscriptions.py), which are the
authority on the manage and unsubscribe pages: no login needed. The anonymous subscribe
form uses the double-submit CSRF cookie; the header form only opens that page, so feed
pages stay cacheable. Unsubscribing answers RFC 8058 one-click POSTs from mail providers.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from paperfeed import clock, outbox
from paperfeed.community.limits import Limit
from paperfeed.community.tokens import TokenError
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.digest import subscriptions as subs
from paperfeed.digest.compose import compose, render
from paperfeed.digest.content import ContentSource, follows_of
from paperfeed.digest.periods import current_period
from paperfeed.digest.sending import engine_searcher
from paperfeed.models import DigestDelivery, Organization, Subscription
from paperfeed.web import headers, responses
from paperfeed.web.deps import DatabaseDep, SearchDep, SettingsDep
from paperfeed.web.forms import Form, FormDep, parse_int
from paperfeed.web.security import CurrentUser, SignedInUser, check_csrf, client_ip, enforce

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
Csrf = Depends(check_csrf)
SUBSCRIBE_PER_ADDRESS = Limit("digest-subscribe", 10, 3600)
# A confirmation email per address at most this often, so the form cannot flood an inbox.
MAIL_PER_ADDRESS = Limit("digest-mail", 3, 86400)
# Field limits, checked before any parsing; the services' own limits give nicer messages.
MAX_ADDRESS = 320
MAX_TOPIC = subs.MAX_TOPIC_CHARS * 4
MAX_TOKEN = 1000
MAX_ID = 2**63 - 1


# Digest pages carry tokens in their addresses: no Referer ever names them to another page.
page = partial(responses.page, headers={"Referrer-Policy": "no-referrer"})


def message(request: Request, title: str, text: str, status: int = 200, **extra: Any) -> Response:
    return page(request, "message.html", status=status, title=title, message=text, **extra)


def bad_link(request: Request, exc: Exception) -> Response:
    return message(
        request,
        "Link not valid",
        f"{exc} You can subscribe again or manage your digest from the link in a recent email.",
        status=400,
        link=("/digest", "Digest settings"),
    )


def _orgs(session: Session) -> list[tuple[str, str]]:
    from sqlalchemy import select

    return [
        (name, fullname)
        for name, fullname in session.execute(
            select(Organization.name, Organization.fullname).order_by(Organization.name).limit(500)
        )
    ]


# --- subscribing ---------------------------------------------------------------------------


@router.get("/digest")
def subscribe_form(request: Request, user: CurrentUser) -> Response:
    form = {"email": user.email if user else "", "frequency": "daily", "trending": "on"}
    return page(request, "digest_subscribe.html", form=form)


@router.post("/digest/start")
def start_from_header(request: Request, form: FormDep) -> Response:
    """The header's one-field form: show the full form with the address filled in."""
    email = form.text("email", max_len=4000)[:320]
    return page(
        request,
        "digest_subscribe.html",
        form={"email": email, "frequency": "daily", "trending": "on"},
    )


@router.post("/digest/subscribe", dependencies=[Csrf])
def subscribe(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: CurrentUser, raw: FormDep
) -> Response:
    form = {
        "email": raw.text("email", max_len=MAX_ADDRESS),
        "frequency": raw.text("frequency", max_len=100),
        "trending": raw.text("trending", max_len=100),
        "query": raw.text("query", max_len=MAX_TOPIC),
    }
    enforce(db, SUBSCRIBE_PER_ADDRESS, client_ip(request))
    try:
        address = subs.normalize_address(form["email"])
    except subs.SubscriptionError as exc:
        return page(request, "digest_subscribe.html", status=400, form=form, error=str(exc))
    own_address = (
        user is not None and user.email_verified_at is not None and user.email.lower() == address
    )
    if not own_address:
        # Checked before anything is written: a limited request changes nothing.
        enforce(db, MAIL_PER_ADDRESS, address)
    try:
        with db.transaction() as session:
            outcome = subs.subscribe(
                session,
                form["email"],
                form["frequency"] or "daily",
                include_trending=bool(form["trending"]),
                user_id=user.id if own_address and user else None,
                confirmed=own_address,
            )
            if form["query"].strip() and not outcome.already_active:
                subs.add_topic(session, outcome.subscription, form["query"])
            row = outcome.subscription
            if not own_address:
                _queue_link_email(session, settings, row, already=outcome.already_active)
    except subs.SubscriptionError as exc:
        return page(request, "digest_subscribe.html", status=400, form=form, error=str(exc))
    if own_address:
        return message(
            request,
            "You are subscribed",
            f"The {row.frequency} digest will come to {row.email}.",
            link=("/account/digest", "Digest settings"),
        )
    # The same answer whatever the address's state, so the form reveals nothing about it.
    return message(
        request,
        "Check your email",
        f"A message is on its way to {row.email}. Open the link in it to confirm: nothing "
        "else is sent until you do.",
        mail_note=True,
    )


def _queue_link_email(
    session: Session, settings: Settings, row: Subscription, *, already: bool
) -> None:
    """Queue the confirm (or "you are already subscribed") email in the caller's transaction."""
    context = {
        "site_name": settings.site_name,
        "email": row.email,
        "frequency": row.frequency,
        "status": row.status,
        "confirm_url": subs.link(
            settings, "/digest/confirm", subs.link_token(settings, row, subs.CONFIRM)
        ),
        "manage_url": subs.link(
            settings, "/digest/manage", subs.link_token(settings, row, subs.MANAGE)
        ),
        "unsubscribe_url": subs.link(
            settings, "/digest/unsubscribe", subs.link_token(settings, row, subs.UNSUBSCRIBE)
        ),
    }
    if already:
        subject = f"Your {settings.site_name} digest subscription"
        text = render("already.txt", **context)
    else:
        subject = f"Confirm your {settings.site_name} digest"
        text = render("confirm.txt", **context)
    session.flush()  # the row's id goes into the links' tokens
    outbox.enqueue(session, settings, kind="digest-link", to=row.email, subject=subject, text=text)


@router.get("/digest/confirm")
def confirm_page(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    """A page with one button: mail scanners that follow links must not confirm anyone."""
    token = request.query_params.get("token", "")
    try:
        with db.reader() as session:
            row = _confirmable(settings, session, token)
            email, frequency, status = row.email, row.frequency, row.status
    except TokenError as exc:
        return bad_link(request, exc)
    return page(
        request,
        "digest_confirm.html",
        token=token,
        email=email,
        frequency=frequency,
        sub_status=status,
    )


@router.post("/digest/confirm")
def confirm(request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep) -> Response:
    """The page's button: the token in the form proves the address, no cookie needed."""
    token = form.text("token", max_len=MAX_TOKEN)
    try:
        with db.transaction() as session:
            row = _confirmable(settings, session, token)
            subs.confirm(row)
            manage = subs.link_token(settings, row, subs.MANAGE)
            email, frequency = row.email, row.frequency
    except TokenError as exc:
        return bad_link(request, exc)
    return message(
        request,
        "Subscription confirmed",
        f"The {frequency} digest will come to {email}. Follow topics, authors or "
        "organizations on your digest settings page.",
        link=(f"/digest/manage?token={quote(manage)}", "Digest settings"),
    )


def _confirmable(settings: Settings, session: Session, token: str) -> Subscription:
    row = subs.from_token(settings, session, token, subs.CONFIRM)
    if row.status == "unsubscribed":
        raise TokenError("This subscription was cancelled; subscribe again to restart it.")
    return row


# --- unsubscribing -------------------------------------------------------------------------


@router.get("/digest/unsubscribe")
def unsubscribe_page(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    """A page with one button: link scanners that follow GETs must not unsubscribe anyone."""
    token = request.query_params.get("token", "")
    try:
        with db.reader() as session:
            row = subs.from_token(settings, session, token, subs.UNSUBSCRIBE)
            email, status = row.email, row.status
    except TokenError as exc:
        return bad_link(request, exc)
    return page(request, "digest_unsubscribe.html", token=token, email=email, sub_status=status)


@router.post("/digest/unsubscribe")
def unsubscribe(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    """The page's button, and RFC 8058 one-click (token in the URL, no cookies)."""
    token = request.query_params.get("token") or form.text("token", max_len=MAX_TOKEN)
    try:
        with db.transaction() as session:
            row = subs.from_token(settings, session, token, subs.UNSUBSCRIBE)
            subs.unsubscribe(row)
            email = row.email
    except TokenError as exc:
        return bad_link(request, exc)
    return message(
        request,
        "You are unsubscribed",
        f"{email} will get no more digests. Changed your mind? Subscribe again at any time.",
        link=("/digest", "Subscribe again"),
    )


# --- managing ------------------------------------------------------------------------------


def _manage_view(
    request: Request,
    db: Database,
    settings: Settings,
    token: str,
    status: int = 200,
    error: str | None = None,
    notice: str = "",
) -> Response:
    try:
        with db.reader() as session:
            row = subs.from_token(settings, session, token, subs.MANAGE)
            topics = subs.topics(session, row.id)
            orgs = _orgs(session)
            last = _last_sent(session, row.id)
    except TokenError as exc:
        return bad_link(request, exc)
    unsubscribe_token = subs.link_token(settings, row, subs.UNSUBSCRIBE)
    return page(
        request,
        "digest_manage.html",
        status=status,
        token=token,
        sub=row,
        topics=topics,
        orgs=orgs,
        last=last,
        error=error,
        notice=notice,
        unsubscribe_token=unsubscribe_token,
    )


def _last_sent(session: Session, subscription_id: int) -> DigestDelivery | None:
    from sqlalchemy import select

    return session.execute(
        select(DigestDelivery)
        .where(DigestDelivery.subscription_id == subscription_id, DigestDelivery.status == "sent")
        .order_by(DigestDelivery.sent_at.desc())
        .limit(1)
    ).scalar_one_or_none()


@router.get("/digest/manage")
def manage(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    notice = {
        "saved": "Your settings are saved.",
        "added": "You follow that now.",
        "removed": "Removed.",
        "resumed": "Digests will be sent again.",
    }.get(request.query_params.get("done", ""), "")
    token = request.query_params.get("token", "")
    return _manage_view(request, db, settings, token, notice=notice)


def _manage_action(
    request: Request, db: Database, settings: Settings, form: Form, action: str
) -> Response:
    token = form.text("token", max_len=MAX_TOKEN)
    try:
        with db.transaction() as session:
            row = subs.from_token(settings, session, token, subs.MANAGE)
            if row.status == "unsubscribed" and action != "settings":
                raise subs.SubscriptionError("This address is unsubscribed; subscribe again first.")
            if action == "settings":
                subs.update_settings(
                    row,
                    form.text("frequency", max_len=100),
                    bool(form.text("trending", max_len=100)),
                    bool(form.text("skip_weekends", max_len=100)),
                )
            elif action == "added":
                subs.add_topic(
                    session,
                    row,
                    form.text("query", max_len=MAX_TOPIC),
                    form.text("author", max_len=MAX_TOPIC),
                    form.text("org", max_len=MAX_TOPIC),
                )
            elif action == "removed":
                try:
                    topic_id = parse_int(form.text("topic", max_len=40), "topic", 1, MAX_ID)
                except HTTPException:
                    raise subs.SubscriptionError("That topic does not exist.") from None
                if not subs.remove_topic(session, row, topic_id):
                    raise subs.SubscriptionError("That topic does not exist (already removed?).")
            elif action == "resumed":
                subs.resume(row)
    except TokenError as exc:
        return bad_link(request, exc)
    except subs.SubscriptionError as exc:
        return _manage_view(request, db, settings, token, status=400, error=str(exc))
    done = "saved" if action == "settings" else action
    return RedirectResponse(f"/digest/manage?token={quote(token)}&done={done}", status_code=303)


@router.post("/digest/manage/settings")
def manage_settings(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    return _manage_action(request, db, settings, form, "settings")


@router.post("/digest/manage/topics")
def manage_add_topic(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    return _manage_action(request, db, settings, form, "added")


@router.post("/digest/manage/topics/remove")
def manage_remove_topic(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    return _manage_action(request, db, settings, form, "removed")


@router.post("/digest/manage/resume")
def manage_resume(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    return _manage_action(request, db, settings, form, "resumed")


@router.get("/digest/preview")
def preview(
    request: Request, db: DatabaseDep, settings: SettingsDep, runtime: SearchDep
) -> Response:
    """The next digest as it would be sent now, in the browser."""
    token = request.query_params.get("token", "")
    try:
        with db.reader() as session:
            row = subs.from_token(settings, session, token, subs.MANAGE)
            period = current_period(row.frequency, clock.now(), settings.tz)  # type: ignore[arg-type]  # the column holds a Frequency
            from paperfeed.digest.sending import _previous_ends

            previous = _previous_ends(session, [row], period).get(row.id)
            start = period.window_start(previous, row.skip_weekends)
            searcher = engine_searcher(settings, db, runtime)
            source = ContentSource(settings, session, searcher)
            content = source.for_subscription(
                row,
                subs.topics(session, row.id),
                follows_of(session, row.user_id),
                start,
                period.window_end,
            )
            if content.empty:
                return message(
                    request,
                    "Nothing new yet",
                    "No papers match your digest since the last one, so none would be sent "
                    "now. Follow more topics, or add trending papers.",
                    link=(f"/digest/manage?token={quote(token)}", "Digest settings"),
                )
            digest = compose(settings, row, period, content)
    except TokenError as exc:
        return bad_link(request, exc)
    # The email as sent, plus the site's icon (mail clients ignore it; browsers ask for one).
    icon = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    response = HTMLResponse(digest.html.replace("</head>", icon + "\n</head>", 1))
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    headers.scope_policy(response.headers, headers.EMAIL_PREVIEW_POLICY)  # inline styles
    return response


# --- from account settings -----------------------------------------------------------------


@router.get("/account/digest")
def account_digest(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: SignedInUser
) -> Response:
    """The account's digest settings page (its manage link), or the form to start one."""
    with db.reader() as session:
        row = subs.for_user(session, user)
    if row is None or row.status == "unsubscribed":
        form = {"email": user.email, "frequency": "daily", "trending": "on"}
        return page(request, "digest_subscribe.html", form=form)
    token = subs.link_token(settings, row, subs.MANAGE)
    return RedirectResponse(f"/digest/manage?token={quote(token)}", status_code=303)
