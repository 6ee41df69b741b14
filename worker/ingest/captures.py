"""Keeping article fetches as WARC (``archive.warc``): the fetcher's capture of the exchange
becomes the ``response`` and ``request`` records before the page is extracted (so a record's
``fetch.warc`` always names a capture that exists), and a ``metadata`` record naming the JSON
record the fetch produced follows once that is written. Both are on disk before the article is
recorded as archived: a crash in between costs a refetch, never a capture of an archived article.
"""

from __future__ import annotations

import asyncio

from worker.ingest.context import Context
from worker.ingest.work import PageDone
from worker.net.fetcher import Capture, Response
from worker.store.interfaces import QueueItem
from worker.store.warc import CaptureRef, Exchange


def exchange_of(capture: Capture) -> Exchange:
    return Exchange(
        url=capture.url,
        method=capture.method,
        sent_headers=capture.sent_headers,
        version=capture.version,
        status=capture.status,
        reason=capture.reason,
        headers=capture.headers,
        payload=capture.payload,
        peer=capture.peer,
        started_at=capture.started_at,
    )


async def keep(context: Context, response: Response) -> CaptureRef | None:
    """Write the fetch's response and request records; None when WARC is off."""
    if context.captures is None or response.capture is None:
        return None
    return await asyncio.wrap_future(context.captures.keep(exchange_of(response.capture)))


async def note(context: Context, ref: CaptureRef, item: QueueItem, done: PageDone) -> None:
    """Write the metadata record that names the JSON record ``done`` wrote (or found
    unchanged)."""
    if context.captures is None:
        return
    fields = [
        ("source", item.source),
        ("article-id", item.id),
        ("requested-url", item.url),
        ("record", done.path),
        ("revision", str(done.revision)),
        ("outcome", done.outcome),
        ("content-hash", done.content_hash),
    ]
    await asyncio.wrap_future(context.captures.note(ref, fields))
