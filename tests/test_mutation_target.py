"""`make mutation` (docs/mutation.md): kept out of `make test`, run from a clean mutants/, and its table
counts each module's mutants by what became of them."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def planned(target: str, tmp_path: Path) -> str:
    """What `make -n TARGET` would run (nothing is run), with the virtual environment in tmp_path."""
    result = subprocess.run(["make", "-n", "--no-print-directory", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_mutation_testing_is_its_own_target_not_part_of_make_test(tmp_path):
    assert "mutmut" not in planned("test", tmp_path)
    mutation = planned("mutation", tmp_path)
    assert mutation.index("rm -rf mutants") < mutation.index("mutmut run") < mutation.index("tools/mutation_table.py")


def test_the_table_counts_each_modules_mutants_by_outcome():
    results = "\n".join([
        "    googlenet.serving.limits.xǁBodyLimitMiddlewareǁ__call____mutmut_1: killed",
        "    googlenet.serving.limits.xǁBodyLimitMiddlewareǁ__call____mutmut_2: survived",
        "    googlenet.serving.limits.x__too_large_message__mutmut_3: timeout",
        "    googlenet.data.splits.x_split_per_class__mutmut_4: killed",
        "    googlenet.data.splits.x_check_val_fraction__mutmut_5: no tests",
        "    googlenet.data.splits.x_check_val_fraction__mutmut_6: suspicious",
        "some other line mutmut prints",
    ])
    table = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation_table.py")], input=results,
                           capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
    assert table[0] == "| module | mutants | killed | timeout | survived | no tests | other |"
    assert table[2:] == ["| googlenet.data.splits | 3 | 1 | 0 | 0 | 1 | 1 |",
                         "| googlenet.serving.limits | 3 | 1 | 1 | 1 | 0 | 0 |",
                         "| all | 6 | 2 | 1 | 1 | 1 | 1 |"]


def test_the_table_refuses_an_empty_input():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "mutation_table.py")], input="",
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "run `mutmut run` first" in result.stderr
