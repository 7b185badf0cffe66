"""`googlenet benchmark`: inference and training speed, torchvision's googlenet and ours side by side.

Everything runs in one process, on the same weights: torchvision's googlenet (eager NCHW, eager
channels_last, ONNX Runtime with all graph optimisations) and every fast path of ours (`googlenet.inference.optimize`'s
backends, and int8 from `googlenet.inference.quantize`), at each batch size; then training steps (SGD, aux heads)
of torchvision's googlenet in eager NCHW against ours with `googlenet train`'s settings. The machine's fp32
matmul rate, measured in the same run, is the physical reference the convolutions are held against.

Every figure is a median over repetitions after warm-ups, shown with its min and max; ratios are of
medians, against each baseline of the same group. Images are random (speed does not depend on them), and
the weights are random at a realistic scale (see `_realistic_weights`), so the logits comparison printed
beside each fast path means something. The int8 path is calibrated on the same random images: fine for
its speed; its accuracy is measured by `googlenet evaluate --int8` on real data.
"""

from __future__ import annotations

import contextlib
import copy
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from googlenet.inference.optimize import BACKENDS, backend_problem, onnx_bytes, optimize, time_calls
from googlenet.models.network import GoogLeNet, googlenet

INT8_PATH = "int8"
FAST_PATHS = (*BACKENDS, INT8_PATH)  # ours: the `optimize` backends, then int8 (ONNX Runtime)
TORCHVISION_EAGER = "torchvision eager NCHW"
TORCHVISION_CHANNELS_LAST = "torchvision eager channels_last"
TORCHVISION_ONNXRUNTIME = "torchvision onnxruntime"
OURS_TRAINING = "ours: channels_last + bf16 autocast"  # the name gets " + compile" with train_compile
INFERENCE_BASELINES = (TORCHVISION_EAGER, TORCHVISION_ONNXRUNTIME)
TRAINING_BASELINES = (TORCHVISION_EAGER,)
# Random images the int8 path is calibrated on: enough to set ranges that its speed does not depend on.
CALIBRATION_BATCH = 16
# torchvision's training recipe weighs each aux loss 0.3 (paper section 5); so does `googlenet train`.
TORCHVISION_AUX_WEIGHT = 0.3


@dataclass(frozen=True)
class BenchmarkConfig:
    """What to measure. The defaults are the issue's: batches 1 and 32 at 224x224, training at 96 and 224."""

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
        for backend in self.backends or ():
            problem = path_problem(backend)
            if problem is not None:
                raise ValueError(f"--backends: {problem}. Available here: {', '.join(available_paths())}")


def path_problem(path: str) -> str | None:
    """Why our fast path `path` cannot run here, or None."""
    if path == INT8_PATH:
        from googlenet.inference.quantize import quantization_problem

        return quantization_problem()
    if path not in BACKENDS:
        return f"unknown backend {path!r}; the fast paths are: {', '.join(FAST_PATHS)}"
    return backend_problem(path)


def available_paths() -> list[str]:
    return [path for path in FAST_PATHS if path_problem(path) is None]


@dataclass
class Measurement:
    """One configuration timed: seconds per batch (inference) or per training step."""

    task: str  # "inference" or "training"
    name: str
    batch_size: int
    input_size: int
    seconds: list[float]
    flops_per_image: float  # forward FLOPs (inference) or forward + backward FLOPs (training), 2 per MAC
    max_abs_difference: float | None = None  # inference: logits against torchvision eager NCHW's
    top1_agreement: float | None = None  # inference: share of top-1 classes equal to torchvision's

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.median

    @property
    def gflops(self) -> float:
        return self.flops_per_image * self.images_per_second / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "images_per_second": {"median": self.images_per_second, "min": self.batch_size / max(self.seconds),
                                  "max": self.batch_size / min(self.seconds)},
            "ms_per_batch": {"median": self.median * 1e3, "min": min(self.seconds) * 1e3,
                             "max": max(self.seconds) * 1e3},
            "gflops": self.gflops,
        }


