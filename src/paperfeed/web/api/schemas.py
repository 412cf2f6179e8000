"""The API's response shapes, for the published OpenAPI schema.

Routes build their JSON by hand (`serializers.py`, fast and exact); these models only
document it, and the schemathesis test checks every answer against them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ErrorBody(BaseModel):
    error: str = Field(description="What was wrong, in a sentence")


class UserOut(Open):
    id_: str = Field(alias="_id")
    user: str = Field(description="The username (what huggingface_hub reads)")
    name: str = Field(description="The username again (what newer HF payloads use)")
    fullname: str
    avatarUrl: str | None
    type: str = "user"


class OrganizationOut(Open):
    id_: str = Field(alias="_id")
    name: str
    fullname: str
    avatarUrl: str | None
    type: str = "org"


class AuthorOut(Open):
    id_: str = Field(alias="_id")
    name: str
    hidden: bool
    user: UserOut | None = None
    status: str | None = None


class PaperOut(Open):
    id: str = Field(description="arXiv id without version, or a local pf-… id")
    authors: list[AuthorOut]
    numAuthors: int
    publishedAt: str | None = Field(description="Publication date (the first version)")
    submittedOnDailyAt: str | None = Field(description="When the paper entered the daily feed")
    title: str
    summary: str
    upvotes: int
    numComments: int
    discussionId: str
    categories: list[str]
    ai_keywords: list[str] = Field(
        default_factory=list, description="Keywords extracted from the title and abstract"
    )
    ai_summary: str | None = Field(
        default=None, description="A machine-written one- or two-sentence summary, if any"
    )
    arxivId: str | None = None
    githubRepo: str | None = None
    projectPage: str | None = None
    thumbnailUrl: str | None = Field(
        default=None, description="The first page of its PDF (JPEG, 600 px wide), if rendered"
    )
    submittedOnDailyBy: UserOut | None = None
    organization: OrganizationOut | None = None
    comments: list[dict[str, Any]] | None = Field(
        default=None, description="With ?field=comments: the visible comments, threaded"
    )
    linkedModels: list[dict[str, Any]] | None = Field(
        default=None, description="/api/papers/{id} only: the most liked models citing it"
    )
    numTotalModels: int | None = Field(default=None, description="Models citing it")
    linkedDatasets: list[dict[str, Any]] | None = Field(
        default=None, description="/api/papers/{id} only: the most liked datasets citing it"
    )
    numTotalDatasets: int | None = Field(default=None, description="Datasets citing it")
    linkedSpaces: list[dict[str, Any]] | None = Field(
        default=None, description="/api/papers/{id} only: the most liked Spaces citing it"
    )
    numTotalSpaces: int | None = Field(default=None, description="Spaces citing it")


class DailyEntryOut(Open):
    paper: PaperOut
    ai_keywords: list[str] = Field(default_factory=list, description="The paper's keywords")
    ai_summary: str | None = Field(default=None, description="The machine-written summary")
    publishedAt: str | None = Field(description="When the paper entered the daily feed")
    submittedOnDailyAt: str | None
    title: str
    summary: str
    upvotes: int
    numComments: int
    submittedBy: UserOut | None = None
    organization: OrganizationOut | None = None
    githubRepo: str | None = None
    projectPage: str | None = None
    thumbnailUrl: str | None = Field(default=None, description="The paper's thumbnailUrl")
    thumbnail: str | None = Field(default=None, description="The same (HF's key)")
    trendingScore: float | None = Field(default=None, description="With sort=trending")


class VoteOut(BaseModel):
    upvoted: bool
    upvotes: int


class LinksOut(BaseModel):
    githubRepo: str | None = Field(description="The code link set on the paper, normalized")
    projectPage: str | None
    changed: bool = Field(description="False when both were already as sent")


class CommentOut(Open):
    id: int
    parentId: int | None
    author: UserOut | None
    content: str
    html: str
    createdAt: str | None
    editedAt: str | None
    deleted: bool


class CommentPosted(BaseModel):
    comment: CommentOut
    numComments: int


class SubmissionOut(BaseModel):
    status: str = Field(description="accepted, or duplicate (counted as an upvote)")
    message: str
    paper: PaperOut


class WhoAmIOut(Open):
    type: str
    id_: str = Field(alias="_id")
    name: str
    fullname: str
    avatarUrl: str | None
    auth: dict[str, Any]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries documenting the JSON error answers of a route."""
    reasons = {
        304: "Not modified (send If-None-Match with the ETag)",
        400: "A parameter is malformed or out of range",
        401: "No API token, or one that is not valid",
        403: "Not allowed (a cookie request without the X-CSRF-Token header)",
        404: "No such paper",
        409: "The action conflicts with the current state",
        429: "Too many requests; see Retry-After",
        502: "arXiv could not be reached",
        503: "The search index is not built yet",
    }
    documented: dict[int | str, dict[str, Any]] = {
        code: {"description": reasons[code]}
        if code == 304
        else {"description": reasons[code], "model": ErrorBody}
        for code in codes
    }
    # Validation errors are 400 {"error": ...} here, not FastAPI's 422: documenting 4XX keeps
    # the generated schema from promising a 422 that never comes.
    documented["4XX"] = {"description": "Any other client error", "model": ErrorBody}
    return documented
