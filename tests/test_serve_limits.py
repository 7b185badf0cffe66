"""googlenet serve bounds the pixels a request makes it decode, all its images together, read from their
headers before any is decoded, and how many requests decode at once; real PNGs through the app."""

import threading
import time

import pytest
from test_serve import plain_png, small_model, wait_until_ready

from googlenet.cli import build_parser
from googlenet.serving import app as app_module
from googlenet.serving.app import create_app
from googlenet.serving.options import ServeOptions

pytest.importorskip("fastapi", reason="the serve extra: pip install -e '.[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

BUDGET = 400_000  # pixels per request; each image may have up to 250,000
LIMITS = dict(backend="eager", max_pixels=250_000, max_request_pixels=BUDGET, max_images=8, warm_up=False)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(small_model(), name="tiny", options=ServeOptions(**LIMITS))) as test_client:
        wait_until_ready(test_client)
        yield test_client


def post(client, *images: bytes):
    files = [("image", (f"{index}.png", data, "image/png")) for index, data in enumerate(images)]
    return client.post("/v1/predict", files=files)


def test_images_over_the_budget_together_are_refused_naming_the_limit(client):
    under = plain_png((400, 400))  # 160,000 pixels: each under the per-image limit
    answer = post(client, under, under, under)
    assert answer.status_code == 413, answer.text
    assert answer.json()["error"] == ("3 image(s) of 480,000 pixels in all, over the limit of 400,000 pixels per "
                                      "request; send them in several requests")
    assert post(client, under, under).status_code == 200  # 320,000: under the budget
    at_the_limit = plain_png((400, 500))  # 2 x 200,000 = exactly the budget: answered
    assert post(client, at_the_limit, at_the_limit).status_code == 200
    assert client.get("/v1/model").json()["limits"]["max_request_pixels"] == BUDGET


def test_the_budget_is_checked_from_the_headers_before_any_image_is_decoded(client):
    whole = plain_png((400, 400))
    damaged = whole[: len(whole) // 2]  # its header (400x400) is whole; decoding it would fail (422)
    answer = post(client, damaged, whole, whole)
    assert answer.status_code == 413 and "over the limit of 400,000 pixels per request" in answer.json()["error"]
    answer = post(client, damaged, whole)  # within the budget: now it is decoded, and found damaged
    assert answer.status_code == 422 and "0.png: truncated or damaged image" in answer.json()["error"]


@pytest.mark.parametrize("at_once", [1, 3])
def test_no_more_requests_decode_at_once_than_allowed(monkeypatch, at_once):
    decoding, most = 0, 0
    lock = threading.Lock()
    real = app_module.decode_images

    def counted(*args, **kwargs):  # the real decoder, counting the requests inside it
        nonlocal decoding, most
        with lock:
            decoding += 1
            most = max(most, decoding)
        time.sleep(0.2)  # long enough for the other requests to arrive
        try:
            return real(*args, **kwargs)
        finally:
            with lock:
                decoding -= 1

    monkeypatch.setattr(app_module, "decode_images", counted)
    options = ServeOptions(**{**LIMITS, "max_decoding": at_once})
    with TestClient(create_app(small_model(), name="tiny", options=options)) as client:
        wait_until_ready(client)
        answers = []
        senders = [threading.Thread(target=lambda: answers.append(post(client, plain_png((30, 30)))))
                   for _ in range(4)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    assert [answer.status_code for answer in answers] == [200] * 4
    assert most == at_once


def test_serve_help_shows_the_budget_and_the_bound():
    parser = build_parser(only="serve").command_parsers["serve"]
    text = parser.format_help()
    assert "--max-request-pixels" in text and "(default: 64000000)" in text
    assert "--max-decoding N" in text and "(default: 4)" in text
    args = parser.parse_args(["run", "--max-request-pixels", "1000", "--max-decoding", "2"])
    assert (args.max_request_pixels, args.max_decoding) == (1000, 2)
