"""Content discovery: end-1 (/v2/), end-8a/8b (tags list), end-12a/12b (referrers), and the
Docker-era `_catalog`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, List, Optional, Tuple
from urllib.parse import quote

from ..errors import RegistryError
from ..http import Request, Response, json_response
from ..manifests import OCI_INDEX
from .common import check_digest, check_name, paginate, positive_int_arg

if TYPE_CHECKING:
    from ..registry import Registry


def base(registry: Registry, request: Request) -> Response:
    return json_response(200, b"{}")


def tags_list(registry: Registry, request: Request, name: str) -> Response:
    check_name(name)
    if registry.settings.tags_order == "pushed":
        page, more = _paginate_in_order(registry.store.tags_in_order(name), positive_int_arg(request.arg("n"), "n"),
                                        request.arg("last"))
    else:
        page, more = paginate(registry.store.tags(name), positive_int_arg(request.arg("n"), "n"), request.arg("last"))
    body = json.dumps({"name": name, "tags": page}).encode()
    return json_response(200, body, _next_link(f"/v2/{name}/tags/list", page, request, more))


def catalog(registry: Registry, request: Request) -> Response:
    if not registry.settings.catalog:
        raise RegistryError("UNSUPPORTED", "the catalog is disabled on this registry", status=404,
                            message="not found", reason="catalog-disabled")
    names = registry.store.catalog()
    page, more = paginate(names, positive_int_arg(request.arg("n"), "n"), request.arg("last"))
    body = json.dumps({"repositories": page}).encode()
    return json_response(200, body, _next_link("/v2/_catalog", page, request, more))


def referrers(registry: Registry, request: Request, name: str, digest: str) -> Response:
    if not registry.settings.referrers:  # answered before any check: the endpoint is simply absent
        raise RegistryError("UNSUPPORTED", "the referrers API is disabled on this registry", status=404,
                            message="not found", reason="referrers-disabled")
    check_name(name)
    check_digest(registry, digest)
    entries = registry.store.referrers(name, digest)
    headers = []
    artifact_types = [t for t in request.args("artifactType") if t]
    if artifact_types:
        entries = [e for e in entries if e.get("artifactType") in artifact_types]
        headers.append(("OCI-Filters-Applied", "artifactType"))
    page_size = registry.settings.referrers_page_size
    last = request.arg("last")
    if last:  # entries are sorted by digest, so a page boundary survives deletions
        entries = [e for e in entries if e["digest"] > last]
    if page_size and len(entries) > page_size:
        entries = entries[:page_size]
        query = f"last={quote(entries[-1]['digest'])}" + "".join(
            f"&artifactType={quote(t, safe='')}" for t in artifact_types)
        headers.append(("Link", f'</v2/{name}/referrers/{digest}?{query}>; rel="next"'))
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
    return json_response(200, json.dumps(index).encode(), headers, content_type=OCI_INDEX)


def _paginate_in_order(items: List[str], n: Optional[int], last: Optional[str]) -> Tuple[List[str], bool]:
    """Pagination over an order that is not lexical: `last` continues after its position."""
    if last is not None:
        items = items[items.index(last) + 1:] if last in items else []
    if n is None:
        return items, False
    return items[:n], len(items) > n and n > 0


def _next_link(path: str, page: List[str], request: Request, more: bool) -> List[tuple]:
    if not more:
        return []
    n = request.arg("n")
    return [("Link", f'<{path}?n={n}&last={quote(page[-1], safe="")}>; rel="next"')]
