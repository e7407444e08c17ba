"""The clients of the compatibility table (scripts/compat_table.py), each driven as its users drive it.

Every client gets the same target: a `mockreg serve --profile NAME --user USER:PASSWORD --tls
self-signed` process (`Target`), its own repository, and the operations in `OPERATIONS`. An
operation returns normally when it worked, raises `Failed(reason)` with what the client itself
reported, or raises `NotOffered` when the client has no such operation (skopeo lists no catalog).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

OPERATIONS = ["login", "push", "pull", "tags", "catalog", "referrers", "delete"]
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
SBOM = "application/vnd.example.sbom.v1+json"


class Failed(Exception):
    """The operation failed; the message is the client's own words, shortened."""


class NotOffered(Exception):
    """The client has no such operation."""


@dataclass
class Target:
    host_port: str   # e.g. 127.0.0.1:40123
    ca: Path         # the CA `--tls self-signed` made; clients are told to trust it
    user: str
    password: str
    work: Path       # a scratch directory for this client

    @property
    def url(self) -> str:
        return f"https://{self.host_port}"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short(text: str, limit: int = 110) -> str:
    """The most telling line of a client's output: the last one naming an error, else the last."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return "no output"
    words = r"error|fail|denied|unauthori|invalid|not found|unknown"
    telling = [line for line in lines if re.search(words, line, re.I)]
    line = (telling or lines)[-1]
    line = re.sub(r"\s+", " ", re.sub(r'time="[^"]*" level=\w+ msg=', "", line))
    line = re.sub(r"127\.0\.0\.1:\d+", "HOST", line)  # the same failure on another port is the same failure
    line = re.sub(r"team/compat/[a-z-]+", "REPO", line)  # ... and for another client's repository
    line = re.sub(r"sha256:[0-9a-f]{64}", "sha256:…", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


# -- a tiny image, written once as an OCI layout for the command-line clients ----------------------
def image_parts() -> Tuple[bytes, bytes, bytes]:
    """(layer, config, manifest) of a one-file linux/amd64 image, byte-for-byte the same every run."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        data = b"hello from the compatibility table\n"
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    layer = gzip.compress(raw.getvalue(), mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [digest(raw.getvalue())]}},
                        sort_keys=True).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": digest(config), "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": digest(layer), "size": len(layer)}]}, sort_keys=True).encode()
    return layer, config, manifest


def write_layout(directory: Path, tag: str = "1.0") -> Path:
    layer, config, manifest = image_parts()
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    for blob in (layer, config, manifest):
        (blobs / digest(blob).split(":", 1)[1]).write_bytes(blob)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest(manifest), "size": len(manifest),
         "annotations": {"org.opencontainers.image.ref.name": tag}}]}))
    return directory


# -- command-line clients ---------------------------------------------------------------------------
def run(argv: List[str], timeout: float = 60) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        raise Failed(short(done.stderr or done.stdout))
    return done.stdout


class Skopeo:
    name = "skopeo"

    def __init__(self, target: Target, repository: str) -> None:
        self.t, self.ref = target, f"docker://{target.host_port}/{repository}"
        self.certs = target.ca.parent
        self.auth = target.work / "auth.json"
        self.layout = write_layout(target.work / "layout")

    def _tls(self, flag: str = "--cert-dir") -> List[str]:
        return [flag, str(self.certs), "--authfile", str(self.auth)]

    def login(self) -> None:
        run(["skopeo", "login", "--cert-dir", str(self.certs), "--authfile", str(self.auth),
             "-u", self.t.user, "-p", self.t.password, self.t.host_port])

    def push(self) -> None:
        run(["skopeo", "copy", "--dest-cert-dir", str(self.certs), "--authfile", str(self.auth),
             f"oci:{self.layout}:1.0", f"{self.ref}:1.0"])

    def pull(self) -> None:
        run(["skopeo", "copy", "--src-cert-dir", str(self.certs), "--authfile", str(self.auth),
             f"{self.ref}:1.0", f"oci:{self.t.work / 'pulled'}:1.0"])

    def tags(self) -> None:
        listed = json.loads(run(["skopeo", "list-tags", *self._tls(), self.ref]))
        if "1.0" not in listed.get("Tags", []):
            raise Failed(f"pushed tag missing from {listed.get('Tags')}")

    def catalog(self) -> None:
        raise NotOffered

    def referrers(self) -> None:
        raise NotOffered

    def delete(self) -> None:
        run(["skopeo", "delete", *self._tls(), f"{self.ref}:1.0"])


