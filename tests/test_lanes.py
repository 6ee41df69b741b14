"""Lanes: a host's claimed articles start a few at a time, never all at once; another host's
article never waits behind them; a lane moves on once a page is in hand; a cancelled caller's
work is cancelled and what it still had waiting never starts."""

from __future__ import annotations

import asyncio

import pytest

from worker.ingest import inhand
from worker.ingest.lanes import Lanes, Start


def test_a_backlog_starts_width_at_a_time_and_another_host_goes_at_once() -> None:
    async def scenario() -> None:
        lanes = Lanes(3)
        started: list[str] = []
        release = asyncio.Event()

        def work(name: str) -> Start:
            async def start(in_hand: asyncio.Future[None]) -> None:
                started.append(name)
                if name.startswith("a"):
                    await release.wait()  # the host's gap, a slow server
                in_hand.set_result(None)

            return start

        backlog = asyncio.create_task(
            lanes.run_all([("a.test", work(f"a{n}")) for n in range(1000)])
        )
        await asyncio.sleep(0.05)
        assert started == ["a0", "a1", "a2"]  # three lanes, not a thousand tasks
        assert len(asyncio.all_tasks()) < 20
        await asyncio.wait_for(lanes.run_all([("b.test", work("b0"))]), 5)
        assert started[-1] == "b0"
        release.set()
        await asyncio.wait_for(backlog, 30)
        assert sorted(started) == sorted([f"a{n}" for n in range(1000)] + ["b0"])
        await lanes.close()

    asyncio.run(scenario())


def test_a_lane_moves_on_once_the_page_is_in_hand() -> None:
    async def scenario() -> None:
        lanes = Lanes(1)
        writing = asyncio.Event()
        order: list[str] = []

        def work(name: str) -> Start:
            async def start(in_hand: asyncio.Future[None]) -> None:
                order.append(f"fetch {name}")
                in_hand.set_result(None)  # the page is here; extracting and writing go on
                await writing.wait()
                order.append(f"written {name}")

            return start

        run = asyncio.create_task(lanes.run_all([("a.test", work(str(n))) for n in range(3)]))
        await asyncio.sleep(0.05)
        assert order == ["fetch 0", "fetch 1", "fetch 2"]  # one lane, all three fetched
        writing.set()
        await asyncio.wait_for(run, 5)
        assert sorted(order[3:]) == ["written 0", "written 1", "written 2"]

    asyncio.run(scenario())


def test_a_failure_is_its_callers_and_a_cancelled_caller_starts_nothing_more() -> None:
    async def scenario() -> None:
        lanes = Lanes(2)
        started: list[int] = []
        unwound: list[int] = []

        def work(n: int) -> Start:
            async def start(in_hand: asyncio.Future[None]) -> None:
                started.append(n)
                try:
                    await asyncio.sleep(3600)
                finally:
                    unwound.append(n)

            return start

        async def broken(in_hand: asyncio.Future[None]) -> None:
            raise RuntimeError("bug")

        with pytest.raises(RuntimeError, match="bug"):
            await asyncio.wait_for(lanes.run_all([("a.test", broken)]), 5)
        run = asyncio.create_task(lanes.run_all([("a.test", work(n)) for n in range(50)]))
        await asyncio.sleep(0.05)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert started == [0, 1] and sorted(unwound) == [0, 1]
        await asyncio.sleep(0.05)
        assert started == [0, 1]  # the 48 still waiting never started
        done: list[int] = []

        async def quick(in_hand: asyncio.Future[None]) -> None:
            done.append(1)

        await asyncio.wait_for(lanes.run_all([("a.test", quick)]), 5)  # the host goes on
        assert done == [1]
        await lanes.close()

    asyncio.run(scenario())


class Fetcher:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def resume(self) -> None:
        self.calls.append("resume")


def test_pages_in_hand_pause_the_fetcher_over_either_bound_and_resume_below(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(inhand, "PAGES_IN_HAND", 3)
    monkeypatch.setattr(inhand, "PAGE_BYTES_IN_HAND", 100)
    fetcher = Fetcher()
    pages = inhand.PagesInHand(fetcher)
    with pages.holding(60):
        with pages.holding(30):
            assert fetcher.calls == []
        with pages.holding(40):  # 100 bytes
            assert fetcher.calls == ["pause"]
            with pages.holding(5):  # still over: no second pause
                assert fetcher.calls == ["pause"]
        assert fetcher.calls == ["pause", "resume"]
        with pages.holding(1), pages.holding(1):  # three pages
            assert fetcher.calls == ["pause", "resume", "pause"]
    assert fetcher.calls == ["pause", "resume", "pause", "resume"]
    assert (pages.pages, pages.bytes) == (0, 0)
