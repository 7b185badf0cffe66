"""Time to accuracy: `googlenet train` with its defaults, per machine kind and seed, side by side.

    python benchmarks/time_to_accuracy.py --kinds native,avx2 --seeds 3
    python benchmarks/time_to_accuracy.py --kinds avx2 --seeds 1 --options "--epochs 6"
    python benchmarks/time_to_accuracy.py --kinds native --options=--aux-logits   # one option: with =

Each run is a `googlenet train` child process (its defaults, `--seed S`, --options on top, its own run
directory under --output-dir), one after the other, kinds interleaved within each seed so that both see
the same machine. Kinds: `native` runs torch as it finds the CPU (bf16 autocast where the CPU has BF16);
`avx2` sets ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 in the child's environment, so torch runs as
on an AVX2-only CPU (float32, no VNNI). Per run it prints:

- whole run: from starting the process to its last line (set-up such as installing excluded; the data
  read, the evaluations and the final test included);
- to TARGET%: from the start to the end of the epoch whose kept weights (chosen on the validation split)
  reach TARGET% test top-1. By default the test split is evaluated only at the end, on the kept weights:
  this is then the end of their epoch if they reach it; with --test-every-epoch (which adds evaluations
  to every epoch) it is the first epoch at which the weights kept so far reach it;
- validation and test top-1 of the kept weights (model/evaluation.json);
- images/s of the whole loop (the run's epochs, median of metrics.json) and of the bare step
  (benchmark_subjects.our_training_step at the defaults' batch and aux heads, random 1x32x32 images,
  median of 8 steps after 3, in a child process of the same kind).

With --step-compile, the same step under torch.compile (`googlenet train --compile`) is timed too, in a
child process of its own per kind: the first call (which compiles) and images/s afterwards, against the
eager step, and what compiling would save or cost over a run of the defaults' length. `--seeds 0
--step-compile` measures the steps only.

Per kind: the accuracy rule (mean test top-1 >= TARGET over the seeds, none below --floor) and the slowest
whole run against the kind's goal (--goal-native, --goal-avx2 minutes). Everything also goes to a JSON
file. Run it on a quiet machine: every other process on the CPU lengthens the runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TARGET_TOP1 = 91.0
FLOOR_TOP1 = 90.7  # no seed below this
AVX2_LIMIT = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
KINDS = ("native", "avx2")
GOAL_MINUTES = {"native": 6.0, "avx2": 10.0}
EPOCH_LINE = re.compile(r"^epoch (\d+)/\d+: .*?validation top-1 ([\d.]+)%(?: \(EMA ([\d.]+)%\))?"
                        r"(?:, test top-1 ([\d.]+)%)?")


@dataclass
class EpochLine:
    epoch: int
    seconds: float  # since the process started, when the line came
    validation_top1: float  # the better of raw and EMA: the epoch's candidate
    test_top1: float | None  # the candidate on test (only with --test-every-epoch)


@dataclass
class RunResult:
    kind: str
    seed: int
    wall_seconds: float  # start to the last line
    epochs: list[EpochLine]
    kept_epoch: int | None
    validation_top1: float | None
    test_top1: float | None
    loop_images_per_second: float | None
    machine_line: str = ""
    seconds_to_target: float | None = None
    epoch_reached: int | None = None


@dataclass
class KindSummary:
    kind: str
    step_images_per_second: float | None
    runs: list[RunResult] = field(default_factory=list)
    compiled_step: dict[str, Any] | None = None  # step_images_per_second(compile=True)'s figures


def child_environment(kind: str) -> dict[str, str]:
    """This process's environment with the kind's limits set (avx2) or removed (native)."""
    environ = {name: value for name, value in os.environ.items() if name not in AVX2_LIMIT}
    return {**environ, **AVX2_LIMIT} if kind == "avx2" else environ


def parse_epoch_line(text: str, seconds: float) -> EpochLine | None:
    match = EPOCH_LINE.match(text)
    if match is None:
        return None
    raw, ema = float(match[2]), float(match[3]) if match[3] else None
    return EpochLine(int(match[1]), seconds, max(raw, ema) if ema is not None else raw,
                     float(match[4]) if match[4] else None)


def time_to_target(epochs: list[EpochLine], kept_epoch: int | None, kept_test: float | None,
                   target: float) -> tuple[float | None, int | None]:
    """(seconds from the start, epoch) when the weights chosen on validation first reach `target` test top-1.
    With test figures per epoch: the weights kept so far (the best validation up to each epoch, the earlier
    on a tie, as the run keeps them). Without: the kept weights' epoch, if their final test reaches it."""
    if epochs and all(line.test_top1 is not None for line in epochs):
        kept = None
        for line in epochs:
            if kept is None or line.validation_top1 > kept.validation_top1:
                kept = line
            if kept.test_top1 >= target:  # type: ignore[operator]
                return line.seconds, line.epoch
        return None, None
    if kept_test is None or kept_test < target or kept_epoch is None:
        return None, None
    line = next((line for line in epochs if line.epoch == kept_epoch), None)
    return (line.seconds, line.epoch) if line is not None else (None, None)


