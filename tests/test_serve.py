"""googlenet serve, in-process (Starlette's TestClient): every route, every bad request, batching, metrics."""

import base64
import io
import re
import threading
import time
import zlib

import numpy as np
import pytest
import torch
from helpers import real_scale_googlenet, write_idx_set
from PIL import Image

import googlenet
from googlenet.models.preprocessing import Preprocessing
from googlenet.data.transforms import eval_preset
from googlenet.evaluation.model_source import ModelSource
from googlenet.serving.app import create_app
from googlenet.serving.options import ServeOptions

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

CLASSES = [f"class{index}" for index in range(10)]
LIMITS = dict(backend="eager", max_body_bytes=300_000, max_pixels=250_000, max_images=4)


def small_model() -> googlenet.GoogLeNet:
    model = real_scale_googlenet("bn", num_classes=10, in_chans=1, aux_logits=False).eval()
    model.class_names = list(CLASSES)
    model.preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.5,), std=(0.25,), channel_order="L")
    return model


def png(seed: int = 0, size=(28, 28), mode: str = "L") -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0]), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buffer, format="PNG")
    return buffer.getvalue()


def wait_until_ready(client, seconds: float = 120) -> dict:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get("/health")
        if answer.status_code == 200:
            return answer.json()
        assert answer.json()["status"] in ("loading", "ready"), answer.json()
        time.sleep(0.05)
    raise AssertionError("the server did not become ready")


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model, name="tiny", options=ServeOptions(**LIMITS)),
                    raise_server_exceptions=False) as test_client:
        wait_until_ready(test_client)
        yield test_client


def expected_top(model, data: bytes, k: int) -> list[tuple[str, float]]:
    """The plain model's top-k for an image file, computed here without the server."""
    with Image.open(io.BytesIO(data)) as image:
        batch = eval_preset(model.preprocessing)(image.convert("L")).unsqueeze(0)
    with torch.no_grad():
        probabilities = torch.softmax(model(batch), dim=1)[0]
    values, indices = probabilities.topk(k)
    return [(CLASSES[int(index)], float(value)) for value, index in zip(values, indices)]


def answered_top(entry: dict) -> list[tuple[str, float]]:
    return [(item["class_name"], item["probability"]) for item in entry["top_k"]]


def assert_same_top(got, expected):
    assert [name for name, _ in got] == [name for name, _ in expected]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in expected], atol=1e-4)


# --- Predictions -----------------------------------------------------------------------------------


def test_predict_multipart_several_images_in_order(client, model):
    images = [png(1), png(2)]
    answer = client.post("/v1/predict", data={"top_k": "3"},
                         files=[("image", ("a.png", images[0], "image/png")), ("image", ("b.png", images[1], "image/png"))])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["model"] == "tiny" and body["backend"] == "eager" and body["time_ms"] > 0
    assert [entry["image"] for entry in body["predictions"]] == ["a.png", "b.png"]
    for entry, data in zip(body["predictions"], images):
        assert_same_top(answered_top(entry), expected_top(model, data, 3))


def test_predict_json_base64_and_raw_bytes_agree_with_multipart(client, model):
    data = png(3)
    expected = expected_top(model, data, 5)
    as_json = client.post("/v1/predict", json={"images": [base64.b64encode(data).decode()], "top_k": 5})
    data_url = client.post("/v1/predict", json={"image": "data:image/png;base64," + base64.b64encode(data).decode()})
    raw = client.post("/v1/predict?top_k=5", content=data, headers={"content-type": "image/png"})
    for answer in (as_json, data_url, raw):
        assert answer.status_code == 200, answer.text
        assert_same_top(answered_top(answer.json()["predictions"][0]), expected)


def test_health_model_and_page(client):
    assert client.get("/health").json() == {"status": "ready", "model": "tiny"}
    described = client.get("/v1/model").json()
    assert described["flavour"] == "bn" and described["classes"] == CLASSES and described["backend"] == "eager"
    assert described["preprocessing"]["input_size"] == 32 and described["max_batch"] == 32
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        served = client.get(asset)
        assert served.status_code == 200
        # Offline: nothing is fetched from another host (the SVG namespace is a name, not a fetch).
        assert not re.search(r"(https?:)?//(?!www\.w3\.org/2000/svg)[a-z0-9.-]+\.[a-z]{2,}", served.text), asset


# --- Bad requests: a 4xx JSON error naming the problem, and the server goes on -----------------------


