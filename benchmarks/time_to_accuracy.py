"""Time to accuracy: today's default recipe and a candidate, run back to back on the same machine.

    python benchmarks/time_to_accuracy.py --candidate "--epochs 5 --no-aux-logits"
    python benchmarks/time_to_accuracy.py --candidate="--compile" --common="--amp off" --target 91

(A single option as the value needs the `=` form: `--candidate="--compile"`.)

Each recipe is one `googlenet train` run (its options on top of --common, in its own run directory under
--output-dir), started as a separate process one after the other, so both see the same machine. The table
gives, per recipe: the wall time until the first epoch whose test top-1 reached --target (the sum of the
epochs' `epoch_seconds` in metrics.json up to that epoch; the test figures there are for information, no
choice is made on them), the whole run's wall time, the final test top-1 of the weights the run kept (chosen
on the validation split), and the machine's kind (googlenet.machine). Run it on a quiet machine: every
other process on the CPU lengthens both runs, not necessarily alike.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from googlenet.machine import describe_machine

TARGET_TOP1 = 91.0


@dataclass
class RecipeResult:
    name: str
    options: list[str]
    wall_seconds: float
    seconds_to_target: float | None  # None: the target was never reached
    epoch_reached: int | None
    final_test_top1: float | None
    epochs: int


def seconds_to_target(rows: list[dict[str, Any]], target: float) -> tuple[float | None, int | None]:
    """(training seconds until the first epoch with test_top1 >= target, that epoch), or (None, None)."""
    elapsed = 0.0
    for row in rows:
        elapsed += float(row["epoch_seconds"])
        if row.get("test_top1") is not None and float(row["test_top1"]) >= target:
            return elapsed, int(row["epoch"])
    return None, None


def run_recipe(name: str, options: list[str], output_dir: Path, target: float) -> RecipeResult:
    """One `googlenet train` run of `options` into output_dir/name, timed from start to exit."""
    run_dir = output_dir / name
    command = [sys.executable, "-m", "googlenet", "train", *options, "--output-dir", str(run_dir), "--overwrite",
               "--no-progress"]
    print(f"... {name}: {shlex.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True)
    wall = time.perf_counter() - started
    rows = json.loads((run_dir / "metrics.json").read_text())
    to_target, epoch = seconds_to_target(rows, target)
    evaluation_file = run_dir / "model" / "evaluation.json"
    final = json.loads(evaluation_file.read_text()).get("test", {}).get("top1") if evaluation_file.exists() else None
    return RecipeResult(name, options, wall, to_target, epoch, final, len(rows))


def format_table(results: list[RecipeResult], target: float, machine: str) -> str:
    lines = [f"machine: {machine}",
             f"| recipe | options | wall time to {target:g}% test top-1 | epoch reached | whole run | "
             "final test top-1 | epochs |",
             "|---|---|---|---|---|---|---|"]
    for result in results:
        reached = _minutes(result.seconds_to_target) if result.seconds_to_target is not None else "not reached"
        final = f"{result.final_test_top1:.2f}%" if result.final_test_top1 is not None else "-"
        lines.append(f"| {result.name} | `{shlex.join(result.options) or '(defaults)'}` | {reached} | "
                     f"{result.epoch_reached or '-'} | {_minutes(result.wall_seconds)} | {final} | {result.epochs} |")
    baseline, candidate = results[0], results[-1]
    if len(results) > 1 and baseline.seconds_to_target and candidate.seconds_to_target:
        lines.append(f"\ncandidate / default time to {target:g}%: "
                     f"{candidate.seconds_to_target / baseline.seconds_to_target:.2f}")
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidate", required=True, help="the candidate recipe's `googlenet train` options, quoted")
    parser.add_argument("--default", default="", help="options of the recipe compared against (default: none)")
    parser.add_argument("--common", default="", help="options given to both recipes (e.g. --amp off)")
    parser.add_argument("--target", type=float, default=TARGET_TOP1, help="test top-1 to reach, in percent")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/time-to-accuracy"))
    args = parser.parse_args(argv)
    common = shlex.split(args.common)
    results = [run_recipe(name, common + shlex.split(options), args.output_dir, args.target)
               for name, options in (("default", args.default), ("candidate", args.candidate))]
    print(format_table(results, args.target, str(describe_machine())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
