"""Running ``news-worker`` on a pseudo-terminal, as an operator sees it, and reading the screen.

``screen_lines`` turns what was written into the lines a terminal would keep: ANSI sequences
dropped, each carriage return starting the line over (a progress bar redrawn in place leaves
its last state), rich's "cursor up, erase line" taking the previous line back.
"""

from __future__ import annotations

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")


class PtyRun:
    def __init__(
        self, argv: Sequence[str], *, columns: int = 100, env: dict[str, str] | None = None
    ) -> None:
        leader, follower = pty.openpty()
        # A real size, so rich draws as wide as the terminal.
        import fcntl
        import struct
        import termios

        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "worker", *argv],
            stdin=follower,
            stdout=follower,
            stderr=follower,
            close_fds=True,
            env={**os.environ, "COLUMNS": str(columns), "TERM": "xterm-256color", **(env or {})},
        )
        os.close(follower)
        self.leader = leader
        self.raw = b""

    def read_until(self, done: Callable[[str], bool], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not done(self.text):
            ready, _, _ = select.select([self.leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.leader, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.raw += chunk
        return self.text

    def finish(self, timeout: float = 60) -> int:
        self.read_until(lambda _: self.process.poll() is not None, timeout)
        self.read_until(lambda _: False, 0.3)  # what is still in the pipe
        code = self.process.wait(timeout=10)
        os.close(self.leader)
        return code

    def signal(self, signum: int = signal.SIGINT) -> None:
        os.kill(self.process.pid, signum)

    @property
    def text(self) -> str:
        return self.raw.decode("utf-8", "replace")


def screen_lines(text: str) -> list[str]:
    """The lines a terminal shows after ``text`` was written to it (without colours)."""
    lines: list[str] = [""]
    column = 0
    at = 0
    for match in CSI.finditer(text + "\x1b[0m"):
        for char in text[at : match.start()]:
            if char == "\n":
                lines.append("")
                column = 0
            elif char == "\r":
                column = 0
            else:
                line = lines[-1]
                lines[-1] = line[:column] + char + line[column + 1 :]
                column += 1
        at = match.end()
        code, final = match.groups()
        if final == "A":  # cursor up
            for _ in range(int(code or 1)):
                if len(lines) > 1:
                    lines.pop()
        elif final == "K":  # erase in line: all of it (2), or from the cursor on
            lines[-1] = "" if code == "2" else lines[-1][:column]
    return [line.rstrip() for line in lines]
