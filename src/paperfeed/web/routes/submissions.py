"""`/papers/submit`: put an arXiv paper on today's feed.

The paper is looked up on arXiv while the person waits, within `PAPERFEED_ARXIV_TIMEOUT`
(deps.py gives this route `ArxivClient.interactive`). When arXiv cannot be reached the page
says to try later, and tells the operator which address the server could not reach; the
form's script (static/submit.js) shows that the lookup is under way meanwhile.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from paperfeed.community.limits import SUBMIT
from paperfeed.community.paper_links import MAX_LINK_FIELD, LinkError
from paperfeed.community.submissions import SubmissionError, submit
from paperfeed.db import Database
from paperfeed.ingest.arxiv_api import ArxivError, ArxivIdError
from paperfeed.models import Organization, OrgMembership, User
from paperfeed.web.deps import ArxivDep, DatabaseDep, SettingsDep
from paperfeed.web.forms import FormDep
from paperfeed.web.responses import page
from paperfeed.web.security import SignedInUser, check_csrf, enforce

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
UNREACHABLE = (
    "arXiv could not be reached, so the paper was not submitted. Please try again in a few minutes."
)


def my_organizations(db: Database, user: User) -> list[tuple[str, str]]:
    with db.reader() as session:
        return [
            (name, fullname)
            for name, fullname in session.execute(
                select(Organization.name, Organization.fullname)
                .join(OrgMembership, OrgMembership.organization_id == Organization.id)
                .where(OrgMembership.user_id == user.id, OrgMembership.status == "active")
                .order_by(Organization.name)
            )
        ]


@router.get("/papers/submit")
def submit_form(request: Request, db: DatabaseDep, user: SignedInUser) -> Response:
    return page(request, "submit.html", view="submit", form={}, orgs=my_organizations(db, user))


@router.post("/papers/submit", dependencies=[Depends(check_csrf)])
def submit_paper(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    user: SignedInUser,
    form: FormDep,
    arxiv: ArxivDep,
) -> Response:
    """Sync: asking arXiv takes up to PAPERFEED_ARXIV_TIMEOUT, in a thread, not the loop."""
    values = {
        "arxiv": form.text("arxiv", max_len=200).strip(),
        "org": form.text("org", max_len=200),
        # Twice the longest link kept: longer is refused unread, shorter gets the reason.
        "github_url": form.text("github_url", max_len=MAX_LINK_FIELD).strip(),
        "project_url": form.text("project_url", max_len=MAX_LINK_FIELD).strip(),
    }
    if user.role != "admin":
        enforce(db, SUBMIT, f"user:{user.id}")
    status, error, operator_note = 400, None, None
    try:
        outcome = submit(
            db,
            settings,
            arxiv,
            user,
            values["arxiv"],
            values["org"] or None,
            values["github_url"] or None,
            values["project_url"] or None,
        )
    except (SubmissionError, LinkError) as exc:
        error = str(exc)
    except ArxivIdError as exc:
        error = (
            f"arXiv has no paper {exc.arxiv_id}: check the id."
            if hasattr(exc, "arxiv_id")
            else str(exc)
        )
    except ArxivError as exc:
        log.warning("submission of %r: %s", values["arxiv"], exc)
        status, error = 503, UNREACHABLE
        operator_note = (
            f"For the site's operator: this server could not reach arXiv at "
            f"{settings.arxiv_api_url} ({exc.problem or exc}). Check the server's network "
            "connection and PAPERFEED_ARXIV_API_URL."
        )
    if error is not None:
        return page(
            request,
            "submit.html",
            status=status,
            headers={"Retry-After": "60"} if status == 503 else None,
            view="submit",
            form=values,
            error=error,
            operator_note=operator_note,
            orgs=my_organizations(db, user),
        )
    ignored = "&links=ignored" if outcome.links_ignored else ""
    return RedirectResponse(
        f"/papers/{outcome.public_id}?submitted={outcome.status}{ignored}", status_code=303
    )
