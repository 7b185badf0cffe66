"""The model behind the server: its fast path behind the dynamic batcher (predictions), the model itself
(explanations: they need gradients), and the page's data. Built in the background, so the server answers
/health ("loading") from the start and says "ready" only once the fast path is built and warmed up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from googlenet.evaluation.model_source import ModelSource, load_run_data
from googlenet.models.network import GoogLeNet
from googlenet.serving.batching import DynamicBatcher
from googlenet.serving.metrics import ServerMetrics
from googlenet.serving.options import ServeOptions
from googlenet.serving.page_data import Examples, architecture, load_examples

log = logging.getLogger("googlenet.serve")

class ModelService:
    """One model served: `start()` builds its fast path in the background; `classify` batches images."""

    def __init__(self, model: GoogLeNet, name: str, options: ServeOptions, metrics: ServerMetrics,
                 source: ModelSource | None = None) -> None:
        from googlenet.models.preprocessing import preprocessing_of
        from googlenet.data.transforms import eval_preset

        options.check()
        self.model = model.eval()
        self.name = name
        self.options = options
        self.metrics = metrics
        self.source = source  # where the model came from: its run's data set, if recorded
        self.data = source.data if source is not None else None
        self.preprocessing = preprocessing_of(model)
        self.transform = eval_preset(self.preprocessing)
        self.class_names = model.class_names or [str(index) for index in range(model.num_classes)]
        self.state = "loading"  # then "ready", or "failed" with `problem`
        self.problem: str | None = None
        self.backend_detail = ""
        self.fast: Any = None
        self.batcher: DynamicBatcher | None = None
        self._worker: threading.Thread | None = None  # building the fast path, then warming it up
        self._explain_lock = threading.Lock()  # captum hooks the shared model: one explanation at a time
        self._page_lock = threading.Lock()
        self._examples: Examples | None = None
        self._architecture: dict[str, Any] | None = None

    # -- life cycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            self.fast = await self._in_daemon_thread(self._build_fast_path)
            self.backend_detail = self.fast.describe() if hasattr(self.fast, "describe") else self.options.backend
            self.batcher = DynamicBatcher(self._probabilities, self.options.max_batch, self.options.max_wait_ms,
                                          self.metrics.observe_batch)
            self.batcher.start()
            if self.options.warm_up:
                await self._in_daemon_thread(self._warm_up)
        except Exception as error:  # the server stays up and says why on /health
            log.exception("the model could not be made ready")
            self.state, self.problem = "failed", f"{type(error).__name__}: {error}"
            return
        self.state = "ready"
        log.info("ready: %s on %s", self.name, self.backend_detail)

    async def stop(self) -> None:
        if self.batcher is not None:
            await self.batcher.stop()

    @property
    def busy(self) -> bool:
        """The fast path's build (or warm-up) is still running: the server was stopped without waiting for it."""
        return self._worker is not None and self._worker.is_alive()

    async def _in_daemon_thread(self, function: Callable[[], Any]) -> Any:
        """`function()` run in a daemon thread, awaited. Not the event loop's default executor: its threads are
        joined when the interpreter exits, so Ctrl-C during a fast-path build (minutes for "auto" or int8 on a
        small CPU) waited for the whole build. A cancelled wait leaves the thread behind (see `busy`)."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()

        def settle(result: Any, error: BaseException | None) -> None:
            if not future.done():
                future.set_exception(error) if error is not None else future.set_result(result)

        def run() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (function(), None)
            except BaseException as error:  # noqa: BLE001 - handed to the awaiting task
                outcome = (None, error)
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits for this any more
                loop.call_soon_threadsafe(settle, *outcome)

        self._worker = threading.Thread(target=run, name="googlenet-serve-worker", daemon=True)
        self._worker.start()
        return await future

    def _build_fast_path(self) -> Any:
        size = self.preprocessing.input_size
        example = torch.randn(min(self.options.max_batch, 32), self.model.in_chans, size, size)
        if self.options.backend == "int8":
            return self._int8_model()
        from googlenet.inference.optimize import optimize

        return optimize(self.model, self.options.backend, example_input=example)

    def _int8_model(self) -> Any:
        from googlenet.inference.quantize import calibration_images, quantize

        if self.data is None:
            raise ValueError("--backend int8 calibrates on the model's training images, and this model directory "
                             "does not record its data set: serve its training run directory instead")
        splits = load_run_data(self.source, input_size=self.preprocessing.input_size)
        return quantize(self.model, calibration_images(splits, preprocessing=self.preprocessing))

    def _warm_up(self) -> None:
        """First calls allocate (ONNX Runtime's arenas, oneDNN's kernels): pay for them before "ready"."""
        from googlenet.explain.attribution import explain

        size = self.preprocessing.input_size
        for batch in sorted({1, self.options.max_batch}):
            self._probabilities(torch.zeros(batch, self.model.in_chans, size, size))
        with self._explain_lock:
            explain(self.model, torch.zeros(self.model.in_chans, size, size))

    # -- requests ------------------------------------------------------------------------------------

    def _probabilities(self, batch: Tensor) -> Tensor:
        return torch.softmax(self.fast(batch).float(), dim=1)

    async def classify(self, images: list[Tensor], top_k: int) -> list[list[dict[str, Any]]]:
        """The top-k classes of each image, through the batcher."""
        assert self.batcher is not None, "classify before start"
        self.metrics.queued.set(self.batcher.queued + len(images))
        rows = await self.batcher.submit(images)
        self.metrics.queued.set(self.batcher.queued)
        answers = []
        for probabilities in rows:
            values, indices = probabilities.topk(top_k)
            answers.append([{"class_index": int(index), "class_name": self.class_names[int(index)],
                             "probability": round(float(value), 6)} for value, index in zip(values, indices)])
        return answers

    def explain(self, image: Tensor, class_index: int | None, layer: str | None) -> dict[str, Any]:
        """Grad-CAM and the branch shares of one preprocessed image, as the page draws them."""
        from googlenet.explain.attribution import explain
        from googlenet.explain.render import heatmap_rgba, png_data_url

        started = time.perf_counter()
        with self._explain_lock:
            result = explain(self.model, image, class_index=class_index, layer=layer)
        answer = result.to_dict(maps=False)
        answer["view_png"] = png_data_url(result.view)
        answer["heatmap_png"] = png_data_url(heatmap_rgba(result.gradcam_upsampled))
        for module, shares in zip(answer["modules"], result.modules):
            for branch, measured in zip(module["branches"], shares.branches):
                for entry, channel in zip(branch["strongest"], measured.strongest):
                    entry["png"] = png_data_url(channel.map)
        answer["time_ms"] = round((time.perf_counter() - started) * 1000, 1)
        return answer

    # -- what the page shows -------------------------------------------------------------------------

    def describe(self) -> dict[str, Any]:
        config = self.model.config
        return {
            "name": self.name, "state": self.state, "problem": self.problem, "flavour": config.flavour,
            "naive": config.naive, "num_classes": self.model.num_classes, "classes": self.class_names,
            "in_chans": self.model.in_chans, "input_size": self.preprocessing.input_size,
            "preprocessing": self.preprocessing.to_dict(), "data": self.data,
            "backend": getattr(self.fast, "backend", None), "backend_detail": self.backend_detail,
            "max_batch": self.options.max_batch, "max_wait_ms": self.options.max_wait_ms,
            "limits": {"max_body_bytes": self.options.max_body_bytes, "max_pixels": self.options.max_pixels,
                       "max_request_pixels": self.options.max_request_pixels, "max_images": self.options.max_images,
                       "max_decoding": self.options.max_decoding},
        }

    def examples(self) -> Examples:
        with self._page_lock:
            if self._examples is None:
                self._examples = load_examples(self.model, self.source)
            return self._examples

    def architecture(self) -> dict[str, Any]:
        with self._page_lock:
            if self._architecture is None:
                self._architecture = architecture(self.model)
            return self._architecture


def model_name(model_dir: Path, run_dir: Path | None) -> str:
    """What the API calls the model: its run's folder name, else its own."""
    return (run_dir or model_dir).resolve().name