def run_training(kind: str, seed: int, options: list[str], run_dir: Path, target: float) -> RunResult:
    """One `googlenet train` child, its lines timed as they come and echoed to stderr."""
    command = [sys.executable, "-m", "googlenet", "train", "--seed", str(seed), *options, "--output-dir",
               str(run_dir), "--overwrite", "--no-progress"]
    print(f"... {kind}, seed {seed}: {shlex.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    epochs, machine_line, last_line_at = [], "", 0.0
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_environment(kind)) as process:
        assert process.stdout is not None
        for text in process.stdout:
            last_line_at = time.perf_counter() - started
            print(f"    [{kind} {seed} {last_line_at / 60:5.2f} min] {text.rstrip()}", file=sys.stderr, flush=True)
            machine_line = machine_line or (text.strip() if text.startswith("machine:") else "")
            line = parse_epoch_line(text, last_line_at)
            if line is not None:
                epochs.append(line)
    if process.returncode != 0:
        raise RuntimeError(f"{kind}, seed {seed}: googlenet train exited with {process.returncode}")
    return read_run(kind, seed, run_dir, epochs, last_line_at, machine_line, target)


def read_run(kind: str, seed: int, run_dir: Path, epochs: list[EpochLine], wall_seconds: float, machine_line: str,
             target: float) -> RunResult:
    """The run's figures from its files: the kept weights' evaluation, the loop's images/s."""
    evaluation = json.loads((run_dir / "model" / "evaluation.json").read_text())
    rows = json.loads((run_dir / "metrics.json").read_text())
    rates = [float(row["images_per_second"]) for row in rows if row.get("images_per_second")]
    result = RunResult(kind, seed, wall_seconds, epochs, evaluation.get("epoch"),
                       evaluation.get("validation", {}).get("top1"), evaluation.get("test", {}).get("top1"),
                       statistics.median(rates) if rates else None, machine_line)
    result.seconds_to_target, result.epoch_reached = time_to_target(epochs, result.kept_epoch, result.test_top1,
                                                                    target)
    return result


