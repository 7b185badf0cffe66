"""The inference fast path computes the plain model's logits: folded, fused, channels_last, any backend."""

import importlib.util

import pytest
import torch
from torch import nn

from helpers import cpu_flags, real_scale_googlenet
from googlenet.inference.optimize import (
    FusedInceptionModule,
    InferenceModel,
    available_backends,
    inference_network,
    optimize,
)

# The bound on the logits, with weights at a real scale (conftest.give_real_scale): the logits are
# then of order 10, so 1e-4 is fp32 rounding in a different order of summation, and nothing coarser.
TOLERANCE = 1e-4
has_onnxruntime = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnxscript") is None,
    reason="needs onnxruntime and onnxscript",
)


def real_scale_model(flavour: str = "torchvision", in_chans: int = 3) -> nn.Module:
    return real_scale_googlenet(flavour, num_classes=10, in_chans=in_chans).eval()


def assert_same_logits(got: torch.Tensor, expected: torch.Tensor) -> None:
    assert expected.std() > 1.0  # the reference varies: a comparison of near-zero logits proves nothing
    assert got.shape == expected.shape
    assert (got - expected).abs().max().item() <= TOLERANCE


@pytest.mark.parametrize("flavour", ["bn", "paper", "torchvision"])
def test_folded_and_fused_network_gives_the_plain_logits(flavour):
    model = real_scale_model(flavour)
    network = inference_network(model)
    assert sum(isinstance(module, FusedInceptionModule) for module in network.modules()) == 9
    assert not any(isinstance(module, nn.BatchNorm2d) for module in network.modules())
    assert network.aux1 is None and network.aux2 is None
    images = torch.randn(3, 3, 40, 40)
    with torch.no_grad():
        assert_same_logits(network(images), model(images))
        channels_last = network.to(memory_format=torch.channels_last)
        assert_same_logits(channels_last(images.contiguous(memory_format=torch.channels_last)), model(images))


def test_fused_module_merges_the_three_reductions_that_read_the_input():
    network = inference_network(real_scale_model("bn"))
    module = network.inception3a  # Table 1: 64 1x1, 96 3x3 reduce, 16 5x5 reduce, from 192 channels
    assert isinstance(module, FusedInceptionModule)
    assert module.split_sizes == [64, 96, 16]
    assert tuple(module.reduce.weight.shape) == (176, 192, 1, 1)
    assert module.conv5x5.kernel_size == (5, 5)


def test_optimize_leaves_the_model_alone():
    model = real_scale_model("bn").train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    optimize(model, "eager", example_input=torch.randn(2, 3, 40, 40))
    assert model.training and model.aux1 is not None
    assert isinstance(model.inception3a.branch1.bn, nn.BatchNorm2d)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, before[name]), name


def test_eager_backend_on_a_grayscale_model_carries_what_predict_needs():
    model = real_scale_model("bn", in_chans=1)
    model.class_names = [f"class {index}" for index in range(10)]
    fast = optimize(model, "eager", example_input=torch.randn(2, 1, 40, 40))
    assert isinstance(fast, InferenceModel) and fast.backend == "eager"
    assert fast.class_names == model.class_names and fast.in_chans == 1 and fast.num_classes == 10
    images = torch.randn(4, 1, 40, 40)
    assert_same_logits(fast(images), model(images))
    fast.train()
    assert not fast.training  # folded BatchNorms have no training mode
    assert "backend eager" in fast.describe()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_runtime_backends_give_the_plain_logits_at_any_batch_size(backend):
    if backend not in available_backends():
        pytest.skip(f"{backend} is not installed")
    model = real_scale_model("torchvision")
    fast = optimize(model, backend, example_input=torch.randn(1, 3, 40, 40))  # exported with a dynamic batch
    assert fast.backend == backend
    for batch in (1, 2, 5):
        images = torch.randn(batch, 3, 40, 40).contiguous(memory_format=torch.channels_last)
        assert_same_logits(fast(images), model(images))


@pytest.mark.slow
@has_onnxruntime
def test_auto_measures_the_candidates_and_keeps_the_fastest():
    model = real_scale_model("torchvision")
    example = torch.randn(2, 3, 40, 40)
    fast = optimize(model, "auto", example_input=example, candidates=("eager", "onnxruntime"))
    assert set(fast.timings) == {"eager", "onnxruntime"}
    assert fast.backend == min(fast.timings, key=fast.timings.get)
    assert fast.backend in fast.describe() and "auto" in fast.describe()
    assert_same_logits(fast(example), model(example))


def hide_package(monkeypatch, package: str) -> None:
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == package else find_spec(name, *rest))


def test_a_missing_backend_is_named_with_what_to_install_and_what_is_available(monkeypatch):
    hide_package(monkeypatch, "openvino")
    assert "openvino" not in available_backends()
    model = real_scale_model("torchvision")
    with pytest.raises(ValueError, match=r"backend: the openvino backend needs OpenVINO: pip install openvino\. "
                                         r"Available here: auto, eager"):
        optimize(model, "openvino")
    with pytest.raises(ValueError, match=r"unknown backend 'tensorrt'; choose one of: auto, eager, compile"):
        optimize(model, "tensorrt")


def test_auto_without_the_optional_backends_falls_back_to_eager(monkeypatch):
    hide_package(monkeypatch, "openvino")
    hide_package(monkeypatch, "onnxruntime")
    model = real_scale_model("torchvision")
    example = torch.randn(2, 3, 40, 40)
    fast = optimize(model, example_input=example)
    assert fast.backend == "eager" and list(fast.timings) == ["eager"]
    assert_same_logits(fast(example), model(example))