_PODMAN_DIRS = itertools.count(1)


class Podman:
    name = "podman"

    def __init__(self, target: Target, repository: str) -> None:
        self.t, self.image = target, f"{target.host_port}/{repository}"
        self.certs = target.ca.parent
        self.auth = target.work / "auth.json"
        # podman names an image pulled from oci:DIR after DIR, so DIR must read as a reference
        self.scratch = Path(tempfile.gettempdir()) / f"compat-podman-{os.getpid()}-{next(_PODMAN_DIRS)}"
        self.scratch.mkdir()
        self.layout = write_layout(self.scratch / "layout")
        self.loaded: List[str] = []

    def _opts(self) -> List[str]:
        return ["--cert-dir", str(self.certs), "--authfile", str(self.auth)]

    def login(self) -> None:
        run(["podman", "login", *self._opts(), "-u", self.t.user, "-p", self.t.password, self.t.host_port])

    def push(self) -> None:
        image_id = run(["podman", "pull", "-q", f"oci:{self.layout}:1.0"]).strip().splitlines()[-1]
        self.loaded.append(image_id)
        run(["podman", "push", *self._opts(), image_id, f"docker://{self.image}:1.0"])

    def pull(self) -> None:
        self.loaded.append(run(["podman", "pull", "-q", *self._opts(), f"{self.image}:1.0"]).strip().splitlines()[-1])

    def _search(self) -> List[str]:
        # podman search takes no --cert-dir: it is told not to verify the (self-signed) certificate
        return ["podman", "search", "--tls-verify=false", "--authfile", str(self.auth)]

    def tags(self) -> None:
        if "1.0" not in run([*self._search(), "--list-tags", self.image]):
            raise Failed("pushed tag missing from podman search --list-tags")

    def catalog(self) -> None:
        found = run([*self._search(), f"{self.t.host_port}/{self.image.split('/', 2)[1]}"])
        if self.image.split("/", 1)[1] not in found:
            raise Failed("pushed repository missing from podman search")

    def referrers(self) -> None:
        raise NotOffered

    def delete(self) -> None:
        raise NotOffered

    def close(self) -> None:
        for image_id in self.loaded:
            subprocess.run(["podman", "rmi", "-f", image_id], capture_output=True, timeout=60)
        shutil.rmtree(self.scratch, ignore_errors=True)