def truncated_png() -> bytes:
    data = png(4, size=(64, 64))
    return data[: len(data) // 2]


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid 1x1 PNG whose header claims width x height pixels (a decompression bomb's header)."""
    data = bytearray(png(5, size=(1, 1)))
    header = b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes(data[24:29])
    data[12:29] = header
    data[29:33] = zlib.crc32(header).to_bytes(4, "big")
    return bytes(data)


def plain_png(size) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, 128).save(buffer, format="PNG")  # compresses to a few hundred bytes
    return buffer.getvalue()


def upload(data: bytes, name: str = "x.png", content_type: str = "image/png") -> dict:
    return {"files": {"image": (name, data, content_type)}}


BAD_REQUESTS = {
    "text file": (dict(upload(b"hello, I am text", "notes.txt", "text/plain")), 415, "notes.txt: not an image"),
    "zero bytes": (dict(upload(b"", "empty.png")), 422, "empty.png: empty file"),
    "truncated": (dict(upload(truncated_png(), "cut.png")), 422, "cut.png: truncated or damaged"),
    "bomb header": (dict(upload(bomb_png(), "bomb.png")), 413, "bomb.png: too many pixels, over the limit of 250,000"),
    "bomb header under PIL's limit": (dict(upload(bomb_png(5000, 5000), "bomb.png")), 413,
                                      "5000x5000 = 25,000,000 pixels, over the limit of 250,000"),
    "over the pixel limit": (dict(upload(plain_png((600, 600)), "big.png")), 413, "600x600 = 360,000 pixels"),
    "body over the limit": (dict(upload(bytes(400_000), "huge.png")), 413, "request body too large"),
    "top_k zero": (dict(data={"top_k": "0"}, **upload(png())), 422, "top_k must be from 1 to 10"),
    "top_k too large": (dict(data={"top_k": "11"}, **upload(png())), 422, "this model has 10 classes"),
    "top_k not a number": (dict(data={"top_k": "many"}, **upload(png())), 422, "top_k must be a whole number"),
    "no image": (dict(data={"top_k": "3"}, files={"note": ("", b"", "text/plain")}), 422, "no image"),
    "too many images": (dict(files=[("image", (f"{i}.png", png(i), "image/png")) for i in range(5)]), 413,
                        "5 images in one request; the limit is 4"),
    "bad JSON": (dict(content=b"{not json", headers={"content-type": "application/json"}), 422, "not valid JSON"),
    "JSON without images": (dict(json={"top_k": 3}), 422, "needs \"images\""),
    "bad base64": (dict(json={"images": ["%%%"]}), 422, "images[0] is not valid base64"),
    "unsupported body": (dict(content=b"x=1", headers={"content-type": "text/plain"}), 415, "unsupported request body"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_request_is_named_and_the_server_goes_on(client, case):
    request, status, message = BAD_REQUESTS[case]
    answer = client.post("/v1/predict", **request)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["status"] == status and message in body["error"], body
    assert "Traceback" not in answer.text
    assert client.post("/v1/predict", **upload(png(7))).status_code == 200


def test_body_over_the_limit_without_content_length(client):
    def chunks():  # a chunked upload: no Content-Length for the early refusal, so the bytes are counted
        for _ in range(40):
            yield bytes(10_000)

    answer = client.post("/v1/predict", content=chunks(), headers={"content-type": "image/png"})
    assert answer.status_code == 413 and "request body too large" in answer.json()["error"]


def test_unknown_route_and_wrong_method_are_json(client):
    missing = client.get("/v2/predict")
    assert missing.status_code == 404
    assert "no such route: GET /v2/predict" in missing.json()["error"] and "POST /v1/predict" in missing.json()["error"]
    wrong = client.get("/v1/predict")
    assert wrong.status_code == 405 and "GET is not allowed on /v1/predict" in wrong.json()["error"]
    assert client.get("/v1/examples/99.png").status_code == 404


def test_an_internal_failure_is_a_500_without_traceback(model, monkeypatch):
    with TestClient(create_app(model, options=ServeOptions(backend="eager", warm_up=False)),
                    raise_server_exceptions=False) as test_client:
        wait_until_ready(test_client)
        service = test_client.app.state.service
        monkeypatch.setattr(service, "fast", lambda batch: (_ for _ in ()).throw(RuntimeError("secret detail")))
        answer = test_client.post("/v1/predict", **upload(png()))
        assert answer.status_code == 500
        assert "internal error" in answer.json()["error"]
        assert "secret detail" not in answer.text and "Traceback" not in answer.text
        monkeypatch.undo()
        assert test_client.post("/v1/predict", **upload(png())).status_code == 200


# --- Health before ready, metrics ----------------------------------------------------------------


def test_health_says_loading_until_the_fast_path_is_built(model, monkeypatch):
    from googlenet.serving.service import ModelService

    release = threading.Event()
    build = ModelService._build_fast_path
    monkeypatch.setattr(ModelService, "_build_fast_path", lambda self: (release.wait(60), build(self))[1])
    with TestClient(create_app(model, options=ServeOptions(backend="eager", warm_up=False))) as test_client:
        assert test_client.get("/health").status_code == 503
        assert test_client.get("/health").json()["status"] == "loading"
        refused = test_client.post("/v1/predict", **upload(png()))
        assert refused.status_code == 503 and "loading" in refused.json()["error"]
        release.set()
        wait_until_ready(test_client)
        assert test_client.post("/v1/predict", **upload(png())).status_code == 200


def test_a_shutdown_while_the_fast_path_is_built_does_not_wait_for_the_build(model, monkeypatch):
    from googlenet.serving.service import ModelService

    release = threading.Event()
    monkeypatch.setattr(ModelService, "_build_fast_path", lambda self: release.wait(20))  # a 20 s build
    app = create_app(model, options=ServeOptions(backend="eager", warm_up=False))
    try:
        with TestClient(app) as test_client:
            assert test_client.get("/health").json()["status"] == "loading"
            started = time.monotonic()
        assert time.monotonic() - started < 5
        assert app.state.service.busy  # what `googlenet serve` checks to leave without waiting either
    finally:
        release.set()


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_metrics_count_requests_latency_and_batches(client):
    before = client.get("/metrics").text
    client.post("/v1/predict", **upload(png(8)))
    client.post("/v1/predict", **upload(b"text", "t.txt", "text/plain"))
    client.get("/nowhere")
    answer = client.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    after = answer.text

    def grew(name, **labels):
        return metric(after, name, **labels) - metric(before, name, **labels)

    assert grew("googlenet_http_requests_total", method="POST", route="/v1/predict", status="200") == 1
    assert grew("googlenet_http_requests_total", method="POST", route="/v1/predict", status="415") == 1
    assert grew("googlenet_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert grew("googlenet_http_request_duration_seconds_count", route="/v1/predict") == 2
    assert grew("googlenet_batch_size_count") == 1 and grew("googlenet_images_classified_total") == 1
    assert 'googlenet_batch_size_bucket{le="32.0"}' in after


# --- Explanations, examples, the network --------------------------------------------------------------


def test_explain_route(client):
    answer = client.post("/v1/explain", data={"class": "class2", "layer": "inception4a"}, **upload(png(9)))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["class_name"] == "class2" and body["gradcam_layer"] == "inception4a"
    assert [module["name"] for module in body["modules"]][::8] == ["inception3a", "inception5b"]
    assert len(body["modules"]) == 9
    for key in ("view_png", "heatmap_png"):
        assert body[key].startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(body["heatmap_png"].split(",")[1]))) as heatmap:
        assert heatmap.size == (32, 32) and heatmap.mode == "RGBA"
    assert body["modules"][0]["branches"][0]["strongest"][0]["png"].startswith("data:image/png;base64,")
    default = client.post("/v1/explain", **upload(png(9))).json()
    assert default["gradcam_layer"] == "inception3b"  # the deepest module with a 4x4 map at 32x32

    unknown = client.post("/v1/explain", data={"class": "sock"}, **upload(png(9)))
    assert unknown.status_code == 422 and "unknown class 'sock'" in unknown.json()["error"]
    bad_layer = client.post("/v1/explain", data={"layer": "conv1"}, **upload(png(9)))
    assert bad_layer.status_code == 422 and "inception3a" in bad_layer.json()["error"]
    two = client.post("/v1/explain", files=[("image", ("a.png", png(1), "image/png")), ("image", ("b.png", png(2), "image/png"))])
    assert two.status_code == 422 and "one image" in two.json()["error"]


def test_architecture_is_table_1_with_the_module_comparison(client):
    table = client.get("/v1/architecture").json()
    inception = [row for row in table["rows"] if row["type"] == "inception"]
    assert [row["name"] for row in inception][0] == "inception3a" and len(inception) == 9
    assert inception[0]["output_size"] == "4x4x256" and inception[0]["paper_output_side"] == 28
    assert inception[0]["ops"] > 0 and inception[0]["params"] > 0
    assert table["module_comparison"]["naive_params"] == 573_824
    assert table["module_comparison"]["reduced_params"] == 177_376


def test_examples_come_from_the_recorded_evaluation_data(model, tmp_path):
    arrays = write_idx_set(tmp_path / "idx", train=12, test=6)
    source = ModelSource(model_dir=tmp_path, data="fashion-mnist", data_dir=str(tmp_path / "idx"))
    app = create_app(model, options=ServeOptions(backend="eager", warm_up=False), source=source)
    with TestClient(app) as test_client:
        listed = test_client.get("/v1/examples").json()
        assert "test split of fashion-mnist" in listed["note"]
        labels = arrays["t10k-labels-idx1-ubyte"]
        assert [example["index"] for example in listed["examples"]] == list(range(6))  # one per class, in order
        assert [example["label"] for example in listed["examples"]][0] == "T-shirt/top" and labels[0] == 0
        image = test_client.get(listed["examples"][2]["url"])
        assert image.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(image.content)) as example:
            assert np.array_equal(np.asarray(example), arrays["t10k-images-idx3-ubyte"][2])
    without = create_app(model, options=ServeOptions(backend="eager", warm_up=False))
    with TestClient(without) as test_client:
        assert test_client.get("/v1/examples").json() == {
            "note": "no examples: the model directory does not record its data set (a run directory does)",
            "examples": []}


# --- Dynamic batching ----------------------------------------------------------------------------


def run_batcher(max_batch: int, max_wait_ms: float, requests: int, fail_on: int | None = None):
    """Submit `requests` single images at once; returns (batch sizes seen, answers or errors)."""
    import asyncio

    from googlenet.serving.batching import DynamicBatcher

    sizes = []

    def run_batch(batch):
        sizes.append(len(batch))
        if fail_on is not None and fail_on in batch.flatten().tolist():
            raise RuntimeError("bad batch")
        return batch * 10

    async def main():
        batcher = DynamicBatcher(run_batch, max_batch, max_wait_ms)
        batcher.start()
        answers = await asyncio.gather(*(batcher.submit([torch.tensor([float(i)])]) for i in range(requests)),
                                       return_exceptions=True)
        after_failure = await batcher.submit([torch.tensor([100.0])])  # the batcher goes on
        await batcher.stop()
        return answers, after_failure

    answers, after_failure = asyncio.run(main())
    assert float(after_failure[0]) == 1000.0
    return sizes[:-1], answers


def test_concurrent_requests_are_gathered_up_to_max_batch():
    sizes, answers = run_batcher(max_batch=4, max_wait_ms=200, requests=10)
    assert sizes == [4, 4, 2]
    assert [float(answer[0]) for answer in answers] == [10.0 * i for i in range(10)]  # each gets its own row


def test_max_batch_one_runs_one_at_a_time():
    sizes, _ = run_batcher(max_batch=1, max_wait_ms=200, requests=5)
    assert sizes == [1] * 5


def test_a_failed_batch_fails_its_requests_only():
    sizes, answers = run_batcher(max_batch=3, max_wait_ms=200, requests=6, fail_on=4)
    assert sizes == [3, 3]
    assert [isinstance(answer, RuntimeError) for answer in answers] == [False] * 3 + [True] * 3


# --- The command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("arguments, message", [
    (["{missing}"], "does not exist"),
    (["{model}", "--max-batch", "0"], "max-batch must be at least 1"),
    (["{model}", "--port", "70000"], "--port must be from 0 to 65535"),
])
def test_serve_command_refuses_bad_input_in_one_line(model, tmp_path, capsys, arguments, message):
    from googlenet.cli import main

    googlenet.save_pretrained(model, tmp_path / "model")
    given = [item.format(missing=tmp_path / "nowhere", model=tmp_path / "model") for item in arguments]
    assert main(["serve", *given]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("googlenet serve: error: ") and message in error and "\n" not in error


def test_other_libraries_log_lines_are_not_printed_under_the_servers_name(capsys):
    import logging

    from googlenet.cli.serve import configure_logging

    root, own = logging.getLogger(), logging.getLogger("googlenet")
    levels = root.level, own.level
    handlers = configure_logging("info")
    try:
        logging.getLogger("googlenet.serve").info("ready: tiny")
        logging.getLogger("onnxscript.optimizer").info("No unused functions to remove")
        logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
        logging.getLogger("onnxscript.optimizer").warning("a real problem")
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(levels[0])
        own.setLevel(levels[1])
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["googlenet serve: ready: tiny", "onnxscript.optimizer: WARNING: a real problem"]


def colour_jpeg(size=(320, 240)) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_colour_photo_for_a_grayscale_model_gets_predicts_warnings(client, model, tmp_path, monkeypatch):
    from googlenet.evaluation.input_fit import InputFitWarning
    from googlenet.evaluation.predict import predict

    data = colour_jpeg()
    (tmp_path / "photo.jpg").write_bytes(data)
    monkeypatch.chdir(tmp_path)
    with pytest.warns(InputFitWarning):
        expected = predict(model, ["photo.jpg"]).warnings  # what googlenet predict says of the same file
    assert len(expected) == 2 and "colour -> grayscale" in expected[0] and "shrunk 7.5x" in expected[1]
    predicted = client.post("/v1/predict", **upload(data, "photo.jpg", "image/jpeg"))
    assert predicted.status_code == 200, predicted.text
    assert predicted.json()["predictions"][0]["warnings"] == expected
    explained = client.post("/v1/explain", **upload(data, "photo.jpg", "image/jpeg"))
    assert explained.status_code == 200, explained.text
    assert explained.json()["warnings"] == expected
    fitting = client.post("/v1/predict", **upload(png(1)))
    assert fitting.json()["predictions"][0]["warnings"] == []
