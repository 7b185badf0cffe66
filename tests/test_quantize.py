"""int8 inference: close to the float model, calibrated on training images, refused clearly without ONNX Runtime."""

import importlib.util

import pytest
import torch

from helpers import cpu_flags, damage_png_pixels, image_tree, real_scale_googlenet, save_image
from googlenet import googlenet
from googlenet.data.images import load_image
from googlenet.data.in_memory import InMemoryImageDataset
from googlenet.data.splits import DataSplits
from googlenet.models.preprocessing import Preprocessing
from googlenet.data.transforms import eval_preset

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnxscript") is None,
    reason="int8 quantization needs onnxruntime and onnxscript",
)


def real_cpu_has_vnni() -> bool:
    """From /proc/cpuinfo itself: VPDPBUSD is avx512_vnni (Cascade Lake and later) or avx_vnni (Alder Lake)."""
    return bool({"avx512_vnni", "avx_vnni"} & cpu_flags())


@pytest.fixture
def quantized_weights(monkeypatch) -> dict:
    """The int8 weights each quantizer writes, read from its output: {backend: [int8 arrays]}. ONNX Runtime's
    quantized file's INT8 initializers, NNCF's model's i8 constants."""
    written: dict = {}
    import onnxruntime.quantization

    real_quantize_static = onnxruntime.quantization.quantize_static

    def quantize_static(model_input, model_output, *args, **kwargs):
        import onnx
        from onnx import numpy_helper

        real_quantize_static(model_input, model_output, *args, **kwargs)
        written["onnxruntime-int8"] = [numpy_helper.to_array(tensor) for tensor in onnx.load(str(model_output)).graph
                                       .initializer if tensor.data_type == onnx.TensorProto.INT8]

    monkeypatch.setattr(onnxruntime.quantization, "quantize_static", quantize_static)
    if importlib.util.find_spec("nncf") is not None:
        import nncf
        import openvino

        real_nncf_quantize = nncf.quantize

        def nncf_quantize(*args, **kwargs):
            model = real_nncf_quantize(*args, **kwargs)
            written["openvino-int8"] = [op.get_data() for op in model.get_ops() if op.get_type_name() == "Constant"
                                        and op.get_element_type() == openvino.Type.i8]
            return model

        monkeypatch.setattr(nncf, "quantize", nncf_quantize)
    return written


def weight_range(arrays: list) -> tuple[int, int]:
    assert len(arrays) >= 57  # one weight tensor per convolution of the folded network at least
    return int(min(array.min() for array in arrays)), int(max(array.max() for array in arrays))


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime-int8", "openvino-int8"])
def test_int8_agrees_with_float_on_the_top_class(backend, quantized_weights):
    from googlenet.inference.quantize import int8_problem, quantize

    if int8_problem(backend) is not None:
        pytest.skip(int8_problem(backend))
    model = real_scale_googlenet("bn", num_classes=10, in_chans=1).eval()
    # 64x64: OpenVINO refuses the bn flavour's 3x3 max-pool over the 2x2 map it has at 32x32
    calibration = torch.randn(64, 1, 64, 64)
    images = torch.randn(64, 1, 64, 64)  # not the calibration images
    int8 = quantize(model, calibration, backend=backend)
    assert int8.backend == backend
    # This machine's own kind, read from /proc/cpuinfo: 8-bit weights with VNNI, 7-bit without.
    low, high = weight_range(quantized_weights[backend])
    assert (high, "8-bit weights" in int8.describe()) == ((127, True) if real_cpu_has_vnni() else (64, False))
    expected, got = model(images), int8(images)
    assert not torch.allclose(got, expected, atol=1e-3)  # it is quantized: not the float network
    assert (got.argmax(1) == expected.argmax(1)).float().mean() >= 0.9
    assert torch.corrcoef(torch.stack([got.flatten(), expected.flatten()]))[0, 1] >= 0.99
    assert int8(images[:1]).shape == (1, 10)  # any batch size


