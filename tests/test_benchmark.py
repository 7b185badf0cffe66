"""`googlenet benchmark`: its options are checked with clear messages, and a tiny run reports everything."""

import importlib.util
import json

import pytest
import torch

from helpers import cpu_flags
from googlenet.inference.benchmark import (
    TORCHVISION_EAGER,
    TORCHVISION_ONNXRUNTIME,
    BenchmarkConfig,
    BenchmarkReport,
    Measurement,
    format_report,
    machine_description,
)
from googlenet.machine import describe_machine
from googlenet.cli import main


@pytest.mark.parametrize(("options", "message"), [
    ({"batch_sizes": (0,)}, r"--batch-sizes: 0 is out of range; it must be a whole number >= 1"),
    ({"batch_sizes": (1, -3)}, r"--batch-sizes: -3 is out of range"),
    ({"batch_sizes": (), "train_sizes": ()}, r"--batch-sizes, --train-sizes: give at least one"),
    ({"input_size": 8}, r"--input-size: 8 is out of range; .*\(the smallest input the network takes is 15x15\)"),
    ({"train_sizes": (96, 4)}, r"--train-sizes: 4 is out of range"),
    ({"train_batch_size": 1}, r"--train-batch-size: 1 is out of range; .*BatchNorm needs 2"),
    ({"repeats": 0}, r"--repeats: 0 is out of range"),
    ({"warmup": 0}, r"--warmup: 0 is out of range; it must be a whole number >= 1"),
    ({"threads": 0}, r"--threads: 0 is out of range"),
    ({"backends": ("eager", "tensorrt")},
     r"--backends: unknown backend 'tensorrt'; the fast paths are: eager, compile, onnxruntime, openvino, "
     r"onnxruntime-int8, openvino-int8, bf16, int8\. Available here: eager"),
])
def test_out_of_range_options_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        BenchmarkConfig(**options).check()


def test_a_backend_that_is_not_installed_is_refused_with_what_is_available(monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "openvino" else find_spec(name, *rest))
    with pytest.raises(ValueError, match=r"--backends: the openvino backend needs OpenVINO: pip install openvino\. "
                                         r"Available here: eager"):
        BenchmarkConfig(backends=("openvino",)).check()


def test_the_command_refuses_bad_options_before_measuring_anything(capsys):
    assert main(["benchmark", "--batch-sizes", "0", "32"]) == 2
    error = capsys.readouterr().err
    assert "googlenet benchmark: error: --batch-sizes: 0 is out of range" in error
    assert "Traceback" not in error and "fp32 matmul" not in error
    with pytest.raises(SystemExit) as exit_code:  # argparse's choices, read from FAST_PATHS
        main(["benchmark", "--backends", "cuda-graphs"])
    assert exit_code.value.code == 2
    assert "--backends: invalid choice: 'cuda-graphs' (choose from 'eager'" in capsys.readouterr().err


