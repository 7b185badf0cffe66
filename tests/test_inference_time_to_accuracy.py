"""benchmarks/time_to_accuracy.py: two recipes back to back, the time to the target read from metrics.json."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "time_to_accuracy.py"


def load_script():
    spec = importlib.util.spec_from_file_location("time_to_accuracy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_time_to_target_sums_the_epochs_until_the_first_one_at_the_target():
    script = load_script()
    rows = [{"epoch": 1, "epoch_seconds": 100.0, "test_top1": 88.0},
            {"epoch": 2, "epoch_seconds": 90.5, "test_top1": 91.2},
            {"epoch": 3, "epoch_seconds": 95.0, "test_top1": 90.9}]
    assert script.seconds_to_target(rows, 91.0) == (190.5, 2)
    assert script.seconds_to_target(rows, 91.3) == (None, None)
    assert script.seconds_to_target([{"epoch": 1, "epoch_seconds": 5.0}], 91.0) == (None, None)  # no test split


def test_the_table_names_the_machine_and_the_ratio_of_the_two_recipes():
    script = load_script()
    results = [script.RecipeResult("default", [], 1200.0, 1000.0, 6, 91.3, 7),
               script.RecipeResult("candidate", ["--epochs", "5"], 700.0, 500.0, 4, 91.1, 5)]
    table = script.format_table(results, 91.0, "AMD EPYC, 2 threads: AVX2 only")
    assert table.splitlines()[0] == "machine: AMD EPYC, 2 threads: AVX2 only"
    assert "| default | `(defaults)` | 16 min 40.0 s | 6 | 20 min 00.0 s | 91.30% | 7 |" in table
    assert "| candidate | `--epochs 5` | 8 min 20.0 s | 4 |" in table
    assert "candidate / default time to 91%: 0.50" in table


@pytest.mark.slow
def test_two_tiny_recipes_run_back_to_back_on_real_fashion_mnist(tmp_path, capsys):
    script = load_script()
    common = ("--epochs 1 --input-size 32 --train-subset 512 --val-subset 256 --test-subset 256 --batch-size 64 "
              "--no-tensorboard")
    assert script.main([f"--common={common}", "--candidate=--no-aux-logits", "--target", "1",
                        "--output-dir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    for name in ("default", "candidate"):
        rows = json.loads((tmp_path / name / "metrics.json").read_text())
        assert len(rows) == 1 and rows[0]["epoch_seconds"] > 0
        assert f"| {name} |" in table
    candidate_row = next(line for line in table.splitlines() if line.startswith("| candidate |"))
    assert "--no-aux-logits`" in candidate_row and "--no-aux-logits" not in table.split("| candidate |")[0]
    assert "not reached" not in table  # 1% is reached by any model
    assert "candidate / default time to 1%:" in table
