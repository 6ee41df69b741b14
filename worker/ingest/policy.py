"""What happens to an article after a failed try: given up, or tried again when. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass

from worker.config import RetrySettings
from worker.errors import (
    ArchiveError,
    BudgetError,
    ExtractError,
    FetchError,
    GoneError,
    TransientFetchError,
)
from worker.net.headers import backoff

GIVE_UP_REASONS = frozenset(
    {
        "robots_disallowed",
        "private_address",
        "too_large",
        "bad_url",
        "bad_encoding",
    }
)  # redirect loops and chains are retried slowly: sites fix their redirects
REFUSED_PAGE_REASONS = frozenset({"too_many_elements", "too_many_attributes", "nested_too_deep"})


@dataclass(frozen=True)
class Verdict:
    give_up: bool
    delay: float  # seconds until the next try (meaningless when given up)


def after_failure(
    exc: Exception, attempts: int, retry: RetrySettings, jitter: float | None = None
) -> Verdict:
    """The verdict on an article that failed its ``attempts``-th try with ``exc``.

    404/410, the reasons in :data:`GIVE_UP_REASONS`, a page past its CPU or memory budget and
    one whose markup was refused (:data:`REFUSED_PAGE_REASONS`; the same bytes would cost the
    same again) are final at once; anything else is
    retried with doubling delays (at least the server's Retry-After) and given up after
    ``retry.give_up_after`` tries, except archive failures (a full disk is not the article's
    fault). ``jitter`` (0..1, random when None) spreads retries by up to 10%.
    """
    give_up = (
        isinstance(exc, GoneError | BudgetError)
        or (isinstance(exc, ExtractError) and exc.reason in REFUSED_PAGE_REASONS)
        or (
            isinstance(exc, FetchError)
            and not isinstance(exc, TransientFetchError)
            and exc.reason in GIVE_UP_REASONS
        )
    )
    give_up = give_up or (attempts >= retry.give_up_after and not isinstance(exc, ArchiveError))
    delay = backoff(attempts, retry.requeue_delay, retry.requeue_max_delay)
    if isinstance(exc, TransientFetchError) and exc.retry_after:
        delay = max(delay, exc.retry_after)
    delay *= 1 + 0.1 * (random.random() if jitter is None else jitter)
    return Verdict(give_up, delay)
