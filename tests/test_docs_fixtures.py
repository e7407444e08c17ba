"""docs/fixtures.md's examples and the README's "In your tests" example are test modules: each
runs under pytest exactly as printed, and every test in it passes."""

import re
import shutil
from pathlib import Path

import pytest

# Imported by the outer run so it stays loaded: pytester drops modules an inner run imported, and
# cryptography (under trustme) cannot be imported a second time in one process.
import trustme  # noqa: F401

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "fixtures.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", flags=re.S | re.M)


def doc_examples():
    """(file name, module, conftest or None): a conftest block belongs to the example after it."""
    examples, conftest = [], None
    for block in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        name = re.match(r"# (\w+\.py)\n", block)
        assert name is not None, f"an example in {DOC.name} does not start with '# <file>.py':\n{block}"
        if name.group(1) == "conftest.py":
            conftest = block
        else:
            examples.append((name.group(1), block, conftest))
            conftest = None
    return examples


def readme_example():
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## In your tests", 1)[1].split("\n## ", 1)[0]
    return BLOCK.findall(section)[0]


def run_example(pytester, name, module, conftest=None):
    if conftest:
        pytester.makeconftest(conftest)
    if "fixtures/" in module:  # examples name the shipped scenarios as a project's own would
        shutil.copytree(ROOT / "fixtures", pytester.path / "fixtures")
    # A name of its own, so it never collides with a module of this suite (e.g. test_journal).
    pytester.makepyfile(**{f"test_fixturesdoc_{name[len('test_'):-len('.py')]}": module})
    result = pytester.runpytest("-p", "no:hypothesispytest", "-p", "no:benchmark", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == len(re.findall(r"^\s*def test_", module, flags=re.M)), result.stdout.str()
    assert not set(outcomes) & {"failed", "errors", "skipped", "xfailed"}, result.stdout.str()


def test_the_doc_has_an_example_for_every_fixture():
    text = "".join(module + (conftest or "") for _, module, conftest in doc_examples())
    for fixture in ("mockreg", "mockreg_server", "mockreg_requests", "mockreg_httpx", "mockreg_journal",
                    "mockreg_scenario", "mockreg_profile", "mockreg_listen_address", "mockreg_base_url",
                    "mockreg_ssl_context", "mockreg_live_server"):
        assert re.search(rf"\b{fixture}\b", text), fixture
    assert len(doc_examples()) >= 8


@pytest.mark.parametrize("name, module, conftest", doc_examples(), ids=[e[0] for e in doc_examples()])
def test_doc_example_passes(pytester, name, module, conftest):
    run_example(pytester, name, module, conftest)


def test_readme_example_passes(pytester):
    run_example(pytester, "test_readme.py", readme_example())
