"""The dynamic batcher (serving/batching.py) without a server: when a batch closes (full, or its wait over),
what each request gets back (its own row, or its batch's error), and what stopping finishes and refuses."""

import asyncio
import threading
import time

import pytest
import torch

from googlenet.serving.batching import DynamicBatcher


def run(work):
    """Run `work` on a fresh event loop; one that hangs fails within seconds instead of hanging the test."""
    return asyncio.run(asyncio.wait_for(work, 10))


def image(value: float) -> torch.Tensor:
    return torch.tensor([value])


def times_ten(batch: torch.Tensor) -> torch.Tensor:
    return batch * 10


def test_bad_settings_are_refused_with_their_value():
    with pytest.raises(ValueError, match=r"^max_batch must be at least 1, got 0$"):
        DynamicBatcher(times_ten, max_batch=0)
    with pytest.raises(ValueError, match=r"^max_wait_ms must be 0 or more, got -1$"):
        DynamicBatcher(times_ten, max_wait_ms=-1)
    DynamicBatcher(times_ten, max_batch=1, max_wait_ms=0)._executor.shutdown()  # the smallest allowed


def test_the_defaults_are_32_images_and_5_ms():
    batcher = DynamicBatcher(times_ten)
    assert (batcher.max_batch, batcher.max_wait) == (32, 0.005)
    batcher._executor.shutdown()


def test_a_lone_image_waits_max_wait_ms_for_company_then_runs_alone():
    calls = []

    async def main():
        batcher = DynamicBatcher(times_ten, max_batch=8, max_wait_ms=300,
                                 on_batch=lambda size, seconds: calls.append((size, seconds)))
        batcher.start()
        started = time.perf_counter()
        answer = await batcher.submit([image(2.0)])
        waited = time.perf_counter() - started
        await batcher.stop()
        return answer, waited

    answer, waited = run(main())
    assert [float(row[0]) for row in answer] == [20.0]
    assert 0.3 <= waited < 10  # held open for the whole wait (in seconds, not milliseconds)
    assert len(calls) == 1 and calls[0][0] == 1 and 0 <= calls[0][1] < 10


def test_a_full_batch_runs_without_waiting():
    sizes = []

    def record(batch):
        sizes.append(len(batch))
        return batch * 10

    async def main():
        batcher = DynamicBatcher(record, max_batch=3, max_wait_ms=60_000)
        batcher.start()
        answer = await asyncio.wait_for(batcher.submit([image(float(i)) for i in range(6)]), 30)
        await batcher.stop()
        return answer

    answer = run(main())
    assert sizes == [3, 3] and [float(row[0]) for row in answer] == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_images_that_arrive_within_the_wait_join_the_open_batch():
    sizes = []

    def record(batch):
        sizes.append(len(batch))
        return batch * 10

    async def main():
        batcher = DynamicBatcher(record, max_batch=4, max_wait_ms=5_000)
        batcher.start()
        first = asyncio.ensure_future(batcher.submit([image(1.0)]))
        await asyncio.sleep(0.05)  # the batch is open and waiting
        assert sizes == []
        rest = [asyncio.ensure_future(batcher.submit([image(float(i))])) for i in (2, 3, 4)]
        answers = await asyncio.wait_for(asyncio.gather(first, *rest), 30)
        await batcher.stop()
        return answers

    answers = run(main())
    assert sizes == [4] and [float(answer[0][0]) for answer in answers] == [10.0, 20.0, 30.0, 40.0]


def test_a_failed_batch_fails_its_own_requests_and_the_batcher_goes_on():
    sizes = []

    def fail_on_four(batch):
        sizes.append(len(batch))
        if 4.0 in batch.flatten().tolist():
            raise RuntimeError("bad batch")
        return batch * 10

    async def main():
        batcher = DynamicBatcher(fail_on_four, max_batch=3, max_wait_ms=200)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit([image(float(i))]) for i in range(6)),
                                       return_exceptions=True)
        after = await batcher.submit([image(100.0)])
        await batcher.stop()
        return answers, after

    answers, after = run(main())
    assert sizes[:2] == [3, 3]
    assert [float(answer[0]) for answer in answers[:3]] == [0.0, 10.0, 20.0]
    assert all(isinstance(answer, RuntimeError) and str(answer) == "bad batch" for answer in answers[3:])
    assert float(after[0]) == 1000.0


