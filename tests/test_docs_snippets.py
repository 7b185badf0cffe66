"""Every ```python block of README.md and docs/*.md runs, so the documented API cannot drift.

A document's blocks run in order in one namespace (like a notebook), in a sandbox directory that holds
tiny stand-ins for every file the documents name:

    photo.jpg                  an RGB photo (320x240)
    docs/grace-hopper.jpg      the repository's own photo, as the README's example names it
    shirt.png                  a 28x28 grayscale image
    googlenet-1378be20.pth     a torchvision googlenet state_dict (random weights at a real scale)
    runs/fashion-mnist/        a run directory: config.json, model/ (bn, 1 channel, 10 classes, 32x32) and
                               examples/ (a 28x28 grayscale image per class: Shirt.png, Trouser.png, ...)
    fashion-mnist-idx/         a tiny Fashion-MNIST (the four IDX files), which that run records as its data
    torch-home/                $TORCH_HOME: googlenet-1378be20.pth in its hub cache, so that
                               `weights=GoogLeNet_Weights.IMAGENET1K_V1` loads offline (a download fails)

A `print(...)` line may show what it prints in a trailing comment `# prints: TEXT` (`...` stands for
any text, such as a figure that depends on the machine or the data): the block's printed lines must
contain, in the order of those comments, one line matching each TEXT.

A block that cannot run here opts out with a line `# not run by the tests: <reason>` (for example: it
needs a GPU, a network connection or a package that is not a dependency). A document with an ONNX
Runtime block is slow-marked: exporting to ONNX takes a minute on a 2-core CPU.
"""

import contextlib
import io
import json
import os
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import (copy_linking_weights, give_real_scale, real_scale_googlenet, tree_fingerprint, trust_as_release,
                     write_idx_set)

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
OPT_OUT = re.compile(r"^\s*# not run by the tests: (?P<reason>.*\S.*)$", re.MULTILINE)
SHOWN_OUTPUT = re.compile(r"#\s*prints:\s?(?P<text>.*?)\s*$", re.MULTILINE)
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]


def python_blocks(document: Path) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block."""
    blocks, code, start = [], None, 0
    for number, line in enumerate(document.read_text().splitlines(), start=1):
        fence = line.strip()
        if code is None and fence.startswith("```python"):
            code, start = [], number + 1
        elif code is not None and fence.startswith("```"):
            blocks.append((start, textwrap.dedent("\n".join(code))))
            code = None
        elif code is not None:
            code.append(line)
    return blocks


def needs_onnx_export(document: Path) -> bool:
    return any("onnxruntime" in code and not OPT_OUT.search(code) for _, code in python_blocks(document))


# --- the sandbox ----------------------------------------------------------------------------------------


def _photo(path: Path) -> None:
    """A smooth colour image: the same on every run, and far from a constant."""
    y, x = np.mgrid[0:240, 0:320]
    pixels = np.stack([x * 255 / 319, y * 255 / 239, (x + y) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=95)


def _torchvision_checkpoint(path: Path) -> None:
    import torchvision

    network = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    torch.save(give_real_scale(network).state_dict(), path)


def _fashion_mnist_run(run: Path) -> None:
    from googlenet.models.preprocessing import Preprocessing
    from googlenet.weights.model_dir import save_pretrained

    model = real_scale_googlenet("bn", num_classes=10, in_chans=1, aux_logits=False)
    preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.286,), std=(0.353,), channel_order="L")
    save_pretrained(model, run / "model", class_names=FASHION_NAMES, preprocessing=preprocessing)
    (run / "model" / "evaluation.json").write_text(json.dumps({"data": "fashion-mnist", "epoch": 7, "weights": "ema"}))
    (run / "examples").mkdir()
    for index, name in enumerate(FASHION_NAMES):
        pixels = (np.arange(28 * 28).reshape(28, 28) * (index + 1)) % 256
        Image.fromarray(pixels.astype(np.uint8)).save(run / "examples" / (re.sub(r"[^\w.-]+", "_", name) + ".png"))
    (run / "config.json").write_text(json.dumps({"data": "fashion-mnist", "data_dir": "fashion-mnist-idx",
                                                 "val_fraction": 0.1, "seed": 0, "flavour": "bn", "epochs": 7}))


@pytest.fixture(scope="module")
def sandbox_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sandbox")
    _photo(root / "photo.jpg")
    Image.fromarray(np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)).save(root / "shirt.png")
    _torchvision_checkpoint(root / "googlenet-1378be20.pth")
    (root / "docs").mkdir()
    shutil.copyfile(ROOT / "docs" / "grace-hopper.jpg", root / "docs" / "grace-hopper.jpg")
    (root / "torch-home" / "hub" / "checkpoints").mkdir(parents=True)
    os.link(root / "googlenet-1378be20.pth", root / "torch-home" / "hub" / "checkpoints" / "googlenet-1378be20.pth")
    _fashion_mnist_run(root / "runs" / "fashion-mnist")
    write_idx_set(root / "fashion-mnist-idx", train=20, test=10)
    return root


@pytest.fixture
def sandbox(sandbox_template, tmp_path, monkeypatch) -> Path:
    """A copy of the template per document; its weight files are hard links, so the check after the
    document's blocks ran catches a block that rewrote one in place (and would change the next document's)."""
    before = tree_fingerprint(sandbox_template)
    root = copy_linking_weights(sandbox_template, tmp_path / "sandbox")
    monkeypatch.chdir(root)
    monkeypatch.setenv("GOOGLENET_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(root / "torch-home"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("a block downloaded"))
    trust_as_release(monkeypatch, root / "torch-home" / "hub" / "checkpoints" / "googlenet-1378be20.pth")
    yield root
    assert tree_fingerprint(sandbox_template) == before, "a block rewrote a file of the sandbox in place"


def shown_output(code: str) -> list[str]:
    """What a block's `# prints: TEXT` comments say it prints, in order."""
    return [match["text"] for match in SHOWN_OUTPUT.finditer(code)]


