"""What `googlenet benchmark` measured: the measurements, their ratios, the reference ratios checked, and the text.

Every figure is a median over repetitions after warm-ups, shown with its min and max; ratios are of
medians, against each baseline of the same task, batch size and input size.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

TORCHVISION_EAGER = "torchvision eager NCHW"
TORCHVISION_CHANNELS_LAST = "torchvision eager channels_last"
TORCHVISION_ONNXRUNTIME = "torchvision onnxruntime"
INFERENCE_BASELINES = (TORCHVISION_EAGER, TORCHVISION_ONNXRUNTIME)
TRAINING_BASELINES = (TORCHVISION_EAGER,)
TRAINING_CHECK_SIZE = 96  # the training check is made at 96x96, batch 64, aux heads on
FP32_PATHS = ("eager", "compile", "onnxruntime", "openvino")
INT8_PATHS = ("onnxruntime-int8", "openvino-int8")


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
    machine: dict[str, Any]  # googlenet.machine's description (kind, flags, threads), load, versions
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

    def checks(self) -> list[dict[str, Any]]:
        """Reference ratios, where this run measured what they need, set by the machine's kind: int8 at
        least 3x ONNX Runtime fp32 with VNNI, 2x without; training at least 2x torchvision's eager step
        with bf16, 1.6x without, at 96x96 where measured."""
        rows: list[dict[str, Any]] = []

        def add(check: str, measured: Measurement | None, baseline: Measurement | None, needed: float,
                latency: bool = False) -> None:
            if measured is None or baseline is None:
                return
            ratio = (baseline.median / measured.median) if latency else (
                measured.images_per_second / baseline.images_per_second)
            rows.append({"check": check, "by": measured.name, "ratio": ratio, "needed": needed,
                         "met": ratio >= needed})

        def fastest(names: tuple[str, ...], batch: int, size: int, task: str = "inference") -> Measurement | None:
            return max((m for m in self.group(task, batch, size) if m.name in names),
                       key=lambda m: m.images_per_second, default=None)

        size, big = self.config["input_size"], max(self.config["batch_sizes"], default=0)
        tv_ort = self.find("inference", big, size, TORCHVISION_ONNXRUNTIME)
        add(f"fp32 b{big} >= 4x torchvision eager NCHW", fastest(FP32_PATHS, big, size),
            self.find("inference", big, size, TORCHVISION_EAGER), 4.0)
        add(f"fp32 b{big} >= 1.05x ONNX Runtime (torchvision's model)", fastest(FP32_PATHS, big, size), tv_ort, 1.05)
        if 1 in self.config["batch_sizes"]:
            quickest = fastest(FP32_PATHS, 1, size)
            add("fp32 b1 latency <= ONNX Runtime's (ratio: its latency / ours)", quickest,
                self.find("inference", 1, size, TORCHVISION_ONNXRUNTIME), 1.0, latency=True)
        vnni, bf16 = self.machine.get("has_vnni", False), self.machine.get("has_bf16", False)
        add(f"int8 b{big} >= {3 if vnni else 2}x ONNX Runtime fp32 ({'VNNI' if vnni else 'no VNNI'})",
            fastest(INT8_PATHS, big, size), tv_ort, 3.0 if vnni else 2.0)
        if self.config["train_sizes"]:
            sizes, batch = self.config["train_sizes"], self.config["train_batch_size"]
            train_size = TRAINING_CHECK_SIZE if TRAINING_CHECK_SIZE in sizes else min(sizes)
            ours = max((m for m in self.group("training", batch, train_size) if m.name != TORCHVISION_EAGER),
                       key=lambda m: m.images_per_second, default=None)
            add(f"training {train_size}x{train_size} b{batch} with aux >= {2 if bf16 else 1.6}x torchvision eager "
                f"NCHW ({'bf16' if bf16 else 'no bf16'})", ours,
                self.find("training", batch, train_size, TORCHVISION_EAGER), 2.0 if bf16 else 1.6)
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config, "machine": self.machine, "matmul_gflops": self.matmul_gflops,
            "measurements": [m.to_dict() for m in self.measurements], "ratios": self.ratios(),
            "checks": self.checks(), "notes": self.notes,
        }


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
        lines += ["", f"{task}, batch {batch_size}, {input_size}x{input_size}" + (
            ", aux heads" if task == "training" else "")]
        lines += _group_table(report, task, batch_size, input_size)
    checks = report.checks()
    if checks:
        lines += ["", f"reference ratios ({machine.get('kind', 'this machine')})"]
        for check in checks:
            lines.append(f"  {'reached' if check['met'] else 'below  '} {check['check']}: "
                         f"{check['ratio']:.2f}x ({check['by']})")
    if report.notes:
        lines += ["", "notes"] + [f"  {note}" for note in report.notes]
    return "\n".join(lines)


def _group_table(report: BenchmarkReport, task: str, batch_size: int, input_size: int) -> list[str]:
    rate = report.matmul_gflops
    baselines = [name for name in (INFERENCE_BASELINES if task == "inference" else TRAINING_BASELINES)
                 if report.find(task, batch_size, input_size, name) is not None]
    width = max([46] + [len(m.name) for m in report.group(task, batch_size, input_size)])
    header = f"  {'':{width}} {'img/s':>7} {'(min-max)':>15} {'ms/batch':>9}"
    header += "".join(f" {'vs ' + _short(name):>14}" for name in baselines)
    header += f" {'GFLOP/s':>8} {'of mm':>6}"
    if task == "inference":
        header += f" {'max|diff|':>9} {'top-1 =':>7}"
    lines = [header]
    for m in report.group(task, batch_size, input_size):
        low, high = m.batch_size / max(m.seconds), m.batch_size / min(m.seconds)
        row = f"  {m.name:{width}} {m.images_per_second:7.1f} {f'({low:.1f}-{high:.1f})':>15} {m.median * 1e3:9.1f}"
        for name in baselines:
            baseline = report.find(task, batch_size, input_size, name)
            row += f" {m.images_per_second / baseline.images_per_second:13.2f}x"  # type: ignore[union-attr]
        row += f" {m.gflops:8.0f} {m.gflops / rate['median']:6.0%}"
        if m.max_abs_difference is not None:
            row += f" {m.max_abs_difference:9.1e} {m.top1_agreement:7.1%}"
        lines.append(row)
    return lines


def _short(name: str) -> str:
    return {TORCHVISION_EAGER: "tv NCHW", TORCHVISION_ONNXRUNTIME: "tv ORT"}.get(name, name)