def test_a_request_whose_client_went_away_does_not_stop_the_batcher():
    release = threading.Event()

    def slow(batch):
        release.wait(10)
        return batch * 10

    async def main():
        batcher = DynamicBatcher(slow, max_batch=1, max_wait_ms=0)
        batcher.start()
        gone = asyncio.ensure_future(batcher.submit([image(1.0)]))
        await asyncio.sleep(0.05)  # its batch is running
        gone.cancel()
        release.set()
        after = await asyncio.wait_for(batcher.submit([image(2.0)]), 10)
        await batcher.stop()
        return gone, after

    gone, after = run(main())
    assert gone.cancelled() and float(after[0]) == 20.0


def worker_threads() -> int:
    return sum(thread.name.startswith("googlenet-batch_") and thread.is_alive() for thread in threading.enumerate())


def test_stop_finishes_what_was_submitted_and_then_refuses():
    release = threading.Event()
    sizes = []

    def held(batch):
        release.wait(10)
        sizes.append(len(batch))
        return batch * 10

    async def main():
        batcher = DynamicBatcher(held, max_batch=2, max_wait_ms=0)
        assert batcher.queued == 0
        batcher.start()
        running = asyncio.ensure_future(batcher.submit([image(1.0)]))
        await asyncio.sleep(0.05)  # the first batch is running; the next three wait in the queue
        waiting = asyncio.ensure_future(batcher.submit([image(2.0), image(3.0), image(4.0)]))
        await asyncio.sleep(0)
        queued = batcher.queued
        stopping = asyncio.ensure_future(batcher.stop())
        assert worker_threads() == 1  # the one thread the model calls run on
        release.set()
        await asyncio.wait_for(stopping, 10)
        assert worker_threads() == 0  # stop returns once it has ended
        with pytest.raises(RuntimeError, match="^the batcher is not running$"):
            await batcher.submit([image(5.0)])
        return queued, await running, await waiting

    queued, running, waiting = run(main())
    assert queued == 3
    assert [float(row[0]) for row in running + waiting] == [10.0, 20.0, 30.0, 40.0]
    assert sizes == [1, 2, 1]  # the stop closes the last batch without waiting for it to fill


@pytest.mark.parametrize("stop_first", [False, True])
def test_images_left_behind_a_stop_are_told_the_server_is_shutting_down(stop_first):
    from googlenet.serving.batching import _Pending

    async def main():
        batcher = DynamicBatcher(times_ten, max_batch=4, max_wait_ms=0)
        batcher.start()
        loop = asyncio.get_running_loop()
        first, late, gone = loop.create_future(), loop.create_future(), loop.create_future()
        gone.cancel()  # its client went away
        # a stop reached while a batch gathers (or before any), then images behind it from a caller that
        # ignored the stop, and a second stop
        queue = [None] if stop_first else [_Pending(image(1.0), first), None]
        batcher._pending.extend([*queue, _Pending(image(2.0), late), _Pending(image(3.0), gone), None])
        batcher._arrived.set()
        await asyncio.wait_for(batcher._task, 10)
        return first, late, batcher.queued

    first, late, queued = run(main())
    if not stop_first:
        assert float(first.result()[0]) == 10.0
    assert isinstance(late.exception(), RuntimeError) and str(late.exception()) == "the server is shutting down"
    assert queued == 0


def test_a_batcher_never_started_refuses_and_stops_cleanly():
    async def main():
        batcher = DynamicBatcher(times_ten)
        with pytest.raises(RuntimeError, match="^the batcher is not running$"):
            await batcher.submit([image(1.0)])
        await batcher.stop()
        with pytest.raises(RuntimeError):  # the worker thread is gone
            batcher._executor.submit(print)

    run(main())
