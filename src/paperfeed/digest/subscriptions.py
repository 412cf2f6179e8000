"""Subscribing, confirming, unsubscribing, and the topics a subscriber follows.

One row per email address. Nothing is sent until the address is confirmed through a signed
link (double opt-in); unsubscribing takes effect at once and needs no login. Every text a
visitor can type (address, topic, author, organization) is checked here, so a line break
smuggled into a header or a query is refused with a clear message before anything changes.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from paperfeed import clock
from paperfeed.community.tokens import TokenError, bind_fingerprint, make_token, read_token
from paperfeed.config import Settings
from paperfeed.db import rows_matched
from paperfeed.digest.periods import FREQUENCIES
from paperfeed.email_address import EmailAddressError, parse_email_address
from paperfeed.errors import UserError
from paperfeed.models import Organization, SavedSearch, Subscription, User
from paperfeed.search.query import parse_query

CONFIRM = "digest-confirm"
UNSUBSCRIBE = "digest-unsubscribe"
MANAGE = "digest-manage"
CONFIRM_MAX_AGE = 7 * 86400
# Links in old emails keep working for half a year.
LINK_MAX_AGE = 183 * 86400
MAX_TOPICS = 20
MAX_TOPIC_CHARS = 300


# ASCII addresses only: the local part's atext characters and dotted domain labels.
class SubscriptionError(UserError):
    """Input we refuse; the message says why and what to do instead."""


def _reject_control(value: str, what: str) -> None:
    if "\r" in value or "\n" in value:
        raise SubscriptionError(f"The {what} may not contain line breaks.")
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        raise SubscriptionError(f"The {what} may not contain control characters.")


def normalize_address(text: str) -> str:
    """A plain ASCII email address, lower-cased, or SubscriptionError."""
    try:
        return parse_email_address(text)
    except EmailAddressError as exc:
        raise SubscriptionError(str(exc)) from None


def check_frequency(value: str) -> str:
    if value not in FREQUENCIES:
        raise SubscriptionError(f"Unknown frequency “{value[:20]}”: choose daily or weekly.")
    return value


# --- tokens for links in emails ---------------------------------------------------------------


def link_token(settings: Settings, subscription: Subscription, purpose: str) -> str:
    """A signed link token bound to the address, so it dies if the row is reused."""
    max_age = CONFIRM_MAX_AGE if purpose == CONFIRM else LINK_MAX_AGE
    return make_token(settings, purpose, subscription.id, max_age, bind=subscription.email)


def from_token(settings: Settings, session: Session, token: str, purpose: str) -> Subscription:
    """The subscription a link names, or TokenError (forged, expired, other purpose)."""
    subscription_id, bound = read_token(settings, token, purpose)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None or bind_fingerprint(subscription.email) != bound:
        raise TokenError("This link is not valid.")
    return subscription


def link(settings: Settings, path: str, token: str) -> str:
    return f"{settings.site_url.rstrip('/')}{path}?token={token}"


# --- subscribing ------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What `subscribe` did, so the caller knows which email to send."""

    subscription: Subscription
    needs_confirmation: bool  # send a confirmation link
    already_active: bool  # the address was subscribed before (send a manage link instead)


def subscribe(
    session: Session,
    email: str,
    frequency: str = "daily",
    *,
    include_trending: bool = True,
    user_id: int | None = None,
    confirmed: bool = False,
) -> Outcome:
    """Start (or restart) a subscription. An active one is left as it is: an anonymous
    form must not change someone else's settings."""
    address = normalize_address(email)
    check_frequency(frequency)
    now = clock.now()
    row = session.execute(
        select(Subscription).where(Subscription.email == address)
    ).scalar_one_or_none()
    if row is not None and row.status in ("active", "paused"):
        if user_id is not None and row.user_id is None:
            row.user_id = user_id
        return Outcome(row, needs_confirmation=False, already_active=True)
    if row is None:
        row = Subscription(email=address, created_at=now, bounce_count=0)
        session.add(row)
    row.frequency = frequency
    row.include_trending = include_trending
    row.skip_weekends = True
    row.user_id = user_id if user_id is not None else row.user_id
    row.unsubscribed_at = None
    row.paused_at = None
    row.bounce_count = 0
    if confirmed:
        row.status, row.confirmed_at = "active", now
    else:
        row.status, row.confirmed_at = "pending", None
    session.flush()
    return Outcome(row, needs_confirmation=not confirmed, already_active=False)


