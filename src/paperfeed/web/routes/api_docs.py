"""The API docs at /api/docs: Swagger UI from the `fastapi-offline` package, served by the
site itself, so the page works offline and asks no other origin for anything.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script;
this one links the package's files and starts it from /static/api-docs.js, under a
Content-Security-Policy scoped to it (`headers.DOCS_POLICY`).
"""

from __future__ import annotations

from importlib.metadata import version
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, Response

from paperfeed.web import headers
from paperfeed.web.responses import page

SWAGGER_DIR = Path(str(files("fastapi_offline") / "static"))
SWAGGER_VERSION = version("fastapi-offline")  # in the assets' URLs: an upgrade is fetched
ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css"}

router = APIRouter(include_in_schema=False)


@router.get("/api/docs")
def docs(request: Request) -> Response:
    response = page(
        request,
        "api_docs.html",
        cache="public, max-age=3600",
        openapi_url=request.app.openapi_url,
        swagger_version=SWAGGER_VERSION,
    )
    headers.scope_policy(response.headers, headers.DOCS_POLICY)
    return response


@router.get("/api/docs/{asset}")
def asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise HTTPException(404, "No such file.")
    return FileResponse(SWAGGER_DIR / asset, headers={"Cache-Control": "public, max-age=604800"})
