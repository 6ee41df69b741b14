"""The state store on PostgreSQL, for several processes or machines on one state: the same
interface as the SQLite file (:class:`~worker.store.interfaces.StateStore`), with the schedule,
the queue and the host bookings shared by every replica."""

from __future__ import annotations

from worker.store.postgres.articles import ArticleQueries
from worker.store.postgres.feeds import FeedQueries


class PostgresState(FeedQueries, ArticleQueries):
    """The :class:`~worker.store.interfaces.StateStore` on a PostgreSQL database."""


__all__ = ["PostgresState"]
