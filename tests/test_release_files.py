"""What a library user looks for beside the code: one version, a changelog, a citation file."""

import re
import tomllib
from pathlib import Path

import yaml
from setuptools.config.pyprojecttoml import read_configuration

import googlenet

ROOT = Path(__file__).resolve().parents[1]

# Citation File Format 1.2.0: the keys its schema allows at the top level and in a reference (the ones a
# reference may hold that this file could use), and those it requires.
CFF_KEYS = {"abstract", "authors", "cff-version", "commit", "contact", "date-released", "doi", "identifiers",
            "keywords", "license", "license-url", "message", "preferred-citation", "references", "repository",
            "repository-artifact", "repository-code", "title", "type", "url", "version"}
CFF_REQUIRED = {"authors", "cff-version", "message", "title"}
REFERENCE_KEYS = {"type", "title", "authors", "year", "month", "collection-title", "conference", "journal", "doi",
                  "identifiers", "url", "start", "end", "pages", "volume", "issue", "publisher", "abstract"}
PERSON_KEYS = {"family-names", "given-names", "name-particle", "name-suffix", "affiliation", "orcid", "email"}


def test_the_version_is_written_once_and_read_everywhere():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" not in project and "version" in project["dynamic"]  # taken from the package
    assert read_configuration(ROOT / "pyproject.toml", expand=True)["project"]["version"] == googlenet.__version__
    # googlenet --version prints googlenet.__version__: tests/test_cli.py
    copies = [path for path in [*ROOT.glob("src/googlenet/**/*.py"), ROOT / "CITATION.cff", ROOT / "hubconf.py"]
              if f'"{googlenet.__version__}"' in path.read_text()]
    assert copies == [ROOT / "src" / "googlenet" / "__init__.py"]


def test_the_changelog_keeps_a_changelogs_shape_and_ends_at_this_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", text, re.MULTILINE)
    assert releases[0] == ("Unreleased", "")
    assert releases[1][0] == googlenet.__version__ and releases[1][1]  # the newest release, dated
    kinds = set(re.findall(r"^### (.+)$", text, re.MULTILINE))
    assert kinds <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"} and "Added" in kinds


def test_citation_cff_follows_the_format():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert CFF_REQUIRED <= set(citation) <= CFF_KEYS
    assert citation["cff-version"] == "1.2.0" and citation["type"] == "software"
    assert "version" not in citation  # one place for it: googlenet.__version__
    assert all(set(author) in ({"name"},) or {"family-names"} <= set(author) <= PERSON_KEYS
               for author in citation["authors"])
    paper, = [entry for entry in citation["references"] if entry["title"] == "Going deeper with convolutions"]
    assert set(paper) <= REFERENCE_KEYS and paper["type"] == "conference-paper"
    assert [author["family-names"] for author in paper["authors"]][:2] == ["Szegedy", "Liu"]
    assert all(set(author) <= PERSON_KEYS for author in paper["authors"])
    assert {"type": "doi", "value": "10.48550/arXiv.1409.4842"}.items() <= paper["identifiers"][0].items()
    assert paper["url"] == "https://arxiv.org/abs/1409.4842"