@dataclass
class BenchmarkReport:
    config: dict[str, Any]
    machine: dict[str, Any]
    matmul_gflops: dict[str, Any]  # the fastest library's fp32 matmul rate: median, min, max; library; medians
    measurements: list[Measurement]
    notes: list[str] = field(default_factory=list)

    def group(self, task: str, batch_size: int, input_size: int) -> list[Measurement]:
        return [m for m in self.measurements
                if (m.task, m.batch_size, m.input_size) == (task, batch_size, input_size)]

    def find(self, task: str, batch_size: int, input_size: int, name: str) -> Measurement | None:
        return next((m for m in self.group(task, batch_size, input_size) if m.name == name), None)

    def ratios(self) -> list[dict[str, Any]]:
        """Images/s of each measurement over each baseline's, in the same task, batch size and input size."""
        rows = []
        for m in self.measurements:
            for baseline_name in INFERENCE_BASELINES if m.task == "inference" else TRAINING_BASELINES:
                baseline = self.find(m.task, m.batch_size, m.input_size, baseline_name)
                if baseline is not None:
                    rows.append({"task": m.task, "batch_size": m.batch_size, "input_size": m.input_size,
                                 "name": m.name, "baseline": baseline_name,
                                 "ratio": m.images_per_second / baseline.images_per_second})
        return rows

    def targets(self) -> list[dict[str, Any]]:
        """The issue's targets, where this run measured what they need: throughput at the largest batch,
        latency at batch 1, training at the smallest training size."""
        rows: list[dict[str, Any]] = []

        def add(target: str, measured: Measurement | None, baseline: Measurement | None, needed: float,
                latency: bool = False) -> None:
            if measured is None or baseline is None:
                return
            ratio = (baseline.median / measured.median) if latency else (
                measured.images_per_second / baseline.images_per_second)
            rows.append({"target": target, "by": measured.name, "ratio": ratio, "needed": needed,
                         "met": ratio >= needed})

        size, big = self.config["input_size"], max(self.config["batch_sizes"], default=0)
        fp32 = [m for m in self.group("inference", big, size) if m.name in BACKENDS]
        fastest = max(fp32, key=lambda m: m.images_per_second, default=None)
        add(f"fp32 b{big} >= 4x torchvision eager NCHW", fastest,
            self.find("inference", big, size, TORCHVISION_EAGER), 4.0)
        add(f"fp32 b{big} >= 1.05x ONNX Runtime (torchvision's model)", fastest,
            self.find("inference", big, size, TORCHVISION_ONNXRUNTIME), 1.05)
        if 1 in self.config["batch_sizes"]:
            quickest = min((m for m in self.group("inference", 1, size) if m.name in BACKENDS),
                           key=lambda m: m.median, default=None)
            add("fp32 b1 latency <= ONNX Runtime's (ratio: its latency / ours)", quickest,
                self.find("inference", 1, size, TORCHVISION_ONNXRUNTIME), 1.0, latency=True)
        add(f"int8 b{big} >= 2x ONNX Runtime fp32", self.find("inference", big, size, INT8_PATH),
            self.find("inference", big, size, TORCHVISION_ONNXRUNTIME), 2.0)
        if self.config["train_sizes"]:
            train_size, batch = min(self.config["train_sizes"]), self.config["train_batch_size"]
            ours = max((m for m in self.group("training", batch, train_size) if m.name != TORCHVISION_EAGER),
                       key=lambda m: m.images_per_second, default=None)
            add(f"training {train_size}x{train_size} b{batch} with aux >= 2x torchvision eager NCHW", ours,
                self.find("training", batch, train_size, TORCHVISION_EAGER), 2.0)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config, "machine": self.machine, "matmul_gflops": self.matmul_gflops,
            "measurements": [m.to_dict() for m in self.measurements], "ratios": self.ratios(),
            "targets": self.targets(), "notes": self.notes,
        }


# --- Measuring --------------------------------------------------------------------------------------


