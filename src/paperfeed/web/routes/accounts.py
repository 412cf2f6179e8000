"""Account pages: sign up, log in and out, verify the email address, change or reset the
password, who sees one's upvotes, and public profiles."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed import clock, outbox
from paperfeed.community import accounts, api_tokens, follows
from paperfeed.community.limits import (
    LOGIN,
    LOGIN_ACCOUNT,
    LOGIN_DEVICE,
    PASSWORD_CHANGE,
    RESET,
    SIGNUP,
    hit,
    over,
)
from paperfeed.community.tokens import TokenError, bind_fingerprint, make_token, read_token
from paperfeed.config import Settings
from paperfeed.db import Database
from paperfeed.models import Paper, PaperAuthor, Upvote, User
from paperfeed.papers import feeds
from paperfeed.plurals import plural
from paperfeed.web.deps import DatabaseDep, ReaderDep, SettingsDep
from paperfeed.web.forms import FormDep, safe_redirect_target
from paperfeed.web.known_browsers import known_device, remember_device
from paperfeed.web.responses import REVALIDATE, page, voted_for
from paperfeed.web.security import (
    CurrentUser,
    SignedInUser,
    check_csrf,
    clear_session_cookie,
    client_ip,
    enforce,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
VERIFY_MAX_AGE = 7 * 86400
RESET_MAX_AGE = 3600
MAX_EMAIL = 320  # checked before any regex looks at the address
Csrf = Depends(check_csrf)


def safe_next(settings: Settings, target: str | None) -> str:
    """Only this site, so a crafted link cannot send people elsewhere after logging in."""
    return safe_redirect_target(target, settings.site_url) or "/"


def queue_verification(session: Session, settings: Settings, user: User) -> None:
    """Queue the confirmation link in the caller's transaction (outbox.py delivers it)."""
    token = make_token(settings, "verify", user.id, VERIFY_MAX_AGE, bind=user.email)
    link = f"{settings.site_url.rstrip('/')}/verify?token={token}"
    outbox.enqueue(
        session,
        settings,
        kind="verify",
        user_id=user.id,
        to=user.email,
        subject=f"Confirm your email address for {settings.site_name}",
        text=f"Hello {user.username},\n\nConfirm your email address by opening this link:\n\n"
        f"{link}\n\nThe link works for 7 days. If you did not sign up, ignore this message.\n",
    )


def queue_reset(session: Session, settings: Settings, user: User) -> None:
    token = make_token(settings, "reset", user.id, RESET_MAX_AGE, bind=user.password_hash)
    link = f"{settings.site_url.rstrip('/')}/reset/confirm?token={quote(token)}"
    outbox.enqueue(
        session,
        settings,
        kind="reset",
        user_id=user.id,
        to=user.email,
        subject=f"Reset your {settings.site_name} password",
        text=f"Hello {user.username},\n\nChoose a new password here:\n\n{link}\n\n"
        "The link works for one hour, once. If you did not ask for it, ignore this message.\n",
    )


# --- sign up, log in, log out -----------------------------------------------------------------


@router.get("/signup")
def signup_form(request: Request, user: CurrentUser) -> Response:
    if user is not None:
        return RedirectResponse("/", status_code=303)
    return page(request, "signup.html", form={})


@router.post("/signup", dependencies=[Csrf])
def signup(request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep) -> Response:
    values = {
        "username": form.text("username", max_len=100),
        "email": form.text("email", max_len=MAX_EMAIL),
        "password": form.text("password", max_len=accounts.MAX_PASSWORD * 4),
    }
    enforce(db, SIGNUP, client_ip(request))
    try:
        with db.transaction() as session:
            user = accounts.create_user(
                session, values["username"], values["email"], values["password"]
            )
            new = accounts.start_session(session, user, request.headers.get("user-agent"))
            queue_verification(session, settings, user)
    except accounts.AccountError as exc:
        values.pop("password")
        return page(request, "signup.html", status=400, form=values, error=str(exc))
    response = RedirectResponse("/account?welcome=1", 303)
    set_session_cookie(request, response, new.cookie)
    remember_device(request, response, user.id)
    return response


