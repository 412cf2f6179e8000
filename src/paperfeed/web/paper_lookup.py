"""The lookup every route that takes a paper id shares (pages, exports, API, forms).

Kept apart from the route modules so each can import it without import cycles.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy.orm import Session

from paperfeed.papers.lookup import Found, find_by_id


def visible_paper(session: Session, paper_id: str, *options: Any) -> Found:
    """The visible paper an id names, for every id route (pages, exports, API, forms).

    404 with a reason when no paper has that id or a moderator removed it.
    """
    found = find_by_id(session, paper_id, *options)
    if found is None:
        shown = paper_id.strip().strip("/")[:80]
        raise HTTPException(404, f"There is no paper with id “{shown}” here.")
    if found.paper.hidden_at is not None:
        raise HTTPException(404, "This paper was removed by a moderator.")
    return found
