"""docs/profiles.md lists every behaviour of every shipped profile with its sources, as the
profile files say today (the sections are generated from them and must be regenerated when a
file changes), and every behaviour cites an http(s) source."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from mockreg import profiles

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import profile_docs  # noqa: E402

PAGE = ROOT / "docs" / "profiles.md"
SHIPPED = [name for name in profiles.names() if name != profiles.DEFAULT]
ENTRY_LISTS = ("errors", "headers", "rate_limits", "extensions", "not_emulated")


def test_the_profile_sections_match_the_profile_files():
    page = PAGE.read_text(encoding="utf-8")
    current = page.split(profile_docs.BEGIN, 1)[1].split(profile_docs.END, 1)[0].strip()
    assert current == profile_docs.sections(), "run: python scripts/profile_docs.py --write"


def sources_of(entry):
    source = entry.get("source") if isinstance(entry, dict) else None
    return [source] if isinstance(source, str) else list(source or [])


@pytest.mark.parametrize("name", SHIPPED)
def test_every_entry_of_the_file_cites_a_url_and_the_page_shows_it(name):
    """Read as plain YAML (not through the loader) so a loader bug cannot hide a missing source."""
    document = yaml.safe_load(profiles.path_of(name).read_text(encoding="utf-8"))
    entries = [("settings." + key, value) for key, value in (document.get("settings") or {}).items()]
    entries += [("auth", document["auth"])] if "auth" in document else []
    entries += [(f"{section}[{i}]", item) for section in ENTRY_LISTS
                for i, item in enumerate(document.get(section) or [])]
    assert entries, f"{name} says nothing"
    page = PAGE.read_text(encoding="utf-8")
    for key, entry in entries:
        urls = sources_of(entry)
        assert urls, f"{name}: {key} has no source"
        for url in urls:
            assert url.startswith(("https://", "http://")), f"{name}: {key}: {url!r} is not a URL"
            assert f"]({url})" in page, f"{name}: {key}: {url} is not shown in docs/profiles.md"


def test_a_section_per_shipped_profile():
    page = PAGE.read_text(encoding="utf-8")
    for name in SHIPPED:
        assert f"### `{name}` — " in page
