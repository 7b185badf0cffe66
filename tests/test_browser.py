"""The page in a real browser: Playwright driving Debian's Chromium against `googlenet serve` on a model
trained here for a few steps on the real Fashion-MNIST.

Needs Debian's `chromium` (apt-get install chromium; `make test` installs it) and the real data set in
/usr/share/datasets/fashion-mnist (`make data`). Screenshots go to $GOOGLENET_TEST_ARTEFACTS (default:
googlenet-test-artefacts in the system's temporary folder, which pytest does not clean up); the folder is
printed.
"""

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("uvicorn", reason="the serve extra: pip install -e '.[serve]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra: pip install -e '.[test]'")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
STARTUP_SECONDS = 300
PAGE_TIMEOUT_MS = 120_000

pytestmark = pytest.mark.slow


def googlenet_command(*arguments: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "googlenet", *arguments], capture_output=True, text=True,
                          timeout=timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fashion_mnist_test_image(index: int) -> np.ndarray:
    with gzip.open(FASHION_MNIST / "t10k-images-idx3-ubyte.gz") as file:
        data = file.read()
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(-1, 28, 28)[index]


@pytest.fixture(scope="module")
def artefacts() -> Path:
    folder = Path(os.environ.get("GOOGLENET_TEST_ARTEFACTS") or Path(tempfile.gettempdir()) / "googlenet-test-artefacts")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nbrowser test screenshots: {folder}")
    return folder


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A GoogLeNet trained for 10 steps on 640 real Fashion-MNIST images (a run directory)."""
    if not (FASHION_MNIST / "t10k-images-idx3-ubyte.gz").exists():
        pytest.fail(f"Fashion-MNIST is not in {FASHION_MNIST}: apt-get install dataset-fashion-mnist (make data)")
    run = tmp_path_factory.mktemp("browser") / "run"
    trained = googlenet_command("train", "--output-dir", str(run), "--train-subset", "640", "--val-subset", "100",
                                "--test-subset", "100", "--epochs", "1", "--batch-size", "64", "--no-tensorboard",
                                "--no-progress")
    assert trained.returncode == 0, trained.stdout + trained.stderr
    return run


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    process = subprocess.Popen([sys.executable, "-m", "googlenet", "serve", str(run_dir), "--port", str(port),
                                "--backend", "eager"], stdout=log.open("w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            assert process.poll() is None, f"googlenet serve exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"not ready in {STARTUP_SECONDS} s:\n{log.read_text()}"
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def page(server):
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            requests_elsewhere = []
            page.on("request", lambda request: None if request.url.startswith((server, "data:"))
                    else requests_elsewhere.append(request.url))
            page.goto(server)
            page.wait_for_function("document.querySelector('#status').textContent === 'ready'")
            yield page
            assert not requests_elsewhere, f"the page fetched from elsewhere: {requests_elsewhere}"
        finally:
            browser.close()


CANVAS_SPREAD = """() => {
  const canvas = document.querySelector('#heatmap');
  const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, squares = 0, count = 0, reddish = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const value = (pixels[i] + pixels[i + 1] + pixels[i + 2]) / 3;
    sum += value; squares += value * value; count += 1;
    if (pixels[i] > pixels[i + 2] + 40 || pixels[i + 2] > pixels[i] + 40) reddish += 1;  // coloured, not gray
  }
  const mean = sum / count;
  return { std: Math.sqrt(squares / count - mean * mean), coloured: reddish / count };
}"""


def test_upload_shows_the_classes_the_command_line_predicts(page, run_dir, artefacts, tmp_path):
    image_path = tmp_path / "fashion-mnist-test-0.png"
    Image.fromarray(fashion_mnist_test_image(0)).save(image_path)
    predicted = googlenet_command("predict", str(run_dir), str(image_path), "--json")
    assert predicted.returncode == 0, predicted.stderr
    expected = json.loads(predicted.stdout)["predictions"][0]["top_k"][0]

    page.set_input_files("#file-input", str(image_path))
    page.wait_for_selector("#classes .class-row")
    top_row = page.locator("#classes .class-row").first
    assert top_row.get_attribute("data-class-name") == expected["class_name"]
    shown = float(top_row.locator(".probability").inner_text().rstrip("%"))
    assert abs(shown - 100 * expected["probability"]) <= 0.051  # the same preprocessing, not just the same class

    page.wait_for_selector("#heatmap[data-drawn]")
    assert page.get_attribute("#heatmap", "data-drawn") == "inception3b"  # 32x32 input: 3b's map is 4x4
    spread = page.evaluate(CANVAS_SPREAD)
    assert spread["std"] > 10 and spread["coloured"] > 0.05, spread  # the image and a coloured heatmap

    modules = page.locator("#modules g.module")
    assert modules.count() == 9
    widths = page.evaluate("""() => [...document.querySelectorAll('#modules g.module')].map(
        (group) => [...group.querySelectorAll('rect[class^=branch]')].reduce((s, r) => s + r.width.baseVal.value, 0))""")
    assert all(abs(width - 640) < 1 for width in widths), widths  # each module's four shares fill the bar
    page.locator('#modules g.module[data-module="inception4a"]').click()
    page.wait_for_selector("#module-detail:not([hidden]) .branch img")
    assert page.locator("#module-detail .branch").count() == 4
    assert "inception4a" in page.inner_text("#module-detail h3")

    assert page.locator("#table1 tbody tr").count() >= 18
    assert "573,824" in page.inner_text("#comparison") and "177,376" in page.inner_text("#comparison")
    page.screenshot(path=str(artefacts / "serve-page.png"), full_page=True)


def test_a_branch_shows_its_channel_sheet_with_the_channels_the_image_excites_most(page, artefacts, tmp_path):
    image_path = tmp_path / "fashion-mnist-test-3.png"
    Image.fromarray(fashion_mnist_test_image(3)).save(image_path)
    page.set_input_files("#file-input", str(image_path))
    page.wait_for_selector("#heatmap[data-drawn]")
    page.locator('#modules g.module[data-module="inception3a"]').click()
    page.wait_for_selector("#module-detail:not([hidden]) .branch img")
    strongest = [int(text.lstrip("#")) for text in page.locator("#module-detail .branch").nth(2)
                 .locator("figcaption").all_inner_texts()]
    page.locator("#module-detail .branch").nth(2).locator(".channels-button").click()
    page.wait_for_selector("#channel-sheet .channel-row img.visualisation")
    assert "inception3a 5x5 (branch3)" in page.inner_text("#channel-sheet h3")
    shown = [int(text.split()[0].lstrip("#")) for text in page.locator("#channel-sheet .channel-label").all_inner_texts()]
    assert shown[:len(strongest)] == strongest and len(shown) == 8  # the image's strongest first, marked
    assert page.locator("#channel-sheet .channel-row.excited").count() == len(strongest)
    assert page.locator("#channel-sheet .channel-examples").first.locator("img").count() == 6
    page.wait_for_function("""() => [...document.querySelectorAll('#channel-sheet img')].every(
        (image) => image.complete && image.naturalWidth > 0)""")
    page.locator("#modules-section").screenshot(path=str(artefacts / "channels-page.png"))

    other = tmp_path / "fashion-mnist-test-1.png"
    Image.fromarray(fashion_mnist_test_image(1)).save(other)
    page.set_input_files("#file-input", str(other))  # another image: the sheet marked this one's channels
    assert page.locator("#channel-sheet").is_hidden() and page.locator("#channel-sheet .channel-row").count() == 0
    page.wait_for_selector("#heatmap[data-drawn]")


def test_an_example_from_the_evaluation_data(page, artefacts):
    page.wait_for_selector("#examples button")
    assert "test split of fashion-mnist" in page.inner_text("#examples-note")
    labels = [button.get_attribute("data-label") for button in page.locator("#examples button").all()]
    assert labels[:2] == ["T-shirt/top", "Trouser"] and len(labels) == 10
    page.evaluate("document.querySelector('#heatmap').removeAttribute('data-drawn')")
    page.locator("#examples button").nth(1).click()
    page.wait_for_selector("#heatmap[data-drawn]")
    assert page.locator("#classes .class-row").count() == 5
    page.screenshot(path=str(artefacts / "serve-page-example.png"), full_page=True)


def test_a_text_file_shows_an_error_on_the_page(page, artefacts, tmp_path):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("this is not an image\n")
    page.set_input_files("#file-input", str(text_file))
    page.wait_for_selector("#error:not([hidden])")
    message = page.inner_text("#error")
    assert message.startswith("notes.txt: not an image"), message
    assert page.locator("#classes .class-row").count() == 0  # no earlier image's classes beside the error
    assert page.get_attribute("#heatmap", "data-drawn") is None
    page.screenshot(path=str(artefacts / "serve-page-error.png"))


def test_a_colour_photo_shows_predicts_warning_on_the_page(page, run_dir, artefacts, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(7).integers(0, 256, (240, 320, 3), dtype=np.uint8)).save(photo)
    predicted = googlenet_command("predict", str(run_dir), str(photo), "--json")
    assert predicted.returncode == 0, predicted.stderr
    expected = json.loads(predicted.stdout)["warnings"]
    assert any("colour -> grayscale" in message for message in expected), expected

    page.set_input_files("#file-input", str(photo))
    page.wait_for_selector("#fit-warnings:not([hidden])")
    shown = page.inner_text("#fit-warnings")
    for message in expected:  # predict names the path; the page the file's name
        assert message.replace(str(photo), "photo.jpg") in shown, (message, shown)
    page.screenshot(path=str(artefacts / "serve-page-warning.png"))
    fitting = tmp_path / "fashion-mnist-test-1.png"  # an image like the model's own: the warning goes
    Image.fromarray(fashion_mnist_test_image(1)).save(fitting)
    page.set_input_files("#file-input", str(fitting))
    page.wait_for_selector("#fit-warnings[hidden]", state="attached")