def output_pattern(text: str) -> re.Pattern:
    """TEXT as shown in a document, `...` matching anything, as a pattern for one whole printed line."""
    return re.compile(".*".join(re.escape(part.strip()) for part in text.split("...")).join(("\\s*", "\\s*")))


def missing_output(shown: list[str], printed: str) -> str | None:
    """The first shown TEXT that no printed line (after the previous one's) matches, or None."""
    lines = iter(printed.splitlines())
    for text in shown:
        pattern = output_pattern(text)
        if not any(pattern.fullmatch(line) for line in lines):
            return text
    return None


def run_blocks(document: Path, blocks: list[tuple[int, str]], namespace: dict) -> None:
    for line, code in blocks:
        if OPT_OUT.search(code):
            continue
        shown = document.relative_to(ROOT) if document.is_relative_to(ROOT) else document.name
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                exec(compile(code, f"{document.name}:{line}", "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{shown}, the python block at line {line}: "
                                 f"{type(error).__name__}: {error}") from error
        missing = missing_output(shown_output(code), printed.getvalue())
        assert missing is None, (f"{shown}, the python block at line {line}: it shows '# prints: {missing}', "
                                 f"but printed:\n{printed.getvalue()}")


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [
    pytest.param(path, id=str(path.relative_to(ROOT)), marks=[pytest.mark.slow] if needs_onnx_export(path) else [])
    for path in DOCUMENTS
])
def test_every_python_block_runs(document, sandbox):
    blocks = python_blocks(document)
    run_blocks(document, blocks, {"__name__": "__docs__"})


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_block_opts_out_only_with_a_reason(document):
    for line, code in python_blocks(document):
        mentions = [text for text in code.splitlines() if "not run by the tests" in text]
        assert all(OPT_OUT.search(text) for text in mentions), f"{document.name}:{line}: opt-out without a reason"


