"""Finding the paper an id names: one lookup for every route that takes a paper id.

The id goes through `canonical_id` first (versions, `arXiv:` prefixes and links are
dropped), then matches a paper's public id or, failing that, one of its old aliases (a
local `pf-` id that later merged into an arXiv paper). Hidden papers are returned too:
whether one may be shown is the caller's decision (moderators still find them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.models import Paper, PaperAlias
from paperfeed.papers.ids import canonical_id


@dataclass(frozen=True)
class Found:
    paper: Paper
    # False when the id asked for is not written as the paper's public id (a version, a
    # prefix, an alias): pages then redirect to the canonical address.
    exact: bool


def find_by_id(session: Session, text: str, *options: Any) -> Found | None:
    """The paper `text` names (hidden or not), with `options` (loader options) applied."""
    wanted = canonical_id(text)
    if wanted is None:
        return None
    query = select(Paper).options(*options)
    paper = session.execute(query.where(Paper.public_id == wanted)).scalar_one_or_none()
    if paper is None:
        paper = session.execute(
            query.join(PaperAlias, PaperAlias.paper_id == Paper.id).where(
                PaperAlias.alias == wanted
            )
        ).scalar_one_or_none()
    if paper is None:
        return None
    return Found(paper, exact=paper.public_id == text)
