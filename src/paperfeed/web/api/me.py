"""`GET /api/whoami-v2`: who a token belongs to, as HF's `HfApi.whoami()` reads it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from paperfeed.web.api.auth import ApiReader
from paperfeed.web.api.common import json_response
from paperfeed.web.api.schemas import WhoAmIOut, errors
from paperfeed.web.api.serializers import Json, object_id

router = APIRouter()


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
    return json_response(data, headers={"Cache-Control": "private, no-store"})
