"""The progress line of long jobs: counts, rate, ETA; per minute for paced jobs."""

from __future__ import annotations

import io
import time

from paperfeed.progress import Progress, format_duration


def test_the_line_tells_done_total_rate_and_eta() -> None:
    out = io.StringIO()
    progress = Progress("thumbnails", stream=out, every=0.0)
    progress.started = time.monotonic() - 60  # a paced job: 20 papers in a minute
    progress(20, 200)
    line = out.getvalue().strip()
    assert line.startswith("thumbnails: 20/200 (10%) 20.0/min, ETA 9m")
    fast = io.StringIO()
    quick = Progress("keywords", stream=fast, every=0.0)
    quick.started = time.monotonic() - 2
    quick(1000, 1000)
    assert fast.getvalue().strip().startswith("keywords: 1,000/1,000 (100%) 500/s, ETA 0s")


def test_lines_are_spaced_but_the_last_one_always_shows() -> None:
    out = io.StringIO()
    progress = Progress("hub", stream=out, every=3600.0)
    for done in range(1, 6):
        progress(done, 5)
    lines = out.getvalue().splitlines()
    assert [line.split(" (")[0] for line in lines] == ["hub: 1/5", "hub: 5/5"]


def test_durations_read_as_people_say_them() -> None:
    assert [format_duration(s) for s in (42, 240, 7380)] == ["42s", "4m00s", "2h03m"]