def test_the_block_reader_finds_blocks_and_opt_outs(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text("text\n```python\nx = 1\n```\n```sh\nls\n```\n```python\n# not run by the tests: needs a GPU\n"
                        "import cuda_only\n```\n")
    blocks = python_blocks(document)
    assert blocks == [(3, "x = 1"), (9, "# not run by the tests: needs a GPU\nimport cuda_only")]
    namespace: dict = {}
    run_blocks(document, blocks, namespace)
    assert namespace["x"] == 1
    document.write_text("```python\nraise ValueError('drifted')\n```\n")
    with pytest.raises(AssertionError, match=r"doc.md, the python block at line 2: ValueError: drifted"):
        run_blocks(document, python_blocks(document), {})


def test_a_block_prints_what_its_comments_show_in_that_order(tmp_path):
    document = tmp_path / "doc.md"
    document.write_text("```python\nprint('a', 3 * 7)   # prints: a 21\nprint('took 3.2 s')  # prints: took ... s\n```\n")
    run_blocks(document, python_blocks(document), {})
    document.write_text("```python\nprint('a', 3 * 7)   # prints: a 22\n```\n")
    with pytest.raises(AssertionError, match=r"line 2: it shows '# prints: a 22', but printed:\s+a 21"):
        run_blocks(document, python_blocks(document), {})
    document.write_text("```python\nprint('b'); print('a')   # prints: a\n# prints: b\n```\n")
    with pytest.raises(AssertionError, match="it shows '# prints: b'"):  # in order
        run_blocks(document, python_blocks(document), {})
    assert missing_output(["[1, 2]"], "x [1, 2]\n") == "[1, 2]"  # a whole line, not a part of one


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_shown_output_belongs_to_a_print(document):
    for line, code in python_blocks(document):
        for text in code.splitlines():
            if SHOWN_OUTPUT.search(text):
                assert "print(" in text or text.strip().startswith("#"), f"{document.name}:{line}: {text}"


def test_the_four_verbs_are_functions_at_the_top_level_and_every_name_resolves():
    """What the README promises at the top level (that `import googlenet` itself stays light is
    test_layout's)."""
    import inspect

    import googlenet

    verbs = ("train", "evaluate", "predict", "export")
    assert {name: inspect.isfunction(getattr(googlenet, name)) for name in verbs} == dict.fromkeys(verbs, True)
    assert set(verbs) <= set(googlenet.__all__)
    assert [name for name in googlenet.__all__ if not hasattr(googlenet, name)] == []


# --- the ONNX Runtime snippet of docs/weights.md, on an RGB and on a grayscale model ----------------------


def onnx_block() -> str:
    blocks = [code for _, code in python_blocks(ROOT / "docs" / "weights.md") if "onnxruntime.InferenceSession" in code]
    assert len(blocks) == 1, "docs/weights.md should hold one ONNX Runtime block"
    return blocks[0]


@pytest.mark.slow
@pytest.mark.parametrize("channels", ["RGB", "L"])
def test_the_onnx_runtime_snippet_matches_pytorch(sandbox, channels):
    """The snippet's own preprocessing (read from the ONNX metadata) gives the logits PyTorch gives on the
    library's preprocessing of the same image, for an RGB model and for a grayscale one."""
    from googlenet.data.images import to_model_channels
    from googlenet.models.preprocessing import Preprocessing
    from googlenet.data.transforms import eval_preset
    from googlenet.weights.model_dir import from_pretrained, save_pretrained

    in_chans = 3 if channels == "RGB" else 1
    # Sizes and an interpolation other than the defaults, so that a snippet hard-coding them fails.
    preprocessing = Preprocessing(input_size=48, resize_size=55, mean=(0.4,) * in_chans, std=(0.2,) * in_chans,
                                  interpolation="bicubic", channel_order=channels)
    model = real_scale_googlenet("bn", num_classes=7, in_chans=in_chans, aux_logits=False)
    save_pretrained(model, sandbox / "imagenet-googlenet", class_names=[f"class {i}" for i in range(7)],
                    preprocessing=preprocessing)
    namespace: dict = {}
    exec(compile(onnx_block(), "docs/weights.md (ONNX Runtime block)", "exec"), namespace)

    reference = from_pretrained(sandbox / "imagenet-googlenet")
    with Image.open(sandbox / "docs" / "grace-hopper.jpg") as image:
        x = eval_preset(preprocessing)(to_model_channels(image, in_chans))[None]
    with torch.no_grad():
        expected = reference(x).numpy()
    logits = namespace["logits"]
    assert logits.shape == (1, 7)
    assert np.abs(logits - expected).max() <= 1e-3 * np.abs(expected).max()
