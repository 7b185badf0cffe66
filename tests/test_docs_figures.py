"""Each measured figure is written once, in docs/results.md, with the date, the machine, the split and the
command it came from; every other page links there instead of repeating it without them.

The rule, as this test applies it to README.md and every docs/**/*.md:

- A **figure** is a measured quantity: a number followed by a unit of accuracy or share (`%`, `points`),
  of time (`ms`, `s`, `min`, `h`, or spelled out: `seconds`, `minutes`, `hours`), of speed (`img/s`,
  `images/s`, `req/s`, `GFLOP/s`), of memory (`KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`), or a ratio (`1.92x`,
  `2x`; not a size such as `3x3`).
- A **figure line** is a line with a figure outside fenced code blocks, after removing inline code
  (`--max-wait-ms 5` is a setting, written as code), link targets and HTML comments.
- In docs/results.md a figure line must be covered by a **record**: either it is a row of a table whose
  header has the columns `date`, `machine`, `split` and `command` (each filled in that row, the date as
  YYYY-MM or YYYY-MM-DD), or it lies in a section (the text between two headings) that holds a record line
  `**date** D · **machine** M · **split** S · **command** `C`` (each part filled in; the command as code).
- Anywhere else a figure line must link to results.md.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "docs" / "results.md"
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])

NUMBER = r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?:\s*[-–]\s*\d[\d,]*(?:\.\d+)?)?"
FIGURE = re.compile(NUMBER + r"(?:\s?(?:%|points?|ms|s|seconds?|min|minutes?|h|hours?|img/s|images/s|req/s|GFLOP/s"
                    r"|KiB|MiB|GiB|KB|MB|GB)(?![\w/])|x\b)")
NOT_TEXT = re.compile(r"`+[^`]*`+|<!--.*?-->|\]\([^)]*\)")
DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?$")
RECORD = re.compile(r"\*\*date\*\*\s+(?P<date>[^·]*?)\s+·\s+\*\*machine\*\*\s+(?P<machine>[^·]*?\S)\s+·\s+"
                    r"\*\*split\*\*\s+(?P<split>[^·]*?\S)\s+·\s+\*\*command\*\*\s+(?P<command>`[^`]+`)")
RECORD_COLUMNS = ("date", "machine", "split", "command")
LINK_TO_RESULTS = re.compile(r"\]\((?:\.\./|docs/)?results\.md(?:#[^)]*)?\)")


def has_figure(line: str) -> bool:
    return FIGURE.search(NOT_TEXT.sub(lambda match: "]" if match.group().startswith("]") else " ", line)) is not None


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every line outside fenced code blocks."""
    lines, fence = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None:
            lines.append((number, line))
    return lines


def cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def uncovered_in_results(text: str) -> list[str]:
    """The figure lines of results.md that no record covers, each as 'line N: ... (why)'."""
    problems: list[str] = []
    section_recorded, header, problem_in_section = False, None, []
    rows = prose_lines(text)

    def close_section():
        if not section_recorded:
            problems.extend(problem_in_section)

    for number, line in rows:
        if line.startswith("#"):
            close_section()
            section_recorded, header, problem_in_section = False, None, []
            continue
        record = RECORD.search(line)
        if record:
            if not DATE.match(record["date"]):
                problems.append(f"line {number}: the record's date is not YYYY-MM(-DD): {record['date']!r}")
            section_recorded = True
        is_row = line.lstrip().startswith("|")
        if not is_row:
            header = None
        elif header is None:
            header = [cell.lower() for cell in cells(line)]
            continue
        if not has_figure(line):
            continue
        if is_row and set(RECORD_COLUMNS) <= set(header):
            row = dict(zip(header, cells(line)))
            empty = [column for column in RECORD_COLUMNS if not row.get(column)]
            if empty:
                problems.append(f"line {number}: the row leaves {', '.join(empty)} empty")
            elif not DATE.match(row["date"]):
                problems.append(f"line {number}: the date is not YYYY-MM(-DD): {row['date']!r}")
            continue
        problem_in_section.append(f"line {number}: {line.strip()[:100]} (no date · machine · split · command "
                                  "record in its table or section)")
    close_section()
    return problems


def unlinked_figures(text: str) -> list[str]:
    return [f"line {number}: {line.strip()[:100]}" for number, line in prose_lines(text)
            if has_figure(line) and not LINK_TO_RESULTS.search(line)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_figure_has_its_date_machine_split_and_command(document):
    text = document.read_text()
    problems = uncovered_in_results(text) if document == RESULTS else unlinked_figures(text)
    where = "in a record" if document == RESULTS else "with a link to docs/results.md (where it is recorded)"
    assert problems == [], f"{document.relative_to(ROOT)}: figures not {where}:\n" + "\n".join(problems)


def test_what_counts_as_a_figure():
    for line in ("91.22% top-1", "took 31 min", "13 min 05 s", "74.7 img/s", "4.74 GiB", "1.92x ONNX Runtime",
                 "p99 1,604 ms", "about 3 min", "225-258 s", "a 16% gain", "27.6 req/s", "2x faster",
                 "ran 20 minutes", "lost 2.68 points"):
        assert has_figure(line), line
    for line in ("7 epochs at 32x32", "a 3x3 convolution", "`--max-wait-ms 5`", "batch 128", "Python 3.11",
                 "[the table](results.md#a-1-5-s)", "torch 2.14.1", "inception4e", "2x2 maps", "section 5",
                 "a 5x5/3 pool", "1x1 reductions", "x = 1.5",
                 "ImageNet-1k", "2026-11-28"):
        assert not has_figure(line), line


def test_the_rule_for_results_md_finds_what_it_should():
    recorded_table = ("## A\n\n| date | machine | split | command | top-1 |\n|---|---|---|---|---|\n"
                      "| 2026-11-28 | H200 | test | `googlenet train` | 91.07% |\n")
    assert uncovered_in_results(recorded_table) == []
    assert uncovered_in_results(recorded_table.replace("| 2026-11-28 |", "| |")) != []
    assert uncovered_in_results(recorded_table.replace("2026-11-28", "November")) != []
    recorded_section = ("## B\n\n**date** 2026-12-02 · **machine** AVX2 only · **split** validation · "
                        "**command** `python benchmarks/x.py`\n\n| epoch | top-1 |\n|---|---|\n| 1 | 81.18% |\n"
                        "It ran for 31 min.\n")
    assert uncovered_in_results(recorded_section) == []
    assert uncovered_in_results(recorded_section.replace("**split** validation · ", "")) != []
    # A record covers its own section only.
    assert uncovered_in_results(recorded_section + "## C\n\nAnother 5 min.\n") != []
    assert unlinked_figures("It takes 31 min ([results](results.md#time)).\n") == []
    assert unlinked_figures("It takes 31 min.\n```\nreal 31 min\n```\n") == ["line 1: It takes 31 min."]
