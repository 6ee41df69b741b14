"""The frontier: per-host queues, the global limit counting requests on the wire only, so an
idle host never waits behind another host's backlog; gaps and concurrency per host; and the
same against real loopback servers through the fetcher."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import defaultdict
from typing import Any

from test_transport import answer, fetcher, read_request, serve, settings

from worker.config import RetrySettings
from worker.net.fetcher import Fetcher
from worker.net.frontier import Frontier


def test_an_idle_hosts_request_does_not_wait_behind_another_hosts_backlog() -> None:
    async def scenario() -> float:
        frontier = Frontier(max_active=2, per_host=1, gap=0.05)

        async def slow(host: str) -> None:
            async with frontier.slot(host):
                await asyncio.sleep(0.05)

        backlog = [asyncio.create_task(slow("busy.example")) for _ in range(100)]
        await asyncio.sleep(0.1)
        queued = time.monotonic()
        async with frontier.slot("idle.example"):
            waited = time.monotonic() - queued
        for task in backlog:
            task.cancel()
        await asyncio.gather(*backlog, return_exceptions=True)
        assert frontier.active == 0 and frontier.waiting == 0
        return waited

    # Behind the backlog it would wait about 100 x 0.05 s; within one gap it waits ~nothing.
    assert asyncio.run(scenario()) < 1.0


def test_each_host_keeps_its_gap_and_concurrency_and_all_hosts_the_global_limit() -> None:
    starts: dict[str, list[float]] = defaultdict(list)
    active = {"now": 0, "most": 0}
    per_host_now: dict[str, int] = defaultdict(int)
    per_host_most: dict[str, int] = defaultdict(int)

    async def scenario() -> None:
        frontier = Frontier(max_active=3, per_host=2, gap=0.03)

        async def request(host: str) -> None:
            async with frontier.slot(host):
                starts[host].append(time.monotonic())
                active["now"] += 1
                per_host_now[host] += 1
                active["most"] = max(active["most"], active["now"])
                per_host_most[host] = max(per_host_most[host], per_host_now[host])
                await asyncio.sleep(0.05)
                active["now"] -= 1
                per_host_now[host] -= 1

        hosts = [f"h{n}.example" for n in range(5)]
        await asyncio.gather(*(request(h) for h in hosts for _ in range(6)))

    asyncio.run(scenario())
    assert active["most"] == 3
    assert max(per_host_most.values()) <= 2
    for host, times in starts.items():
        assert len(times) == 6
        assert all(b - a >= 0.029 for a, b in itertools.pairwise(times)), host


def test_a_host_gets_its_concurrency_when_nothing_else_binds() -> None:
    async def scenario() -> int:
        frontier = Frontier(max_active=10, per_host=2, gap=0.01)
        now = most = 0

        async def request() -> None:
            nonlocal now, most
            async with frontier.slot("one.example"):
                now += 1
                most = max(most, now)
                await asyncio.sleep(0.1)
                now -= 1

        await asyncio.gather(*(request() for _ in range(6)))
        return most

    assert asyncio.run(scenario()) == 2


def test_cancelled_requests_leave_no_slot_taken() -> None:
    async def scenario() -> None:
        frontier = Frontier(max_active=1, per_host=1, gap=0.0)

        async def hold(host: str, seconds: float) -> None:
            async with frontier.slot(host):
                await asyncio.sleep(seconds)

        holder = asyncio.create_task(hold("a.example", 0.2))
        await asyncio.sleep(0.01)
        waiting = [asyncio.create_task(hold("b.example", 0.0)) for _ in range(5)]
        await asyncio.sleep(0.01)
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)
        await holder
        assert frontier.active == 0 and frontier.waiting == 0
        async with frontier.slot("b.example"):  # nothing was left holding the one slot
            assert frontier.active == 1

    asyncio.run(scenario())


def test_paused_nothing_new_starts_and_what_is_on_the_wire_goes_on() -> None:
    async def scenario() -> None:
        frontier = Frontier(max_active=4, per_host=1, gap=0.0)
        started: list[str] = []

        async def request(host: str, seconds: float) -> None:
            async with frontier.slot(host):
                started.append(host)
                await asyncio.sleep(seconds)

        on_wire = asyncio.create_task(request("a.example", 0.05))
        await asyncio.sleep(0.01)
        frontier.pause()
        frontier.pause()  # two callers pause: both must resume
        waiting = [asyncio.create_task(request(h, 0.0)) for h in ("b.example", "c.example")]
        await on_wire  # finished while paused
        await asyncio.sleep(0.02)
        assert started == ["a.example"] and frontier.waiting == 2
        frontier.resume()
        await asyncio.sleep(0.02)
        assert started == ["a.example"]
        frontier.resume()
        await asyncio.gather(*waiting)
        assert started == ["a.example", "b.example", "c.example"]
        assert frontier.active == 0 and frontier.waiting == 0

    asyncio.run(scenario())


def noting_arrivals(arrivals: list[float]) -> Any:
    """A server handler that answers every request and notes when each arrived."""

    async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
        while True:
            await read_request(reader)
            arrivals.append(time.monotonic())
            writer.write(answer(b"ok"))
            await writer.drain()

    return handler


class Book:
    """A host book as a shared state keeps it: the first booking finds another process's start
    ``first_wait`` seconds ahead."""

    def __init__(self, first_wait: float) -> None:
        self.first_wait = first_wait
        self.booked: list[tuple[str, float, float]] = []  # host, gap, when

    async def reserve_host(self, host: str, gap: float) -> float:
        self.booked.append((host, gap, time.monotonic()))
        return self.first_wait if len(self.booked) == 1 else 0.0


def test_a_start_booked_elsewhere_delays_the_request_and_the_next_one_here() -> None:
    arrivals: list[float] = []

    handler = noting_arrivals(arrivals)

    book = Book(first_wait=0.3)

    async def scenario() -> float:
        async with serve(handler) as server:
            http = settings(per_host_delay=0.1)
            async with Fetcher(http, RetrySettings(attempts=1), host_book=book) as f:
                asked = time.monotonic()
                url = f"http://127.0.0.1:{server.port}"
                await asyncio.gather(f.get(f"{url}/1"), f.get(f"{url}/2"))
                return asked

    asked = asyncio.run(scenario())
    assert [gap for _, gap, _ in book.booked] == [0.1, 0.1]  # once per request
    assert len({host for host, _, _ in book.booked}) == 1
    assert arrivals[0] - asked >= 0.29  # waited for the other process's start
    # and this host's own gap after it (less the difference of two loopback writes)
    assert arrivals[1] - arrivals[0] >= 0.09


def test_the_gap_counts_from_when_the_request_is_written_not_from_its_turn() -> None:
    """The first request spends 0.4 s resolving its host after its turn came; the second must
    still arrive a whole gap after the first did, not as soon as the first is answered."""
    arrivals: list[float] = []
    resolved: list[str] = []

    async def slow_resolve(host: str, port: int) -> list[str]:
        resolved.append(host)
        await asyncio.sleep(0.4)
        return ["127.0.0.1"]

    handler = noting_arrivals(arrivals)

    async def scenario() -> None:
        async with (
            serve(handler) as server,
            fetcher(slow_resolve, per_host_delay=0.3, per_host_concurrency=1) as f,
        ):
            url = f"http://slow-dns.test:{server.port}"
            await asyncio.gather(f.get(f"{url}/1"), f.get(f"{url}/2"))

    asyncio.run(scenario())
    assert resolved == ["slow-dns.test"]  # the second request reused the connection
    # From the turn, it would come about 0.4 s early: right after the first is answered.
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 0.25


def test_through_the_fetcher_a_second_host_is_served_beside_a_slow_hosts_backlog() -> None:
    arrivals: dict[int, list[float]] = defaultdict(list)

    def slow_after(delay: float, port: list[int]) -> Any:
        async def handler(reader: Any, writer: asyncio.StreamWriter, n: int) -> None:
            while True:
                await read_request(reader)
                arrivals[port[0]].append(time.monotonic())
                await asyncio.sleep(delay)
                writer.write(answer(b"ok"))
                await writer.drain()

        return handler

    async def scenario() -> float:
        slow_port: list[int] = [0]
        fast_port: list[int] = [0]
        async with (
            serve(slow_after(0.2, slow_port)) as slow,
            serve(slow_after(0.0, fast_port)) as fast,
            fetcher(max_connections=2, per_host_concurrency=1, per_host_delay=0.1) as f,
        ):
            slow_port[0], fast_port[0] = slow.port, fast.port
            backlog = [
                asyncio.create_task(f.get(f"http://127.0.0.1:{slow.port}/{n}")) for n in range(100)
            ]
            await asyncio.sleep(0.5)
            queued = time.monotonic()
            await f.get(f"http://127.0.0.1:{fast.port}/one")
            started = arrivals[fast.port][0] - queued
            for task in backlog:
                task.cancel()
            await asyncio.gather(*backlog, return_exceptions=True)
        return started

    # Within one gap (0.1 s) of being queued, with room for a loaded machine; behind the backlog
    # it would have waited for most of 100 slow answers (about 20 s).
    assert asyncio.run(scenario()) < 1.5
