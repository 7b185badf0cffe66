"""Load benchmark of `googlenet serve`: throughput and p50/p99 latency at 1, 8 and 32 concurrent clients,
with dynamic batching on (--max-batch 32) and off (--max-batch 1). Not a test: it prints a table.

    python benchmarks/serve_load.py                      # a random-weight 224x224 bn model, both servers
    python benchmarks/serve_load.py --model runs/fashion-mnist --requests 128
    python benchmarks/serve_load.py --url http://127.0.0.1:8000   # a server already running (one row set)

Every request goes to 127.0.0.1; each level sends a bounded number of requests (--requests, after
--warmup ones) and stops after --max-seconds whatever happens. The servers are started here as
`googlenet serve` processes on a free port and stopped with SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image


@dataclass
class LevelResult:
    batching: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_batch: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


def random_weight_model(directory: Path) -> Path:
    """A 224x224 bn GoogLeNet with random weights and 10 classes, saved as a model directory."""
    import googlenet
    from googlenet.models.preprocessing import Preprocessing

    model = googlenet.googlenet("bn", num_classes=10, aux_logits=False).eval()
    model.class_names = [f"class{index}" for index in range(10)]
    model.preprocessing = Preprocessing(input_size=224, resize_size=256)
    return googlenet.save_pretrained(model, directory)


def test_image() -> bytes:
    """A 320x240 JPEG with smooth structure (what a photo costs to decode, not noise)."""
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([(x * 0.8) % 256, (y * 1.1) % 256, ((x + y) * 0.5) % 256], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: Path, max_batch: int, backend: str, max_wait_ms: float, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "googlenet", "serve", str(model), "--port", str(port), "--backend", backend,
               "--max-batch", str(max_batch), "--max-wait-ms", str(max_wait_ms), "--log-level", "warning"]
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"googlenet serve exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return server, url
        except OSError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"googlenet serve was not ready in 600 s:\n{log.read_text()}")


def batch_totals(url: str) -> tuple[float, float]:
    """(images, model calls) so far, from the server's /metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    values = {name: float(value) for name, value in
              re.findall(r"^(googlenet_batch_size_(?:sum|count)) (\S+)$", text, re.MULTILINE)}
    return values.get("googlenet_batch_size_sum", 0.0), values.get("googlenet_batch_size_count", 0.0)


