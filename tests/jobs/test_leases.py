"""Job leases: one holder at a time, atomically, and expired leases are taken over."""

from __future__ import annotations

import threading
from datetime import timedelta

from paperfeed import clock
from paperfeed.db import Database
from paperfeed.jobs import leases
from tests.conftest import FIXED_NOW


def test_a_lease_has_one_holder_until_released(db: Database) -> None:
    assert leases.acquire(db, "harvest", "a", 60)
    assert not leases.acquire(db, "harvest", "b", 60)
    assert leases.acquire(db, "index", "b", 60)  # leases are per job
    assert leases.acquire(db, "harvest", "a", 60)  # ours: taking it again renews it
    assert leases.current(db, "harvest") == ("a", FIXED_NOW + timedelta(seconds=60))
    leases.release(db, "harvest", "b")  # not b's to release
    assert not leases.acquire(db, "harvest", "b", 60)
    leases.release(db, "harvest", "a")
    assert leases.current(db, "harvest") is None
    assert leases.acquire(db, "harvest", "b", 60)


def test_an_expired_lease_is_taken_over_and_its_old_holder_knows(db: Database) -> None:
    assert leases.acquire(db, "harvest", "crashed", 60)
    with clock.frozen(FIXED_NOW + timedelta(seconds=59)):
        assert not leases.acquire(db, "harvest", "rescuer", 60)
    with clock.frozen(FIXED_NOW + timedelta(seconds=61)):
        assert leases.current(db, "harvest") is None
        assert leases.acquire(db, "harvest", "rescuer", 60)
        assert not leases.renew(db, "harvest", "crashed", 60)
        assert leases.renew(db, "harvest", "rescuer", 60)
        assert leases.current(db, "harvest")[0] == "rescuer"


def test_racing_workers_with_their_own_connections_get_one_lease(db: Database) -> None:
    databases = [Database(db.url) for _ in range(8)]
    barrier = threading.Barrier(len(databases))
    won: list[str] = []

    def contend(index: int) -> None:
        barrier.wait()
        if leases.acquire(databases[index], "harvest", f"worker-{index}", 60):
            won.append(f"worker-{index}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(databases))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for each in databases:
        each.dispose()
    assert len(won) == 1
    assert leases.current(db, "harvest")[0] == won[0]
