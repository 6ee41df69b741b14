"""Who holds an article while it is fetched: lease owners and whether they are still alive."""

from __future__ import annotations

import os
import secrets
import socket

from worker.store.files import pid_alive


def new_owner() -> str:
    """A lease owner name unique to this process: ``host:pid:token``."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def owner_is_dead(owner: str, me: str) -> bool:
    """Whether a lease owner ("host:pid:token") is a process of this host that no longer runs.

    A lease of our own PID with another token is dead too: in a container every restart is PID 1.
    """
    host, _, rest = owner.partition(":")
    pid_text, _, _token = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    pid = int(pid_text)
    return pid == os.getpid() or not pid_alive(pid)
