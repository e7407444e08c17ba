"""The hand-written scenario validator (mockreg.scenario.validate) accepts exactly what the shipped
JSON Schema accepts, as the reference implementation `jsonschema` judges it.

mockreg keeps its own validator for its messages (file:line:key, "did you mean") and to stay free
of a runtime dependency; this property test is what keeps it honest. Hypothesis starts from every
shipped scenario and mutates it near the schema's edges: values replaced by booleans, numbers,
text, null, lists or mappings (booleans where integers are expected were once accepted), keys
removed or added. Derandomized, so every run checks the same documents.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, List, Tuple

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockreg.scenario import validate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SHIPPED = {path.name: yaml.safe_load(path.read_text()) for path in sorted(FIXTURES.glob("*.yaml"))}
REFERENCE = jsonschema.Draft202012Validator(validate.schema())


def _words(node: Any) -> List[str]:
    """Every key and text value of the schema: the vocabulary mutations draw from."""
    if isinstance(node, dict):
        return [w for key, value in node.items() for w in (key, *_words(value))]
    if isinstance(node, list):
        return [w for item in node for w in _words(item)]
    return [node] if isinstance(node, str) else []


WORDS = sorted(set(_words(validate.schema())))
scalars = st.one_of(st.booleans(), st.integers(-2, 3), st.sampled_from([0.0, 1.0, 1.5, -0.5]), st.none(),
                    st.sampled_from(WORDS), st.sampled_from(["", "a", "1.0", "demo/app", "sha256:" + "a" * 64]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(WORDS), inner, max_size=3)), max_leaves=6)


def _paths(node: Any, where: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    found = [where]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, where + (key,))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            found += _paths(value, where + (position,))
    return found


def _look_alikes(value: Any) -> List[Any]:
    if isinstance(value, bool):
        return [int(value), float(value), str(value).lower(), None]
    if isinstance(value, (int, float)):
        return [value != 0, float(value), int(value), str(value), -value, None]
    if isinstance(value, str):
        return [value.isdigit() and int(value) or True, "", value.upper(), [value], None]
    return [None, True, [], {}]


def _mutate(document: Any, data: st.DataObject) -> Any:
    paths = _paths(document)[1:]
    if not paths:
        return data.draw(values)
    where = data.draw(st.sampled_from(paths))
    parent = document
    for step in where[:-1]:
        parent = parent[step]
    action = data.draw(st.sampled_from(["confuse", "replace", "remove", "add"]))
    if action == "confuse":  # the value's look-alike of another JSON type: true for 1, 1.0 for 1, "1" for 1
        parent[where[-1]] = data.draw(st.sampled_from(_look_alikes(parent[where[-1]])))
    elif action == "replace":
        parent[where[-1]] = data.draw(values)
    elif action == "remove":
        del parent[where[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.sampled_from(WORDS))] = data.draw(values)
    else:
        parent.append(data.draw(values))
    return document


def _ours(document: Any) -> bool:
    try:
        validate.check(document)
    except validate.SchemaViolation:
        return False
    return True


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_scenario_is_valid_for_both(name: str) -> None:
    assert REFERENCE.is_valid(SHIPPED[name]) and _ours(SHIPPED[name])


@settings(max_examples=400, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.sampled_from(sorted(SHIPPED)), mutations=st.integers(1, 3), data=st.data())
def test_mutated_scenarios_get_the_same_verdict_as_jsonschema(name: str, mutations: int, data: st.DataObject) -> None:
    document = copy.deepcopy(SHIPPED[name])
    for _ in range(mutations):
        document = _mutate(document, data)
    reference = REFERENCE.is_valid(document)
    assert _ours(document) == reference, (
        f"jsonschema says {'valid' if reference else 'invalid'}: "
        f"{[e.message for e in REFERENCE.iter_errors(document)][:3]}")


@pytest.mark.parametrize(("value", "valid"), [(True, False), (False, False), ("1", False), (1, True), (1.0, True)])
def test_version_must_be_the_number_one(value: Any, valid: bool) -> None:
    document = {"version": value}
    assert REFERENCE.is_valid(document) is valid
    assert _ours(document) is valid


@pytest.mark.parametrize(("text", "where"), [
    ("version: true\n", "s.yaml:1:10: version: expected 1, found true"),
    ("version: 1\nrepositories:\n  demo/app:\n    images: [{layers: [{size: true}]}]\n",
     "s.yaml:4:31: repositories.demo/app.images[0].layers[0].size: expected a size in bytes, found true"),
])
def test_scenario_check_rejects_booleans_where_numbers_belong(tmp_path, capsys, text: str, where: str) -> None:
    from mockreg.cli import main

    (tmp_path / "s.yaml").write_text(text)
    assert main(["scenario", "check", str(tmp_path / "s.yaml")]) == 2
    assert where in capsys.readouterr().err
