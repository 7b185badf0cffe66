"""Dynamic batching: images of concurrent requests gathered into one model call.

The first image to arrive opens a batch; the batch closes when it holds `max_batch` images or
`max_wait_ms` after it opened, whichever comes first, and runs on one worker thread (one model call at a
time, so a call has the CPU's threads to itself). Images that arrive while a batch runs wait for the next,
which under load is full at once: the wait costs latency only when the server is nearly idle.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class _Pending:
    image: Tensor  # [C, S, S]
    future: asyncio.Future


class DynamicBatcher:
    """Runs `run_batch` ([N, C, S, S] -> [N, ...]) on batches of the images given to `submit`.

    `on_batch(size, seconds)` is called after every model call (metrics)."""

    def __init__(
        self,
        run_batch: Callable[[Tensor], Tensor],
        max_batch: int = 32,
        max_wait_ms: float = 5.0,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be 0 or more, got {max_wait_ms}")
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self.on_batch = on_batch
        self._pending: collections.deque[_Pending | None] = collections.deque()  # None: stop
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="googlenet-batch")
        self._task: asyncio.Task | None = None

    @property
    def queued(self) -> int:
        return len(self._pending)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="googlenet-batcher")

    async def stop(self) -> None:
        """Finish every image already submitted, then stop."""
        if self._task is not None:
            self._pending.append(None)
            self._arrived.set()
            await self._task
            self._task = None
        self._executor.shutdown(wait=True)

    async def submit(self, images: list[Tensor]) -> list[Tensor]:
        """The model's output row for each image, once their batches have run."""
        if self._task is None:
            raise RuntimeError("the batcher is not running")
        loop = asyncio.get_running_loop()
        pending = [_Pending(image, loop.create_future()) for image in images]
        self._pending.extend(pending)
        self._arrived.set()
        return list(await asyncio.gather(*(item.future for item in pending)))

    async def _next(self) -> _Pending | None:
        while not self._pending:
            self._arrived.clear()
            await self._arrived.wait()
        return self._pending.popleft()

    async def _gather(self, first: _Pending) -> tuple[list[_Pending], bool]:
        """`first` and what arrives within the wait, up to max_batch; and whether a stop was asked for."""
        batch = [first]
        deadline = asyncio.get_running_loop().time() + self.max_wait
        while len(batch) < self.max_batch:
            if self._pending:
                item = self._pending.popleft()
                if item is None:
                    return batch, True
                batch.append(item)
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:  # asyncio's timeout is the built-in TimeoutError from Python 3.11 on
                break
        return batch, False

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._next()
            if first is None:
                break
            batch, stopping = await self._gather(first)
            started = time.perf_counter()
            try:
                outputs = await loop.run_in_executor(self._executor, self.run_batch,
                                                     torch.stack([item.image for item in batch]))
            except Exception as error:  # every waiting request gets the error; the batcher goes on
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(error)
                continue
            if self.on_batch is not None:
                self.on_batch(len(batch), time.perf_counter() - started)
            for item, row in zip(batch, outputs):
                if not item.future.done():  # a request whose client went away is cancelled
                    item.future.set_result(row)
        for item in self._pending:  # submitted after the stop: only possible if a caller ignores it
            if item is not None and not item.future.done():
                item.future.set_exception(RuntimeError("the server is shutting down"))
        self._pending.clear()