@router.get("/login")
def login_form(request: Request, settings: SettingsDep, user: CurrentUser) -> Response:
    target = safe_next(settings, request.query_params.get("next"))
    if user is not None:
        return RedirectResponse(target, status_code=303)
    return page(request, "login.html", form={"next": target})


@router.post("/login", dependencies=[Csrf])
def login(request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep) -> Response:
    login_name = form.text("login", max_len=MAX_EMAIL)
    password = form.text("password", max_len=accounts.MAX_PASSWORD * 4)
    target = safe_next(settings, form.text("next", max_len=2000, default="/"))
    enforce(db, LOGIN, client_ip(request))
    # The account's own counters (see limits.py): keyed on the account, whichever of its
    # names was typed, and on the typed text for unknown names, which behave the same.
    with db.reader() as session:
        known = accounts.find_user(session, login_name)
    account_key = f"user:{known.id}" if known else f"name:{login_name.strip().lower()[:100]}"
    device = known_device(request, known.id if known else None)
    if device is not None:
        enforce(db, LOGIN_DEVICE, device)
    else:
        with db.reader() as session:
            verdict = over(session, LOGIN_ACCOUNT, account_key)
        if not verdict.allowed:
            raise HTTPException(
                429,
                "This account has had too many failed log-ins. Log in from a browser you have "
                "used before, reset your password, or try again in "
                f"{plural(verdict.retry_after // 60 + 1, 'minute')}.",
                headers={"Retry-After": str(verdict.retry_after)},
            )
    try:
        with db.transaction() as session:
            user = accounts.authenticate(session, login_name, password)
            new = accounts.start_session(session, user, request.headers.get("user-agent"))
    except accounts.AccountError as exc:
        if device is None:
            with db.transaction() as session:
                hit(session, LOGIN_ACCOUNT, account_key)
        form_values = {"login": login_name, "next": target}
        return page(request, "login.html", status=400, form=form_values, error=str(exc))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, new.cookie)
    remember_device(request, response, user.id)
    return response


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, db: DatabaseDep) -> Response:
    cookie = request.cookies.get("pf_session")
    if cookie:
        with db.transaction() as session:
            accounts.end_session(session, cookie)
    response = RedirectResponse("/", status_code=303)
    clear_session_cookie(request, response)
    return response


# --- account settings -----------------------------------------------------------------------


@router.get("/account")
def account(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: SignedInUser
) -> Response:
    notice = None
    kept = settings.mail_backend == "outbox"
    if request.query_params.get("welcome"):
        notice = f"Welcome, {user.username}! " + (
            "Your confirmation link is in the outbox: this site sends no mail."
            if kept
            else f"A confirmation link is on its way to {user.email}."
        )
    if request.query_params.get("changed"):
        notice = (
            "Your password was changed. Other sessions were logged out and your API tokens "
            "were revoked: create new ones for your scripts."
        )
    if request.query_params.get("sent"):
        notice = (
            "A new confirmation link is in the outbox."
            if kept
            else f"A new confirmation link is on its way to {user.email}."
        )
    if request.query_params.get("revoked"):
        notice = "The token was revoked: requests that send it now get 401."
    upvotes = request.query_params.get("upvotes")
    if upvotes in UPVOTE_NOTICES:
        notice = UPVOTE_NOTICES[upvotes]
    return account_page(request, db, user, notice=notice)


def account_page(
    request: Request, db: Database, user: User, status: int = 200, **context: Any
) -> Response:
    """The account page, with the user's API tokens and how its confirmation email fared."""
    with db.reader() as session:
        tokens = api_tokens.user_tokens(session, user.id)
        followed = follows.grouped(follows.list_follows(session, user.id))
        mail = (
            None
            if user.email_verified_at is not None
            else outbox.latest_for_user(session, user.id, "verify")
        )
    return page(
        request,
        "account.html",
        status=status,
        me=user,
        tokens=tokens,
        mail=mail,
        follows=followed,
        follow_link=_follow_link,
        **context,
    )


def _follow_link(kind: str, target: str) -> str:
    """Where a followed thing's page is."""
    name = quote(target, safe="")
    return {"author": "/authors/", "organization": "/orgs/", "category": "/papers/category/"}[
        kind
    ] + name


