"""Scenario files: format, determinism, composition, and all-or-nothing loading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from werkzeug.test import Client

from mockreg import Registry
from mockreg.scenario import Scenario, ScenarioError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_same_file_gives_the_same_digests_in_another_process() -> None:
    here = Scenario.load(FIXTURES / "quickstart.yaml").digest("demo/app:1.0")
    code = ("from mockreg.scenario import Scenario; "
            f"print(Scenario.load({str(FIXTURES / 'quickstart.yaml')!r}).digest('demo/app:1.0'))")
    there = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert here == there


def test_digests_are_looked_up_by_tag_name_and_part(tmp_path: Path) -> None:
    scenario = Scenario.load(FIXTURES / "quickstart.yaml")
    registry = Registry()
    scenario.apply(registry)
    image = scenario.content("demo/app@app-1.0")
    assert scenario.digest("demo/app:latest") == image.digest == registry.manifest("demo/app", "1.0").digest
    assert scenario.digest("demo/app:1.0", "config") == image.config.digest
    assert registry.has_blob("demo/app", scenario.digest("demo/app:1.0", "layer", 1))
    with pytest.raises(KeyError, match="no such tag or name"):
        scenario.digest("demo/app:nope")


def test_json_and_yaml_describe_the_same_registry(tmp_path: Path) -> None:
    document = {"version": 1, "repositories": {"demo/app": {"images": [{"tags": ["1.0"], "layers": [{"size": 10}]}]}}}
    from_json = Scenario.load(write(tmp_path, "s.json", json.dumps(document)))
    from_yaml = Scenario.load(write(tmp_path, "s.yaml",
                                    "version: 1\nrepositories:\n  demo/app:\n    images:\n"
                                    "      - tags: ['1.0']\n        layers: [{size: 10}]\n"))
    assert from_json.digest("demo/app:1.0") == from_yaml.digest("demo/app:1.0")


def test_blob_kinds_store_exactly_the_bytes_described(tmp_path: Path) -> None:
    (tmp_path / "layer.bin").write_bytes(b"from a file")
    path = write(tmp_path, "s.yaml", """
version: 1
repositories:
  demo/app:
    images:
      - tags: ["1.0"]
        layers:
          - {text: hello}
          - {base64: aGk=}
          - {json: {b: 1, a: 2}}
          - {file: layer.bin}
          - {size: 5, seed: 1}
""")
    scenario = Scenario.load(path)
    registry = Registry()
    scenario.apply(registry)
    layers = [registry.blob("demo/app", scenario.digest("demo/app:1.0", "layer", i)) for i in range(5)]
    assert layers[:4] == [b"hello", b"hi", b'{"a":2,"b":1}', b"from a file"]
    assert len(layers[4]) == 5


def test_includes_merge_mappings_and_later_values_replace(tmp_path: Path) -> None:
    write(tmp_path, "base.yaml", """
version: 1
settings: {referrers: false, blob_delete: false}
repositories:
  demo/base: {images: [{tags: [base]}]}
  demo/app: {images: [{tags: [old]}]}
""")
    path = write(tmp_path, "top.yaml", """
version: 1
include: [base.yaml]
settings: {referrers: true}
repositories:
  demo/app: {images: [{tags: [new]}]}
