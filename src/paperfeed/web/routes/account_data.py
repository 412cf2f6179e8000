"""Your data: download everything paperfeed holds about you (`GET /account/export`) and
delete your account (`POST /account/delete`, the form is on /account).

Deleting asks for the password again (checked in the thread pool like a log-in, never on
the event loop) and which way the comments go; it signs the browser out and shows a
confirmation page. Both answers are personal: `private, no-store`.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from paperfeed import clock
from paperfeed.community import account_data, accounts
from paperfeed.community.limits import Limit
from paperfeed.models import User
from paperfeed.web.deps import DatabaseDep
from paperfeed.web.forms import FormDep
from paperfeed.web.responses import NO_STORE, page
from paperfeed.web.routes.accounts import account_page
from paperfeed.web.security import SignedInUser, check_csrf, clear_session_cookie, enforce

router = APIRouter(include_in_schema=False)
Csrf = Depends(check_csrf)
# Each attempt verifies a password: the same pace as a password change.
ACCOUNT_DELETE = Limit("account-delete", 10, 300)
COMMENT_CHOICES = {"keep": True, "remove": False}


@router.get("/account/export")
def export_account(db: DatabaseDep, user: SignedInUser) -> Response:
    """A JSON file of the member's data, as a download."""
    with db.reader() as session:
        me = session.get(User, user.id)
        assert me is not None  # require_user just read it
        document = account_data.export(session, me)
    day = clock.now().strftime("%Y-%m-%d")
    return Response(
        json.dumps(document, ensure_ascii=False, indent=2) + "\n",
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="paperfeed-{user.username}-{day}.json"',
            "Cache-Control": NO_STORE,
        },
    )


@router.post("/account/delete", dependencies=[Csrf])
def delete_account(
    request: Request, db: DatabaseDep, user: SignedInUser, form: FormDep
) -> Response:
    password = form.text("password", max_len=accounts.MAX_PASSWORD * 4)
    choice = form.text("comments", max_len=20)
    if choice not in COMMENT_CHOICES:
        return account_page(
            request,
            db,
            user,
            status=400,
            delete_error="Choose whether your comments stay (signed “deleted user”) or go.",
        )
    enforce(db, ACCOUNT_DELETE, f"user:{user.id}")
    try:
        # The password is checked before the write transaction: hashing takes a while, and
        # on SQLite every other writer would wait for it.
        with db.reader() as session:
            me = session.get(User, user.id)
            if me is None or not accounts.password_matches(me, password):
                raise accounts.AccountError("That is not your password: the account is kept.")
        with db.transaction() as session:
            # Reads the account again, and refuses if a request in between deleted it.
            account_data.delete_account(session, user, keep_comments=COMMENT_CHOICES[choice])
    except (accounts.AccountError, account_data.AccountDeletionRefused) as exc:
        return account_page(request, db, user, status=exc.status, delete_error=str(exc))
    # This request began signed in; the page it answers with is for no one.
    request.state.user, request.state.web_session = None, None
    kept = (
        "Your comments stay on their papers, signed “deleted user”."
        if COMMENT_CHOICES[choice]
        else "Your comments were removed."
    )
    response = page(
        request,
        "message.html",
        title="Account deleted",
        message=f"The account {user.username} and its data are gone, and you are signed "
        f"out. {kept} Digest emails to {user.email} have stopped.",
        link=("/", "Back to the papers"),
    )
    clear_session_cookie(request, response)
    return response
