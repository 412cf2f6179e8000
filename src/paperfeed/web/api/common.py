"""What every API route shares: JSON answers with HTTP validators, finding a paper by id.

Errors are raised as `HTTPException`; the app's handler answers anything under `/api/` with
`{"error": "..."}` and the status, so clients never see an HTML page or a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from paperfeed.web.caching import not_modified, private, validators
from paperfeed.web.deps import get_settings


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def cached_json(
    request: Request,
    session: Session,
    build: Callable[[], Any],
    extra: str = "",
    headers: dict[str, str] | None = None,
) -> Response:
    """A public JSON answer with ETag/Last-Modified; 304 before building when nothing changed.

    The validator comes from the papers' change sequence (every vote, comment, import and
    moderation action bumps it), so one indexed read decides; `extra` adds whatever else
    the answer depends on (the search index state, the trending clock).
    """
    settings = get_settings(request)
    v = validators(request, session, "api|" + extra)
    if v is not None and v.matches(request):
        response = not_modified(v, settings.cache_max_age)
    else:
        response = json_response(build(), headers=headers)
        if v is None:
            return private(response)
        v.apply(response, settings.cache_max_age)
    response.headers.setdefault("Access-Control-Allow-Origin", "*")
    return response