async def load(url: str, clients: int, requests: int, warmup: int, max_seconds: float, image: bytes
               ) -> tuple[list[float], int, float]:
    """`requests` POST /v1/predict from `clients` concurrent clients: (latencies in s, errors, wall seconds)."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        files = {"image": ("photo.jpg", image, "image/jpeg")}

        async def one() -> float | None:
            started = time.perf_counter()
            answer = await client.post("/v1/predict", files=files, data={"top_k": "1"})
            return time.perf_counter() - started if answer.status_code == 200 else None

        async def run(total: int, deadline: float) -> list[float | None]:
            remaining = [total]
            results: list[float | None] = []

            async def worker() -> None:
                while remaining[0] > 0 and time.monotonic() < deadline:
                    remaining[0] -= 1
                    results.append(await one())

            await asyncio.gather(*(worker() for _ in range(clients)))
            return results

        await run(warmup, time.monotonic() + max_seconds)
        started = time.perf_counter()
        results = await run(requests, time.monotonic() + max_seconds)
        wall = time.perf_counter() - started
    latencies = [seconds for seconds in results if seconds is not None]
    return latencies, len(results) - len(latencies), wall


def measure_level(url: str, batching: str, clients: int, args: argparse.Namespace, image: bytes) -> LevelResult:
    images_before, calls_before = batch_totals(url)
    latencies, errors, wall = asyncio.run(load(url, clients, args.requests, args.warmup, args.max_seconds, image))
    images_after, calls_after = batch_totals(url)
    ordered = sorted(latencies)
    row = LevelResult(
        batching=batching, clients=clients, requests=len(latencies), errors=errors, seconds=wall,
        p50_ms=1000 * statistics.median(ordered),
        p99_ms=1000 * ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))],
        mean_batch=(images_after - images_before) / max(calls_after - calls_before, 1),
    )
    print(f"... batching {batching}, {clients} clients: {row.throughput:.1f} req/s, p50 {row.p50_ms:.0f} ms, "
          f"p99 {row.p99_ms:.0f} ms, mean batch {row.mean_batch:.1f}", file=sys.stderr, flush=True)
    return row


def model_ceiling(model_dir: Path, backend: str, max_batch: int, rounds: int = 5) -> tuple[float, float]:
    """Images per second of the servers' model itself (no HTTP, no decoding) at batch 1 and at `max_batch`,
    on the same backend, best of `rounds`: batching cannot gain more than their ratio on this machine."""
    import torch

    from googlenet.inference.optimize import optimize
    from googlenet.weights.model_dir import from_pretrained

    model = from_pretrained(model_dir)
    size = model.preprocessing.input_size
    rates = []
    for batch in (1, max_batch):
        images = torch.randn(batch, model.in_chans, size, size)
        fast = optimize(model, backend, example_input=images)
        calls = max(1, 64 // batch)
        fast(images)  # the first call allocates
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(calls):
                fast(images)
            best = min(best, time.perf_counter() - started)
        rates.append(batch * calls / best)
    return rates[0], rates[1]


def table(rows: list[LevelResult], ceiling: tuple[float, float] | None = None) -> str:
    lines = ["| batching | clients | requests | req/s | p50 ms | p99 ms | mean batch | errors |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.batching} | {row.clients} | {row.requests} | {row.throughput:.1f} | {row.p50_ms:.0f} | "
                     f"{row.p99_ms:.0f} | {row.mean_batch:.1f} | {row.errors} |")
    by_key = {(row.batching, row.clients): row for row in rows}
    for clients in sorted({row.clients for row in rows}):
        on, off = by_key.get(("on", clients)), by_key.get(("off", clients))
        if on and off:
            lines.append(f"\nat {clients} clients: batching gives {on.throughput / off.throughput:.2f}x the "
                         f"requests per second of one-at-a-time; p99 {on.p99_ms:.0f} ms with, {off.p99_ms:.0f} ms without")
    if ceiling is not None:
        one, many = ceiling
        lines.append(f"\nthe model alone (no HTTP, no decoding): {one:.1f} images/s at batch 1, {many:.1f} at batch 32: "
                     f"batching can gain at most {many / one:.2f}x here")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a model or run directory (default: a random-weight 224x224 bn model)")
    parser.add_argument("--url", help="benchmark this running server instead of starting two")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="concurrency levels")
    parser.add_argument("--requests", type=int, default=192, help="measured requests per level")
    parser.add_argument("--warmup", type=int, default=32, help="unmeasured requests before each level")
    parser.add_argument("--max-seconds", type=float, default=300, help="a level stops after this long regardless")
    parser.add_argument("--backend", default="onnxruntime", help="the servers' --backend")
    parser.add_argument("--max-wait-ms", type=float, default=5.0, help="the batching server's --max-wait-ms")
    args = parser.parse_args()
    image = test_image()
    if args.url:
        print(table([measure_level(args.url.rstrip("/"), "as running", clients, args, image) for clients in args.clients]))
        return 0
    with tempfile.TemporaryDirectory(prefix="serve-load-") as scratch:
        model = args.model or random_weight_model(Path(scratch) / "model")
        ceiling = None
        if args.backend != "int8":  # the int8 model calibrates on a run's data: the random model has none
            ceiling = model_ceiling(model, args.backend, 32)  # from_pretrained takes a run directory too
            print(f"... the model alone: {ceiling[0]:.1f} images/s at batch 1, {ceiling[1]:.1f} at batch 32",
                  file=sys.stderr, flush=True)
        # Both servers run at once (an idle one costs no CPU) and each level is measured on one, then the
        # other, so that a change in the machine's load between levels hits both alike.
        servers: dict[str, tuple[subprocess.Popen, str]] = {}
        try:
            for batching, max_batch in (("on", 32), ("off", 1)):
                servers[batching] = start_server(model, max_batch, args.backend, args.max_wait_ms,
                                                 Path(scratch) / f"{batching}.log")
            rows = [measure_level(url, batching, clients, args, image)
                    for clients in args.clients for batching, (_, url) in servers.items()]
        finally:
            for server, _ in servers.values():
                server.send_signal(signal.SIGTERM)
            for server, _ in servers.values():
                server.wait(120)
    print(table(rows, ceiling))
    return 0


if __name__ == "__main__":
    sys.exit(main())
