"""The pinned gradio is at or above the fix version of every published advisory that touches a
feature the app uses, as listed in docs/SECURITY.md; the doc's tables stay well formed and true."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
SECURITY = ROOT / "docs" / "SECURITY.md"
REQUIREMENTS = ROOT / "requirements.txt"
USED = "## Gradio advisories for features the app uses"
UNREACHABLE = "## Advisories in the pinned version's range, not reachable in this app"
DEPENDENCIES = "## Dependencies pulled in by gradio"
ADVISORY_ID = re.compile(r"\b(GHSA(-[23456789cfghjmpqrvwx]{4}){3}|CVE-\d{4}-\d{4,}|PYSEC-\d{4}-\d+)\b")


def pinned_gradio(requirements_text: str) -> Version:
    """The version in ``gradio==X`` (or the lower bound of ``gradio>=X``) in a requirements file."""
    for line in requirements_text.splitlines():
        match = re.match(r"^\s*gradio\s*(==|>=|~=)\s*([0-9][^\s,;#]*)", line)
        if match:
            return Version(match.group(2))
    raise AssertionError("requirements.txt does not pin gradio (gradio==X)")


def table(markdown: str, heading: str) -> list[dict[str, str]]:
    """Rows of the first Markdown table after ``heading``, as dicts keyed by column name."""
    if heading not in markdown:
        raise AssertionError(f"docs/SECURITY.md has no section {heading!r}")
    section = markdown.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.strip().startswith("|")]
    if len(lines) < 3:
        raise AssertionError(f"no table under {heading!r}")
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    return [dict(zip(header, row)) for row in rows]


def violations(requirements_text: str, markdown: str) -> list[str]:
    """Advisories for used features whose fix is newer than the pinned gradio."""
    pin = pinned_gradio(requirements_text)
    return [
        f"{row['Advisory']} is fixed in gradio {row['Fixed in']}, but requirements.txt pins {pin}"
        for row in table(markdown, USED)
        if Version(row["Fixed in"]) > pin
    ]


@pytest.fixture(scope="module")
def doc() -> str:
    return SECURITY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def requirements() -> str:
    return REQUIREMENTS.read_text(encoding="utf-8")


def test_pinned_gradio_is_at_or_above_every_fix(doc, requirements):
    assert not violations(requirements, doc), "\n".join(violations(requirements, doc))


def test_an_older_pin_would_fail():
    """The check bites: the same doc against an older pin reports the advisories it misses."""
    doc = SECURITY.read_text(encoding="utf-8")
    found = violations("torch==2.14.1\ngradio==6.19.0\n", doc)
    assert any("CVE-2026-59806" in line for line in found)
    assert not any("CVE-2023-51449" in line for line in found)
    assert violations("gradio>=4.0\n", doc)
    with pytest.raises(AssertionError, match="does not pin gradio"):
        pinned_gradio("torch==2.14.1\n")


def test_advisory_tables_are_well_formed(doc):
    rows = table(doc, USED)
    assert len(rows) >= 15
    for row in rows + table(doc, UNREACHABLE) + table(doc, DEPENDENCIES):
        assert ADVISORY_ID.search(row["Advisory"]), f"no GHSA/CVE/PYSEC id in {row['Advisory']!r}"
        try:
            Version(row["Fixed in"])
        except InvalidVersion as err:
            raise AssertionError(f"{row['Advisory']}: fix version {row['Fixed in']!r} is not a version") from err
    ids = [ADVISORY_ID.search(row["Advisory"]).group(0) for row in rows]
    assert len(ids) == len(set(ids)), "an advisory is listed twice"
    # The issue names these three; they must be covered.
    assert {"CVE-2024-1728", "CVE-2023-51449", "CVE-2026-28414"} <= {
        match.group(0) for row in rows for match in ADVISORY_ID.finditer(row["Advisory"])
    }


def test_doc_states_the_real_pin(doc, requirements):
    assert f"`gradio=={pinned_gradio(requirements)}`" in doc


def test_unreachable_advisories_still_apply_to_the_pin(doc, requirements):
    """A row here claims the pinned version is affected; once the pin passes the fix, the row
    belongs in the first table (and the mitigation may go)."""
    pin = pinned_gradio(requirements)
    for row in table(doc, UNREACHABLE):
        assert Version(row["Affected"]) <= pin < Version(row["Fixed in"]), (
            f"{row['Advisory']}: pinned gradio {pin} is outside {row['Affected']} .. {row['Fixed in']}; "
            "move it to the table of fixed advisories"
        )
        assert len(row["Why mmdemo is not exposed"]) > 40


def test_installed_dependencies_are_at_or_above_their_fixes(doc):
    for row in table(doc, DEPENDENCIES):
        try:
            installed = Version(version(row["Package"]))
        except PackageNotFoundError:
            continue  # not installed: not exposed
        assert installed >= Version(row["Fixed in"]), (
            f"{row['Package']} {installed} is older than the fix for {row['Advisory']} ({row['Fixed in']})"
        )
