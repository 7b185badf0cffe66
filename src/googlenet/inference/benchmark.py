"""`googlenet benchmark`: inference and training speed, torchvision's googlenet and ours side by side.

Everything runs in one process, on the same weights: torchvision's googlenet (eager NCHW, eager
channels_last, ONNX Runtime with all graph optimisations) and every fast path of ours (`optimize`'s
backends, int8 from `quantize`, bf16 where the CPU has it), at each batch size; then training steps (aux
heads) of torchvision's googlenet in eager NCHW against `googlenet train`'s own step (training/step.py).
The machine's kind (googlenet.machine) heads the report, and its fp32 matmul rate, measured in the same
run, is the physical reference the convolutions are held against.

Images are random (speed does not depend on them), and the weights are random at a realistic scale
(`benchmark_subjects.realistic_weights`), so the logits comparison printed beside each fast path means
something. The int8 paths are calibrated on the same random images: fine for their speed; their accuracy
is measured by `googlenet evaluate --int8` on real data (and tests/test_int8_accuracy.py).
"""

from __future__ import annotations

import copy
import os
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn

from googlenet.inference.benchmark_report import (
    INT8_PATHS,
    TORCHVISION_EAGER,
    TORCHVISION_ONNXRUNTIME,
    BenchmarkReport,
    Measurement,
    format_report,
)
from googlenet.inference.benchmark_subjects import (
    BF16_PATH,
    baseline_inference_paths,
    build_fast_path,
    count_flops,
    machine_description,
    matmul_gflops,
    our_training_step,
    same_weight_models,
    timed_build,
    torchvision_training_step,
)
from googlenet.inference.optimize import BACKENDS, backend_problem, time_calls
from googlenet.models.network import GoogLeNet, googlenet

__all__ = ["FAST_PATHS", "TORCHVISION_EAGER", "TORCHVISION_ONNXRUNTIME", "BenchmarkConfig", "BenchmarkReport",
           "Measurement", "format_report", "machine_description", "run_benchmark"]