def test_quantize_refuses_bad_calibration_and_unknown_methods():
    from googlenet.inference.quantize import quantize

    model = googlenet("bn", num_classes=10, in_chans=1).eval()
    with pytest.raises(ValueError, match=r"calibration must be image batches \[N, 1, H, W\]"):
        quantize(model, torch.randn(4, 3, 32, 32))
    with pytest.raises(ValueError, match=r"calibration must be image batches"):
        quantize(model, [])
    with pytest.raises(ValueError, match="unknown calibration method 'mse'; choose one of: minmax, percentile"):
        quantize(model, torch.randn(4, 1, 32, 32), method="mse")
    with pytest.raises(ValueError, match="unknown int8 backend 'tensorrt'; choose one of: auto, onnxruntime-int8"):
        quantize(model, torch.randn(4, 1, 32, 32), backend="tensorrt")
    with pytest.raises(ValueError, match="calibration method 'entropy' is ONNX Runtime's; openvino-int8 takes minmax"):
        quantize(model, torch.randn(4, 1, 32, 32), backend="openvino-int8", method="entropy")


def test_saturation_safe_asks_for_7_bits_exactly_where_the_cpu_has_no_vnni():
    from googlenet.inference.quantize import saturation_safe
    from googlenet.machine import MachineDescription

    assert saturation_safe(MachineDescription("EPYC", frozenset({"avx2"}), 2)) is True
    assert saturation_safe(MachineDescription("Xeon", frozenset({"avx2", "avx512f", "avx512_vnni"}), 2)) is False
    assert saturation_safe(MachineDescription("Core", frozenset({"avx2", "avx_vnni"}), 2)) is False


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime-int8", "openvino-int8"])
def test_weights_reach_the_quantizer_in_7_bits_on_a_cpu_without_vnni(backend, quantized_weights, monkeypatch):
    """The whole way from the machine to the weights written: a CPU without VNNI (simulated: only the
    description changes) gets weights in [-64, 64], whose pair sums 2 x 255 x 64 = 32,640 fit a 16-bit integer."""
    from googlenet.inference import quantize as quantize_module
    from googlenet.machine import MachineDescription

    if quantize_module.int8_problem(backend) is not None:
        pytest.skip(quantize_module.int8_problem(backend))
    monkeypatch.setattr(quantize_module, "describe_machine",
                        lambda *args, **kwargs: MachineDescription("EPYC", frozenset({"avx2"}), 2))
    model = googlenet("bn", num_classes=10, in_chans=1).eval()  # per-channel symmetric: any weights fill the range
    int8 = quantize_module.quantize(model, torch.randn(8, 1, 64, 64), backend=backend)
    low, high = weight_range(quantized_weights[backend])
    assert low >= -64 and 63 <= high <= 64  # 7 bits, all of them used
    assert "7-bit weights" in int8.describe()


@pytest.mark.slow
def test_auto_keeps_the_int8_path_measured_fastest(monkeypatch):
    from googlenet.inference import optimize as optimize_module
    from googlenet.inference import quantize as quantize_module

    available = [name for name in quantize_module.INT8_BACKENDS if quantize_module.int8_problem(name) is None]
    if len(available) < 2:
        pytest.skip("auto chooses between int8 paths only where both are installed")
    # The paths are measured in INT8_BACKENDS' order; the last one is made to measure fastest.
    measured = iter([[0.3, 0.3, 0.3], [0.1, 0.2, 0.1]])
    monkeypatch.setattr(optimize_module, "time_calls", lambda call, *args, **kwargs: (call(), next(measured))[1])
    model = real_scale_googlenet("bn", num_classes=10, in_chans=1).eval()
    int8 = quantize_module.quantize(model, torch.randn(8, 1, 64, 64))
    assert int8.timings == {available[0]: 0.3, available[1]: 0.1}
    assert int8.backend == available[1]
    assert "auto: fastest" in int8.describe()
    assert ("8-bit weights" if real_cpu_has_vnni() else "7-bit weights (no VNNI") in int8.describe()


