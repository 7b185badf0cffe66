"""The documentation site's generated pages (tools/docs_hooks.py) and the README's length.

`make docs` builds the whole site in strict mode (a broken link or an unresolved API name fails it); these
tests check what the hooks generate without building it: every command's help, every public name, and
the glossary's first-use links."""

import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 150


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "tools" / "docs_hooks.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_hooks"] = module
    spec.loader.exec_module(module)
    return module


def test_the_readme_is_at_most_150_lines():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; the rest belongs in docs/"


def test_the_command_line_page_holds_every_commands_help_as_the_command_prints_it(hooks, monkeypatch):
    from googlenet.cli import COMMANDS, build_parser

    page = hooks.cli_page()
    for name in COMMANDS:
        assert f"## `googlenet {name}`" in page, name
    monkeypatch.setenv("COLUMNS", "100")
    parser = build_parser()
    assert parser.command_parsers["train"].format_help().rstrip() in page
    assert parser.format_help().rstrip() in page


def test_the_python_reference_names_every_public_name(hooks):
    import googlenet
    import googlenet.explain

    pages = hooks._python_pages()
    written = "\n".join(hooks.python_page(*page) for page in pages.values())
    for name in googlenet.__all__:
        assert any(line.startswith("::: ") and line.endswith(f".{name}") for line in written.splitlines()), name
    for name in googlenet.explain.__all__:
        assert f".{name}\n" in written, name
    assert "::: googlenet.training.config.TrainConfig" in written  # lazy names point at their defining module


def test_a_glossary_term_is_linked_at_its_first_use_outside_code_and_headings(hooks, tmp_path):
    (tmp_path / "glossary.md").write_text("# Glossary\n\n## EMA\n\ntext\n\n## ONNX\n\n## ONNX Runtime\n\n## aux heads\n")
    terms = hooks.glossary_terms(str(tmp_path))
    page = ("# EMA weights\n\n`EMA` in code, then EMA in prose and EMA again.\n\n```sh\nONNX Runtime\n```\n"
            "[ONNX Runtime](x.md) is a link; ONNX Runtime runs it, ONNX stores it; the aux heads too.\n")
    linked = hooks.link_first_uses(page, terms, "../glossary.md")
    assert linked.splitlines()[0] == "# EMA weights"
    assert "`EMA` in code, then [EMA](../glossary.md#ema) in prose and EMA again." in linked
    assert "```sh\nONNX Runtime\n```" in linked
    assert ("[ONNX Runtime](x.md) is a link; [ONNX Runtime](../glossary.md#onnx-runtime) runs it, "
            "[ONNX](../glossary.md#onnx) stores it; the [aux heads](../glossary.md#aux-heads) too.") in linked


def test_every_glossary_term_of_the_site_has_an_entry_with_text(hooks):
    text = (ROOT / "docs" / "glossary.md").read_text()
    entries = text.split("\n## ")[1:]
    assert len(entries) >= 10
    for entry in entries:
        term, _, body = entry.partition("\n")
        assert body.strip(), f"the glossary's {term} has no text"


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and this site's toc) gives a heading: lower case, punctuation dropped, spaces as '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_the_readmes_links_reach_a_file_and_heading_of_this_repository():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((?!https?:)([^)#\s]+)(?:#([^)\s]+))?\)", text)
    assert len(links) >= 10
    for path, anchor in links:
        assert (ROOT / path).exists(), f"README.md links to {path}, which does not exist"
        if anchor:
            headings = [line.lstrip("#") for line in (ROOT / path).read_text().splitlines() if line.startswith("#")]
            assert anchor in {github_anchor(heading) for heading in headings}, f"README.md: {path}#{anchor}"


def readme_command_lines(program: str) -> list[str]:
    """The lines of the README's ```sh blocks that run `program`, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    lines = [line.split(" #", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(program + " ")]


def test_every_googlenet_command_in_the_readme_is_one_the_command_line_takes():
    import shlex

    from googlenet.cli import build_parser

    commands = readme_command_lines("googlenet")
    assert len(commands) >= 6
    for command in commands:
        words = shlex.split(command)[1:]
        try:
            build_parser(only=words[0]).parse_args(words)
        except SystemExit as refused:
            raise AssertionError(f"README.md: `{command}` is refused by the command line") from refused


def test_every_make_target_in_the_readme_exists():
    import subprocess

    for command in readme_command_lines("make"):
        result = subprocess.run(["make", "-n", "-C", str(ROOT), *command.split()[1:]], capture_output=True, text=True,
                                timeout=60)
        assert "No rule to make target" not in result.stderr, command
