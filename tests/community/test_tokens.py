"""The generated secret key: one per data directory, even when processes race for it."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

from paperfeed.community.tokens import secret_key
from paperfeed.config import Settings


def _key_after(barrier, data_dir: str, results) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    results.put(secret_key(Settings(data_dir=Path(data_dir), secret_key=None)))


def test_racing_processes_all_read_the_same_complete_key(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    processes = 8
    for round_ in range(25):  # the window is narrow: give the race many chances
        data_dir = tmp_path / str(round_)
        barrier, results = context.Barrier(processes), context.Queue()
        workers = [
            context.Process(target=_key_after, args=(barrier, str(data_dir), results))
            for _ in range(processes)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        assert [w.exitcode for w in workers] == [0] * processes, "a process failed to get a key"
        keys = {results.get(timeout=10) for _ in workers}
        assert len(keys) == 1 and len(keys.pop()) >= 48
        assert [p.name for p in data_dir.iterdir()] == ["secret_key"]  # no temporary files
        assert stat.S_IMODE((data_dir / "secret_key").stat().st_mode) == 0o600


def test_a_configured_key_is_used_as_is(tmp_path: Path) -> None:
    assert secret_key(Settings(data_dir=tmp_path, secret_key="configured")) == b"configured"
    assert not (tmp_path / "secret_key").exists()
