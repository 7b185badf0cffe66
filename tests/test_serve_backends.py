"""googlenet serve beyond the eager backend: the default "auto", --backend int8 (the server answers with the
int8 model, as /v1/model says), the "failed" health state, and the size limits given on the command line."""

import io
import json
import subprocess
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from helpers import write_idx_set, write_run_dir
from PIL import Image

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

from googlenet.serving.app import create_app  # noqa: E402
from googlenet.serving.options import ServeOptions  # noqa: E402

FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


def png(seed: int = 0, size=(28, 28)) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def upload(data: bytes, name: str = "image.png") -> dict:
    return {"files": [("image", (name, data, "image/png"))]}


def settled_health(client, seconds: float = 300) -> dict:
    """/health once it no longer says "loading"."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get("/health")
        if answer.json()["status"] != "loading":
            return {"code": answer.status_code, **answer.json()}
        time.sleep(0.1)
    raise AssertionError("the server was still loading")


@pytest.fixture
def run_dir(tmp_path):
    """A run directory whose config records a tiny Fashion-MNIST on disk: int8 calibrates on its training split."""
    write_idx_set(tmp_path / "idx", train=40, test=10)
    run = tmp_path / "run"
    model = write_run_dir(run, {"data": "fashion-mnist", "data_dir": str(tmp_path / "idx"), "val_fraction": 0.1,
                                "seed": 0, "flavour": "bn", "epochs": 3}, FASHION_CLASSES, in_chans=1)
    return run, model


def plain_probabilities(model, data: bytes) -> torch.Tensor:
    from googlenet.data.transforms import eval_preset

    with Image.open(io.BytesIO(data)) as image:
        batch = eval_preset(model.preprocessing)(image.convert("L")).unsqueeze(0)
    with torch.no_grad():
        return torch.softmax(model(batch), dim=1)[0]


def test_a_fast_path_that_cannot_be_built_is_the_failed_state_with_its_reason(run_dir):
    """--backend int8 on a model directory that records no data set: nothing to calibrate on."""
    _, model = run_dir
    with TestClient(create_app(model, name="tiny", options=ServeOptions(backend="int8", warm_up=False)),
                    raise_server_exceptions=False) as client:
        health = settled_health(client)
        assert (health["code"], health["status"]) == (503, "failed")
        assert "--backend int8 calibrates on the model's training images" in health["problem"]
        refused = client.post("/v1/predict", **upload(png()))
        assert refused.status_code == 503
        assert refused.json()["error"].startswith("the model is failed: ValueError: --backend int8 calibrates")
        assert client.get("/v1/model").json()["state"] == "failed"


@pytest.mark.slow
def test_the_default_backend_is_auto_and_says_what_it_measured(run_dir):
    _, model = run_dir
    options = ServeOptions(warm_up=False)
    assert options.backend == "auto"
    with TestClient(create_app(model, name="tiny", options=options), raise_server_exceptions=False) as client:
        assert settled_health(client)["status"] == "ready"
        described = client.get("/v1/model").json()
        assert described["backend"] in ("eager", "onnxruntime", "openvino")
        assert "auto" in described["backend_detail"] and "eager" in described["backend_detail"]
        data = png(3)
        answer = client.post("/v1/predict", **upload(data), params={"top_k": 10}).json()["predictions"][0]
        got = {entry["class_name"]: entry["probability"] for entry in answer["top_k"]}
        expected = plain_probabilities(model, data)
        assert [got[name] for name in FASHION_CLASSES] == pytest.approx(expected.tolist(), abs=1e-4)


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_png(url: str, data: bytes) -> tuple[int, dict]:
    boundary = "googlenet-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"x.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "?top_k=10", data=body, method="POST",
                                     headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.slow
def test_serve_backend_int8_answers_with_the_int8_model_under_the_command_lines_limits(run_dir, tmp_path):
    from test_serve_process import free_port, start_server, stop_server

    run, model = run_dir
    port = free_port()
    server = start_server(run, port, "--backend", "int8", "--max-pixels", "1000", "--max-body-mb", "0.004",
                          log=tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        status, described = get_json(f"{base}/v1/model")
        assert status == 200 and described["backend"] in ("onnxruntime-int8", "openvino-int8"), described
        assert "bit weights" in described["backend_detail"]
        assert described["limits"]["max_pixels"] == 1000 and described["limits"]["max_body_bytes"] == 4194
        data = png(5)  # 28x28 = 784 pixels, under 1,000
        status, answer = post_png(f"{base}/v1/predict", data)
        assert status == 200, answer
        got = {entry["class_name"]: entry["probability"] for entry in answer["predictions"][0]["top_k"]}
        expected = plain_probabilities(model, data)
        answered = torch.tensor([got[name] for name in FASHION_CLASSES])
        assert (answered - expected).abs().max() > 1e-5  # quantized: not the float model's answer...
        assert (answered - expected).abs().max() < 0.1  # ...but close to it
        status, refused = post_png(f"{base}/v1/predict", png(6, size=(40, 40)))  # 1,600 pixels
        assert status == 413 and "40x40 = 1,600 pixels, over the limit of 1,000" in refused["error"], refused
        status, refused = post_png(f"{base}/v1/predict", bytes(5000))  # over 0.004 MB = 4,194 bytes
        assert status == 413 and "request body too large" in refused["error"], refused
    finally:
        stop_server(server)
