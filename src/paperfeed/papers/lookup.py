"""Finding the paper an id names: one lookup for every route that takes a paper id.

The id goes through `canonical_id` first (versions, `arXiv:` prefixes and links are
dropped), then matches a paper's public id or, failing that, one of its old aliases (a
local `pf-` id that later merged into an arXiv paper). `find_by_id` returns hidden papers
too; `visible_paper` is what every route and form uses (404 for hidden papers); `any_paper`
finds hidden ones too, for moderators.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from paperfeed.errors import NotFound
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


def any_paper(
    session: Session, text: str, *options: Any, missing: type[NotFound] = NotFound
) -> Paper:
    """The paper `text` names, hidden or not (for moderators); `missing` otherwise."""
    found = find_by_id(session, text, *options)
    if found is None:
        raise missing(f"There is no paper with id “{text.strip().strip('/')[:80]}” here.")
    return found.paper


def visible_paper(
    session: Session, text: str, *options: Any, missing: type[NotFound] = NotFound
) -> Found:
    """The visible paper `text` names, for every route and form that takes a paper id.

    `missing` (a NotFound, 404, or a feature's subclass of it) with a reason when no paper
    has that id or a moderator removed it.
    """
    found = find_by_id(session, text, *options)
    if found is None:
        raise missing(f"There is no paper with id “{text.strip().strip('/')[:80]}” here.")
    if found.paper.hidden_at is not None:
        raise missing("This paper was removed by a moderator.")
    return found
