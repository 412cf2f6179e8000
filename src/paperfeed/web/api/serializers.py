"""Papers, users and comments in Hugging Face's JSON dialect.

`huggingface_hub`'s `PaperInfo` parser reads some fields from the nested `paper` object of
a daily entry and others only from the top level (`title`, `numComments`, `submittedBy`,
`organization`, `githubRepo`, `githubStars`, `projectPage`), and falls back from one to the
other for `upvotes`, `summary`, `authors` and `publishedAt`. So entries carry those fields
in both places. Users are always objects with the username under both `user` (what the client
reads) and `name` (what newer HF payloads use).

Dates are `YYYY-MM-DDTHH:MM:SS.mmmZ`, the one format the client's parser expects. Integer
primary keys never leave the database: `_id` values are stable hashes of public names.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from paperfeed.ingest.hub_links import HubLinks
from paperfeed.models import Organization, Paper, PaperHubArtifact, User
from paperfeed.papers.related import Byline, Related

Json = dict[str, Any]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def object_id(kind: str, key: str) -> str:
    """A 24-hex id like HF's, derived from a public name (never from a primary key)."""
    return hashlib.sha1(f"{kind}:{key}".encode()).hexdigest()[:24]


def user_json(user: User) -> Json:
    return {
        "_id": object_id("user", user.username),
        "user": user.username,
        "name": user.username,
        "fullname": user.fullname or user.username,
        "avatarUrl": user.avatar_url,
        "type": "user",
    }


def organization_json(org: Organization) -> Json:
    return {
        "_id": object_id("org", org.name),
        "name": org.name,
        "fullname": org.fullname or org.name,
        "avatarUrl": org.avatar_url,
        "type": "org",
    }


def author_json(paper: Paper, author: Byline, user: User | None) -> Json:
    data: Json = {
        "_id": object_id("author", f"{paper.public_id}:{author.position}"),
        "name": author.name,
        "hidden": author.hidden,
    }
    if user is not None and user.banned_at is None:
        data["user"] = user_json(user)
        data["status"] = "claimed_verified"
    return data


def paper_json(paper: Paper, related: Related) -> Json:
    """The flat paper object (`/api/papers/{id}`, and `paper` inside daily entries)."""
    submitter = related.users.get(paper.submitted_by_id) if paper.submitted_by_id else None
    org = related.organizations.get(paper.organization_id) if paper.organization_id else None
    data: Json = {
        "id": paper.public_id,
        "authors": [
            author_json(paper, a, related.users.get(a.user_id) if a.user_id else None)
            for a in related.authors.get(paper.id, [])
        ],
        "numAuthors": paper.author_count,  # also known when the names are not
        # Always a date: a paper without a publication date counts from when it arrived.
        "publishedAt": iso(paper.published_at or paper.feed_at or paper.created_at),
        "submittedOnDailyAt": iso(paper.feed_at),
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "numComments": paper.comment_count,
        "discussionId": object_id("discussion", paper.public_id),
        "categories": paper.category_list,
        # Extracted from title and abstract (search/keywords.py), as HF's PaperInfo.ai_keywords.
        "ai_keywords": related.keywords.get(paper.id, []),
        # Machine-written by the `summaries` job (papers/summaries.py), as HF's
        # PaperInfo.ai_summary; null without one (a key sentence is never served as it).
        "ai_summary": related.summaries.get(paper.id),
    }
    if paper.arxiv_id:
        data["arxivId"] = paper.arxiv_id
    # The first page of its PDF (papers/thumbnails.py), absolute; arXiv papers of the feed.
    thumbnail = related.thumbnail_url(paper.id)
    if thumbnail is not None:
        data["thumbnailUrl"] = thumbnail
    # The link set on the paper, else a GitHub repository found in its abstract or comments
    # (papers/code_links.py); stars once the `github` job has asked GitHub.
    code = related.code.get(paper.id)
    if paper.github_url:
        data["githubRepo"] = paper.github_url
    elif code is not None and code.github_url:
        data["githubRepo"] = code.github_url
    if code is not None and code.stars is not None:
        data["githubStars"] = code.stars
    if paper.project_url:
        data["projectPage"] = paper.project_url
    if submitter is not None:
        data["submittedOnDailyBy"] = user_json(submitter)
    if org is not None:
        data["organization"] = organization_json(org)
    return data


def daily_entry_json(paper: Paper, related: Related, score: float | None = None) -> Json:
    """A daily-papers entry: the paper nested, plus what the client reads at the top level."""
    nested = paper_json(paper, related)
    entry: Json = {
        "paper": nested,
        # HF's top-level publishedAt is when the paper entered the daily feed.
        "publishedAt": nested["submittedOnDailyAt"] or nested["publishedAt"],
        "submittedOnDailyAt": nested["submittedOnDailyAt"],
        "title": paper.title,
        "summary": paper.abstract,
        "upvotes": paper.upvotes,
        "numComments": paper.comment_count,
    }
    if "submittedOnDailyBy" in nested:
        entry["submittedBy"] = nested["submittedOnDailyBy"]
    entry["ai_keywords"] = nested["ai_keywords"]  # the client reads it at the top level
    entry["ai_summary"] = nested["ai_summary"]  # HF nests it; the client reads the top level
    for key in ("organization", "githubRepo", "githubStars", "projectPage", "thumbnailUrl"):
        if key in nested:
            entry[key] = nested[key]
    if "thumbnailUrl" in nested:
        entry["thumbnail"] = nested["thumbnailUrl"]  # the key HF's daily entries use
    if score is not None:
        entry["trendingScore"] = round(score, 4)
    return entry


def _artifact_json(kind: str, a: PaperHubArtifact) -> Json:
    """One model, dataset or Space as the Hub's listing sends it (what `ModelInfo`,
    `DatasetInfo` and `SpaceInfo` parse)."""
    data: Json = {
        "_id": object_id(kind, a.repo_id),
        "id": a.repo_id,
        "author": a.author,
        "likes": a.likes,
        "lastModified": iso(a.last_modified),
        "private": False,
    }
    if kind != "space":
        data["downloads"] = a.downloads or 0
    if kind == "model" and a.extra:
        data["pipeline_tag"] = a.extra
    if kind == "space" and a.extra:
        data["sdk"] = a.extra
    return data


def hub_json(links: HubLinks | None) -> Json:
    """`paper_info`'s linked models, datasets and Spaces (the most liked, up to ten of each)
    and their totals, once the `hub` job has an answer; nothing before (the client's None)."""
    if links is None:
        return {}
    data: Json = {}
    for kind, name in (("model", "Models"), ("dataset", "Datasets"), ("space", "Spaces")):
        data[f"linked{name}"] = [_artifact_json(kind, a) for a in links.top.get(kind, [])]
        data[f"numTotal{name}"] = links.counts[kind]
    return data
