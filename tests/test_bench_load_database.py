"""`bench/load.py --database NAME` never drops a database it has no claim to."""

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, WORKER

ROOT = Path(__file__).parents[1]


@pytest.fixture
def someone_elses_database() -> Iterator[str]:
    name = f"site_data_{WORKER}"
    admin = create_engine(f"{POSTGRES_URL}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    data = create_engine(f"{POSTGRES_URL}/{name}")
    with data.begin() as connection:
        connection.execute(text("CREATE TABLE precious (value text)"))
        connection.execute(text("INSERT INTO precious VALUES ('keep me')"))
    data.dispose()
    yield name
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_an_existing_database_not_named_for_the_benchmark_is_left_alone(
    someone_elses_database: str,
) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "bench.load", "--postgres", POSTGRES_URL),
            *("--database", someone_elses_database, "--seconds", "1", "--nodes", "1"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert f"database {someone_elses_database} already exists" in result.stderr
    assert "--drop" in result.stderr
    data = create_engine(f"{POSTGRES_URL}/{someone_elses_database}")
    with data.connect() as connection:
        assert connection.execute(text("SELECT value FROM precious")).scalar_one() == "keep me"
    data.dispose()
