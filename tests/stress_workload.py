"""A concurrent client workload for a live registry: many threads pushing (monolithic, POST+PUT,
chunked, mounted), pulling (whole and by Range), moving and deleting tags, deleting manifests
and scratch blobs, pushing referrers and indexes, on repositories they share and on their own.

Every request's answer is checked as it arrives (status, digests of what came back); anything
unexpected is a violation. Operations are planned so that the registry stays consistent no
matter how they interleave: shared repositories only ever lose manifests and tags their pusher
owns, and only scratch blobs nothing references are deleted. Used by tests/test_stress.py and
benchmarks/fuzz_long.py.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
EMPTY_CONFIG = b"{}"
SHARED_REPOSITORIES = ("stress/shared", "stress/shared-b")
SHARED_TAGS = ("latest", "stable", "v1", "v2", "v3")
# Layers every worker pushes into the shared repositories: identical bytes arriving concurrently.
COMMON_LAYERS = [f"common layer {i}".encode() * 512 for i in range(3)]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class Report:
    requests: int = 0
    operations: Dict[str, int] = field(default_factory=dict)
    violations: List[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, operation: str, requests_made: int, problems: List[str]) -> None:
        with self.lock:
            self.requests += requests_made
            self.operations[operation] = self.operations.get(operation, 0) + 1
            self.violations.extend(problems)

    def summary(self) -> str:
        ops = ", ".join(f"{name} {count}" for name, count in sorted(self.operations.items()))
        return (f"{self.requests} requests in {sum(self.operations.values())} operations ({ops}); "
                f"{len(self.violations)} violations")


@dataclass
class Pushed:
    repository: str
    digest: str
    body: bytes
    blobs: List[bytes]


class Worker:
    """One thread's client: its own HTTP session, random source and bookkeeping."""

    def __init__(self, base_url: str, number: int, seed: int, report: Report) -> None:
        self.base = base_url.rstrip("/")
        self.number = number
        self.random = random.Random(seed * 1000 + number)
        self.report = report
        self.http = requests.Session()
        self.own = f"stress/w{number}"
        self.counter = 0
        self.in_shared: List[Pushed] = []   # manifests this worker pushed to shared repositories
        self.in_own: List[Pushed] = []      # images in its own repository; never deleted
        self._requests = 0
        self._problems: List[str] = []

    # -- plumbing --------------------------------------------------------------------------
    def call(self, method: str, path: str, expect: Tuple[int, ...], **kwargs: Any) -> requests.Response:
        self._requests += 1
        url = path if path.startswith("http") else self.base + path
        response = self.http.request(method, url, timeout=30, **kwargs)
        if response.status_code not in expect:
            self._problems.append(f"w{self.number}: {method} {path} -> {response.status_code}, expected "
                                  f"{expect}: {response.text[:200]}")
        return response

    def fail(self, problem: str) -> None:
        self._problems.append(f"w{self.number}: {problem}")

    def run_operation(self) -> None:
        name, operation = self.random.choice(self.OPERATIONS)
        self._requests, self._problems = 0, []
        try:
            operation(self)
        except requests.RequestException as exc:
            self.fail(f"{name}: connection error {exc!r}")
        self.report.add(name, self._requests, self._problems)

    def unique(self, what: str) -> bytes:
        self.counter += 1
        size = self.random.choice([0, 1, 100, 4096, 70_000])
        head = f"w{self.number} {what} {self.counter} ".encode()
        return (head * (size // len(head) + 1))[:max(size, len(head))]

    # -- pushing blobs ---------------------------------------------------------------------
    def push_blob(self, repository: str, data: bytes, how: Optional[str] = None) -> None:
        digest = sha256(data)
        how = how or self.random.choice(["single-post", "post-put", "chunked", "chunked", "mount"])
        uploads = f"/v2/{repository}/blobs/uploads/"
        if how == "mount" and repository != self.own:
            self.push_blob(self.own, data, "post-put")
            self.call("POST", f"{uploads}?mount={digest}&from={self.own}", (201,))
            return
        if how == "single-post":
            self.call("POST", f"{uploads}?digest={digest}", (201,), data=data,
                      headers={"Content-Type": "application/octet-stream"})
            return
        location = self.call("POST", uploads, (202,)).headers.get("Location", "")
        if how == "chunked" and data:
            cuts = sorted(self.random.sample(range(1, len(data)), min(3, len(data) - 1))) if len(data) > 1 else []
            offset = 0
            for cut in cuts:
                self.call("PATCH", location, (202,), data=data[offset:cut],
                          headers={"Content-Range": f"{offset}-{cut - 1}",
                                   "Content-Type": "application/octet-stream"})
                offset = cut
            status = self.call("GET", location, (204,))
            if offset and status.headers.get("Range") != f"0-{offset - 1}":
                self.fail(f"upload status Range {status.headers.get('Range')} after {offset} bytes")
            data = data[offset:]
        separator = "&" if "?" in location else "?"
        self.call("PUT", f"{location}{separator}digest={digest}", (201,), data=data,
                  headers={"Content-Type": "application/octet-stream"})

    # -- building manifests ----------------------------------------------------------------
    def image(self, repository: str, subject: Optional[Dict[str, Any]] = None,
              shared_layers: bool = False) -> Pushed:
        config = self.unique("config") if subject is None else EMPTY_CONFIG
        layers = [self.unique("layer") for _ in range(self.random.randint(0, 2))]
        if shared_layers:
            layers.append(self.random.choice(COMMON_LAYERS))
        document: Dict[str, Any] = {
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG if subject is None else "application/vnd.oci.empty.v1+json",
                       "digest": sha256(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER, "digest": sha256(b), "size": len(b)} for b in layers],
        }
        if subject is not None:
            document["subject"] = subject
            document["artifactType"] = self.random.choice(["application/x.sig", "application/x.sbom"])
            document["annotations"] = {"w": str(self.number), "n": str(self.counter)}
        body = json.dumps(document).encode()
        return Pushed(repository, sha256(body), body, [config, *layers])

    def put_manifest(self, pushed: Pushed, reference: str, media_type: str = OCI_MANIFEST) -> requests.Response:
        response = self.call("PUT", f"/v2/{pushed.repository}/manifests/{reference}", (201,), data=pushed.body,
                             headers={"Content-Type": media_type})
        if response.status_code == 201 and response.headers.get("Docker-Content-Digest") != pushed.digest:
            self.fail(f"manifest PUT answered digest {response.headers.get('Docker-Content-Digest')}, "
                      f"not {pushed.digest}")
        return response

    # -- operations ------------------------------------------------------------------------
    def push_image_shared(self) -> None:
        repository = self.random.choice(SHARED_REPOSITORIES)
        pushed = self.image(repository, shared_layers=True)
        for blob in pushed.blobs:
            self.push_blob(repository, blob)
        self.put_manifest(pushed, self.random.choice(SHARED_TAGS + (pushed.digest,)))
        self.in_shared.append(pushed)

    def push_image_own(self) -> None:
        pushed = self.image(self.own)
        for blob in pushed.blobs:
            self.push_blob(self.own, blob)
        self.put_manifest(pushed, f"own-{self.counter}")
        self.in_own.append(pushed)

    def pull_shared_tag(self) -> None:
        repository = self.random.choice(SHARED_REPOSITORIES)
        tag = self.random.choice(SHARED_TAGS)
        response = self.call("GET", f"/v2/{repository}/manifests/{tag}", (200, 404),
                             headers={"Accept": f"{OCI_MANIFEST}, {OCI_INDEX}"})
        if response.status_code != 200:
            return
        if sha256(response.content) != response.headers.get("Docker-Content-Digest"):
            self.fail(f"{repository}:{tag} body does not match its Docker-Content-Digest")
        document = response.json()
        for descriptor in [document.get("config"), *document.get("layers", [])]:
            if descriptor:
                self.pull_blob(repository, descriptor["digest"], descriptor["size"])

    def pull_blob(self, repository: str, digest: str, size: int) -> None:
        if size > 2 and self.random.random() < 0.5:
            start = self.random.randrange(size - 1)
            response = self.call("GET", f"/v2/{repository}/blobs/{digest}", (206,),
                                 headers={"Range": f"bytes={start}-{size - 1}"})
            if response.status_code == 206 and len(response.content) != size - start:
                self.fail(f"Range read of {digest} returned {len(response.content)} bytes, not {size - start}")
            return
        response = self.call("GET", f"/v2/{repository}/blobs/{digest}", (200,))
        if response.status_code == 200 and sha256(response.content) != digest:
            self.fail(f"blob {digest} in {repository} came back with other bytes")

    def pull_own(self) -> None:
        if not self.in_own:
            return self.push_image_own()
        pushed = self.random.choice(self.in_own)
        response = self.call("GET", f"/v2/{self.own}/manifests/{pushed.digest}", (200,))
        if response.content != pushed.body:
            self.fail(f"{self.own}@{pushed.digest} came back changed")
        for blob in pushed.blobs:
            self.pull_blob(self.own, sha256(blob), len(blob))

    def mount_into_shared(self) -> None:
        with_blobs = [pushed for pushed in self.in_own if pushed.blobs]
        if not with_blobs:
            return self.push_image_own()
        blob = self.random.choice(self.random.choice(with_blobs).blobs)
        target = self.random.choice(SHARED_REPOSITORIES)
        self.call("POST", f"/v2/{target}/blobs/uploads/?mount={sha256(blob)}&from={self.own}", (201,))
        self.call("HEAD", f"/v2/{target}/blobs/{sha256(blob)}", (200,))

    def move_shared_tag(self) -> None:
        if not self.in_shared:
            return self.push_image_shared()
        pushed = self.random.choice(self.in_shared)
        tag = self.random.choice(SHARED_TAGS)
        query = f"?tag={tag}" if self.random.random() < 0.5 else ""
        self.put_manifest(pushed, pushed.digest + query if query else tag)

    def delete_shared_tag(self) -> None:
        repository = self.random.choice(SHARED_REPOSITORIES)
        self.call("DELETE", f"/v2/{repository}/manifests/{self.random.choice(SHARED_TAGS)}", (202, 404))

    def delete_shared_manifest(self) -> None:
        if not self.in_shared:
            return self.push_image_shared()
        pushed = self.in_shared.pop(self.random.randrange(len(self.in_shared)))
        self.call("DELETE", f"/v2/{pushed.repository}/manifests/{pushed.digest}", (202,))
        self.call("GET", f"/v2/{pushed.repository}/manifests/{pushed.digest}", (404,))

    def push_referrer(self) -> None:
        targets = self.in_shared + self.in_own
        if not targets:
            return self.push_image_own()
        subject = self.random.choice(targets)
        referrer = self.image(subject.repository, subject={"mediaType": OCI_MANIFEST, "digest": subject.digest,
                                                           "size": len(subject.body)})
        for blob in referrer.blobs:
            self.push_blob(subject.repository, blob)
        response = self.put_manifest(referrer, referrer.digest)
        if response.status_code == 201 and response.headers.get("OCI-Subject") != subject.digest:
            self.fail(f"referrer PUT answered OCI-Subject {response.headers.get('OCI-Subject')}")
        listed = self.call("GET", f"/v2/{subject.repository}/referrers/{subject.digest}", (200,))
        if listed.status_code == 200 and referrer.digest not in [m["digest"] for m in listed.json()["manifests"]]:
            self.fail(f"referrer {referrer.digest} missing from the referrers of {subject.digest}")
        (self.in_shared if subject.repository != self.own else self.in_own).append(referrer)

    def push_index_own(self) -> None:
        while len(self.in_own) < 2:
            self.push_image_own()
        children = self.random.sample(self.in_own, 2)
        document = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": [{"mediaType": OCI_MANIFEST, "digest": c.digest, "size": len(c.body)}
                                  for c in children]}
        body = json.dumps(document).encode()
        pushed = Pushed(self.own, sha256(body), body, [])
        self.put_manifest(pushed, f"index-{self.counter}", OCI_INDEX)
        self.in_own.append(pushed)

    def scratch_blob(self) -> None:
        data = self.unique("scratch")
        self.push_blob(self.own, data, self.random.choice(["single-post", "post-put", "chunked"]))
        self.call("DELETE", f"/v2/{self.own}/blobs/{sha256(data)}", (202,))
        self.call("HEAD", f"/v2/{self.own}/blobs/{sha256(data)}", (404,))

    def cancelled_upload(self) -> None:
        location = self.call("POST", f"/v2/{self.own}/blobs/uploads/", (202,)).headers.get("Location", "")
        self.call("PATCH", location, (202,), data=b"abandoned", headers={"Content-Range": "0-8"})
        self.call("DELETE", location, (204,))
        self.call("GET", location, (404,))

    def list_tags_and_catalog(self) -> None:
        repository = self.random.choice(SHARED_REPOSITORIES)
        response = self.call("GET", f"/v2/{repository}/tags/list?n=2", (200, 404))
        if response.status_code == 200 and len(response.json()["tags"] or []) > 2:
            self.fail("tags list ignored n=2")
        self.call("GET", "/v2/_catalog", (200,))

    OPERATIONS: List[Tuple[str, Callable[[Worker], None]]] = [
        ("push-shared", push_image_shared), ("push-shared", push_image_shared),
        ("push-own", push_image_own), ("pull-shared", pull_shared_tag), ("pull-shared", pull_shared_tag),
        ("pull-own", pull_own), ("mount", mount_into_shared), ("tag-move", move_shared_tag),
        ("tag-delete", delete_shared_tag), ("manifest-delete", delete_shared_manifest),
        ("referrer", push_referrer), ("index", push_index_own), ("scratch-blob", scratch_blob),
        ("cancelled-upload", cancelled_upload), ("list", list_tags_and_catalog),
    ]

    def expectations(self) -> List[Tuple[str, str, bytes]]:
        """(repository, digest, body) of every manifest this worker still expects to be stored."""
        return [(p.repository, p.digest, p.body) for p in self.in_shared + self.in_own]


def run(base_url: str, *, threads: int = 8, seconds: float = 3.0, seed: int = 0,
        max_operations: Optional[int] = None) -> Tuple[Report, List[Worker]]:
    """Run the workload until `seconds` pass (or each thread did `max_operations`)."""
    report = Report()
    workers = [Worker(base_url, number, seed, report) for number in range(threads)]
    deadline = time.monotonic() + seconds
    errors: List[BaseException] = []

    def loop(worker: Worker) -> None:
        try:
            done = 0
            while time.monotonic() < deadline and (max_operations is None or done < max_operations):
                worker.run_operation()
                done += 1
        except BaseException as exc:  # a bug in the workload itself must fail the run, not vanish
            errors.append(exc)
        finally:
            worker.http.close()

    pool = [threading.Thread(target=loop, args=(w,), name=f"stress-w{w.number}") for w in workers]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return report, workers
