"""How the web layer answers: one way to render a page, an error, a redirect.

- `page` renders a template for the person asking: it is never shared (`private`), and it
  sets the anonymous CSRF cookie if the page's forms made one. `cache` says how private:
  `no-store` (forms, account pages: the default) or `no-cache` (per-user views such as a
  profile, revalidated and never stored by a shared cache).
- `public_page` renders what every visitor sees alike, with ETag/Last-Modified from the
  data it shows, answering 304 before rendering anything when nothing changed.
- `error_page` is the page (or `{"error": ...}` for the API and JSON clients) for a 4xx or
  5xx; `register` installs the handlers that route every failure through it: `UserError`
  from the services, `HTTPException`, validation errors, login redirects and the rest.
- `redirect` sends the browser on after a form (303), optionally with `?done=` notice key.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from paperfeed.community.votes import voted_papers
from paperfeed.errors import UserError
from paperfeed.models import Paper
from paperfeed.web.caching import not_modified, validators
from paperfeed.web.deps import get_settings, get_templates
from paperfeed.web.headers import secured
from paperfeed.web.security import LoginRequired, issue_csrf_cookie, resolve_user

NO_STORE = "private, no-store"
REVALIDATE = "private, no-cache"

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    429: "Slow down",
    503: "Temporarily unavailable",
}


def page(
    request: Request,
    template: str,
    status: int = 200,
    *,
    cache: str = NO_STORE,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page rendered for this person (never stored by a shared cache)."""
    response = get_templates(request).TemplateResponse(
        request, template, context, status_code=status, headers=headers
    )
    issue_csrf_cookie(request, response)
    response.headers["Cache-Control"] = cache
    if cache != NO_STORE:
        response.headers["Vary"] = "Cookie"  # who is signed in changes the page
    return response


def public_page(
    request: Request, session: Session, template: str, context: dict[str, Any], extra: str = ""
) -> Response:
    """A page every visitor sees alike: ETag/Last-Modified, 304 when nothing changed.

    Signed-in visitors (whose header and vote buttons differ) get it `private, no-cache`.
    """
    settings = get_settings(request)
    v = validators(request, session, extra)
    if v is not None and v.matches(request):
        return not_modified(v, settings.cache_max_age)
    shown = list(context.get("papers", [])) + ([context["paper"]] if "paper" in context else [])
    context.setdefault("voted", voted_for(request, session, shown))
    response = get_templates(request).TemplateResponse(request, template, context)
    if v is None:
        response.headers["Cache-Control"] = REVALIDATE
        response.headers["Vary"] = "Cookie"
        return response
    return v.apply(response, settings.cache_max_age)


def voted_for(request: Request, session: Session, papers: list[Paper]) -> set[int]:
    """Which of these papers the signed-in user has upvoted (empty for visitors): the
    pressed state of the vote buttons on a page."""
    user = resolve_user(request)
    if user is None:
        return set()
    return voted_papers(session, user.id, [p.id for p in papers])


def redirect(url: str, done: str | None = None, status: int = 303) -> RedirectResponse:
    """On to `url` after a form; `done` names the notice the next page shows (before any
    `#fragment`, which must stay last to be one)."""
    if done:
        address, hash_mark, fragment = url.partition("#")
        address += ("&" if "?" in address else "?") + f"done={quote(done)}"
        url = address + hash_mark + fragment
    return RedirectResponse(url, status_code=status)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.url.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


def error_page(
    request: Request, status: int, detail: str, headers: dict[str, str] | None = None
) -> Response:
    """The answer to a failed request: a page that says why, or `{"error": why}`."""
    if wants_json(request):
        return JSONResponse({"error": detail}, status_code=status, headers=headers)
    context: dict[str, Any] = {
        "status": status,
        "title": TITLES.get(status, "Error"),
        "detail": detail,
    }
    response = get_templates(request).TemplateResponse(
        request, "error.html", context, status_code=status, headers=headers
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def register(app: FastAPI) -> None:
    """Every failure of a request goes through `error_page`.

    The handlers are sync (Starlette runs them in the thread pool): the page header looks up
    who is signed in, which reads the database.
    """

    @app.exception_handler(UserError)
    def user_error(request: Request, exc: UserError) -> Response:
        return error_page(request, exc.status, str(exc), exc.headers)

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_page(request, exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "Sign in first (or send an API token)."}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    @app.exception_handler(RequestValidationError)
    def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0]}: {e['msg']}"
            for e in exc.errors()
        )
        return error_page(request, 400, f"Bad request: {problems}")

    @app.exception_handler(Exception)
    def unexpected_error(request: Request, exc: Exception) -> Response:
        response = error_page(request, 500, "Something went wrong on our side. Please try again.")
        return secured(request, response)  # sent from outside the middleware stack
