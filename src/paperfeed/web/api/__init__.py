"""The JSON API under `/api`, in Hugging Face's dialect (see README, "JSON API")."""

from __future__ import annotations

from fastapi import APIRouter

from paperfeed.web.api import collections, daily, follows, me, papers, writes

router = APIRouter(prefix="/api", tags=["api"])
router.include_router(daily.router)
router.include_router(me.router)
router.include_router(follows.router)
router.include_router(collections.router)
# Fixed paths (`/papers/search`, `/papers/submit`) before `/papers/{paper_id:path}`.
router.include_router(writes.router)
router.include_router(papers.router)

__all__ = ["router"]
