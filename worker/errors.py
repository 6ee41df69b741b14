"""The one error tree of news-worker.

Library exceptions (aiohttp, sqlite3, OSError, feedparser's bozo reports) are translated into these
once, at the boundary where they happen, with ``raise ... from exc``. Everything above the
boundary only sees this tree::

    WorkerError
    ├── ConfigError              bad configuration or flag; exit code 2, nothing written
    ├── FetchError               a request did not produce a usable body
    │   ├── TransientFetchError  worth retrying: connect/read errors, timeouts, 408, 429, 5xx
    │   └── PermanentFetchError  not worth retrying now: other 4xx, robots.txt, refused targets
    │       └── GoneError        404 / 410: the article is given up at once
    ├── ParseError               a feed or sitemap body that cannot be read
    ├── ExtractError             a page from which no record can be made
    │   └── BudgetError          parsing or extraction went past its CPU or memory budget
    ├── ArchiveError             the archive could not be written (disk full, permissions)
    └── StateError               the SQLite state is missing, locked or corrupt

Every error has a ``reason``: a short stable code for logs, metrics and the state's last error
(``http_404``, ``timeout``, ``parse_error``...). Only ``TransientFetchError`` is retried by
tenacity; it may carry the server's Retry-After delay. Errors cross process boundaries (worker
processes send them back) with their reason and attributes.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base of every error news-worker raises on purpose."""

    default_reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled by message and attributes: the keyword-only arguments would be lost otherwise.
        return (_restore, (type(self), str(self), self.__dict__))


def _restore(cls: type[WorkerError], message: str, state: dict[str, object]) -> WorkerError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ConfigError(WorkerError):
    """A configuration key, environment variable or flag is missing or invalid."""

    default_reason = "bad_config"


class FetchError(WorkerError):
    """A request failed; ``reason`` is a short stable code for logs and metrics."""

    def __init__(self, message: str, *, reason: str, status: int | None = None) -> None:
        super().__init__(message, reason=reason)
        self.status = status


class TransientFetchError(FetchError):
    """A failure that may go away by itself; ``retry_after`` is the server's wish in seconds."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, reason=reason, status=status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """A failure that retrying soon will not fix."""


class GoneError(PermanentFetchError):
    """The resource does not exist (404) or no longer exists (410)."""


class ParseError(WorkerError):
    """A feed or sitemap body that cannot be parsed into any entry."""

    default_reason = "parse_error"


class ExtractError(WorkerError):
    """A page from which no usable record can be extracted."""

    default_reason = "extract_error"


class BudgetError(ExtractError):
    """Parsing or extracting one feed, sitemap or page took more CPU time or memory than its
    budget allows (``reason`` is ``cpu_budget`` or ``memory_budget``)."""

    default_reason = "cpu_budget"


class ArchiveError(WorkerError):
    """Writing to the archive failed."""

    default_reason = "archive_error"


class StateError(WorkerError):
    """The state database cannot be opened or used."""

    default_reason = "state_error"