def matmul_gflops(size: int, repeats: int, warmup: int = 1, with_numpy: bool = True) -> dict[str, list[float]]:
    """GFLOP/s of fp32 `size` x `size` matrix products (2 size^3 FLOPs each), one per repetition, by library:
    torch.mm (MKL in torch's x86 builds) and numpy.matmul (OpenBLAS in numpy's wheels). Both, because MKL
    does not run AMD CPUs at their peak: on the 2-core EPYC of docs/speed.md numpy's product is 20% faster."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(size, size, generator=generator) for _ in range(2))
    products: dict[str, Callable[[], Any]] = {"torch.mm": lambda: torch.mm(a, b)}
    if with_numpy:
        a_array, b_array = a.numpy(), b.numpy()
        products["numpy.matmul"] = lambda: a_array @ b_array
    return {name: [2 * size**3 / seconds / 1e9 for seconds in time_calls(product, repeats, warmup)]
            for name, product in products.items()}


def count_flops(call: Callable[[], Any]) -> int:
    """FLOPs of what `call` runs (torch.utils.flop_counter: 2 per multiply-add, convolutions and GEMMs)."""
    counter = FlopCounterMode(display=False)
    with counter:
        call()
    return counter.get_total_flops()


def machine_description(threads: int) -> dict[str, Any]:
    """The machine (googlenet.machine: CPU, kind, flags, threads), its load and the libraries' versions."""
    from googlenet.machine import describe_machine

    machine = describe_machine(threads)
    versions = {"torch": torch.__version__}
    for package in ("torchvision", "onnxruntime", "openvino", "nncf"):
        with contextlib.suppress(ImportError):
            versions[package] = __import__(package).__version__
    return {
        **machine.to_dict(),
        "description": str(machine),
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "versions": versions,
    }


def _realistic_weights(model: nn.Module, seed: int) -> None:
    """Weights and BatchNorm statistics at the scale of a trained network. torchvision's init (std 0.01)
    makes activations shrink layer by layer to denormal numbers, which CPUs compute far more slowly,
    and makes every logits comparison pass trivially."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                module.weight.normal_(0.0, (2.0 / module.weight[0].numel()) ** 0.5, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, 0.1, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.1, generator=generator)
                module.running_mean.normal_(0.0, 0.1, generator=generator)
                module.running_var.uniform_(0.5, 1.5, generator=generator)


def _same_weight_models(num_classes: int, seed: int) -> tuple[nn.Module, GoogLeNet]:
    """torchvision's googlenet and ours (the torchvision flavour), holding the same weights."""
    from torchvision.models import googlenet as torchvision_googlenet

    reference = torchvision_googlenet(weights=None, aux_logits=True, init_weights=False, num_classes=num_classes,
                                      transform_input=False)
    _realistic_weights(reference, seed)
    ours = googlenet("torchvision", num_classes=num_classes, aux_logits=True, init_weights=False)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def _compare(measurement: Measurement, output: Tensor, reference: Tensor) -> None:
    measurement.max_abs_difference = (output.float() - reference).abs().max().item()
    measurement.top1_agreement = (output.argmax(1) == reference.argmax(1)).float().mean().item()


def _inference_paths(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet, example: Tensor, calibration: Tensor,
    notes: list[str],
) -> dict[str, Callable[[Tensor], Tensor]]:
    """Name -> a function from images to logits, baselines first, then our fast paths."""
    from googlenet.inference.optimize import OnnxRuntimeNetwork

    reference = reference.eval()
    channels_last = copy.deepcopy(reference).to(memory_format=torch.channels_last)
    paths: dict[str, Callable[[Tensor], Tensor]] = {
        TORCHVISION_EAGER: reference,
        TORCHVISION_CHANNELS_LAST: lambda x: channels_last(x.contiguous(memory_format=torch.channels_last)),
    }
    if backend_problem("onnxruntime") is None:
        paths[TORCHVISION_ONNXRUNTIME] = OnnxRuntimeNetwork(onnx_bytes(reference, example), config.threads)
    else:
        notes.append(f"no {TORCHVISION_ONNXRUNTIME} baseline: {backend_problem('onnxruntime')}")
    for path in config.backends if config.backends is not None else FAST_PATHS:
        problem = path_problem(path)
        if problem is not None:
            notes.append(f"fast path {path} skipped: {problem}")
            continue
        started = time.perf_counter()
        if path == INT8_PATH:
            from googlenet.inference.quantize import quantize

            paths[path] = quantize(ours, calibration, threads=config.threads)
        else:
            paths[path] = optimize(ours, path, example_input=example, threads=config.threads)
        notes.append(f"fast path {path} built in {time.perf_counter() - started:.1f} s"
                     + (" (and compiled once per batch size during its warm-up)" if path == "compile" else ""))
    return paths


