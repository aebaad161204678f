"""A job on a timer keeps running through its own failures, and stops when told."""

from __future__ import annotations

import asyncio

import pytest

from pushoverd.periodic import Periodic


async def test_a_failing_run_is_logged_and_the_next_one_comes(
        caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 1:
            raise RuntimeError("store hiccup")

    timer = Periodic("test job", job, 0.01)
    timer.start()
    await asyncio.sleep(0.1)
    await timer.stop()
    assert len(runs) >= 3
    assert any("test job failed" in r.getMessage() and r.exc_info for r in caplog.records)
    count = len(runs)
    await asyncio.sleep(0.05)
    assert len(runs) == count  # stopped for good


@pytest.mark.parametrize(("every", "wait"), [(10.0, 0.0), (0.01, 100.0)])
async def test_wait_chooses_the_next_run_up_to_every(every: float, wait: float) -> None:
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))

    timer = Periodic("test job", job, every, wait=lambda: wait)
    timer.start()
    await asyncio.sleep(0.1)
    await timer.stop()
    assert len(runs) >= 3  # every alone (10 s) would run once; wait alone (100 s) once too