def test_quantize_without_onnxruntime_says_what_to_install(monkeypatch):
    from googlenet.inference.quantize import quantize

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *rest: None if name in ("onnxruntime", "openvino")
                        else find_spec(name, *rest))
    with pytest.raises(ImportError, match=r"int8 quantization needs onnxruntime: pip install onnxruntime"):
        quantize(googlenet("bn", num_classes=10).eval(), torch.randn(2, 3, 32, 32))


def small_data_set() -> DataSplits:
    generator = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8, generator=generator)
    preprocessing = Preprocessing(input_size=32, resize_size=32, mean=(0.5,), std=(0.5,), channel_order="L")
    train_set = InMemoryImageDataset(train, torch.zeros(50, dtype=torch.long), None)
    val_set = InMemoryImageDataset(torch.zeros(10, 1, 28, 28, dtype=torch.uint8), torch.zeros(10), None)
    return DataSplits("small", train_set, val_set, val_set, ["a"], 1, preprocessing)


def test_calibration_images_are_training_images_with_the_evaluation_preprocessing():
    from googlenet.inference.quantize import calibration_images

    data = small_data_set()
    images = calibration_images(data, count=8, seed=1)
    assert images.shape == (8, 1, 32, 32) and images.dtype == torch.float32
    assert torch.equal(images, calibration_images(data, count=8, seed=1))
    transform = eval_preset(data.preprocessing)
    every_train_image = torch.stack([transform(image) for image in data.train.images])
    assert all((every_train_image == image).flatten(1).all(1).any() for image in images)
    assert calibration_images(data, count=500).shape[0] == 50  # at most the whole training split
    with pytest.raises(ValueError, match="at least 1"):
        calibration_images(data, count=0)


def test_calibration_leaves_out_and_names_an_image_that_passes_the_check_but_cannot_be_decoded(tmp_path):
    from googlenet.data.load import load_data
    from googlenet.data.splits import SkippedImagesWarning
    from googlenet.inference.quantize import calibration_images

    image_tree(tmp_path / "images", per_class=3, size=(24, 24))
    damaged = damage_png_pixels(save_image(tmp_path / "images" / "dog" / "damaged.png", size=(24, 24), seed=9))
    data = load_data(tmp_path / "images", val_fraction=0, input_size=24)
    assert data.unreadable == {"train": []}  # it passes the up-front check
    with pytest.warns(SkippedImagesWarning, match=rf"leaves out 1 unreadable image\(s\): {damaged} \(cannot decode"):
        images = calibration_images(data, count=100)
    assert images.shape == (6, 3, 24, 24)  # the 6 readable ones
    readable = [path for path, _ in data.train.samples if path != str(damaged)]
    transform = eval_preset(data.preprocessing)
    expected = torch.stack([transform(load_image(path)) for path in readable])
    assert all((expected == image).flatten(1).all(1).any() for image in images)


@pytest.mark.slow
def test_evaluate_int8_on_an_image_folder_reports_the_backend(tmp_path, capsys):
    import json

    from PIL import Image

    from googlenet import save_pretrained
    from googlenet.cli import main

    generator = torch.Generator().manual_seed(0)
    for split in ("train", "val"):
        for name in ("cat", "dog"):
            (tmp_path / "images" / split / name).mkdir(parents=True)
            for index in range(3):
                pixels = torch.randint(0, 256, (40, 40, 3), dtype=torch.uint8, generator=generator).numpy()
                Image.fromarray(pixels).save(tmp_path / "images" / split / name / f"{index}.png")
    model = real_scale_googlenet("torchvision", num_classes=2).eval()
    preprocessing = Preprocessing(input_size=32, resize_size=36)
    save_pretrained(model, tmp_path / "model", class_names=["cat", "dog"], preprocessing=preprocessing)

    assert main(["evaluate", str(tmp_path / "model"), "--data", str(tmp_path / "images"), "--int8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["backend"] == "int8" and result["count"] == 6
    assert main(["evaluate", str(tmp_path / "model"), "--data", str(tmp_path / "images"), "--int8",
                 "--backend", "eager"]) == 2
    assert "--int8 chooses its own runtime (the faster of ONNX Runtime and OpenVINO); leave out --backend" \
        in capsys.readouterr().err
