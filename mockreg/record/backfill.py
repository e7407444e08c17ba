"""Fetch content the upstream showed it holds but the client never downloaded.

A HEAD answered 200, a mount from another repository, a referrers list or a tag list tell
that the upstream held a blob or manifest before the client's operations; the replay must hold
it too or the same HEAD would answer 404. The recorder GETs such content once, in a background
thread (the client does not wait), with the `Authorization` header of the client request that
revealed it (a token that was just good for pulling that repository), never stored.
"""

from __future__ import annotations

import queue
import threading
from typing import List, Optional, Set, Tuple

from ..manifests import DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST
from .recording import BlobSink, Recording
from .upstream import Upstream, UpstreamError, reason

ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST))
MAX_MANIFEST = 4 * 1024 * 1024
_STOP = None


class Backfill:
    """A queue of GETs run by one thread; `close()` waits until it is empty."""

    def __init__(self, upstream: Upstream, recording: Recording) -> None:
        self._upstream, self._recording = upstream, recording
        self._queue: queue.Queue[Optional[Tuple[str, str, str, List[Tuple[str, str]]]]] = queue.Queue()
        self._asked: Set[Tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="mockreg-record-backfill", daemon=True)
        self._thread.start()

    def manifest(self, repository: str, reference: str, authorization: Optional[str]) -> None:
        self._ask("manifests", repository, reference, authorization)

    def blob(self, repository: str, digest: str, authorization: Optional[str]) -> None:
        self._ask("blobs", repository, digest, authorization)

    def _ask(self, what: str, repository: str, reference: str, authorization: Optional[str]) -> None:
        with self._lock:
            if (what, repository, reference) in self._asked:
                return
            self._asked.add((what, repository, reference))
        headers = [("Authorization", authorization)] if authorization else []
        self._queue.put((what, repository, reference, headers))

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            what, repository, reference, headers = item
            try:
                self._fetch(what, repository, reference, headers)
            except Exception as exc:  # any failure is reported, and the next fetch still runs
                if not isinstance(exc, UpstreamError):
                    exc = UpstreamError(f"{type(exc).__name__}: {reason(exc)}")
                self._recording.problem(f"could not fetch {repository} {what[:-1]} {reference} "
                                        f"for the scenario: {exc}")

    def _fetch(self, what: str, repository: str, reference: str, headers: List[Tuple[str, str]]) -> None:
        if what == "blobs" and self._recording.has_content(reference):
            return
        url = f"{self._upstream.url}/v2/{repository}/{what}/{reference}"
        accept = [("Accept", ACCEPT)] if what == "manifests" else []
        response = self._upstream.send("GET", url, headers + accept + [("Accept-Encoding", "identity")],
                                       scope=f"repository:{repository}:pull")
        if response.status_code in (301, 302, 303, 307, 308) and what == "blobs":
            response.close()  # storage redirect: the signed URL needs no credentials
            response = self._upstream.send("GET", response.headers.get("Location", ""), [])
        try:
            if response.status_code != 200:
                self._recording.problem(f"could not fetch {repository} {what[:-1]} {reference} for the scenario: "
                                        f"the upstream answered {response.status_code}")
                return
            if what == "manifests":
                body = response.raw.read(MAX_MANIFEST + 1, decode_content=False)
                if len(body) <= MAX_MANIFEST:
                    media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
                    self._recording.manifest(repository, reference, body, media_type)
                return
            sink = BlobSink(self._recording, repository, reference)
            try:
                for chunk in response.raw.stream(1 << 16, decode_content=False):
                    sink.write(chunk)
            except Exception:
                sink.abort()
                raise
            sink.finish()
        finally:
            response.close()
