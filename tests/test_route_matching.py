"""The router's name/tail split (routes._NamedPath) matches exactly what the anchored regex
`^/v2/(?P<name>NAME)tail$` matches, on paths built to confuse it: names whose components look
like routes, empty and invalid components, trailing newlines."""

from __future__ import annotations

import random
import re

from mockreg.reference import NAME_PATTERN
from mockreg.routes import distribution_routes

TEMPLATES = ["/v2/", "/v2", "/v2/_catalog", "/v2/{n}/tags/list", "/v2/{n}/manifests/{r}", "/v2/{n}/blobs/uploads/",
             "/v2/{n}/blobs/uploads", "/v2/{n}/blobs/uploads/{r}", "/v2/{n}/blobs/{r}", "/v2/{n}/referrers/{r}",
             "/v2/{n}/blobs/uploads/{r}/x", "/v3/{n}/blobs/{r}", "/v2/{n}/tags/list\n", "/v2/{n}/manifests/{r}\n"]
COMPONENTS = ["a", "b", "blobs", "uploads", "manifests", "tags", "list", "referrers", "A", "a-b", "a__b", "a.b",
              "_x", "", "v2"]
REFERENCES = ["sha256:" + "a" * 64, "latest", "x", "blobs", "uploads", "a/b", ""]


def test_named_paths_match_as_the_anchored_regex_does() -> None:
    rng = random.Random(17)
    routes = [r for r in distribution_routes() if hasattr(r.pattern, "tail")]
    assert len(routes) == 6
    regexes = [re.compile(f"^/v2/(?P<name>{NAME_PATTERN})" + r.pattern.tail.pattern) for r in routes]
    matched = 0
    for _ in range(20000):
        name = "/".join(rng.choice(COMPONENTS) for _ in range(rng.randint(1, 5)))
        path = rng.choice(TEMPLATES).format(n=name, r=rng.choice(REFERENCES))
        for route, regex in zip(routes, regexes):
            expected, got = regex.match(path), route.pattern.match(path)
            assert (expected is None) == (got is None), (path, regex.pattern)
            if expected is not None:
                assert got.groupdict() == expected.groupdict(), path
                matched += 1
    assert matched > 5000  # the paths really exercise the matching routes
