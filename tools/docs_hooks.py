"""MkDocs hooks (mkdocs.yml `hooks:`): the reference pages written from the code at build time, and the
glossary's terms linked where a page first uses them.

- reference/cli.md: `googlenet --help` and every command's `--help`, from `googlenet.cli.build_parser`,
  so the page and the command line cannot say different things.
- reference/python/*.md: one mkdocstrings block per public name, the names read from the package's own
  tables (`googlenet.__all__`, the lazy tables of `googlenet.data` and `googlenet.explain`), so a name
  added to the package appears in the reference without anyone editing a page.
- Glossary links: each term of glossary.md (its `## ` headings) is linked to its entry at its first use
  on every other page, outside code, headings and existing links.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from markdown.extensions.toc import slugify
from mkdocs.structure.files import File, Files

GLOSSARY = "glossary.md"
GENERATED = "reference/"

# --- the command-line reference ----------------------------------------------------------------------------


def _help_texts() -> list[tuple[str, str]]:
    """(command, its --help) for `googlenet` and each command, in the order `googlenet --help` lists them."""
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to $COLUMNS: the page must not depend on the terminal
    try:
        from googlenet.cli import build_parser

        parser = build_parser()
        texts = [("googlenet", parser.format_help())]
        texts += [(f"googlenet {name}", command.format_help()) for name, command in parser.command_parsers.items()]
    finally:
        if previous is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = previous
    return texts


def cli_page() -> str:
    lines = ["# Command line", "",
             "Every command's `--help`, as the installed `googlenet` prints it (this page is generated from the",
             "same parsers when the site is built). `python -m googlenet` is the same command.", ""]
    for name, text in _help_texts():
        lines += [f"## `{name}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


# --- the Python reference ----------------------------------------------------------------------------------

# page -> (title, introduction, [(heading, [dotted paths])])
def _python_pages() -> dict[str, tuple[str, str, list[tuple[str, list[str]]]]]:
    import googlenet
    import googlenet.data
    import googlenet.explain
    import googlenet.models
    import googlenet.visualise

    lazy = googlenet._LAZY  # name -> defining module: mkdocstrings reads source, not the lazy __getattr__
    by_area: dict[str, list[str]] = {}
    for name in googlenet.__all__:
        module = lazy.get(name, "googlenet.models")
        area = module.split(".")[1]
        by_area.setdefault(area, []).append(f"{module}.{name}")
    model_extras = [f"googlenet.models.{name}" for name in googlenet.models.__all__ if name not in googlenet.__all__]
    titles = {"models": "The network", "training": "Training", "evaluation": "Evaluation and prediction",
              "weights": "Weights in and out", "inference": "Fast inference"}
    top = [(titles.get(area, area), paths) for area, paths in by_area.items()]
    top.append(("More of `googlenet.models`", model_extras))
    return {
        "index.md": ("Python API: `googlenet`",
                     "Every name `import googlenet` gives (`googlenet.__all__`), by area. The network's names "
                     "load with the package; the others on first use.", top),
        "data.md": ("Python API: `googlenet.data`", "Images in: presets, built-in data sets, image folders.",
                    [("googlenet.data", [f"{module}.{name}" for name, module in sorted(googlenet.data._PUBLIC.items())])]),
        "explain.md": ("Python API: `googlenet.explain`",
                       "Grad-CAM and the Inception branches' shares for one image (needs captum: the `serve` extra).",
                       [("googlenet.explain",
                         [f"{module}.{name}" for name, module in sorted(googlenet.explain._PUBLIC.items())])]),
        "visualise.md": ("Python API: `googlenet.visualise`",
                         "What each channel of each Inception branch responds to: feature visualisation, dataset "
                         "examples, DeepDream.",
                         [("googlenet.visualise",
                           [f"{module}.{name}" for name, module in sorted(googlenet.visualise._PUBLIC.items())])]),
        "serving.md": ("Python API: `googlenet.serving` and `googlenet.timm_registry`",
                       "The HTTP service as an ASGI app, and the flavours registered with timm.",
                       [("googlenet.serving", ["googlenet.serving.app.create_app",
                                               "googlenet.serving.options.ServeOptions"]),
                        ("googlenet.timm_registry", ["googlenet.timm_registry"])]),
    }


def python_page(title: str, introduction: str, sections: list[tuple[str, list[str]]]) -> str:
    lines = [f"# {title}", "", introduction, ""]
    for heading, paths in sections:
        lines += [f"## {heading}", ""]
        for path in paths:
            lines += [f"::: {path}", "    options:", "      heading_level: 3", ""]
    return "\n".join(lines)


def on_files(files: Files, config) -> Files:
    files.append(File.generated(config, f"{GENERATED}cli.md", content=cli_page()))
    for name, (title, introduction, sections) in _python_pages().items():
        files.append(File.generated(config, f"{GENERATED}python/{name}", content=python_page(title, introduction, sections)))
    return files


# --- glossary links ----------------------------------------------------------------------------------------

# What a term may not be linked inside of: code spans, links and images, HTML tags and comments, autolinks.
PROTECTED = re.compile(r"`+[^`]*`+|!?\[[^\]]*\]\([^)]*\)|<!--.*?-->|<[^>]+>")


def glossary_terms(docs_dir: str) -> list[tuple[str, re.Pattern]]:
    """(anchor, pattern) of each term, longer terms first so that 'ONNX Runtime' wins over 'ONNX'.
    A heading `## EMA` defines the term EMA; `## TTA / test-time augmentation` the term under either
    name. Matching ignores case and takes plurals."""
    text = (Path(docs_dir) / GLOSSARY).read_text()
    headings = [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]
    terms = []
    for heading in headings:
        names = sorted((name.strip() for name in heading.split(" / ")), key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in names)
        pattern = re.compile(rf"(?<![\w./-])(?:{alternatives})(?:e?s)?(?![\w-])", re.IGNORECASE)
        terms.append((len(names[0]), slugify(heading, "-"), pattern))
    terms.sort(key=lambda term: term[0], reverse=True)
    return [(anchor, pattern) for _, anchor, pattern in terms]


def link_first_uses(markdown: str, terms: list[tuple[str, re.Pattern]], target: str) -> str:
    """`markdown` with the first use of each term linked to `target#anchor`, outside fenced code,
    headings, tables' separator rows and whatever PROTECTED matches."""
    linked: set[str] = set()
    out, fence = [], None
    for line in markdown.split("\n"):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None and not stripped.startswith("#") and not stripped.startswith("::: "):
            line = _link_line(line, terms, target, linked)
        out.append(line)
    return "\n".join(out)


