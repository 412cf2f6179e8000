"""One lease per job in `job_leases`, so two workers never run the same job at once.

A lease names its holder (`host:pid:random`) and an expiry. Taking it is one atomic
statement: an `UPDATE` that only matches a lease that has expired (or is already ours),
else an `INSERT` that only succeeds if no row exists; the primary key decides any race.
The holder renews it while the job runs; a worker that crashes stops renewing, and its
lease is free again once it expires.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from paperfeed import clock
from paperfeed.db import Database, rows_matched
from paperfeed.models import JobLease


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(db: Database, job: str, holder: str, ttl: float) -> bool:
    """Take the lease of `job` for `ttl` seconds if it is free, expired or ours."""
    now = clock.now()
    expires = now + timedelta(seconds=ttl)
    with db.transaction() as session:
        taken = session.execute(
            update(JobLease)
            .where(
                JobLease.job == job,
                or_(JobLease.expires_at <= now, JobLease.holder == holder),
            )
            .values(holder=holder, acquired_at=now, expires_at=expires)
        )
        if rows_matched(taken) == 1:
            return True
        if session.get(JobLease, job) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(JobLease(job=job, holder=holder, acquired_at=now, expires_at=expires))
        except IntegrityError:  # another worker inserted it first
            return False
    return True


def renew(db: Database, job: str, holder: str, ttl: float) -> bool:
    """Extend our lease; False if it is no longer ours (it expired and was taken over)."""
    with db.transaction() as session:
        result = session.execute(
            update(JobLease)
            .where(JobLease.job == job, JobLease.holder == holder)
            .values(expires_at=clock.now() + timedelta(seconds=ttl))
        )
        return rows_matched(result) == 1


def release(db: Database, job: str, holder: str) -> None:
    with db.transaction() as session:
        session.execute(delete(JobLease).where(JobLease.job == job, JobLease.holder == holder))


def current(db: Database, job: str) -> tuple[str, datetime] | None:
    """The live lease of `job` (holder, expiry), if any."""
    with db.reader() as session:
        row = session.execute(
            select(JobLease.holder, JobLease.expires_at).where(
                JobLease.job == job, JobLease.expires_at > clock.now()
            )
        ).one_or_none()
        return (row[0], row[1]) if row else None
