"""Follow and unfollow buttons: plain forms that send the browser back where it was."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.community.follows import follow, unfollow
from paperfeed.web.deps import DatabaseDep, SettingsDep
from paperfeed.web.forms import FormDep, safe_redirect_target
from paperfeed.web.security import SignedInUser, check_csrf

router = APIRouter(include_in_schema=False)


def _back(request: Request, form_next: str, site_url: str) -> str:
    """The same-site page to return to: the form's `next`, else the Referer, else /account.
    Anything pointing off the site is ignored, never followed."""
    return (
        safe_redirect_target(form_next, site_url)
        or safe_redirect_target(request.headers.get("referer"), site_url)
        or "/account#follows"
    )


@router.post("/follow", dependencies=[Depends(check_csrf)])
def follow_form(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: SignedInUser, form: FormDep
) -> Response:
    kind, target = form.text("kind", max_len=20), form.text("target", max_len=300)
    with db.transaction() as session:
        follow(session, user.id, kind, target)
    back = _back(request, form.text("next", max_len=2000), settings.site_url)
    return RedirectResponse(back, status_code=303)


@router.post("/unfollow", dependencies=[Depends(check_csrf)])
def unfollow_form(
    request: Request, db: DatabaseDep, settings: SettingsDep, user: SignedInUser, form: FormDep
) -> Response:
    kind, target = form.text("kind", max_len=20), form.text("target", max_len=300)
    with db.transaction() as session:
        unfollow(session, user.id, kind, target)
    back = _back(request, form.text("next", max_len=2000), settings.site_url)
    return RedirectResponse(back, status_code=303)
