"""The page's channel sheets: for a branch of an Inception module, each channel's feature visualisation and
the dataset images that excite it most, computed in a background thread (the page polls the progress) and
then answered from memory; the dataset examples also from the model directory's cache
(`googlenet.visualise.examples`).

    GET /v1/channels/{module}.{branch}?channels=0-7,37   progress while computing, then the sheet
    GET /v1/channels/{module}.{branch}/{channel}.png     a channel's visualisation
    GET /v1/channels/{module}.{branch}/{channel}/examples/{rank}.png   its rank-th dataset example

The work runs on a copy of the model: the dataset pass hooks every branch, which must not see the requests
the service is answering meanwhile.
"""

from __future__ import annotations

import copy
import io
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Response
from starlette.concurrency import run_in_threadpool

from googlenet.serving.inputs import RequestProblem
from googlenet.visualise.units import Unit, check_channels, resolve_unit

log = logging.getLogger("googlenet.serve")

# Channels per request: the page asks for a screenful; each costs about a second at 32 px, more at 224.
MAX_CHANNELS = 32
EXAMPLES_SHOWN = 6
SPLIT = "validation"


@dataclass
class Job:
    unit: Unit
    channels: list[int]
    stage: str = "waiting for the job before it"
    fraction: float = 0.0
    problem: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


def _png(image) -> bytes:
    from googlenet.visualise.sheet import picture

    buffer = io.BytesIO()
    picture(image, max(image.shape[-2:])).save(buffer, format="PNG")
    return buffer.getvalue()


def parse_channels(text: str, unit: Unit) -> list[int]:
    channels: list[int] = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        first, dash, last = part.partition("-")
        if not (first.isdigit() and (not dash or last.isdigit())):
            raise RequestProblem(422, f"channels={text!r}: give indices and ranges such as 0-7,37")
        channels.extend(range(int(first), int(last) + 1) if dash else [int(first)])
    channels = list(dict.fromkeys(channels))
    if not channels or len(channels) > MAX_CHANNELS:
        raise RequestProblem(422, f"channels={text!r}: ask for 1 to {MAX_CHANNELS} channels at a time")
    try:
        check_channels(unit, channels)
    except ValueError as error:
        raise RequestProblem(422, str(error)) from None
    return channels