def test_optimize_takes_only_a_googlenet():
    with pytest.raises(TypeError, match="takes a googlenet.GoogLeNet"):
        optimize(nn.Linear(2, 2), "eager")


@pytest.mark.slow
@pytest.mark.skipif("compile" not in available_backends(), reason="torch.compile needs a C++ compiler")
def test_compile_backend_gives_the_plain_logits():
    model = real_scale_model("torchvision")
    fast = optimize(model, "compile")
    images = torch.randn(2, 3, 32, 32)  # tiny: the compile time, not the size, is the cost (about a minute)
    assert_same_logits(fast(images), model(images))


def test_predict_command_on_a_fast_backend_gives_the_plain_answer(tmp_path, capsys):
    import json

    from PIL import Image

    from googlenet import save_pretrained
    from googlenet.cli import main
    from googlenet.models.preprocessing import Preprocessing

    Image.fromarray(torch.randint(0, 256, (48, 48, 3), dtype=torch.uint8).numpy()).save(tmp_path / "image.png")
    model = real_scale_model("torchvision")
    save_pretrained(model, tmp_path / "model", class_names=[f"class {index}" for index in range(10)],
                    preprocessing=Preprocessing(input_size=40, resize_size=44))
    answers = {}
    for backend in ("plain", "eager"):
        assert main(["predict", str(tmp_path / "model"), str(tmp_path / "image.png"), "--json",
                     "--backend", backend]) == 0
        answers[backend] = json.loads(capsys.readouterr().out)["predictions"][0]["top_k"]
    assert [entry["class_index"] for entry in answers["eager"]] == [entry["class_index"] for entry in answers["plain"]]
    for fast, plain in zip(answers["eager"], answers["plain"]):
        assert fast["probability"] == pytest.approx(plain["probability"], abs=1e-5)


def test_auto_passes_over_a_candidate_that_cannot_run_the_model_and_says_why(monkeypatch):
    from googlenet.inference import optimize as optimize_module

    real_build = optimize_module._build

    def build(backend, *args, **kwargs):
        if backend == "onnxruntime":  # as OpenVINO does for the bn flavour at 32x32 (a 3x3 pool over 2x2)
            raise RuntimeError("MaxPool: kernel larger than the data shape")
        return real_build(backend, *args, **kwargs)

    monkeypatch.setattr(optimize_module, "_build", build)
    model = real_scale_model("torchvision")
    example = torch.randn(2, 3, 40, 40)
    fast = optimize(model, example_input=example, candidates=("onnxruntime", "eager"))
    assert fast.backend == "eager" and list(fast.timings) == ["eager"]
    assert "onnxruntime could not run (RuntimeError: MaxPool: kernel larger" in fast.describe()
    assert_same_logits(fast(example), model(example))
    with pytest.raises(ValueError, match="no candidate runs this model here: onnxruntime: RuntimeError"):
        optimize(model, example_input=example, candidates=("onnxruntime",))


def test_bf16_is_refused_on_a_cpu_without_it_saying_why(monkeypatch):
    from googlenet.inference import precision
    from googlenet.machine import MachineDescription

    avx2 = MachineDescription("AMD EPYC", frozenset({"avx2"}), 2)
    assert "needs a CPU with AVX-512 BF16 or AMX; this one has none (AMD EPYC, 2 threads: AVX2 only" in (
        precision.precision_problem("bf16", machine=avx2))
    monkeypatch.setattr("googlenet.machine.describe_machine", lambda *args, **kwargs: avx2)
    with pytest.raises(ValueError, match="precision: precision bf16 needs a CPU with AVX-512 BF16 or AMX"):
        optimize(real_scale_model("torchvision"), "eager", precision="bf16")
    with pytest.raises(ValueError, match="unknown precision 'fp16'; choose one of: fp32, bf16"):
        optimize(real_scale_model("torchvision"), "eager", precision="fp16")


def test_bf16_keeps_the_top_class_natively_where_the_cpu_has_it(monkeypatch):
    from googlenet.machine import MachineDescription, describe_machine

    if {"avx512_bf16", "amx_bf16"} & cpu_flags():  # the kernel's flags: native bf16, nothing faked
        assert describe_machine().has_bf16
    else:  # emulated (slow, but the same numbers): the arithmetic is what is checked then
        monkeypatch.setattr("googlenet.machine.describe_machine",
                            lambda *args, **kwargs: MachineDescription("Xeon", frozenset({"avx2", "amx_bf16"}), 2))
    model = real_scale_model("torchvision")
    images = torch.randn(8, 3, 40, 40)
    fast = optimize(model, "eager", precision="bf16", example_input=images)
    got, expected = fast(images), model(images)
    assert got.dtype == torch.float32 and "bf16" in fast.describe()
    assert {parameter.dtype for parameter in fast.network.parameters()} == {torch.bfloat16}  # computed in bf16
    assert not torch.allclose(got, expected, atol=1e-4)  # computed in bf16, not fp32
    assert (got.argmax(1) == expected.argmax(1)).float().mean() >= 0.75
    assert (got - expected).abs().max() <= 0.05 * expected.abs().max()
    with pytest.raises(ValueError, match="precision bf16 runs on openvino, eager, compile, not onnxruntime"):
        optimize(model, "onnxruntime", precision="bf16")
