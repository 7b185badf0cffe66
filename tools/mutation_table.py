"""The mutation score per module, as a Markdown table: reads `mutmut results --all true` on stdin.

    mutmut results --all true | python tools/mutation_table.py

A mutant is killed when a test fails on it, timed out when its tests ran past mutmut's limit (a mutant
that loops forever: also caught), survived when every test passed on it, and has no tests when none of
the selected tests reached the function it changes.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict

COLUMNS = ("killed", "timeout", "survived", "no tests")
# "googlenet.serving.limits.xǁBodyLimitMiddlewareǁ__call____mutmut_48: survived": module, then the function
LINE = re.compile(r"^\s*(?P<module>[\w.]+?)\.x(?:ǁ|_)\S*__mutmut_\d+: (?P<status>.+?)\s*$")


def main() -> int:
    counts: dict[str, Counter] = defaultdict(Counter)
    for line in sys.stdin:
        match = LINE.match(line)
        if match:
            counts[match["module"]][match["status"]] += 1
    if not counts:
        print("no mutants in the input: run `mutmut run` first", file=sys.stderr)
        return 1
    print("| module | mutants | " + " | ".join(COLUMNS) + " | other |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    total: Counter = Counter()
    for module in sorted(counts):
        total.update(counts[module])
        print(row(module, counts[module]))
    print(row("all", total))
    return 0


def row(name: str, count: Counter) -> str:
    other = sum(count.values()) - sum(count[column] for column in COLUMNS)
    return f"| {name} | {sum(count.values())} | " + " | ".join(str(count[column]) for column in COLUMNS) + f" | {other} |"


if __name__ == "__main__":
    sys.exit(main())