@router.post("/account/tokens", dependencies=[Csrf])
def create_api_token(
    request: Request, db: DatabaseDep, user: SignedInUser, form: FormDep
) -> Response:
    """Create a token and show it this once (the database keeps only its hash)."""
    name = form.text("name", max_len=api_tokens.MAX_NAME * 10)
    try:
        with db.transaction() as session:
            created = api_tokens.create_token(session, user, name)
    except api_tokens.ApiTokenError as exc:
        return account_page(request, db, user, status=400, token_error=str(exc), token_name=name)
    return account_page(request, db, user, new_token=created.token, new_token_name=created.row.name)


@router.post("/account/tokens/{token_id}/revoke", dependencies=[Csrf])
def revoke_api_token(db: DatabaseDep, user: SignedInUser, token_id: int) -> Response:
    if not 1 <= token_id <= 2_147_483_647:
        raise HTTPException(404, "There is no such token on your account.")
    with db.transaction() as session:
        api_tokens.revoke_token(session, user, token_id)
    return RedirectResponse("/account?revoked=1", status_code=303)


UPVOTE_NOTICES = {
    "public": "Your upvotes are public: they show on your profile and in its feeds.",
    "private": "Your upvotes are private: only you see them, on your profile.",
}


@router.post("/account/upvotes", dependencies=[Csrf])
def set_upvote_privacy(
    request: Request, db: DatabaseDep, user: SignedInUser, form: FormDep
) -> Response:
    """Who sees the member's upvotes: everyone (public) or only them (private)."""
    choice = form.text("upvotes", max_len=20)
    if choice not in UPVOTE_NOTICES:
        return account_page(
            request,
            db,
            user,
            status=400,
            error="Choose who may see your upvotes: public or private.",
        )
    with db.transaction() as session:
        me = session.get(User, user.id)
        assert me is not None
        accounts.set_upvotes_public(me, choice == "public")
    return RedirectResponse(f"/account?upvotes={choice}", status_code=303)


@router.post("/account/password", dependencies=[Csrf])
def change_password(
    request: Request, db: DatabaseDep, user: SignedInUser, form: FormDep
) -> Response:
    current = form.text("current", max_len=accounts.MAX_PASSWORD * 4)
    new = form.text("new", max_len=accounts.MAX_PASSWORD * 4)
    enforce(db, PASSWORD_CHANGE, f"user:{user.id}")
    try:
        with db.transaction() as session:
            me = session.get(User, user.id)
            assert me is not None
            if not accounts.password_matches(me, current):
                raise accounts.AccountError("Your current password is not right.")
            accounts.change_password(session, me, new, request.cookies.get("pf_session"))
    except accounts.AccountError as exc:
        return account_page(request, db, user, status=400, error=str(exc))
    return RedirectResponse("/account?changed=1", status_code=303)


@router.post("/account/verify", dependencies=[Csrf])
def resend_verification(db: DatabaseDep, settings: SettingsDep, user: SignedInUser) -> Response:
    enforce(db, RESET, f"verify:{user.id}")
    with db.transaction() as session:
        me = session.get(User, user.id)
        if me is not None and me.email_verified_at is None:
            queue_verification(session, settings, me)
    return RedirectResponse("/account?sent=1", 303)


