"""The demo banner's "Dismiss" button: a cookie that hides the banner in this browser.

The banner is on every page, and most pages are cached publicly for visitors, so its form
carries no per-visitor CSRF token (a token would make every page private). A forged
dismissal could only hide a notice, and browsers say where a form came from anyway: a POST
that a browser marks as sent from another site (`Sec-Fetch-Site`, else `Origin`) is
refused. `web/caching.py` counts the cookie in page validators, so a page cached with the
banner is not revalidated as the same page without it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed.errors import Forbidden
from paperfeed.web.caching import DEMO_BANNER_COOKIE as COOKIE
from paperfeed.web.deps import SettingsDep
from paperfeed.web.forms import FormDep, safe_redirect_target
from paperfeed.web.security import set_lax_cookie

router = APIRouter(include_in_schema=False)

HIDDEN = "hidden"  # templates/_demo_banner.html looks for this value of the cookie
KEEP = 365 * 86400  # seconds: a browser that dismissed the banner does not see it again
MAX_NEXT = 16_384  # characters: more than a request line the server accepts


def from_this_site(request: Request, site_url: str) -> bool:
    """False when the browser says the form was sent from another site."""
    fetched_from = request.headers.get("sec-fetch-site")
    if fetched_from is not None:
        return fetched_from in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is not None:
        return safe_redirect_target(origin + "/", site_url) is not None
    return True  # an old browser or a script: hiding a notice harms nobody


@router.post("/demo/banner/dismiss")
def dismiss_banner(request: Request, form: FormDep, settings: SettingsDep) -> Response:
    if not from_this_site(request, settings.site_url):
        raise Forbidden("This form was sent from another site.")
    # The page's own address, which may be long (a search's query, percent-encoded); one
    # too long to go back to still hides the banner, and goes home.
    back = safe_redirect_target(form.text("next", max_len=MAX_NEXT), settings.site_url)
    back = back or safe_redirect_target(request.headers.get("referer"), settings.site_url) or "/"
    response = RedirectResponse(back, status_code=303)
    set_lax_cookie(request, response, COOKIE, HIDDEN, KEEP)
    return response
