"""`/papers/{id}/thumbnail/{card|page}.{webp|jpg}`: the first page of a paper's PDF.

The images are in the database (papers/thumbnails.py), so every node serves the same bytes.
They are the same for every viewer, so always public. Pages and the API link them with
`?v=` and the digest of the paper's images: such a URL names those bytes for good and is
cached for a year as immutable; without it (or with an old one) an hour, revalidated with
the image's ETag (a 304 sends nothing). A paper without a thumbnail is a 404.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from sqlalchemy import select

from paperfeed.models import Paper, PaperThumbnail, PaperThumbnailCheck
from paperfeed.papers.thumbnails import EXTENSIONS, FORMATS, SIZES, version_of
from paperfeed.web.caching import Validators
from paperfeed.web.deps import ReaderDep

router = APIRouter(include_in_schema=False)

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "public, max-age=3600"
MAX_ID = 100  # characters: public ids are at most 64


def _missing() -> HTTPException:
    return HTTPException(404, "This paper has no thumbnail.")


@router.get("/papers/{paper_id:path}/thumbnail/{name}")
def thumbnail(request: Request, session: ReaderDep, paper_id: str, name: str) -> Response:
    size, _, ext = name.partition(".")
    if size not in SIZES or ext not in EXTENSIONS or len(paper_id) > MAX_ID:
        raise HTTPException(404, "Thumbnails are card.webp, card.jpg, page.webp or page.jpg.")
    fmt = EXTENSIONS[ext]
    row = session.execute(
        select(PaperThumbnail.data, PaperThumbnail.digest, PaperThumbnailCheck.digest)
        .join(Paper, Paper.id == PaperThumbnail.paper_id)
        .join(PaperThumbnailCheck, PaperThumbnailCheck.paper_id == PaperThumbnail.paper_id)
        .where(
            Paper.public_id == paper_id,
            Paper.hidden_at.is_(None),
            PaperThumbnail.size == size,
            PaperThumbnail.format == fmt,
        )
    ).one_or_none()
    if row is None:
        raise _missing()
    data, digest, set_digest = row
    current = set_digest is not None and request.query_params.get("v") == version_of(set_digest)
    validator = Validators(f'"{digest}"', None)
    headers = {"ETag": validator.etag, "Cache-Control": IMMUTABLE if current else REVALIDATE}
    if validator.matches(request):
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=FORMATS[fmt], headers=headers)