""")
    registry = Registry()
    Scenario.load(path).apply(registry)
    assert registry.settings.referrers is True and registry.settings.blob_delete is False
    assert registry.tags("demo/base") == ["base"]
    assert registry.tags("demo/app") == ["new"]


BAD_FILES = [
    ("unknown key", "version: 1\nrepositories:\n  demo/app:\n    images:\n      - layrs: []\n",
     "s.yaml:5:", "repositories.demo/app.images[0].layrs", "did you mean 'layers'"),
    ("wrong type", "version: 1\nrepositories:\n  demo/app:\n    images:\n      - tags: 1.0\n",
     "s.yaml:5:", "repositories.demo/app.images[0].tags", "expected a list of tags, found the number 1.0"),
    ("bad version", "version: 3\n", "s.yaml:1:", "version", "expected 1, found 3"),
    ("missing subject", "version: 1\nrepositories:\n  demo/app:\n    artifacts:\n"
     "      - {artifactType: a/b, subject: nope}\n", "s.yaml:5:", "subject", "'nope' names no image"),
    ("cyclic subjects", "version: 1\nrepositories:\n  demo/app:\n    artifacts:\n"
     "      - {name: a, artifactType: a/b, subject: b}\n      - {name: b, artifactType: a/b, subject: a}\n",
     "s.yaml:", "artifacts", "cycle: a -> b -> a"),
    ("tag twice", "version: 1\nrepositories:\n  demo/app:\n    images:\n      - {tags: [x]}\n      - {tags: [x]}\n",
     "s.yaml:", "tags", "tag 'x' is given to both"),
    ("bad setting", "version: 1\nsettings:\n  referrers: maybe\n", "s.yaml:3:", "settings.referrers",
     "takes true or false"),
    ("unknown setting", "version: 1\nsettings:\n  referers: false\n", "s.yaml:3:", "settings.referers",
     "unknown setting"),
    ("bad repository name", "version: 1\nrepositories:\n  Demo: {}\n", "s.yaml:3:", "repositories.Demo",
     "not a repository name"),
    ("invalid yaml", "version: 1\n  bad: [\n", "s.yaml:2:", "(top level)", "invalid YAML"),
    ("file outside", "version: 1\nrepositories:\n  demo/app:\n    images: [{layers: [{file: ../x}]}]\n",
     "s.yaml:4:", "layers[0].file", "outside the scenario's directory"),
    ("unknown blob kind", "version: 1\nrepositories:\n  demo/app:\n    images: [{layers: [{sise: 3}]}]\n",
     "s.yaml:4:", "layers[0]", "did you mean 'size'"),
    ("missing needs sparse",
     "version: 1\nrepositories:\n  demo/app:\n    images: [{layers: [{size: 3, missing: true}]}]\n",
     "s.yaml", "settings", "sparse_manifests"),
    ("duplicate key", "version: 1\nversion: 1\n", "s.yaml:2:", "version", "appears twice"),
    ("bad extension name", "version: 1\nextensions:\n  - {name: acme, url: https://x}\n", "s.yaml:3:",
     "extensions[0].name", "expected an extension name"),
    ("reserved extension", "version: 1\nextensions:\n  - {name: _oci, url: https://x}\n", "s.yaml:3:",
     "extensions[0]", "reserved"),
    ("unimportable handler", "version: 1\nextensions:\n  - name: _x\n    url: https://x\n    routes:\n"
     "      - {component: a, module: b, handler: 'no_such_module_here:f'}\n", "s.yaml:6:", "handler", "cannot import"),
]


@pytest.mark.parametrize("text, location, key, problem", [case[1:] for case in BAD_FILES],
                         ids=[case[0] for case in BAD_FILES])
def test_bad_file_error_names_file_line_key_and_problem(tmp_path: Path, text: str, location: str, key: str,
                                                        problem: str) -> None:
    path = write(tmp_path, "s.yaml", text)
    with pytest.raises(ScenarioError) as caught:
        Scenario.load(path)
    message = str(caught.value)
    assert str(tmp_path) in message
    assert location in message and key in message and problem in message, message


def test_include_cycle_and_missing_include_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "version: 1\ninclude: [b.yaml]\n")
    write(tmp_path, "b.yaml", "version: 1\ninclude: [a.yaml]\n")
    with pytest.raises(ScenarioError, match="cycle"):
        Scenario.load(tmp_path / "a.yaml")
    with pytest.raises(ScenarioError, match="'gone.yaml' does not exist"):
        Scenario.load(write(tmp_path, "c.yaml", "version: 1\ninclude: [gone.yaml]\n"))


def test_error_in_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "inner.yaml", "version: 1\nrepositories:\n  demo/app:\n    artifacts:\n"
                                  "      - {artifactType: a/b, subject: nope}\n")
    with pytest.raises(ScenarioError) as caught:
        Scenario.load(write(tmp_path, "outer.yaml", "version: 1\ninclude: [inner.yaml]\n"))
    assert "inner.yaml:5:" in str(caught.value)


def test_failing_apply_leaves_the_registry_unchanged(tmp_path: Path) -> None:
    registry = Registry()
    registry.push_blob("keep/me", b"precious")
    registry.add_extension("_acme", url="https://acme.example")
    scenario = Scenario.load(write(tmp_path, "s.yaml", """
