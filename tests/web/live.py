"""A live server for browser and concurrency tests: uvicorn on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from paperfeed.config import Settings
from paperfeed.db import Database
from tests.conftest import make_settings


def site_database(folder: Path, name: str = "demo.sqlite3") -> tuple[Database, Settings]:
    """A migrated SQLite database in `folder` and test settings for it, the search index
    beside it: what every live site of the browser journeys starts from."""
    url = f"sqlite:///{folder / name}"
    db = Database(url)
    db.upgrade()
    settings = make_settings(folder, url)
    settings.index_dir = folder / "index"
    return db, settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the live server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(app: FastAPI) -> LiveServer:
    return LiveServer(app).start()
