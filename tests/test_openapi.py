"""mockreg/openapi.yaml stays true: it ships with the package, it describes every route the
router serves (distribution, extensions, token endpoint, storage URLs, control API) and nothing
else, and schemathesis finds no answer that breaks it (a bounded, derandomized run in process).
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Iterator, Set, Tuple

import pytest
import yaml
from hypothesis import HealthCheck, settings
from registry_helpers import image, push

from mockreg import Registry

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "head", "post", "put", "patch", "delete", "options")


def load_document() -> Dict[str, Any]:
    text = resources.files("mockreg").joinpath("openapi.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


DOCUMENT = load_document()


def operations(document: Dict[str, Any]) -> Iterator[Tuple[str, str, Dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method]


def everything_enabled() -> Registry:
    """A registry serving every route mockreg has: control API, bearer token endpoint, the
    storage route of a redirecting fault rule, and (always there) the extension routes."""
    registry = Registry(control_api=True)
    registry.enable_auth(users=[{"name": "admin", "password": "pw", "admin": True}])
    registry.add_fault(kinds=["blob-get"], redirect=True, repository="no/such/repository")
    return registry


def router_operations(registry: Registry) -> Set[Tuple[str, str]]:
    return {(kind, method) for served in registry.router.routes for method, (kind, _) in served.handlers.items()}


def example_path(document: Dict[str, Any], path: str, item: Dict[str, Any], operation: Dict[str, Any]) -> str:
    parameters = {}
    for parameter in item.get("parameters", []) + operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter["in"] == "path":
            parameters[parameter["name"]] = parameter["example"]
    return re.sub(r"\{(\w+)\}", lambda m: parameters[m.group(1)], path)


def test_the_description_is_package_data_and_valid_openapi_3() -> None:
    assert DOCUMENT["openapi"].startswith("3.")
    pyproject = (ROOT / "pyproject.toml").read_text()
    package_data = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    assert '"openapi.yaml"' in package_data
    ids = [operation["operationId"] for _, _, operation in operations(DOCUMENT)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_route_is_described_and_every_description_is_a_route() -> None:
    served = router_operations(everything_enabled())
    described = {(operation["x-mockreg-kind"], method) for _, method, operation in operations(DOCUMENT)}
    assert served - described == set(), "routes missing from openapi.yaml"
    assert described - served == set(), "openapi.yaml describes routes mockreg does not serve"


@pytest.mark.parametrize("path, method, operation", list(operations(DOCUMENT)),
                         ids=[f"{m} {p}" for p, m, _ in operations(DOCUMENT)])
def test_each_described_path_routes_to_its_kind(path: str, method: str, operation: Dict[str, Any]) -> None:
    registry = everything_enabled()
    concrete = example_path(DOCUMENT, path, DOCUMENT["paths"][path], operation)
    match = registry.router.match(method, concrete)
    assert match.kind == operation["x-mockreg-kind"], (concrete, match.kind)


def test_routes_a_default_registry_lacks_say_what_enables_them() -> None:
    default = router_operations(Registry())
    for path, method, operation in operations(DOCUMENT):
        in_default = (operation["x-mockreg-kind"], method) in default
        assert in_default == ("x-mockreg-enabled-by" not in operation), (method, path)


# -- schemathesis ------------------------------------------------------------------------------
# schemathesis 4 needs Python 3.11 or later (the test extra installs it only there); on older
# Pythons this part is absent rather than skipped, and the route checks above still run.

try:
    import schemathesis
except ImportError:  # pragma: no cover - Python < 3.11
    schemathesis = None

EXAMPLES = 6  # per operation; derandomized, so every run sends the same requests


def registry_for(operation_id: str) -> Registry:
    """A fresh registry per request. Bearer auth for the token endpoint; elsewhere no auth, so
    requests reach the handlers, on a registry holding an image, an extension and the control API."""
    if operation_id in ("getToken", "postToken"):
        registry = Registry()
        registry.enable_auth(users=[{"name": "alice", "password": "pw", "access": {"demo/*": "*"}}],
                             anonymous={"*": "pull"})
        return registry
    registry = Registry(control_api=True)
    push(registry, "demo/app", image(), tags=["latest"])
    extension = registry.add_extension("_acme", url="https://acme.example/ext")
    extension.registry_endpoint("stats", "summary")(lambda request, registry: {"repositories": 1})
    extension.repository_endpoint("stats", "summary")(lambda request, registry, name: {"name": name})
    return registry


if schemathesis is not None:
    # Not applicable to a registry: a request of the right shape is often rightly refused (an
    # unknown digest is 404, content must match its digest), which "positive data acceptance"
    # counts as a failure; and the generic extension paths serve whatever methods each
    # extension declares, so their 405 Allow lists differ from the path's full method list.
    NOT_FOR_A_REGISTRY = [schemathesis.checks.positive_data_acceptance]
    NOT_FOR_GENERIC_EXTENSION_PATHS = [schemathesis.checks.allow_header_conformance]
    api = schemathesis.openapi.from_dict(load_document())
    api.app = Registry()  # picks the in-process WSGI transport; each case gets its own registry

    @api.parametrize()
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def test_schemathesis_finds_no_answer_that_breaks_the_description(case: Any) -> None:
        registry = registry_for(case.operation.definition.raw.get("operationId", ""))
        generic = "{extension}" in case.operation.path
        excluded = NOT_FOR_A_REGISTRY + (NOT_FOR_GENERIC_EXTENSION_PATHS if generic else [])
        case.call_and_validate(app=registry, excluded_checks=excluded)
        assert registry.server_errors == []