INT8_ALIAS = "int8"  # every int8 path installed
FAST_PATHS = (*BACKENDS, *INT8_PATHS, BF16_PATH, INT8_ALIAS)  # ours
# Random images the int8 paths are calibrated on: enough to set ranges that their speed does not depend on.
CALIBRATION_BATCH = 16


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure. The defaults: batches 1 and 32 at 224x224, training at 96 and 224."""

    batch_sizes: tuple[int, ...] = (1, 32)
    input_size: int = 224
    train_sizes: tuple[int, ...] = (96, 224)  # empty: no training measurement
    train_batch_size: int = 64
    backends: tuple[str, ...] | None = None  # our fast paths (FAST_PATHS); None: every one installed here
    train_compile: bool = False  # also time our training step under torch.compile (minutes of compiling)
    repeats: int = 10
    warmup: int = 2
    train_repeats: int = 5
    threads: int | None = None  # None: torch's default
    matmul_size: int = 4096
    num_classes: int = 1000
    seed: int = 0

    def check(self) -> None:
        """Raise a ValueError naming the option for anything out of range (the command line's names)."""
        smallest = googlenet("torchvision", num_classes=1, aux_logits=False, init_weights=False).min_input_size
        if not self.batch_sizes and not self.train_sizes:
            raise ValueError("--batch-sizes, --train-sizes: give at least one inference batch size or training size")
        for option, values, low in (
            ("--batch-sizes", self.batch_sizes, 1),
            ("--input-size", (self.input_size,), smallest),
            ("--train-sizes", self.train_sizes, smallest),
            ("--train-batch-size", (self.train_batch_size,), 2),
            ("--repeats", (self.repeats,), 1),
            ("--warmup", (self.warmup,), 1),  # the first call builds oneDNN primitives, or compiles
            ("--train-repeats", (self.train_repeats,), 1),
            ("--threads", () if self.threads is None else (self.threads,), 1),
            ("--matmul-size", (self.matmul_size,), 1),
            ("--num-classes", (self.num_classes,), 1),
        ):
            for value in values:
                if isinstance(value, bool) or not isinstance(value, int) or value < low:
                    why = {"--train-batch-size": " (BatchNorm needs 2 images to train)"}.get(option, "")
                    if option in ("--input-size", "--train-sizes"):
                        why = f" (the smallest input the network takes is {smallest}x{smallest})"
                    raise ValueError(f"{option}: {value!r} is out of range; it must be a whole number >= {low}{why}")
        # bf16 is the CPU's to have, not an install: asked for where there is none, it is reported as
        # skipped with the reason, as in a run of every path.
        for backend in self.backends or ():
            problem = path_problem(backend)
            if problem is not None and backend != BF16_PATH:
                raise ValueError(f"--backends: {problem}. Available here: {', '.join(available_paths())}")


def path_problem(path: str) -> str | None:
    """Why our fast path `path` cannot run here, or None."""
    if path in INT8_PATHS:
        from googlenet.inference.quantize import int8_problem

        return int8_problem(path)
    if path == INT8_ALIAS:
        from googlenet.inference.quantize import quantization_problem

        return quantization_problem()
    if path == BF16_PATH:
        from googlenet.inference.precision import precision_problem

        return precision_problem("bf16")
    if path not in BACKENDS:
        return f"unknown backend {path!r}; the fast paths are: {', '.join(FAST_PATHS)}"
    return backend_problem(path)


def available_paths() -> list[str]:
    return [path for path in FAST_PATHS if path_problem(path) is None]


def _requested_paths(config: BenchmarkConfig) -> list[str]:
    requested = list(config.backends) if config.backends is not None else [p for p in FAST_PATHS if p != INT8_ALIAS]
    if INT8_ALIAS in requested:
        requested = [p for p in requested if p != INT8_ALIAS] + [p for p in INT8_PATHS if p not in requested]
    return requested


def run_benchmark(
    config: BenchmarkConfig | None = None, progress: Callable[[str], None] | None = None
) -> BenchmarkReport:
    """Measure everything `config` asks for; `progress` gets a line before each step (e.g. print)."""
    config = config or BenchmarkConfig()
    config.check()
    say = progress or (lambda line: None)
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    threads = torch.get_num_threads()
    machine = machine_description(threads)
    notes: list[str] = []
    load, cpus = machine["load_average_1min"], machine["logical_cpus"] or 1
    if load is not None and load > 0.5 * cpus:
        notes.append(f"1-minute load average {load:.2f} on {cpus} CPUs when the run started: other work may "
                     "have lowered the absolute figures (the ratios less so)")

    say(f"fp32 matmul {config.matmul_size}x{config.matmul_size}")
    # numpy's BLAS runs on every core whatever torch's threads are: compare like with like only.
    with_numpy = threads == os.cpu_count()
    if not with_numpy:
        notes.append(f"matmul reference: torch.mm only (numpy's BLAS would use all {os.cpu_count()} cores)")
    by_library = matmul_gflops(config.matmul_size, max(3, min(config.repeats, 10)), with_numpy=with_numpy)
    library, rates = max(by_library.items(), key=lambda item: statistics.median(item[1]))
    reference, ours = same_weight_models(config.num_classes, config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    measurements: list[Measurement] = []

    if config.batch_sizes:
        measurements += _measure_inference(config, reference, ours, generator, notes, say)
    if config.train_sizes:
        measurements += _measure_training(config, reference, ours, generator, notes, say)
    return BenchmarkReport(
        config=asdict(config), machine=machine,
        matmul_gflops={"median": statistics.median(rates), "min": min(rates), "max": max(rates), "library": library,
                       "medians": {name: statistics.median(values) for name, values in by_library.items()}},
        measurements=measurements, notes=notes,
    )


def _inference_paths(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet, example: Tensor, calibration: Tensor,
    notes: list[str],
) -> dict[str, Callable[[Tensor], Tensor]]:
    """Name -> a function from images to logits, torchvision's baselines first, then our fast paths."""
    paths = baseline_inference_paths(reference, example, config.threads, notes)
    for path in _requested_paths(config):
        problem = path_problem(path)
        if problem is not None:
            notes.append(f"fast path {path} skipped: {problem}")
            continue
        try:
            paths[path], seconds = timed_build(lambda: build_fast_path(path, ours, example, calibration,
                                                                       config.threads))
        except ValueError as error:  # e.g. a runtime that cannot run the network at this input size
            notes.append(f"fast path {path} skipped: {error}")
            continue
        notes.append(f"fast path {path} built in {seconds:.1f} s"
                     + (" (and compiled once per batch size during its warm-up)" if path == "compile" else "")
                     + (f": {paths[path].describe()}" if path in (*INT8_PATHS, BF16_PATH) else ""))
    return paths


@torch.no_grad()
def _measure_inference(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet, generator: torch.Generator, notes: list[str],
    say: Callable[[str], None],
) -> list[Measurement]:
    # Batch 2 for the exports: torch.export would fix a batch dimension of 1 (export.EXAMPLE_BATCH).
    example = torch.randn(2, 3, config.input_size, config.input_size, generator=generator)
    calibration = torch.randn(CALIBRATION_BATCH, 3, config.input_size, config.input_size, generator=generator)
    say("building the inference paths (ONNX export, quantization)")
    paths = _inference_paths(config, reference, ours, example, calibration, notes)
    flops = count_flops(lambda: reference.eval()(example[:1]))
    measurements = []
    for batch_size in config.batch_sizes:
        images = torch.randn(batch_size, 3, config.input_size, config.input_size, generator=generator)
        expected = reference.eval()(images)
        for name, path in paths.items():
            say(f"inference b{batch_size} {config.input_size}x{config.input_size}: {name}")
            measurement = Measurement("inference", name, batch_size, config.input_size,
                                      time_calls(lambda: path(images), config.repeats, config.warmup), flops)
            output = path(images).float()
            measurement.max_abs_difference = (output - expected).abs().max().item()
            measurement.top1_agreement = (output.argmax(1) == expected.argmax(1)).float().mean().item()
            measurements.append(measurement)
    return measurements


def _measure_training(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet, generator: torch.Generator, notes: list[str],
    say: Callable[[str], None],
) -> list[Measurement]:
    steps = {TORCHVISION_EAGER: torchvision_training_step(reference)}
    for changes in ({}, {"compile": True}) if config.train_compile else ({},):
        name, step = our_training_step(ours, **changes)
        steps[name] = step
    measurements = []
    for size in config.train_sizes:
        images = torch.randn(config.train_batch_size, 3, size, size, generator=generator)
        labels = torch.randint(config.num_classes, (config.train_batch_size,), generator=generator)
        train_flops = count_flops(lambda: _forward_backward(reference, images[:2])) / 2
        # Interleaved rounds: each step's repetitions spread over the same stretch of a noisy machine.
        seconds: dict[str, list[float]] = {name: [] for name in steps}
        for name, step in steps.items():
            say(f"training b{config.train_batch_size} {size}x{size}: {name} (warm-up)")
            time_calls(lambda: step(images, labels), 0, config.warmup)
        say(f"training b{config.train_batch_size} {size}x{size}: {config.train_repeats} interleaved rounds")
        for _ in range(config.train_repeats):
            for name, step in steps.items():
                seconds[name] += time_calls(lambda: step(images, labels), 1, 0)
        measurements += [Measurement("training", name, config.train_batch_size, size, seconds[name], train_flops)
                         for name in steps]
    notes.append("training: random images and labels (no data loading); ours is training/step.py's train_step "
                 "as `googlenet train` sets it up with TrainConfig's defaults (the loop's weight average and "
                 "schedule are not part of the step); training FLOPs counted on one forward and backward pass")
    return measurements


def _forward_backward(model: nn.Module, images: Tensor) -> None:
    model = copy.deepcopy(model).train()
    outputs = model(images)
    sum(output.sum() for output in outputs).backward()