def _training_steps(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet
) -> dict[str, Callable[[Tensor, Tensor], None]]:
    """Name -> one SGD step on (images, labels), with the aux heads: torchvision's recipe in eager NCHW,
    and ours with `googlenet train`'s defaults (TrainConfig), also compiled with `train_compile`."""
    torchvision_model = copy.deepcopy(reference).train()
    torchvision_optimizer = torch.optim.SGD(torchvision_model.parameters(), lr=0.01, momentum=0.9)

    def torchvision_step(images: Tensor, labels: Tensor) -> None:
        outputs = torchvision_model(images)
        loss = F.cross_entropy(outputs.logits, labels) + TORCHVISION_AUX_WEIGHT * (
            F.cross_entropy(outputs.aux_logits1, labels) + F.cross_entropy(outputs.aux_logits2, labels))
        torchvision_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torchvision_optimizer.step()

    steps: dict[str, Callable[[Tensor, Tensor], None]] = {TORCHVISION_EAGER: torchvision_step}
    for compiled in (False, True) if config.train_compile else (False,):
        name, step = _our_training_step(ours, compiled)
        steps[name] = step
    return steps


def _our_training_step(ours: GoogLeNet, compiled: bool) -> tuple[str, Callable[[Tensor, Tensor], None]]:
    """`googlenet train`'s step with TrainConfig's defaults, on a copy of `ours`, named by its settings."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from googlenet.models.loss import GoogLeNetLoss
    from googlenet.training.trainer import TrainConfig, _sgd, autocast_dtype_for, parameter_groups

    settings = TrainConfig()
    model = copy.deepcopy(ours).train().to(memory_format=torch.channels_last)
    network: nn.Module = torch.compile(model) if compiled else model
    autocast_dtype = autocast_dtype_for(settings.amp, torch.device("cpu"))
    criterion = GoogLeNetLoss((settings.aux_weight, settings.aux_weight), settings.label_smoothing)
    optimizer = _sgd(parameter_groups(model, settings.weight_decay), 0.01, settings)
    ema = None
    if settings.ema_decay is not None:
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(settings.ema_decay), use_buffers=True)

    def step(images: Tensor, labels: Tensor) -> None:
        images = images.contiguous(memory_format=torch.channels_last)
        autocast = (torch.autocast("cpu", dtype=autocast_dtype) if autocast_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            loss = criterion(network(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.clip_grad_norm:
            nn.utils.clip_grad_norm_(model.parameters(), settings.clip_grad_norm)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(model)

    name = OURS_TRAINING if autocast_dtype is not None else "ours: channels_last (no bf16 on this CPU)"
    return name + (" + compile" if compiled else ""), step


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
    reference, ours = _same_weight_models(config.num_classes, config.seed)
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
            _compare(measurement, path(images), expected)
            measurements.append(measurement)
    return measurements


def _measure_training(
    config: BenchmarkConfig, reference: nn.Module, ours: GoogLeNet, generator: torch.Generator, notes: list[str],
    say: Callable[[str], None],
) -> list[Measurement]:
    steps = _training_steps(config, reference, ours)
    measurements = []
    for size in config.train_sizes:
        images = torch.randn(config.train_batch_size, 3, size, size, generator=generator)
        labels = torch.randint(config.num_classes, (config.train_batch_size,), generator=generator)
        train_model = copy.deepcopy(reference).train()
        train_flops = count_flops(lambda: _forward_backward(train_model, images[:2])) / 2
        for name, step in steps.items():
            say(f"training b{config.train_batch_size} {size}x{size}: {name}")
            seconds = time_calls(lambda: step(images, labels), config.train_repeats, config.warmup)
            measurements.append(Measurement("training", name, config.train_batch_size, size, seconds, train_flops))
    notes.append("training: random images and labels (no data loading); ours is `googlenet train`'s step "
                 "(its optimizer, EMA update and gradient clipping as TrainConfig's defaults set them); "
                 "training FLOPs counted on one forward and backward pass")
    return measurements


def _forward_backward(model: nn.Module, images: Tensor) -> None:
    outputs = model(images)
    sum(output.sum() for output in outputs).backward()


# --- Reporting --------------------------------------------------------------------------------------


def format_report(report: BenchmarkReport) -> str:
    machine = report.machine
    rate = report.matmul_gflops
    lines = [
        machine.get("description", f"{machine['cpu']}, {machine['threads']} threads") + "; "
        + ", ".join(f"{name} {version}" for name, version in machine["versions"].items()),
        f"fp32 matmul {report.config['matmul_size']}: {rate['median']:.0f} GFLOP/s "
        f"(min {rate['min']:.0f}, max {rate['max']:.0f}; {rate.get('library', 'torch.mm')}"
        + "".join(f", {name} {value:.0f}" for name, value in rate.get("medians", {}).items()
                  if name != rate.get("library"))
        + "): the reference for the 'of mm' column",
    ]
    groups = sorted({(m.task, m.batch_size, m.input_size) for m in report.measurements},
                    key=lambda key: (key[0] != "inference", key[2], key[1]))
    for task, batch_size, input_size in groups:
        baselines = [name for name in (INFERENCE_BASELINES if task == "inference" else TRAINING_BASELINES)
                     if report.find(task, batch_size, input_size, name) is not None]
        lines += ["", f"{task}, batch {batch_size}, {input_size}x{input_size}" + (
            ", aux heads" if task == "training" else "")]
        header = f"  {'':46} {'img/s':>7} {'(min-max)':>15} {'ms/batch':>9}"
        header += "".join(f" {'vs ' + _short(name):>14}" for name in baselines)
        header += f" {'GFLOP/s':>8} {'of mm':>6}"
        if task == "inference":
            header += f" {'max|diff|':>9} {'top-1 =':>7}"
        lines.append(header)
        for m in report.group(task, batch_size, input_size):
            low, high = m.batch_size / max(m.seconds), m.batch_size / min(m.seconds)
            row = f"  {m.name:46} {m.images_per_second:7.1f} {f'({low:.1f}-{high:.1f})':>15} {m.median * 1e3:9.1f}"
            for name in baselines:
                baseline = report.find(task, batch_size, input_size, name)
                row += f" {m.images_per_second / baseline.images_per_second:13.2f}x"  # type: ignore[union-attr]
            row += f" {m.gflops:8.0f} {m.gflops / rate['median']:6.0%}"
            if m.max_abs_difference is not None:
                row += f" {m.max_abs_difference:9.1e} {m.top1_agreement:7.1%}"
            lines.append(row)
    targets = report.targets()
    if targets:
        lines += ["", "targets"]
        for target in targets:
            lines.append(f"  {'met   ' if target['met'] else 'MISSED'} {target['target']}: "
                         f"{target['ratio']:.2f}x ({target['by']})")
    if report.notes:
        lines += ["", "notes"] + [f"  {note}" for note in report.notes]
    return "\n".join(lines)


def _short(name: str) -> str:
    return {TORCHVISION_EAGER: "tv NCHW", TORCHVISION_ONNXRUNTIME: "tv ORT"}.get(name, name)
