"""A web node in its own OS process (`paperfeed serve`), so a test can SIGKILL it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.web.live import free_port

PAPERFEED = Path(sys.executable).parent / "paperfeed"


class NodeProcess:
    def __init__(self, database_url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"node-{self.port}.log"
        env = {
            **os.environ,
            "PAPERFEED_DATABASE_URL": database_url,
            "PAPERFEED_DATA_DIR": str(data_dir),
            "PAPERFEED_SECRET_KEY": "test-secret-shared-by-every-node",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [str(PAPERFEED), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout: float = 60) -> NodeProcess:
        """Block until `/readyz` answers 200 (the node is up and reaches the database)."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"the node exited:\n{self.log()}"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the node did not become ready:\n{self.log()}"
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, no goodbye."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_node(database_url: str, data_dir: Path) -> NodeProcess:
    node = NodeProcess(database_url, data_dir)
    try:
        return node.wait_ready()
    except BaseException:
        node.stop()
        raise