# -- Python libraries ---------------------------------------------------------------------------------
def _failing(call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (Failed, NotOffered):
        raise
    except Exception as error:  # the library's own exception is the reason to show
        raise Failed(short(f"{type(error).__name__}: {error}")) from None


class OrasPy:
    name = "oras-py"

    def __init__(self, target: Target, repository: str) -> None:
        import requests
        from oras.provider import Registry as OrasRegistry

        self.t, self.container = target, f"{target.host_port}/{repository}"
        # oras-py's default auth backend speaks the token flow; for a registry that challenges
        # with Basic its users pick the "basic" backend, as done here.
        scheme = requests.get(target.url + "/v2/", verify=str(target.ca), timeout=30).headers.get(
            "WWW-Authenticate", "bearer").split(" ")[0].lower()
        self.backend = "basic" if scheme == "basic" else "token"
        self.client = OrasRegistry(hostname=target.host_port, insecure=False, tls_verify=str(target.ca),
                                   auth_backend=self.backend)
        self.file = target.work / "artifact.txt"
        self.file.write_bytes(b"an artifact for the compatibility table\n")

    def login(self) -> None:
        # oras-py's login() stores credentials through the Docker SDK; its HTTP client takes them
        # with set_basic_auth and uses them when a request is challenged. The check that they are
        # accepted runs on a second client, so the first keeps no token scoped to /v2/ alone.
        from oras.provider import Registry as OrasRegistry

        self.client.auth.set_basic_auth(self.t.user, self.t.password)
        probe = OrasRegistry(hostname=self.t.host_port, insecure=False, tls_verify=str(self.t.ca),
                             auth_backend=self.backend)
        probe.auth.set_basic_auth(self.t.user, self.t.password)
        response = _failing(lambda: probe.do_request(f"https://{self.t.host_port}/v2/", "GET"))
        if response.status_code != 200:
            raise Failed(f"GET /v2/ answered {response.status_code}: {short(response.text)}")

    def push(self) -> None:
        response = _failing(lambda: self.client.push(target=f"{self.container}:1.0", files=[str(self.file)],
                                                    disable_path_validation=True, quiet=True))
        if response.status_code != 201:
            raise Failed(f"manifest PUT answered {response.status_code}: {short(response.text)}")

    def pull(self) -> None:
        pulled = _failing(lambda: self.client.pull(target=f"{self.container}:1.0", outdir=str(self.t.work / "out")))
        if not pulled or Path(pulled[0]).read_bytes() != self.file.read_bytes():
            raise Failed("pulled files differ from the pushed ones")

    def tags(self) -> None:
        if "1.0" not in _failing(lambda: self.client.get_tags(self.container)):
            raise Failed("pushed tag missing")

    def catalog(self) -> None:
        raise NotOffered

    def referrers(self) -> None:
        from oras.oci import Subject

        manifest = _failing(lambda: self.client.get_manifest(f"{self.container}:1.0"))
        body = json.dumps(manifest).encode()  # oras-py hands back parsed JSON; its digest is the server's
        head = _failing(lambda: self.client.do_request(
            f"https://{self.t.host_port}/v2/{self.container.split('/', 1)[1]}/manifests/1.0", "HEAD",
            headers={"Accept": OCI_MANIFEST}))
        subject = Subject(OCI_MANIFEST, head.headers.get("Docker-Content-Digest", digest(body)),
                          int(head.headers.get("Content-Length", len(body))))
        response = _failing(lambda: self.client.push(target=f"{self.container}:sbom", files=[str(self.file)],
                                                    disable_path_validation=True, subject=subject, quiet=True))
        if response.status_code != 201:
            raise Failed(f"artifact manifest PUT answered {response.status_code}")

    def delete(self) -> None:
        if not _failing(lambda: self.client.delete_tag(self.container, "1.0")):
            raise Failed("delete_tag returned False")


class PythonDxf:
    name = "python-dxf"

    def __init__(self, target: Target, repository: str) -> None:
        from dxf import DXF, DXFBase

        self.t = target

        def auth(client: Any, response: Any) -> None:
            client.authenticate(target.user, target.password, response=response)

        self.client = DXF(target.host_port, repository, auth=auth, tlsverify=str(target.ca))
        self.base = DXFBase(target.host_port, auth=auth, tlsverify=str(target.ca))
        self.layer = target.work / "layer.bin"
        self.layer.write_bytes(b"a blob pushed by python-dxf\n" * 64)

    def login(self) -> None:
        _failing(lambda: self.client.authenticate(self.t.user, self.t.password, actions=["pull", "push"]))

    def push(self) -> None:
        pushed = _failing(lambda: self.client.push_blob(str(self.layer)))
        _failing(lambda: self.client.set_alias("1.0", pushed))

    def pull(self) -> None:
        digests = _failing(lambda: self.client.get_alias("1.0"))
        data = b"".join(_failing(lambda: self.client.pull_blob(digests[0])))
        if data != self.layer.read_bytes():
            raise Failed("pulled blob differs from the pushed one")

    def tags(self) -> None:
        if "1.0" not in _failing(self.client.list_aliases):
            raise Failed("pushed tag missing")

    def catalog(self) -> None:
        if self.client._repo not in _failing(self.base.list_repos):
            raise Failed("pushed repository missing from the catalog")

    def referrers(self) -> None:
        raise NotOffered

    def delete(self) -> None:
        _failing(lambda: self.client.del_alias("1.0"))


def clients() -> Dict[str, Callable[[Target, str], Any]]:
    from compat_http import RawHttp

    return {"skopeo": Skopeo, "podman": Podman, "oras-py": OrasPy, "python-dxf": PythonDxf,
            "requests": lambda t, r: RawHttp("requests", t, r), "httpx": lambda t, r: RawHttp("httpx", t, r)}


def attempt(client: Any, operation: str, timeout: float = 90) -> Tuple[str, Optional[str]]:
    """("ok", None), ("fail", reason) or ("n/a", None). A library call that does not come back
    within `timeout` (one that keeps retrying) is a failure; its thread is left to die with the server."""
    outcome: List[Tuple[str, Optional[str]]] = []

    def call() -> None:
        try:
            getattr(client, operation)()
        except NotOffered:
            outcome.append(("n/a", None))
        except Failed as failure:
            outcome.append(("fail", str(failure)))
        except Exception as error:  # a bug in a client's adapter must show, not stop the table
            outcome.append(("fail", short(f"{type(error).__name__}: {error}")))
        else:
            outcome.append(("ok", None))

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(timeout)
    return outcome[0] if outcome else ("fail", f"no answer within {timeout:.0f} s (the client kept retrying)")