class ChannelSheets:
    """Visualisations and dataset examples for the service's model, computed once each, one job at a time."""

    def __init__(self, service: Any) -> None:
        self.service = service
        self.pictures: dict[tuple[str, int], bytes] = {}  # (unit, channel) -> the visualisation's PNG
        self.examples: Any = None  # DatasetExamples, once found
        self.examples_note = ""
        self.jobs: dict[tuple[str, tuple[int, ...]], Job] = {}
        self._lock = threading.Lock()
        self._work = threading.Lock()  # one job computes at a time
        self._model: Any = None

    def unit(self, name: str) -> Unit:
        try:
            return resolve_unit(self.service.model, name)
        except ValueError as error:
            raise RequestProblem(404, str(error)) from None

    def sheet(self, unit: Unit, channels: list[int]) -> dict[str, Any]:
        """The sheet if every part is known, else the progress of the job computing it (started if needed)."""
        with self._lock:
            missing = [channel for channel in channels if (unit.name, channel) not in self.pictures]
            if not missing and (self.examples is not None or self.examples_note):
                return self._answer(unit, channels)
            key = (unit.name, tuple(channels))
            job = self.jobs.get(key)
            if job is None or (job.done.is_set() and job.problem is None):
                job = self.jobs[key] = Job(unit, missing)
                threading.Thread(target=self._run, args=(job,), name="googlenet-channels", daemon=True).start()
        if job.problem is not None:
            with self._lock:
                self.jobs.pop(key, None)  # the next request tries again
            raise RequestProblem(500, f"computing {unit.name} failed: {job.problem}")
        return {"state": "computing", "unit": unit.name, "stage": job.stage, "progress": round(job.fraction, 3)}

    def _answer(self, unit: Unit, channels: list[int]) -> dict[str, Any]:
        rows = []
        for channel in channels:
            base = f"/v1/channels/{unit.name}/{channel}"
            top = self.examples.top(unit, channel)[:EXAMPLES_SHOWN] if self.examples is not None else []
            rows.append({"channel": channel, "image": f"{base}.png", "examples": [
                {"url": f"{base}/examples/{rank}.png", "index": index, "activation": round(value, 4)}
                for rank, (index, value) in enumerate(top)]})
        return {"state": "ready", "unit": unit.name, "label": unit.label, "channels": rows,
                "examples_note": self.examples_note}

    def _run(self, job: Job) -> None:
        with self._work:
            try:
                self._compute(job)
            except Exception as error:  # the page shows it; the service goes on
                log.error("channel sheet for %s failed", job.unit.name, exc_info=error)
                job.problem = f"{type(error).__name__}: {error}"
            finally:
                job.done.set()

    def _compute(self, job: Job) -> None:
        from googlenet.visualise.examples import dataset_examples
        from googlenet.visualise.optimise import visualise_channels

        if self._model is None:
            self._model = copy.deepcopy(self.service.model).eval()
        source = self.service.source
        if self.examples is None and not self.examples_note:
            if source is None or source.data is None:
                self.examples_note = "no dataset examples: the model directory records no data set (a run does)"
            else:
                def seen(done: int, total: int) -> None:
                    job.stage, job.fraction = f"dataset examples: {done:,} of {total:,} {SPLIT} images", done / total / 2

                self.examples = dataset_examples(source.model_dir, split=SPLIT, progress=seen)
                self.examples_note = f"the {SPLIT} split of {self.examples.data}"
        start = job.fraction = 0.5 if job.stage.startswith("dataset") else 0.0
        missing = [channel for channel in job.channels if (job.unit.name, channel) not in self.pictures]

        def stepped(done: int, total: int) -> None:
            job.stage = f"visualising {len(missing)} channels: step {done} of {total}"
            job.fraction = start + (1 - start) * done / total

        images = visualise_channels(self._model, job.unit, missing, progress=stepped) if missing else []
        with self._lock:
            for channel, image in zip(missing, images):
                self.pictures[(job.unit.name, channel)] = _png(image)

    def picture(self, unit: Unit, channel: int) -> bytes:
        found = self.pictures.get((unit.name, channel))
        if found is None:
            raise RequestProblem(404, f"{unit.name} channel {channel} is not computed yet: GET /v1/channels/{unit.name}")
        return found

    def example(self, unit: Unit, channel: int, rank: int) -> bytes:
        if self.examples is None:
            raise RequestProblem(404, self.examples_note or f"no dataset examples yet: GET /v1/channels/{unit.name}")
        check = parse_channels(str(channel), unit)[0]
        if not 0 <= rank < self.examples.k:
            raise RequestProblem(404, f"no example {rank}: there are {self.examples.k} per channel")
        return _png(self.examples.images(unit, check)[rank])


def add_channel_routes(app: FastAPI, service: Any) -> None:
    sheets = ChannelSheets(service)
    app.state.channel_sheets = sheets

    @app.get("/v1/channels/{unit}")
    async def sheet(unit: str, channels: str = "0-7") -> dict[str, Any]:
        found = sheets.unit(unit)
        return await run_in_threadpool(sheets.sheet, found, parse_channels(channels, found))

    @app.get("/v1/channels/{unit}/{channel}.png")
    async def picture(unit: str, channel: int) -> Response:
        return Response(sheets.picture(sheets.unit(unit), channel), media_type="image/png")

    @app.get("/v1/channels/{unit}/{channel}/examples/{rank}.png")
    async def example(unit: str, channel: int, rank: int) -> Response:
        found = sheets.unit(unit)
        return Response(await run_in_threadpool(sheets.example, found, channel, rank), media_type="image/png")