def _link_line(line: str, terms: list[tuple[str, re.Pattern]], target: str, linked: set[str]) -> str:
    pieces, position = [], 0  # (text, free to link in)
    for match in PROTECTED.finditer(line):
        pieces += [(line[position:match.start()], True), (match.group(), False)]
        position = match.end()
    pieces.append((line[position:], True))
    for anchor, pattern in terms:
        # Every use of a longer term is taken out of the free text, linked or not, so that 'ONNX' is
        # never linked inside 'ONNX Runtime'.
        split: list[tuple[str, bool]] = []
        for text, free in pieces:
            if not free:
                split.append((text, free))
                continue
            position = 0
            for found in pattern.finditer(text):
                use = found.group()
                if anchor not in linked:
                    use = f"[{use}]({target}#{anchor})"
                    linked.add(anchor)
                split += [(text[position:found.start()], True), (use, False)]
                position = found.end()
            split.append((text[position:], True))
        pieces = split
    return "".join(text for text, _ in pieces)


def on_page_markdown(markdown: str, page, config, files) -> str:
    source = page.file.src_uri
    if source == GLOSSARY or source.startswith(GENERATED):
        return markdown
    target = os.path.relpath(GLOSSARY, os.path.dirname(source) or ".").replace(os.sep, "/")
    return link_first_uses(markdown, glossary_terms(config["docs_dir"]), target)
