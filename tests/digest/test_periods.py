from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from paperfeed.digest.periods import current_period, is_weekend

NY = ZoneInfo("America/New_York")


def test_daily_period_is_the_local_day_and_covers_the_day_before() -> None:
    # 02:00 UTC on Saturday is still Friday evening in New York.
    period = current_period("daily", datetime(2026, 11, 21, 2, 0, tzinfo=UTC), NY)
    assert period.key == "daily:2026-11-20"
    assert period.window_end == datetime(2026, 11, 20, 5, 0, tzinfo=UTC)  # NY midnight
    assert period.window_start(None, skip_weekends=True) == period.window_end - timedelta(days=1)


def test_monday_digest_covers_the_weekend_when_weekends_are_skipped() -> None:
    monday = current_period("daily", datetime(2026, 11, 23, 15, 0, tzinfo=UTC), NY)
    assert monday.key == "daily:2026-11-23"
    assert monday.window_start(None, True) == monday.window_end - timedelta(days=3)
    assert monday.window_start(None, False) == monday.window_end - timedelta(days=1)
    assert is_weekend(datetime(2026, 11, 22).date()) and not is_weekend(monday.day)


def test_window_starts_where_the_last_digest_ended_but_not_months_back() -> None:
    period = current_period("daily", datetime(2026, 11, 20, 15, 0, tzinfo=UTC), NY)
    last = period.window_end - timedelta(days=2)
    assert period.window_start(last, True) == last
    long_ago = period.window_end - timedelta(days=90)
    assert period.window_start(long_ago, True) == period.window_end - timedelta(days=7)


def test_weekly_period_is_the_iso_week_from_monday_midnight() -> None:
    period = current_period("weekly", datetime(2026, 11, 20, 15, 0, tzinfo=UTC), NY)
    assert period.key == "weekly:2026-W47"
    assert period.day.isoformat() == "2026-11-16"
    assert period.window_start(None, True) == period.window_end - timedelta(days=7)
    # Any day of the same week names the same period: it is sent once.
    later = current_period("weekly", datetime(2026, 11, 22, 23, 0, tzinfo=UTC), NY)
    assert later.key == period.key
