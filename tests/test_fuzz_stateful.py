"""Stateful fuzzing: hypothesis drives push / pull / mount / tag / delete / referrer sequences
through the WSGI app against a model of what the registry must hold, with random hostile
requests in between. After every step the model and the registry agree, the registry's own
invariants hold (mockreg.invariants), and no answer was a 500 or an error body outside the spec.

Three machines: a plain registry; one with bearer auth, the control API, extensions and a
fault rule that injects 500s on the catalog (the only 500s allowed); one with small limits so
that 413 and 429 come up. Budget: MOCKREG_FUZZ_EXAMPLES (default 40) sequences of up to MOCKREG_FUZZ_STEPS (40)
steps each, derandomized (the same sequences on every run).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import pytest
from fuzz_support import (
    OCI_INDEX,
    OCI_MANIFEST,
    answer_problems,
    bearer_tokens,
    fuzz_requests,
    install_fuzz_extension,
    send,
    sha256,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from werkzeug.test import Client

from mockreg import Registry
from mockreg.invariants import check_invariants

EXAMPLES = int(os.environ.get("MOCKREG_FUZZ_EXAMPLES", "40"))
STEPS = int(os.environ.get("MOCKREG_FUZZ_STEPS", "40"))
REPOSITORIES = ["m/a", "m/b"]
CONTENTS = [b"", b"a", b"layer one", b"layer two" * 100, b"\x00\xff" * 1000, b"{}"]
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar"


@dataclass
class RepositoryModel:
    blobs: Dict[str, bytes] = field(default_factory=dict)
    manifests: Dict[str, bytes] = field(default_factory=dict)      # digest -> body
    children: Dict[str, List[str]] = field(default_factory=dict)   # digest -> blobs and manifests it names
    subjects: Dict[str, str] = field(default_factory=dict)         # referrer digest -> subject digest
    tags: Dict[str, str] = field(default_factory=dict)
    exists: bool = False  # a repository exists once something was pushed to it, even if deleted since


@dataclass
class UploadModel:
    repository: str
    location: str
    data: bytes = b""


class RegistryMachine(RuleBasedStateMachine):
    """The registry against a model; every rule predicts the exact answer."""

    auth = False

    def __init__(self) -> None:
        super().__init__()
        self.registry = self.make_registry()
        self.client = Client(self.registry)
        self.headers: Dict[str, str] = {}
        if self.auth:
            scopes = [f"repository:{name}:pull,push,delete" for name in REPOSITORIES]
            self.headers = {"Authorization": "Bearer " + self.registry.auth.issue_token("admin", scopes)}
        self.model = {name: RepositoryModel() for name in REPOSITORIES}
        self.uploads: List[UploadModel] = []
        self.finished: List[str] = []
        self.requests = 0

    def make_registry(self) -> Registry:
        return Registry()

    # -- plumbing --------------------------------------------------------------------------
    def call(self, method: str, path: str, expect: int, data: bytes = b"", code: Optional[str] = None,
             **headers: str) -> Any:
        self.requests += 1
        response = self.client.open(path, method=method, data=data,
                                    headers={**self.headers, **{k.replace("_", "-"): v for k, v in headers.items()}})
        assert response.status_code == expect, (method, path, response.status_code, response.data[:300])
        if code is not None:
            assert json.loads(response.data)["errors"][0]["code"] == code, response.data
        assert self.registry.server_errors == []
        return response

    def too_big(self, size: int) -> bool:
        limit = self.registry.settings.max_upload_size
        return bool(limit) and size > limit

    def sessions_full(self) -> bool:
        limit = self.registry.settings.max_upload_sessions
        return bool(limit) and len(self.registry.store.uploads) >= limit  # hostile requests open some too

    def new_session(self, path: str, name: str) -> None:
        """POST that opens a session, or 429 when max_upload_sessions are open."""
        if self.sessions_full():
            response = self.call("POST", path, 429, code="TOOMANYREQUESTS")
            assert response.headers["Retry-After"] == "1"
            return
        self.uploads.append(UploadModel(name, self.call("POST", path, 202).headers["Location"]))

    def referenced(self, name: str) -> set:
        repo = self.model[name]
        return {d for kids in repo.children.values() for d in kids}

    # -- blobs -----------------------------------------------------------------------------
    @rule(name=st.sampled_from(REPOSITORIES), data=st.sampled_from(CONTENTS), right=st.booleans())
    def push_blob_in_one_post(self, name: str, data: bytes, right: bool) -> None:
        digest = sha256(data) if right else sha256(data + b"!")
        if self.too_big(len(data)):
            self.call("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", 413, data, "SIZE_INVALID")
        elif right:
            self.call("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", 201, data)
            self.model[name].blobs[digest] = data
            self.model[name].exists = True
        else:
            self.call("POST", f"/v2/{name}/blobs/uploads/?digest={digest}", 400, data, "DIGEST_INVALID")

    @rule(name=st.sampled_from(REPOSITORIES))
    def start_upload(self, name: str) -> None:
        self.new_session(f"/v2/{name}/blobs/uploads/", name)

    @precondition(lambda self: self.uploads)
    @rule(pick=st.integers(0, 100), chunk=st.sampled_from(CONTENTS[1:]), offset=st.sampled_from([0, 1, -1]))
    def send_chunk(self, pick: int, chunk: bytes, offset: int) -> None:
        upload = self.uploads[pick % len(self.uploads)]
        start = len(upload.data) + offset
        content_range = f"{start}-{start + len(chunk) - 1}"
        if start == len(upload.data) and self.too_big(start + len(chunk)):
            self.call("PATCH", upload.location, 413, chunk, "SIZE_INVALID", Content_Range=content_range)
        elif start == len(upload.data):
            response = self.call("PATCH", upload.location, 202, chunk, Content_Range=content_range)
            upload.data += chunk
            assert response.headers["Range"] == f"0-{len(upload.data) - 1}"
        elif start >= 0:  # out of order or overlapping: 416, and the session is as it was
            self.call("PATCH", upload.location, 416, chunk, "BLOB_UPLOAD_INVALID", Content_Range=content_range)
        status = self.call("GET", upload.location, 204)
        assert status.headers["Range"] == f"0-{max(len(upload.data) - 1, 0)}"

    @precondition(lambda self: self.uploads)
    @rule(pick=st.integers(0, 100), last=st.sampled_from(CONTENTS), right=st.booleans())
    def finish_upload(self, pick: int, last: bytes, right: bool) -> None:
        upload = self.uploads[pick % len(self.uploads)]
        whole = upload.data + last
        digest = sha256(whole) if right else sha256(whole + b"?")
        if self.too_big(len(whole)):
            self.call("PUT", f"{upload.location}?digest={digest}", 413, last, "SIZE_INVALID")
        elif right:
            self.call("PUT", f"{upload.location}?digest={digest}", 201, last)
            self.model[upload.repository].blobs[digest] = whole
            self.model[upload.repository].exists = True
            self.uploads.remove(upload)
            self.finished.append(upload.location)
        else:  # the final chunk is taken back; the session stays usable
            self.call("PUT", f"{upload.location}?digest={digest}", 400, last, "DIGEST_INVALID")

    @precondition(lambda self: self.uploads)
    @rule(pick=st.integers(0, 100))
    def cancel_upload(self, pick: int) -> None:
        upload = self.uploads.pop(pick % len(self.uploads))
        self.call("DELETE", upload.location, 204)
        self.finished.append(upload.location)

    @precondition(lambda self: self.finished)
    @rule(pick=st.integers(0, 100), method=st.sampled_from(["PATCH", "PUT", "GET", "DELETE"]))
    def use_finished_upload(self, pick: int, method: str) -> None:
        location = self.finished[pick % len(self.finished)]
        self.call(method, f"{location}?digest={sha256(b'a')}", 404, b"a", "BLOB_UPLOAD_UNKNOWN",
                  Content_Range="0-0")

    @rule(into=st.sampled_from(REPOSITORIES), source=st.sampled_from(REPOSITORIES),
          data=st.sampled_from(CONTENTS))
    def mount(self, into: str, source: str, data: bytes) -> None:
        digest = sha256(data)
        if digest in self.model[source].blobs:
            self.call("POST", f"/v2/{into}/blobs/uploads/?mount={digest}&from={source}", 201)
            self.model[into].blobs[digest] = data
            self.model[into].exists = True
        else:  # not mountable: an ordinary upload session instead
            self.new_session(f"/v2/{into}/blobs/uploads/?mount={digest}&from={source}", into)

    @rule(name=st.sampled_from(REPOSITORIES), data=st.sampled_from(CONTENTS), ranged=st.booleans())
    def pull_blob(self, name: str, data: bytes, ranged: bool) -> None:
        digest = sha256(data)
        stored = self.model[name].blobs.get(digest)
        if stored is None:
            self.call("GET", f"/v2/{name}/blobs/{digest}", 404, code="BLOB_UNKNOWN")
        elif ranged and len(stored) > 1:
            response = self.call("GET", f"/v2/{name}/blobs/{digest}", 206, Range="bytes=1-")
            assert response.data == stored[1:]
        elif ranged:  # no byte at offset 1
            self.call("GET", f"/v2/{name}/blobs/{digest}", 416, code="SIZE_INVALID", Range="bytes=1-")
        else:
            assert self.call("GET", f"/v2/{name}/blobs/{digest}", 200).data == stored

    @rule(name=st.sampled_from(REPOSITORIES), data=st.sampled_from(CONTENTS))
    def delete_blob(self, name: str, data: bytes) -> None:
        digest = sha256(data)
        if digest in self.referenced(name):
            return  # deleting what a manifest names is legal but breaks the strict invariants
        if digest in self.model[name].blobs:
            self.call("DELETE", f"/v2/{name}/blobs/{digest}", 202)
            del self.model[name].blobs[digest]
        else:
            self.call("DELETE", f"/v2/{name}/blobs/{digest}", 404, code="BLOB_UNKNOWN")

    # -- manifests -------------------------------------------------------------------------
    @rule(name=st.sampled_from(REPOSITORIES), config=st.sampled_from(CONTENTS),
          layers=st.lists(st.sampled_from(CONTENTS), max_size=3), tag=st.sampled_from(["v1", "v2", "latest", None]),
          subject=st.integers(0, 100) | st.none())
    def push_manifest(self, name: str, config: bytes, layers: List[bytes], tag: Optional[str],
                      subject: Optional[int]) -> None:
        document: Dict[str, Any] = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": CONFIG_TYPE, "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": LAYER_TYPE, "digest": sha256(b), "size": len(b)} for b in layers],
        }
        subject_digest = None
        if subject is not None:  # a subject may name anything, even an absent manifest
            known = sorted(self.model[name].manifests) + [sha256(b"absent")]
            subject_digest = known[subject % len(known)]
            document["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject_digest, "size": 2}
            document["artifactType"] = "application/x.fuzz"
        self.put(name, document, OCI_MANIFEST, tag, [sha256(b) for b in [config, *layers]], subject_digest)

    @rule(name=st.sampled_from(REPOSITORIES), picks=st.lists(st.integers(0, 100), max_size=3),
          tag=st.sampled_from(["index", None]), missing=st.booleans())
    def push_index(self, name: str, picks: List[int], tag: Optional[str], missing: bool) -> None:
        known = sorted(self.model[name].manifests)
        children = [known[p % len(known)] for p in picks] if known else []
        if missing:
            children.append(sha256(b"no such manifest"))
        entries = [{"mediaType": OCI_MANIFEST, "digest": d,
                    "size": len(self.model[name].manifests.get(d, b"x"))} for d in children]
        self.put(name, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}, OCI_INDEX, tag,
                 children, None)

    def put(self, name: str, document: Dict[str, Any], media_type: str, tag: Optional[str],
            references: List[str], subject: Optional[str]) -> None:
        body = json.dumps(document).encode()
        digest = sha256(body)
        repo = self.model[name]
        path = f"/v2/{name}/manifests/{tag or digest}"
        missing = [d for d in references if d not in repo.blobs and d not in repo.manifests]
        limit = self.registry.settings.manifest_size_limit
        if limit and len(body) > limit:
            self.call("PUT", path, 413, body, "SIZE_INVALID", Content_Type=media_type)
            return
        if missing:
            self.call("PUT", path, 400, body, "MANIFEST_BLOB_UNKNOWN", Content_Type=media_type)
            return
        response = self.call("PUT", path, 201, body, Content_Type=media_type)
        assert response.headers["Docker-Content-Digest"] == digest
        assert response.headers.get("OCI-Subject") == subject
        repo.manifests[digest] = body
        repo.exists = True
        repo.children[digest] = references
        if subject is not None:
            repo.subjects[digest] = subject
        if tag:
            repo.tags[tag] = digest

    @rule(name=st.sampled_from(REPOSITORIES), pick=st.integers(0, 100), tag=st.sampled_from(["v1", "v2", "moved"]))
    def move_tag(self, name: str, pick: int, tag: str) -> None:
        repo = self.model[name]
        if not repo.manifests:
            return
        digest = sorted(repo.manifests)[pick % len(repo.manifests)]
        body = repo.manifests[digest]
        media_type = json.loads(body)["mediaType"]
        if len(body) > (self.registry.settings.manifest_size_limit or len(body)):
            return  # could not have been pushed
        self.call("PUT", f"/v2/{name}/manifests/{digest}?tag={tag}", 201, body, Content_Type=media_type)
        repo.tags[tag] = digest

    @rule(name=st.sampled_from(REPOSITORIES), reference=st.sampled_from(["v1", "v2", "latest", "moved", "index"])
          | st.integers(0, 100))
    def pull_manifest(self, name: str, reference: Any) -> None:
        repo = self.model[name]
        if isinstance(reference, int):
            digests = sorted(repo.manifests) + [sha256(b"unknown")]
            reference = digests[reference % len(digests)]
        digest = repo.tags.get(reference, reference)
        if digest in repo.manifests:
            response = self.call("GET", f"/v2/{name}/manifests/{reference}", 200)
            assert response.data == repo.manifests[digest]
            assert response.headers["Docker-Content-Digest"] == digest
        else:
            self.call("GET", f"/v2/{name}/manifests/{reference}", 404, code="MANIFEST_UNKNOWN")

    @rule(name=st.sampled_from(REPOSITORIES), tag=st.sampled_from(["v1", "v2", "latest", "moved", "index"]))
    def delete_tag(self, name: str, tag: str) -> None:
        repo = self.model[name]
        if not repo.exists:
            self.call("DELETE", f"/v2/{name}/manifests/{tag}", 404, code="NAME_UNKNOWN")
        elif tag in repo.tags:
            self.call("DELETE", f"/v2/{name}/manifests/{tag}", 202)
            del repo.tags[tag]
        else:
            self.call("DELETE", f"/v2/{name}/manifests/{tag}", 404, code="MANIFEST_UNKNOWN")

    @rule(name=st.sampled_from(REPOSITORIES), pick=st.integers(0, 100))
    def delete_manifest(self, name: str, pick: int) -> None:
        repo = self.model[name]
        candidates = sorted(set(repo.manifests) - self.referenced(name))
        if not candidates:
            return
        digest = candidates[pick % len(candidates)]
        self.call("DELETE", f"/v2/{name}/manifests/{digest}", 202)
        del repo.manifests[digest]
        repo.children.pop(digest, None)
        repo.subjects.pop(digest, None)
        repo.tags = {t: d for t, d in repo.tags.items() if d != digest}

    # -- discovery -------------------------------------------------------------------------
    @rule(name=st.sampled_from(REPOSITORIES), n=st.sampled_from([None, "0", "1", "2", "99"]),
          last=st.sampled_from([None, "", "latest", "v1", "zzz"]))
    def list_tags(self, name: str, n: Optional[str], last: Optional[str]) -> None:
        repo = self.model[name]
        query = "&".join(f"{k}={v}" for k, v in (("n", n), ("last", last)) if v is not None)
        if not repo.exists:
            self.call("GET", f"/v2/{name}/tags/list?{query}", 404, code="NAME_UNKNOWN")
            return
        expected = sorted(t for t in repo.tags if last is None or t > last)
        if n is not None:
            expected = expected[:int(n)]
        assert self.call("GET", f"/v2/{name}/tags/list?{query}", 200).json["tags"] == expected

    @rule(name=st.sampled_from(REPOSITORIES), pick=st.integers(0, 100))
    def list_referrers(self, name: str, pick: int) -> None:
        repo = self.model[name]
        subjects = sorted(set(repo.subjects.values())) + [sha256(b"no referrers")]
        subject = subjects[pick % len(subjects)]
        listed = self.call("GET", f"/v2/{name}/referrers/{subject}", 200).json["manifests"]
        assert [m["digest"] for m in listed] == sorted(d for d, s in repo.subjects.items() if s == subject)

    # -- hostile requests ------------------------------------------------------------------
    @rule(data=st.data())
    def hostile_request(self, data: Any) -> None:
        request = data.draw(fuzz_requests([u.location.rsplit("/", 1)[1] for u in self.uploads],
                                          bearer_tokens(self.registry)))
        before = self.modelled_state()
        self.requests += 1
        response = send(self.client, request)
        problems = answer_problems(self.registry, request, response)
        assert problems == [], problems
        assert self.modelled_state() == before, f"{request} changed modelled repositories"

    def modelled_state(self) -> Any:
        store = self.registry.store
        with store.lock:
            repos = {n: (sorted(r.blobs), sorted(r.manifests), dict(r.tags))
                     for n, r in store.repositories.items() if n in self.model}
            uploads = {i: (s.repository, bytes(s.buffer)) for i, s in store.uploads.items()
                       if s.repository in self.model}
        return repos, uploads

    # -- after every step ------------------------------------------------------------------
    @invariant()
    def registry_matches_the_model(self) -> None:
        store = self.registry.store
        with store.lock:
            for name, repo in self.model.items():
                stored = store.repositories.get(name)
                assert (stored is not None) == repo.exists, name
                if stored is None:
                    continue
                assert stored.blobs == set(repo.blobs), name
                assert {d: m.body for d, m in stored.manifests.items()} == repo.manifests, name
                assert stored.tags == repo.tags, name
            open_modelled = sorted(s.repository for s in store.uploads.values() if s.repository in self.model)
            assert open_modelled == sorted(u.repository for u in self.uploads)

    @invariant()
    def registry_is_consistent(self) -> None:
        assert check_invariants(self.registry) == []


def auth_extensions_faults_registry() -> Registry:
    """Bearer auth (admin and bob), the control API, extensions at both levels, and a fault rule
    injecting 500s into half the GETs of /v2/ and the catalog (routes the model never uses)."""
    registry = Registry(control_api=True)
    registry.enable_auth(users=[
        {"name": "admin", "password": "root", "admin": True},
        {"name": "bob", "password": "secret", "access": {"fz/*": "pull,push,delete", "m/*": "pull"}},
    ], anonymous={"fz/y": "pull"}, secret="fuzz")
    install_fuzz_extension(registry)
    # GET only: a HEAD answer has no body to say the 500 was injected.
    registry.add_fault(kinds=["base", "catalog"], methods=["GET"], probability=0.5, seed=7, status=500)
    return registry


class AuthExtensionsFaultsMachine(RegistryMachine):
    """The same sequences with bearer auth on (the model's client holds a token with every scope
    it needs), the control API, extensions at both levels and an injected-500 fault rule."""

    auth = True

    def make_registry(self) -> Registry:
        return auth_extensions_faults_registry()


class SmallLimitsMachine(RegistryMachine):
    """Tight limits, so that uploads past max_upload_size (413), a fourth open upload (429) and
    manifests past manifest_size_limit (413) come up in the sequences."""

    def make_registry(self) -> Registry:
        return Registry(max_upload_size=1500, max_upload_sessions=3, manifest_size_limit=600)


FUZZ_SETTINGS = settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
                         derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("machine", [RegistryMachine, AuthExtensionsFaultsMachine, SmallLimitsMachine],
                         ids=["plain", "auth-extensions-faults", "small-limits"])
def test_request_sequences_keep_the_registry_and_its_model_in_step(machine: Any) -> None:
    machine.TestCase.settings = FUZZ_SETTINGS
    machine.TestCase().runTest()


# -- hostile requests alone, many more of them ---------------------------------------------------

REGISTRIES = {
    "plain": lambda: Registry(),
    "auth-extensions-faults": auth_extensions_faults_registry,
    "basic-auth": lambda: _basic_auth_registry(),
    "injected-500s": lambda: _faulty_registry(),
    "small-limits": lambda: Registry(max_upload_size=1500, max_upload_sessions=2, manifest_size_limit=600),
}


def _faulty_registry() -> Registry:
    """500s injected into a third of all GETs: the only 500s the rules allow."""
    registry = Registry()
    install_fuzz_extension(registry)
    registry.add_fault(methods=["GET"], probability=0.3, seed=11, status=500)
    return registry


def _basic_auth_registry() -> Registry:
    registry = Registry(control_api=True)
    registry.enable_auth(scheme="basic", users=[
        {"name": "bob", "password": "secret", "access": {"fz/*": "*"}}], anonymous={"m/*": "pull"})
    install_fuzz_extension(registry)
    return registry


@pytest.mark.parametrize("flavour", sorted(REGISTRIES))
def test_hostile_requests_never_break_the_rules(flavour: str) -> None:
    """Random requests against one long-lived registry: every answer follows the rules, the
    state stays consistent after each, and the answers are varied (the fuzzer is not stuck)."""
    registry = REGISTRIES[flavour]()
    registry.push_blob("m/a", b"known blob")
    client = Client(registry)
    statuses: Dict[int, int] = {}

    @settings(max_examples=EXAMPLES * 10, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(request=fuzz_requests(authorizations=bearer_tokens(registry)))
    def check(request: Any) -> None:
        response = send(client, request)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert answer_problems(registry, request, response) == []
        assert check_invariants(registry) == [], request

    check()
    assert len(statuses) >= 5 and any(200 <= s < 300 for s in statuses), statuses
    if flavour == "injected-500s":  # the fuzzer met injected 500s and let them pass
        assert 500 in statuses, statuses
