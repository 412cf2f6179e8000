"""`/api/me/follows`: what the token's user follows; follow and unfollow from scripts.

The same community functions as the web buttons (same validation, limits, rate limit).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from fastapi.responses import Response
from pydantic import BaseModel, Field

from paperfeed.community.follows import KINDS, Followed, follow, list_follows, unfollow
from paperfeed.web.api.auth import ApiReader, ApiUser
from paperfeed.web.api.common import json_response
from paperfeed.web.api.schemas import errors
from paperfeed.web.api.serializers import Json, iso
from paperfeed.web.deps import DatabaseDep

router = APIRouter()
NO_STORE = {"Cache-Control": "private, no-store"}


class FollowIn(BaseModel):
    kind: str = Field(max_length=20, description=f"One of {', '.join(KINDS)}")
    target: str = Field(
        max_length=300,
        description="An author's name, an organization's name or an arXiv category code",
    )


class FollowOut(BaseModel):
    kind: str
    target: str
    createdAt: str | None


class FollowsOut(BaseModel):
    follows: list[FollowOut]


def _json(followed: Followed) -> Json:
    return {"kind": followed.kind, "target": followed.target, "createdAt": iso(followed.created_at)}


@router.get(
    "/me/follows",
    summary="What you follow: authors, organizations, categories",
    response_model=FollowsOut,
    responses=errors(401, 403),
)
def my_follows(db: DatabaseDep, user: ApiReader) -> Response:
    with db.reader() as session:
        found = list_follows(session, user.id)
    return json_response({"follows": [_json(f) for f in found]}, headers=NO_STORE)


@router.post(
    "/me/follows",
    summary="Follow an author, an organization or a category (idempotent)",
    response_model=FollowOut,
    responses=errors(400, 401, 403, 404, 409, 429),
)
def add_follow(db: DatabaseDep, user: ApiUser, body: Annotated[FollowIn, Body()]) -> Response:
    with db.transaction() as session:
        followed = follow(session, user.id, body.kind, body.target)
    return json_response(_json(followed), headers=NO_STORE)


@router.delete(
    "/me/follows/{kind}/{target:path}",
    summary="Stop following (idempotent)",
    responses=errors(400, 401, 403, 429),
)
def remove_follow(db: DatabaseDep, user: ApiUser, kind: str, target: str) -> Response:
    with db.transaction() as session:
        removed = unfollow(session, user.id, kind, target)
    return json_response({"removed": removed}, headers=NO_STORE)