version: 1
settings: {referrers: false}
repositories:
  demo/app: {images: [{tags: ["1.0"]}]}
extensions:
  - {name: _acme, url: https://other.example}
"""))
    with pytest.raises(ScenarioError, match="already has extension _acme"):
        scenario.apply(registry)
    assert registry.repositories() == ["keep/me"]
    assert registry.settings.referrers is True


def test_a_builtin_served_twice_is_refused_but_discover_may_repeat(tmp_path: Path) -> None:
    registry = Registry()
    registry.extensions.enable("history")
    registry.extensions.enable("discover")
    twice = Scenario.load(write(tmp_path, "twice.yaml", "version: 1\nextensions:\n  - builtin: history\n"))
    with pytest.raises(ScenarioError, match="already serves the history extension"):
        twice.apply(registry)
    Scenario.load(write(tmp_path, "again.yaml", "version: 1\nextensions:\n  - builtin: discover\n")).apply(registry)
    assert [e.name for e in registry.extensions] == ["_oci", "_chainguard"]


def test_failing_layout_import_leaves_the_registry_unchanged(tmp_path: Path) -> None:
    (tmp_path / "layout").mkdir()
    (tmp_path / "layout" / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (tmp_path / "layout" / "index.json").write_text('{"schemaVersion": 2, "manifests": "nope"}')
    scenario = Scenario.load(write(tmp_path, "s.yaml", """
version: 1
repositories:
  demo/app:
    images: [{tags: ["1.0"]}]
    layouts: [{path: layout}]
"""))
    registry = Registry()
    with pytest.raises(ScenarioError, match="no manifests list"):
        scenario.apply(registry)
    assert registry.repositories() == []


def test_layout_in_a_scenario_is_imported(tmp_path: Path) -> None:
    from mockreg.layout import export_layout

    source = Registry()
    Scenario.load(FIXTURES / "quickstart.yaml").apply(source)
    export_layout(source, tmp_path / "app.tar", "demo/app")
    registry = Registry()
    Scenario.load(write(tmp_path, "s.yaml", "version: 1\nrepositories:\n  copy/app:\n"
                                            "    layouts: [{path: app.tar}]\n")).apply(registry)
    assert registry.tags("copy/app") == ["0.9", "1.0", "latest"]


def test_dangling_layer_needs_sparse_and_is_not_stored(tmp_path: Path) -> None:
    scenario = Scenario.load(write(tmp_path, "s.yaml", """
version: 1
settings: {sparse_manifests: true}
repositories:
  demo/app:
    images: [{tags: ["1.0"], layers: [{size: 8}, {size: 9, missing: true}]}]
"""))
    registry = Registry()
    scenario.apply(registry)
    client = Client(registry)
    assert client.get(f"/v2/demo/app/blobs/{scenario.digest('demo/app:1.0', 'layer', 0)}").status_code == 200
    assert client.get(f"/v2/demo/app/blobs/{scenario.digest('demo/app:1.0', 'layer', 1)}").status_code == 404
    assert client.get("/v2/demo/app/manifests/1.0").status_code == 200


def test_extension_with_python_handler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    scenario = Scenario.load(write(tmp_path, "s.yaml", """
version: 1
extensions:
  - name: _py
    url: https://py.example
    routes:
      - {component: echo, module: repos, handler: "scenario_handlers:list_repositories"}
"""))
    registry = Registry()
    registry.push_blob("demo/app", b"x")
    scenario.apply(registry)
    assert Client(registry).get("/v2/_py/echo/repos").json == {"repositories": ["demo/app"]}


def test_schema_is_shipped_and_is_valid_json() -> None:
    from importlib import resources

    schema = json.loads(resources.files("mockreg.scenario").joinpath("schema.json").read_text())
    assert schema["properties"]["version"] == {"const": 1, "description": "the format version, 1"}
    assert set(schema["properties"]) >= {"repositories", "settings", "extensions", "auth", "faults", "include"}
