"""The upvote button: a plain form that also works without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from paperfeed.community.votes import set_vote
from paperfeed.papers.lookup import visible_paper
from paperfeed.web.deps import DatabaseDep, SettingsDep
from paperfeed.web.forms import FormDep, safe_redirect_target
from paperfeed.web.security import SignedInUser, check_csrf

router = APIRouter(include_in_schema=False)


@router.post("/papers/{paper_id:path}/upvote", dependencies=[Depends(check_csrf)])
def upvote(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    paper_id: str,
    user: SignedInUser,
    form: FormDep,
) -> Response:
    wanted = form.text("vote", max_len=10, default="1") != "0"
    with db.transaction() as session:
        paper = visible_paper(session, paper_id).paper
        paper_id = paper.public_id
        state = set_vote(session, user.id, paper.id, wanted)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"upvoted": state.voted, "upvotes": state.upvotes})
    site = settings.site_url
    back = safe_redirect_target(request.headers.get("referer"), site) or f"/papers/{paper_id}"
    return RedirectResponse(back, status_code=303)
