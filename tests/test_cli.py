"""The command line, run as a real process the way a user types it."""

import json
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "googlenet", *args], capture_output=True, text=True, timeout=300)


def test_summary_prints_table_1_and_the_module_comparison():
    result = run("summary")
    assert result.returncode == 0, result.stderr
    assert "inception4e" in result.stdout and "14x14x832" in result.stdout
    assert "573,824" in result.stdout and "177,376" in result.stdout
    assert "6,998,552 parameters" in result.stdout


def test_summary_json_is_measured_at_the_requested_size():
    result = run("summary", "--flavour", "torchvision", "--input-size", "96", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["flavour"] == "torchvision" and report["input_size"] == 96
    rows = {row["name"]: row for row in report["rows"]}
    assert rows["inception3a"]["ch5x5"] == 32 and rows["inception3a"]["output_size"] == "12x12x256"
    assert report["module_comparison"]["naive_params"] == 573_824


def test_summary_naive():
    report = json.loads(run("summary", "--naive", "--json").stdout)
    assert report["naive"] and {row["name"]: row for row in report["rows"]}["inception3a"]["output_size"] == "28x28x416"


def test_summary_refuses_a_too_small_input_with_a_message():
    result = run("summary", "--input-size", "20")
    assert result.returncode == 2
    assert "input size 20 is below the 'paper' flavour's minimum of 31" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_flavour_lists_the_choices():
    result = run("summary", "--flavour", "caffe")
    assert result.returncode == 2 and "bn" in result.stderr and "torchvision" in result.stderr


def test_console_script_is_installed():
    from pathlib import Path

    script = Path(sys.executable).parent / "googlenet"
    result = subprocess.run([str(script), "summary", "--json"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["flavour"] == "paper"
