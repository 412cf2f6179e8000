"""`/papers/submit`: put an arXiv paper on today's feed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from paperfeed.community.limits import SUBMIT
from paperfeed.community.submissions import SubmissionError, submit
from paperfeed.ingest.arxiv_api import ArxivError, ArxivIdError
from paperfeed.models import Organization, OrgMembership, User
from paperfeed.web.deps import arxiv_client
from paperfeed.web.forms import FormDep
from paperfeed.web.responses import page
from paperfeed.web.security import SignedInUser, check_csrf, enforce

router = APIRouter(include_in_schema=False)


def my_organizations(request: Request, user: User) -> list[tuple[str, str]]:
    with request.app.state.db.reader() as session:
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
def submit_form(request: Request, user: SignedInUser) -> Response:
    return page(
        request, "submit.html", view="submit", form={}, orgs=my_organizations(request, user)
    )


@router.post("/papers/submit", dependencies=[Depends(check_csrf)])
def submit_paper(request: Request, user: SignedInUser, form: FormDep) -> Response:
    """Sync: asking arXiv can take 30 s or more, which must wait in a thread, not the loop."""
    values = {
        "arxiv": form.text("arxiv", max_len=200).strip(),
        "org": form.text("org", max_len=200),
    }
    state = request.app.state
    if user.role != "admin":
        enforce(state.db, SUBMIT, f"user:{user.id}")
    status, error = 400, None
    try:
        outcome = submit(
            state.db,
            state.settings,
            arxiv_client(request),
            user,
            values["arxiv"],
            values["org"] or None,
        )
    except SubmissionError as exc:
        error = str(exc)
    except ArxivIdError as exc:
        error = (
            f"arXiv has no paper {exc.arxiv_id}: check the id."
            if hasattr(exc, "arxiv_id")
            else str(exc)
        )
    except ArxivError:
        status, error = 503, "arXiv did not answer. Please try again in a few minutes."
    if error is not None:
        return page(
            request,
            "submit.html",
            status=status,
            view="submit",
            form=values,
            error=error,
            orgs=my_organizations(request, user),
        )
    return RedirectResponse(
        f"/papers/{outcome.public_id}?submitted={outcome.status}", status_code=303
    )
