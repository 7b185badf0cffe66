"""`googlenet serve` as a real process: it binds 127.0.0.1 by default, and SIGTERM lets requests in flight
finish before it exits."""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from helpers import real_scale_googlenet
from PIL import Image

import googlenet
from googlenet.models.preprocessing import Preprocessing

pytest.importorskip("uvicorn", reason="the serve extra: pip install -e '.[serve]'")

STARTUP_SECONDS = 240


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(model: str | Path, port: int, *options: str, log: Path) -> subprocess.Popen:
    """`googlenet serve` in a process of its own, its output in `log`; returns once /health says ready."""
    command = [sys.executable, "-m", "googlenet", "serve", str(model), "--port", str(port), *options]
    server = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        assert server.poll() is None, f"googlenet serve exited early:\n{log.read_text()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    server.kill()
    raise AssertionError(f"googlenet serve was not ready in {STARTUP_SECONDS} s:\n{log.read_text()}")


def stop_server(server: subprocess.Popen, seconds: float = 60) -> int:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        return server.wait(seconds)
    except subprocess.TimeoutExpired:
        server.kill()
        raise


def multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{name}\"\r\n"
             f"Content-Type: image/png\r\n\r\n".encode() + data + b"\r\n" for name, data in files]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    model = real_scale_googlenet("bn", num_classes=10, in_chans=1, aux_logits=False).eval()
    model.class_names = [f"class{index}" for index in range(10)]
    model.preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.5,), std=(0.25,), channel_order="L")
    return googlenet.save_pretrained(model, tmp_path_factory.mktemp("served") / "model")


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a listening TCP socket on `port` (Linux's /proc/net/tcp, tcp6)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight(model_dir, tmp_path):
    port = free_port()
    # A batch waits up to 2 s for company, so the request below is surely in flight when SIGTERM comes.
    server = start_server(model_dir, port, "--backend", "eager", "--max-wait-ms", "2000", log=tmp_path / "serve.log")
    try:
        assert listening_addresses(port) == {"0100007F"}, "binds 127.0.0.1 only by default"
        body, content_type = multipart([("a.png", png(1)), ("b.png", png(2))])
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/predict", data=body, method="POST",
                                         headers={"Content-Type": content_type})
        answers: list = []

        def send() -> None:
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=60) as answer:
                answers.append((answer.status, json.loads(answer.read()), time.monotonic() - started))

        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(0.7)  # the request is waiting in the batcher now
        server.send_signal(signal.SIGTERM)
        sender.join(60)
        code = server.wait(60)
    finally:
        stop_server(server)
    log = (tmp_path / "serve.log").read_text()
    assert answers, f"the request in flight got no answer:\n{log}"
    status, body, seconds = answers[0]
    assert status == 200 and [entry["image"] for entry in body["predictions"]] == ["a.png", "b.png"]
    assert seconds >= 1.5  # it really was held in the batcher across the SIGTERM
    # uvicorn raises the SIGTERM again once it has shut down, for the command line's handler: 143, as
    # every command ends after SIGTERM (train too: test_train.py)
    assert code == 143, log
    assert "googlenet serve: stopped by SIGTERM" in log
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