def measure_step(kind: str, compile: bool = False) -> dict[str, Any] | None:
    """The bare training step's figures at the defaults (`step_images_per_second`), in a child process of
    `kind`: a fresh process, so a compiled step's first call includes all of its compiling."""
    command = [sys.executable, str(Path(__file__).resolve()), "--step-only"] + (["--step-compile"] if compile else [])
    print(f"... {kind}: timing the bare step{' under torch.compile' if compile else ''}", file=sys.stderr, flush=True)
    completed = subprocess.run(command, capture_output=True, text=True, env=child_environment(kind))
    if completed.returncode != 0:
        print(f"... {kind}: the step measurement failed: {completed.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


def step_images_per_second(steps: int = 8, warmup: int = 3, input_size: int = 32, train_count: int = 54_000,
                           compile: bool = False) -> dict:
    """`googlenet train`'s step as its defaults set it up for Fashion-MNIST (batch, aux heads), timed here;
    with `compile`, as `--compile` sets it up (the first call, which compiles, timed on its own)."""
    import torch

    from googlenet.inference.benchmark_subjects import our_training_step
    from googlenet.models.network import googlenet
    from googlenet.training.batch_size import wanted_batch_size
    from googlenet.training.config import EPOCHS_FROM_SCRATCH
    from googlenet.training.setup import default_aux_logits

    batch = wanted_batch_size(input_size, train_count)
    aux_logits, _ = default_aux_logits(input_size)
    name, step = our_training_step(googlenet("bn", num_classes=10, in_chans=1, aux_logits=aux_logits),
                                   compile=compile)
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(batch, 1, input_size, input_size, generator=generator)
    labels = torch.randint(10, (batch,), generator=generator)
    started = time.perf_counter()
    step(images, labels)
    first_step_seconds = time.perf_counter() - started
    for _ in range(warmup - 1):
        step(images, labels)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        step(images, labels)
        seconds.append(time.perf_counter() - started)
    return {"images_per_second": batch / statistics.median(seconds), "batch": batch, "aux_logits": aux_logits,
            "step": name, "first_step_seconds": first_step_seconds,
            "steps_per_run": EPOCHS_FROM_SCRATCH * (train_count // batch)}


def accuracy_rule(tests: list[float | None], target: float, floor: float) -> bool:
    """Mean test top-1 at least `target` and no seed below `floor` (a missing figure fails)."""
    if not tests or any(test is None for test in tests):
        return False
    return statistics.mean(tests) >= target and min(tests) >= floor  # type: ignore[type-var, arg-type]


def format_report(summaries: list[KindSummary], target: float, floor: float, goals: dict[str, float]) -> str:
    lines = []
    for summary in summaries:
        if summary.runs:  # the machine as the run's first line named it
            lines.append(f"{summary.kind}: {summary.runs[0].machine_line.removeprefix('machine: ')}")
    lines += ["", f"| kind | seed | whole run | to {target:g}% test top-1 | kept epoch | validation top-1 | "
                  "test top-1 | loop images/s | step images/s |", "|---|---|---|---|---|---|---|---|---|"]
    for summary in summaries:
        step = f"{summary.step_images_per_second:.0f}" if summary.step_images_per_second else "-"
        for run in summary.runs:
            reached = (f"{_minutes(run.seconds_to_target)} (epoch {run.epoch_reached})"
                       if run.seconds_to_target is not None else "not reached")
            loop = f"{run.loop_images_per_second:.0f}" if run.loop_images_per_second else "-"
            lines.append(f"| {summary.kind} | {run.seed} | {_minutes(run.wall_seconds)} | {reached} | "
                         f"{run.kept_epoch or '-'} | {_percent(run.validation_top1)} | {_percent(run.test_top1)} | "
                         f"{loop} | {step} |")
    lines.append("")
    for summary in summaries:
        if summary.compiled_step is not None and summary.step_images_per_second:
            lines.append(compile_line(summary.kind, summary.step_images_per_second, summary.compiled_step))
    for summary in summaries:
        if not summary.runs:
            continue
        tests = [run.test_top1 for run in summary.runs]
        held = accuracy_rule(tests, target, floor)
        known = [test for test in tests if test is not None]
        slowest = max((run.wall_seconds for run in summary.runs), default=0.0)
        goal = goals.get(summary.kind)
        within = f", goal {goal:g} min: {'met' if slowest <= goal * 60 and held else 'NOT met'}" if goal else ""
        lines.append(f"{summary.kind}: test top-1 mean {_percent(statistics.mean(known) if known else None)}, lowest "
                     f"{_percent(min(known) if known else None)} over {len(tests)} seed(s): accuracy rule (mean >= "
                     f"{target:g}%, none below {floor:g}%) {'held' if held else 'NOT held'}; slowest whole run "
                     f"{_minutes(slowest)}{within}")
    return "\n".join(lines)


def compile_line(kind: str, eager_images_per_second: float, compiled: dict[str, Any]) -> str:
    """What torch.compile does to a run of the defaults' length: its compiling plus its steps against eager's."""
    batch, steps = compiled["batch"], compiled["steps_per_run"]
    eager_seconds = steps * batch / eager_images_per_second
    compiled_seconds = compiled["first_step_seconds"] + steps * batch / compiled["images_per_second"]
    verdict = "saves" if compiled_seconds < eager_seconds else "costs"
    return (f"{kind}: torch.compile'd step {compiled['images_per_second']:.0f} images/s against eager "
            f"{eager_images_per_second:.0f} ({compiled['images_per_second'] / eager_images_per_second:.2f}x), its "
            f"first call (compiling) {compiled['first_step_seconds']:.1f} s: over a run of {steps} steps of {batch} it "
            f"{verdict} {_minutes(abs(eager_seconds - compiled_seconds))} of training")


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def _percent(value: float | None) -> str:
    return f"{value:.2f}%" if value is not None else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: native, avx2")
    parser.add_argument("--seeds", type=int, default=3, help="runs per kind, seeds 0 to N-1")
    parser.add_argument("--options", default="", help="`googlenet train` options on top of the defaults, quoted")
    parser.add_argument("--test-every-epoch", action="store_true",
                        help="evaluate the test split every epoch (adds time to every run)")
    parser.add_argument("--target", type=float, default=TARGET_TOP1, help="test top-1 to reach, in percent")
    parser.add_argument("--floor", type=float, default=FLOOR_TOP1, help="no seed's test top-1 below this")
    parser.add_argument("--goal-native", type=float, default=GOAL_MINUTES["native"], help="minutes, native kind")
    parser.add_argument("--goal-avx2", type=float, default=GOAL_MINUTES["avx2"], help="minutes, avx2 kind")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/time-to-accuracy"))
    parser.add_argument("--json", type=Path, help="where to write the results (default: OUTPUT_DIR/results.json)")
    parser.add_argument("--no-step", action="store_true", help="skip the bare step's measurement")
    parser.add_argument("--step-compile", action="store_true",
                        help="also time the step under torch.compile (googlenet train --compile), minutes per kind")
    parser.add_argument("--step-only", action="store_true", help=argparse.SUPPRESS)  # the child of measure_step
    args = parser.parse_args(argv)
    if args.step_only:
        print(json.dumps(step_images_per_second(compile=args.step_compile)))
        return 0
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = [kind for kind in kinds if kind not in KINDS]
    if unknown or not kinds:
        parser.error(f"--kinds: unknown {', '.join(unknown) or '(none given)'}; choose from {', '.join(KINDS)}")
    options = shlex.split(args.options) + (["--test-every-epoch"] if args.test_every_epoch else [])
    summaries = {}
    for kind in kinds:
        eager = None if args.no_step else measure_step(kind)
        summaries[kind] = KindSummary(kind, eager["images_per_second"] if eager else None)
        if args.step_compile:
            summaries[kind].compiled_step = measure_step(kind, compile=True)
    for seed in range(args.seeds):
        for kind in kinds:
            run_dir = args.output_dir / f"{kind}-seed{seed}"
            summaries[kind].runs.append(run_training(kind, seed, options, run_dir, args.target))
    goals = {"native": args.goal_native, "avx2": args.goal_avx2}
    report = format_report(list(summaries.values()), args.target, args.floor, goals)
    print(report)
    json_path = args.json or args.output_dir / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps({
        "command": shlex.join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
        "options": options, "target": args.target, "floor": args.floor, "goals_minutes": goals,
        "kinds": [asdict(summary) for summary in summaries.values()],
        "rule_held": {kind: accuracy_rule([run.test_top1 for run in summary.runs], args.target, args.floor)
                      for kind, summary in summaries.items()},
        "report": report}, indent=2))
    print(f"results: {json_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
