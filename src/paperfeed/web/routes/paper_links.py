"""`POST /papers/{id}/links`: the paper page's "Code and project page" form.

Shown to the paper's submitter, its verified authors and moderators (the rules are in
`community/paper_links.py`). A plain POST with the session's CSRF token that answers with a
303 back to the form; a refused link gets the paper page again with status 400, the form
open, the reason beside it and the text kept; other refusals get an error page (403, 404,
429).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from paperfeed.community.paper_links import (
    EDIT_LINKS,
    MAX_LINK_FIELD,
    MAX_URL,
    LinkError,
    editor_role,
    set_links,
)
from paperfeed.models import Paper
from paperfeed.papers.lookup import visible_paper
from paperfeed.web.deps import DatabaseDep
from paperfeed.web.forms import FormDep
from paperfeed.web.security import SignedInUser, check_csrf, enforce, resolve_user

router = APIRouter(include_in_schema=False)


@dataclass
class LinksForm:
    """What `_paper_links.html` needs: the values to show and, after a refusal, why."""

    github_url: str
    project_url: str
    role: str
    error: str = ""
    saved: bool = False
    max_url: int = MAX_URL


def links_form(request: Request, session: Session, paper: Paper) -> LinksForm | None:
    """The form for whoever is asking, or None if they may not change the links."""
    user = resolve_user(request)
    if user is None:
        return None
    role = editor_role(session, paper, user)
    if role is None:
        return None
    refused = getattr(request.state, "links_form", None)
    if isinstance(refused, LinksForm):
        return refused
    return LinksForm(
        paper.github_url or "",
        paper.project_url or "",
        role,
        saved=request.query_params.get("links") == "saved",
    )


@router.post("/papers/{paper_id:path}/links", dependencies=[Depends(check_csrf)])
def save_links(
    request: Request, db: DatabaseDep, paper_id: str, user: SignedInUser, form: FormDep
) -> Response:
    code = form.text("github_url", max_len=MAX_LINK_FIELD)
    project = form.text("project_url", max_len=MAX_LINK_FIELD)
    enforce(db, EDIT_LINKS, f"user:{user.id}")
    try:
        with db.transaction() as session:
            change = set_links(session, paper_id, user, code, project)
    except LinkError as exc:
        if exc.status != 400:
            raise HTTPException(exc.status, str(exc)) from None
        from paperfeed.web.routes.pages import paper_page

        with db.reader() as session:
            public_id = _public_id(session, paper_id)
            request.state.links_form = LinksForm(code, project, "", error=str(exc))
            response = paper_page(request, session, public_id)
        response.status_code = 400
        return response
    return RedirectResponse(f"/papers/{change.public_id}?links=saved#links", status_code=303)


def _public_id(session: Session, paper_id: str) -> str:
    return visible_paper(session, paper_id).paper.public_id
