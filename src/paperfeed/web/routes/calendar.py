"""The calendar: a month's grid of days, each day with papers a link to its day page.

Plain links, so it works without JavaScript; the previous and next links go to the nearest
months that have papers (the demo's sample sits years before its feed), and an empty month
still shows its grid. Reached from every feed page's Calendar link.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from paperfeed import clock
from paperfeed.papers import feeds
from paperfeed.papers.calendar import month_of
from paperfeed.web.deps import ReaderDep, SettingsDep
from paperfeed.web.responses import public_page

router = APIRouter(include_in_schema=False)


def calendar_path(period: feeds.Period) -> str:
    """The calendar page of the month holding `period`'s first day."""
    return f"/papers/calendar/{feeds.month_period(period.first).key}"


@router.get("/papers/calendar")
def latest_calendar(session: ReaderDep, settings: SettingsDep) -> Response:
    """The month of the latest feed day (this month on a site with no papers yet)."""
    now = clock.now()
    day = feeds.latest_feed_day(session, settings.tz, now) or now.astimezone(settings.tz).date()
    return RedirectResponse(calendar_path(feeds.month_period(day)), status_code=302)


@router.get("/papers/calendar/{month}")
def calendar_page(
    request: Request, session: ReaderDep, settings: SettingsDep, month: str
) -> Response:
    period = feeds.parse_period("month", month)
    shown = month_of(session, period.first, settings.tz)
    previous, following = feeds.neighbours(session, period, settings.tz)
    today = clock.now().astimezone(settings.tz).date()
    context = {
        "view": "calendar",
        "month": shown,
        "previous": previous,
        "following": following,
        "today": today,
        "calendar_path": calendar_path,
    }
    # The grid marks today: the validator changes with the local date, not only the data.
    return public_page(request, session, "calendar.html", context, extra=today.isoformat())
