"""`GET /api/whoami-v2`: who a token belongs to, as HF's `HfApi.whoami()` reads it; and
`GET /api/me/export`: the same download as /account/export, for scripts.

Deleting an account has no API: it asks for the password in a browser, so a leaked token
cannot take an account and its comments away."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import Field

from paperfeed.community import account_data
from paperfeed.models import User
from paperfeed.web.api.auth import ApiReader
from paperfeed.web.api.common import json_response
from paperfeed.web.api.schemas import Open, WhoAmIOut, errors
from paperfeed.web.api.serializers import Json, object_id
from paperfeed.web.deps import DatabaseDep

router = APIRouter()
NO_STORE = {"Cache-Control": "private, no-store"}


class AccountExportOut(Open):
    format: str = Field(description=f"Always {account_data.FORMAT!r}")
    version: int
    exported_at: str
    profile: dict[str, Any]


@router.get(
    "/whoami-v2",
    summary="The user an API token belongs to",
    response_model=WhoAmIOut,
    responses=errors(401, 403),
)
def whoami(request: Request, user: ApiReader) -> Response:
    token_name = getattr(request.state, "api_token_name", None)
    auth = (
        {"type": "access_token", "accessToken": {"displayName": token_name, "role": "write"}}
        if token_name is not None
        else {"type": "session"}
    )
    data: Json = {
        "type": "user",
        "_id": object_id("user", user.username),
        "name": user.username,
        "fullname": user.fullname or user.username,
        "avatarUrl": user.avatar_url,
        "role": user.role,
        "orgs": [],
        "auth": auth,
    }
    return json_response(data, headers=NO_STORE)


@router.get(
    "/me/export",
    summary="Everything the site holds about you (what /account/export downloads)",
    response_model=AccountExportOut,
    responses=errors(401, 403),
)
def my_data(db: DatabaseDep, user: ApiReader) -> Response:
    with db.reader() as session:
        me = session.get(User, user.id)
        assert me is not None  # the token's user was just read
        document = account_data.export(session, me)
    return json_response(document, headers=NO_STORE)
