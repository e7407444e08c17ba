"""The plugin is loaded into every pytest session of an environment where mockreg is installed:
importing it must not import the registry or any third-party library (issue 16). The time this
saves is measured in benchmarks/plugin_costs.py; here, what is imported."""

from __future__ import annotations

import subprocess
import sys

from mockreg import pytest_plugin
from mockreg.inprocess import DEFAULT_BASE_URL
from mockreg.journal import DEFAULT_MAXLEN

pytest_plugins = ["pytester"]

HEAVY = ("mockreg.registry", "mockreg.inprocess", "mockreg.server", "mockreg.scenario", "requests", "responses",
         "urllib3", "werkzeug", "yaml", "httpx")


def _imported_after(code: str) -> list:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()


def test_importing_the_plugin_imports_nothing_heavy() -> None:
    before = set(_imported_after("import pytest"))
    loaded = set(_imported_after("import pytest, mockreg.pytest_plugin")) - before
    assert not [name for name in loaded if name.startswith(HEAVY)], sorted(loaded)
    assert {"mockreg", "mockreg.pytest_plugin"} <= loaded


def test_a_pytest_session_without_mockreg_fixtures_never_imports_the_registry(pytester) -> None:
    pytester.makepyfile("""
        import sys

        def test_plain():
            assert 1 + 1 == 2

        def test_nothing_heavy_was_imported():
            heavy = [m for m in sys.modules if m.startswith(("mockreg.registry", "mockreg.inprocess", "responses"))]
            assert heavy == []
            assert "mockreg.pytest_plugin" in sys.modules  # the plugin itself is loaded
    """)
    # A subprocess: this process has imported the registry long ago. The plugin comes in through
    # its entry point, as in a user's session.
    pytester.runpytest_subprocess("-p", "no:hypothesispytest").assert_outcomes(passed=2)


def test_public_names_resolve_on_first_use() -> None:
    import mockreg

    assert mockreg.Registry.__module__ == "mockreg.registry"
    assert {"Registry", "RegistryError", "Settings", "Extension", "Manifest"} <= set(dir(mockreg))


def test_the_plugins_copies_of_defaults_are_the_real_ones() -> None:
    assert pytest_plugin.DEFAULT_JOURNAL_SIZE == DEFAULT_MAXLEN
    assert pytest_plugin.mockreg_base_url.__wrapped__() == DEFAULT_BASE_URL  # type: ignore[attr-defined]