def confirm(subscription: Subscription) -> bool:
    """Activate a pending subscription; True if this call changed it."""
    if subscription.status == "pending":
        subscription.status = "active"
        subscription.confirmed_at = clock.now()
        return True
    return False


def unsubscribe(subscription: Subscription) -> bool:
    """Stop every email at once; True if this call changed it."""
    if subscription.status == "unsubscribed":
        return False
    subscription.status = "unsubscribed"
    subscription.unsubscribed_at = clock.now()
    return True


def resume(subscription: Subscription) -> None:
    """Send again to a subscription paused after bounces (the owner says it works now)."""
    if subscription.status == "paused":
        subscription.status = "active"
        subscription.paused_at = None
        subscription.bounce_count = 0


def update_settings(
    subscription: Subscription, frequency: str, include_trending: bool, skip_weekends: bool
) -> None:
    subscription.frequency = check_frequency(frequency)
    subscription.include_trending = include_trending
    subscription.skip_weekends = skip_weekends


def for_user(session: Session, user: User) -> Subscription | None:
    """The subscription of an account: linked to it, or at its address once the account has
    proved it owns that address (an unverified sign-up with someone else's address must not
    reach their subscription)."""
    mine = Subscription.user_id == user.id
    if user.email_verified_at is not None:
        mine = mine | (Subscription.email == user.email.lower())
    return session.execute(
        select(Subscription).where(mine).order_by((Subscription.user_id == user.id).desc()).limit(1)
    ).scalar_one_or_none()


# --- topics (saved searches) ------------------------------------------------------------------


def topic_filters(
    session: Session, query: str, author: str = "", org: str = ""
) -> tuple[str, dict[str, Any]]:
    """Validate a topic as the search page would; return (query, filters)."""
    for value, what in ((query, "topic"), (author, "author name"), (org, "organization")):
        _reject_control(value, what)
    query, author, org = query.strip(), " ".join(author.split()), org.strip()
    if len(query) > MAX_TOPIC_CHARS or len(author) > 200:
        raise SubscriptionError(f"Keep a topic under {MAX_TOPIC_CHARS} characters.")
    filters: dict[str, Any] = {}
    if author:
        filters["author"] = author
    if org:
        found = session.execute(
            select(Organization.name).where(Organization.name == org)
        ).scalar_one_or_none()
        if found is None:
            raise SubscriptionError(f"There is no organization named “{org[:60]}”.")
        filters["org"] = found
    if query:
        parsed = parse_query(query)
        if parsed.arxiv_id is not None:
            raise SubscriptionError("Follow a topic with words, not an arXiv id.")
        if parsed.is_empty:
            raise SubscriptionError("The topic needs a few words to search for.")
        if parsed.only_stop_words:
            raise SubscriptionError("Those words are too common to follow. Try specific ones.")
    elif not filters:
        raise SubscriptionError("Enter a topic, an author or an organization to follow.")
    return query, filters


def topic_name(query: str, filters: dict[str, Any]) -> str:
    parts = [f"“{query}”"] if query else []
    if filters.get("author"):
        parts.append(f"by {filters['author']}")
    if filters.get("org"):
        parts.append(f"from {filters['org']}")
    return " ".join(parts)[:200]


def add_topic(
    session: Session, subscription: Subscription, query: str, author: str = "", org: str = ""
) -> SavedSearch:
    query, filters = topic_filters(session, query, author, org)
    count = session.execute(
        select(func.count())
        .select_from(SavedSearch)
        .where(SavedSearch.subscription_id == subscription.id)
    ).scalar_one()
    if count >= MAX_TOPICS:
        raise SubscriptionError(f"You follow {MAX_TOPICS} topics already; remove one first.")
    topic = SavedSearch(
        user_id=subscription.user_id,
        subscription_id=subscription.id,
        name=topic_name(query, filters),
        query=query,
        filters=filters or None,
        created_at=clock.now(),
    )
    session.add(topic)
    session.flush()
    return topic


def remove_topic(session: Session, subscription: Subscription, topic_id: int) -> bool:
    result = session.execute(
        delete(SavedSearch).where(
            SavedSearch.id == topic_id, SavedSearch.subscription_id == subscription.id
        )
    )
    return bool(rows_matched(result))


def topics(session: Session, subscription_id: int) -> list[SavedSearch]:
    return list(
        session.execute(
            select(SavedSearch)
            .where(SavedSearch.subscription_id == subscription_id)
            .order_by(SavedSearch.id)
        ).scalars()
    )


__all__ = ["SubscriptionError", "TokenError"]
