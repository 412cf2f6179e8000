"""Organization pages: who they are and the papers tagged with them."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from paperfeed.models import Organization, Paper
from paperfeed.papers import feeds
from paperfeed.web.deps import ReaderDep, SettingsDep
from paperfeed.web.pages import PageParam, render

router = APIRouter(include_in_schema=False)


@router.get("/orgs/{name}")
def organization_page(
    request: Request,
    session: ReaderDep,
    settings: SettingsDep,
    name: str,
    p: int = PageParam,
    sort: str = Query("newest", pattern="^(upvotes|newest)$"),
) -> Response:
    org = session.execute(
        select(Organization).where(Organization.name == name)
    ).scalar_one_or_none()
    if org is None:
        raise HTTPException(404, f"There is no organization named “{name[:80]}” here.")
    size = settings.page_size
    where = (Paper.organization_id == org.id, Paper.hidden_at.is_(None))
    order = (
        (Paper.upvotes.desc(), Paper.id.desc())
        if sort == "upvotes"
        else (Paper.feed_at.desc(), Paper.id.desc())
    )
    papers = list(
        session.execute(
            select(Paper).where(*where).order_by(*order).limit(size).offset((p - 1) * size)
        ).scalars()
    )
    total = session.execute(select(func.count()).select_from(Paper).where(*where)).scalar_one()
    if p > 1 and not papers:
        raise HTTPException(404, f"Page {p} is past the end of this list ({total} papers).")
    context = {
        "view": "org",
        "org": org,
        "papers": papers,
        "extras": feeds.card_extras(session, papers),
        "total": total,
        "page": p,
        "pages": max(1, -(-total // size)),
        "sort": sort,
    }
    return render(request, session, "org.html", context)