@router.get("/verify")
def verify(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    try:
        user_id, bound = read_token(settings, request.query_params.get("token", ""), "verify")
        with db.transaction() as session:
            user = session.get(User, user_id)
            if user is None or bind_fingerprint(user.email) != bound:
                raise TokenError("This link is not valid.")
            if user.email_verified_at is None:
                user.email_verified_at = clock.now()
    except TokenError as exc:
        return page(request, "message.html", status=400, title="Link not valid", message=str(exc))
    return page(
        request,
        "message.html",
        title="Email confirmed",
        message="Thank you: your address is confirmed.",
    )


# --- password reset -------------------------------------------------------------------------


@router.get("/reset")
def reset_form(request: Request) -> Response:
    return page(request, "reset.html", form={})


@router.post("/reset", dependencies=[Csrf])
def reset_request(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    email = accounts.normalize_email(form.text("email", max_len=MAX_EMAIL))
    enforce(db, RESET, client_ip(request))
    # The same work and the same answer whether or not the address has an account (the
    # message is only queued here), so neither the page nor its timing tells.
    with db.transaction() as session:
        user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
        if user is not None and user.banned_at is None:
            queue_reset(session, settings, user)
    return page(
        request,
        "message.html",
        title="Check your email",
        message=f"If an account uses {email}, a link to choose a new password is on its way to it.",
        mail_note=True,
    )


def _reset_user(db: Database, settings: Settings, token: str) -> User:
    user_id, bound = read_token(settings, token, "reset")
    with db.reader() as session:
        user = session.get(User, user_id)
    if user is None or bind_fingerprint(user.password_hash) != bound:
        raise TokenError("This link was already used or is not valid. Ask for a new one.")
    return user


@router.get("/reset/confirm")
def reset_confirm_form(request: Request, db: DatabaseDep, settings: SettingsDep) -> Response:
    token = request.query_params.get("token", "")
    try:
        _reset_user(db, settings, token)
    except TokenError as exc:
        return page(request, "message.html", status=400, title="Link not valid", message=str(exc))
    return page(request, "reset_confirm.html", token=token)


@router.post("/reset/confirm", dependencies=[Csrf])
def reset_confirm(
    request: Request, db: DatabaseDep, settings: SettingsDep, form: FormDep
) -> Response:
    token = form.text("token", max_len=1000)
    new = form.text("new", max_len=accounts.MAX_PASSWORD * 4)
    try:
        user = _reset_user(db, settings, token)
        with db.transaction() as session:
            me = session.get(User, user.id)
            assert me is not None
            accounts.change_password(session, me, new, keep_cookie=None)
    except TokenError as exc:
        return page(request, "message.html", status=400, title="Link not valid", message=str(exc))
    except accounts.AccountError as exc:
        return page(request, "reset_confirm.html", status=400, token=token, error=str(exc))
    response = page(
        request,
        "message.html",
        title="Password changed",
        message="Your new password is set. You can log in with it now. Every session was "
        "logged out and your API tokens were revoked.",
        link=("/login", "Log in"),
    )
    # The link proved the address: this browser may log in even while the account's
    # failed-log-in cap is used up by someone else.
    remember_device(request, response, user.id)
    return response


# --- profiles -------------------------------------------------------------------------------


@router.get("/users/{name}")
def profile(request: Request, session: ReaderDep, name: str, viewer: CurrentUser) -> Response:
    user = session.execute(select(User).where(User.username == name)).scalar_one_or_none()
    if user is None:
        raise HTTPException(404, f"There is no user named “{name[:40]}” here.")
    visible = Paper.hidden_at.is_(None)
    submitted = list(
        session.execute(
            select(Paper)
            .where(Paper.submitted_by_id == user.id, visible)
            .order_by(Paper.feed_at.desc())
            .limit(50)
        ).scalars()
    )
    show_upvotes = user.upvotes_public or (viewer is not None and viewer.id == user.id)
    upvoted = (
        list(
            session.execute(
                select(Paper)
                .join(Upvote, Upvote.paper_id == Paper.id)
                .where(Upvote.user_id == user.id, visible)
                .order_by(Upvote.created_at.desc())
                .limit(50)
            ).scalars()
        )
        if show_upvotes
        else []
    )
    claimed = list(
        session.execute(
            select(Paper)
            .join(PaperAuthor, PaperAuthor.paper_id == Paper.id)
            .where(PaperAuthor.user_id == user.id, visible)
            .order_by(Paper.published_at.desc())
            .limit(50)
        ).scalars()
    )
    everything = submitted + upvoted + claimed
    return page(
        request,
        "profile.html",
        cache=REVALIDATE,
        view="profile",
        person=user,
        submitted=submitted,
        upvoted=upvoted,
        show_upvotes=show_upvotes,
        claimed=claimed,
        extras=feeds.card_extras(session, everything),
        voted=voted_for(request, session, everything),
    )