@pytest.mark.slow
def test_a_tiny_run_reports_every_path_side_by_side_as_json(capsys):
    code = main(["benchmark", "--batch-sizes", "1", "2", "--input-size", "32", "--train-sizes", "32",
                 "--train-batch-size", "2", "--backends", "eager", "--repeats", "2", "--warmup", "1",
                 "--train-repeats", "1", "--matmul-size", "64", "--json"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["matmul_gflops"]["median"] > 0
    assert report["machine"]["kind"] == describe_machine().kind and report["machine"]["threads"] >= 1
    names = {(m["task"], m["batch_size"], m["name"]) for m in report["measurements"]}
    for batch in (1, 2):
        assert ("inference", batch, TORCHVISION_EAGER) in names and ("inference", batch, "eager") in names
    ours = [name for task, _, name in names if task == "training" and name != TORCHVISION_EAGER]
    assert ours == ["ours (googlenet train's step): channels_last, " + (
        "bf16 autocast" if {"avx512_bf16", "amx_bf16"} & cpu_flags() else "fp32 (no bf16 on this CPU)")]
    for m in report["measurements"]:
        assert len(m["seconds"]) == (2 if m["task"] == "inference" else 1)
        low, median, high = (m["images_per_second"][key] for key in ("min", "median", "max"))
        assert 0 < low <= median <= high
        if m["task"] == "inference":
            assert m["top1_agreement"] == 1.0 and m["max_abs_difference"] <= 1e-4
    assert {row["baseline"] for row in report["ratios"]} >= {TORCHVISION_EAGER}
    assert any(check["check"].startswith("fp32 b2 >= 4x") for check in report["checks"])


def made_up_report() -> BenchmarkReport:
    config = {**BenchmarkConfig(batch_sizes=(32,), train_sizes=()).__dict__}
    measurements = [
        Measurement("inference", TORCHVISION_EAGER, 32, 224, [1.0, 1.1, 0.9], 3e9),
        Measurement("inference", TORCHVISION_ONNXRUNTIME, 32, 224, [0.4], 3e9),
        Measurement("inference", "onnxruntime", 32, 224, [0.25], 3e9, 2e-5, 1.0),
        Measurement("inference", "onnxruntime-int8", 32, 224, [0.1], 3e9, 0.5, 0.97),
    ]
    return BenchmarkReport(config, machine_description(2),
                           {"median": 300.0, "min": 290.0, "max": 310.0}, measurements, ["a note"])


def test_the_text_report_shows_ratios_against_each_baseline_and_the_reference_ratios():
    report = made_up_report()
    text = format_report(report)
    header = text.splitlines()[0]  # the machine's kind and threads name what the figures hold for
    assert header.startswith(str(describe_machine(2))) and describe_machine().kind in header and "2 threads" in header
    assert "inference, batch 32, 224x224" in text and "vs tv NCHW" in text and "vs tv ORT" in text
    row = next(line for line in text.splitlines() if line.strip().startswith("onnxruntime"))
    assert "128.0" in row and "4.00x" in row and "1.60x" in row  # 32 / 0.25 s; over 32 img/s and 80 img/s
    assert "reached fp32 b32 >= 4x torchvision eager NCHW: 4.00x (onnxruntime)" in text
    assert "reached fp32 b32 >= 1.05x ONNX Runtime (torchvision's model): 1.60x" in text
    # VPDPBUSD, read from the kernel's flags rather than googlenet.machine's rule
    vnni = {"avx512_vnni", "avx_vnni", "amx_int8"} & cpu_flags()
    needed = "3x ONNX Runtime fp32 (VNNI)" if vnni else "2x ONNX Runtime fp32 (no VNNI)"
    assert f"reached int8 b32 >= {needed}: 4.00x (onnxruntime-int8)" in text
    assert "a note" in text
    ratios = {(row["name"], row["baseline"]): row["ratio"] for row in report.ratios()}
    assert ratios[("onnxruntime-int8", TORCHVISION_EAGER)] == pytest.approx(10.0)


def test_the_training_step_timed_is_the_one_googlenet_train_runs(monkeypatch):
    from googlenet.inference import benchmark_subjects
    from googlenet.training import step as training_step

    calls = []
    real_train_step = training_step.train_step

    def counting_train_step(*args, **kwargs):
        calls.append(kwargs)
        return real_train_step(*args, **kwargs)

    monkeypatch.setattr(training_step, "train_step", counting_train_step)
    _, ours = benchmark_subjects.same_weight_models(10, 0)
    name, step = benchmark_subjects.our_training_step(ours)
    step(torch.randn(2, 3, 32, 32), torch.tensor([1, 2]))
    assert len(calls) == 1 and "autocast_dtype" in calls[0]
    assert name.startswith("ours (googlenet train's step)")


@pytest.mark.slow
def test_bf16_is_reported_as_skipped_with_its_reason_where_the_cpu_has_none(monkeypatch, capsys):
    from googlenet.machine import MachineDescription

    monkeypatch.setattr("googlenet.machine.describe_machine",
                        lambda *args, **kwargs: MachineDescription("AMD EPYC", frozenset({"avx2"}), 2))
    code = main(["benchmark", "--batch-sizes", "2", "--input-size", "32", "--train-sizes", "--backends", "eager",
                 "bf16", "--repeats", "1", "--warmup", "1", "--matmul-size", "64"])
    assert code == 0
    text = capsys.readouterr().out
    assert "fast path bf16 skipped: precision bf16 needs a CPU with AVX-512 BF16 or AMX; this one has none" in text
    assert "AVX2 only" in text.splitlines()[0]
