"""Write endpoints for scripts: submit a paper, upvote or take it back, comment.

Each one runs the same community functions as the web forms (same rules, same transactions,
same counts) and the same per-user rate limits; only the way the user is known differs
(`auth.py`). Refusals are JSON `{"error": ...}` with a 4xx status.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.community import comments
from paperfeed.community.comments import COMMENT
from paperfeed.community.limits import SUBMIT, Limit
from paperfeed.community.paper_links import EDIT_LINKS, MAX_LINK_FIELD, set_links
from paperfeed.community.submissions import submit
from paperfeed.community.votes import set_vote
from paperfeed.db import Database
from paperfeed.ingest.arxiv_api import ArxivError, ArxivIdError
from paperfeed.models import User
from paperfeed.papers.lookup import visible_paper
from paperfeed.papers.related import load_related
from paperfeed.web.api.auth import ApiUser
from paperfeed.web.api.common import json_response
from paperfeed.web.api.schemas import CommentPosted, LinksOut, SubmissionOut, VoteOut, errors
from paperfeed.web.api.serializers import Json, iso, paper_json, user_json
from paperfeed.web.deps import ArxivDep, DatabaseDep, SettingsDep
from paperfeed.web.security import enforce

router = APIRouter()
# The web form has no vote limit (a person clicks); a script gets a generous one.
VOTE = Limit("api-vote", 600, 3600)
MAX_COMMENT_ID = 2_147_483_647
NO_STORE = {"Cache-Control": "no-store"}


class SubmitIn(BaseModel):
    id: str = Field(min_length=1, max_length=300, description="arXiv id or URL, e.g. 2401.01234")
    organization: str | None = Field(
        default=None, max_length=100, description="An organization you are a member of"
    )
    # Twice the longest link kept: longer is refused unread, shorter gets the reason.
    githubRepo: str | None = Field(
        default=None,
        max_length=MAX_LINK_FIELD,
        description="The code: a repository on GitHub, GitLab or the Hugging Face Hub",
    )
    projectPage: str | None = Field(
        default=None, max_length=MAX_LINK_FIELD, description="The project page: an http(s) URL"
    )


class CommentIn(BaseModel):
    comment: str = Field(min_length=1, max_length=20_000, description="Markdown")
    parentId: int | None = Field(
        default=None, ge=1, le=MAX_COMMENT_ID, description="Reply to this comment"
    )


class LinksIn(BaseModel):
    """A field left out keeps its link; null or "" clears it."""

    githubRepo: str | None = Field(
        default=None,
        max_length=MAX_LINK_FIELD,
        description="A repository on GitHub, GitLab or the Hugging Face Hub",
    )
    projectPage: str | None = Field(
        default=None, max_length=MAX_LINK_FIELD, description="An http(s) URL"
    )


def _paper_json(db: Database, public_id: str) -> Json:
    with db.reader() as session:
        paper = visible_paper(session, public_id).paper
        return paper_json(paper, load_related(session, [paper], keywords=True, summaries=True))


@router.post(
    "/papers/submit",
    summary="Submit an arXiv paper to today's feed",
    status_code=201,
    response_model=SubmissionOut,
    responses={
        200: {"description": "Already on the feed: counted as an upvote"},
        **errors(400, 401, 403, 404, 429, 502),
    },
)
def submit_paper(
    db: DatabaseDep,
    settings: SettingsDep,
    user: ApiUser,
    arxiv: ArxivDep,
    body: Annotated[SubmitIn, Body()],
) -> Response:
    if user.role != "admin":
        enforce(db, SUBMIT, f"user:{user.id}")
    try:
        outcome = submit(
            db,
            settings,
            arxiv,
            user,
            body.id,
            body.organization,
            body.githubRepo,
            body.projectPage,
        )
    except ArxivIdError as exc:
        arxiv_id = getattr(exc, "arxiv_id", body.id)
        raise HTTPException(404, f"arXiv has no paper {arxiv_id}: check the id.") from None
    except ArxivError:
        raise HTTPException(
            502, "arXiv did not answer. Please try again in a few minutes."
        ) from None
    data = {
        "status": outcome.status,
        "message": outcome.message,
        "paper": _paper_json(db, outcome.public_id),
    }
    return json_response(data, 201 if outcome.status == "accepted" else 200, NO_STORE)


def _vote(db: Database, user: User, paper_id: str, wanted: bool) -> Response:
    enforce(db, VOTE, f"user:{user.id}")
    with db.transaction() as session:
        paper = visible_paper(session, paper_id).paper
        state = set_vote(session, user.id, paper.id, wanted)
    return json_response({"upvoted": state.voted, "upvotes": state.upvotes}, headers=NO_STORE)


VOTE_RESPONSES = errors(401, 403, 404, 429)


@router.post(
    "/papers/{paper_id:path}/upvote",
    summary="Upvote a paper (idempotent)",
    response_model=VoteOut,
    responses=VOTE_RESPONSES,
)
def upvote(db: DatabaseDep, user: ApiUser, paper_id: str) -> Response:
    return _vote(db, user, paper_id, True)


@router.delete(
    "/papers/{paper_id:path}/upvote",
    summary="Take an upvote back (idempotent)",
    response_model=VoteOut,
    responses=VOTE_RESPONSES,
)
def unupvote(db: DatabaseDep, user: ApiUser, paper_id: str) -> Response:
    return _vote(db, user, paper_id, False)


@router.post(
    "/papers/{paper_id:path}/comment",
    summary="Comment on a paper, or reply to a comment",
    status_code=201,
    response_model=CommentPosted,
    responses=errors(400, 401, 403, 404, 409, 429),
)
def post_comment(
    db: DatabaseDep, user: ApiUser, paper_id: str, body: Annotated[CommentIn, Body()]
) -> Response:
    with db.reader() as session:
        visible_paper(session, paper_id)  # a 404 before spending the user's rate limit
    enforce(db, COMMENT, f"user:{user.id}")
    with db.transaction() as session:
        paper = visible_paper(session, paper_id).paper
        comment = comments.add_comment(session, user, paper.id, body.comment, body.parentId)
        comment_id = comment.id
    with db.reader() as session:
        count = visible_paper(session, paper_id).paper.comment_count
    data: Json = {
        "id": comment_id,
        "parentId": comment.parent_id,
        "author": user_json(user),
        "content": comment.body,
        "html": str(comments.render_markdown(comment.body)),
        "createdAt": iso(comment.created_at),
        "editedAt": None,
        "deleted": False,
    }
    if comment.parent_id is None:
        data["replies"] = []
    return json_response({"comment": data, "numComments": count}, 201, NO_STORE)


@router.post(
    "/papers/{paper_id:path}/links",
    summary="Set, correct or clear a paper's code and project-page links",
    response_model=LinksOut,
    responses=errors(400, 401, 403, 404, 429),
)
def post_links(
    db: DatabaseDep, user: ApiUser, paper_id: str, body: Annotated[LinksIn, Body()]
) -> Response:
    """For the paper's submitter, its verified authors and moderators (403 for others)."""
    with db.reader() as session:
        visible_paper(session, paper_id)  # a 404 before spending the rate limit
    enforce(db, EDIT_LINKS, f"user:{user.id}")
    sent = body.model_fields_set
    with db.transaction() as session:
        change = set_links(
            session,
            paper_id,
            user,
            body.githubRepo if "githubRepo" in sent else ...,
            body.projectPage if "projectPage" in sent else ...,
        )
    data = {
        "githubRepo": change.github_url,
        "projectPage": change.project_url,
        "changed": change.changed,
    }
    return json_response(data, headers=NO_STORE)
