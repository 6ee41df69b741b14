"""The state store on SQLite: one file (WAL), the default, for one machine.

Feed validators and poll history, every article discovered (queued, archived or given up) with its
attempts, last error and next-try time, and a lease per article so that a one-off ``fetch`` and
the ``run`` service sharing one state never fetch the same article at once. Discovered entries are
committed before anything is fetched (nothing lost); an article's row is marked archived only
after its file is in the archive (a crash in between means one refetch, found unchanged).
"""

from __future__ import annotations

from worker.store.sqlite.articles import ArticleQueries
from worker.store.sqlite.feeds import FeedQueries


class SqliteState(FeedQueries, ArticleQueries):
    """The :class:`~worker.store.interfaces.StateStore` on a SQLite file."""


__all__ = ["SqliteState"]
