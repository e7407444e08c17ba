"""Run real clients through their normal flows against mockreg with client checks on, and write
the table of rules each breaks into docs/client-checks.md (between the `client-table` markers).

    python scripts/client_checks_table.py            # rewrite the table
    python scripts/client_checks_table.py --print    # only print it

It also rewrites the rule catalogue (between the `catalogue` markers) from mockreg/checks.
Each flow gets a fresh registry (bearer auth for skopeo and podman, anonymous for the Python
libraries) with `upload_location_state` on, so rebuilt upload URLs show, plus the settings and
fault rules the flow names. A client that is not
installed, or a flow that fails, is reported as such in the table rather than left out.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockreg import Registry  # noqa: E402
from mockreg.checks.catalogue import catalogue_markdown  # noqa: E402
from mockreg.journal import attach  # noqa: E402
from mockreg.server import LiveServer  # noqa: E402

PAGE = ROOT / "docs" / "client-checks.md"
BEGIN, END = "<!-- client-table:begin -->", "<!-- client-table:end -->"
CATALOGUE = ("<!-- catalogue:begin -->", "<!-- catalogue:end -->")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
USER, PASSWORD = "alice", "secret"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def seed_content() -> Tuple[List[bytes], bytes]:
    """demo/app:1.0: the blobs and the manifest of a two-layer OCI image (same bytes every run)."""
    layers = [_tar(f"file{i}.txt", f"layer {i}\n".encode() * 200) for i in range(2)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(d) for d in layers]}}).encode()
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(d),
                            "size": len(d)} for d in layers]}
    return [config, *layers], json.dumps(manifest).encode()


def seed(registry: Registry) -> None:
    """Arranged through Python, so not judged."""
    blobs, manifest = seed_content()
    for data in blobs:
        registry.push_blob("demo/app", data)
    registry.push_manifest("demo/app", manifest, "1.0")


def _tar(name: str, data: bytes) -> bytes:
    """A real (uncompressed, deterministic) tar layer, so that podman can unpack the image."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run(argv: List[str]) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:3])}: {result.stderr.strip()[-300:]}")


def _skopeo(*argv: str) -> None:
    tool = shutil.which("skopeo")
    if tool is None:
        raise FileNotFoundError("skopeo not installed")
    run([tool, "--insecure-policy", *argv])


CREDS = f"{USER}:{PASSWORD}"


def skopeo_copy(host: str, work: Path) -> str:
    _skopeo("inspect", "--tls-verify=false", f"--creds={CREDS}", f"docker://{host}/demo/app:1.0")
    _skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"--src-creds={CREDS}",
            f"--dest-creds={CREDS}", f"docker://{host}/demo/app:1.0", f"docker://{host}/copy/app:1.0")
    _skopeo("copy", "--src-tls-verify=false", f"--src-creds={CREDS}", f"docker://{host}/demo/app:1.0",
            f"oci:{work / 'layout'}:1.0")
    _skopeo("copy", "--dest-tls-verify=false", f"--dest-creds={CREDS}", f"oci:{work / 'layout'}:1.0",
            f"docker://{host}/pushed/app:1.0")
    return "inspect; copy registry→registry; pull to an OCI layout; push from it"


def skopeo_corrupted(host: str, work: Path) -> str:
    try:
        _skopeo("copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"--src-creds={CREDS}",
                f"--dest-creds={CREDS}", f"docker://{host}/demo/app:1.0", f"docker://{host}/copy/app:1.0")
        outcome = "copy succeeded"
    except RuntimeError:
        outcome = "copy refused the damaged blob"
    return f"copy registry→registry while a fault corrupts the first blob GET ({outcome})"


def skopeo_rate_limited(host: str, work: Path) -> str:
    _skopeo("inspect", "--tls-verify=false", f"--creds={CREDS}", f"docker://{host}/demo/app:1.0")
    return "inspect while the first manifest GET answers 429 with Retry-After: 1"


def podman(host: str, work: Path) -> str:
    tool = shutil.which("podman")
    if tool is None:
        raise FileNotFoundError("podman not installed")
    base = [tool, "--root", str(work / "root"), "--runroot", str(work / "run"), "--storage-driver", "vfs"]
    run([*base, "pull", "--tls-verify=false", f"--creds={CREDS}", f"{host}/demo/app:1.0"])
    run([*base, "push", "--tls-verify=false", f"--creds={CREDS}", f"{host}/demo/app:1.0", f"{host}/podman/app:1.0"])
    return "pull; push to another repository"


def _oras(host: str, work: Path) -> Any:
    from oras.provider import Registry as OrasRegistry
    (work / "readme.txt").write_bytes(b"hello registry\n")
    (work / "data.bin").write_bytes(bytes(range(256)) * 64)
    return OrasRegistry(hostname=host, insecure=True)


def _files(work: Path) -> List[str]:
    return [str(work / "readme.txt"), str(work / "data.bin")]


def oras_push_pull(host: str, work: Path) -> str:
    client = _oras(host, work)
    client.push(target=f"{host}/demo/artifact:v1", files=_files(work), disable_path_validation=True, quiet=True)
    client.pull(target=f"{host}/demo/artifact:v1", outdir=str(work / "out"))
    return "push two files; pull them back"


def oras_chunked(host: str, work: Path) -> str:
    client = _oras(host, work)
    client.push(target=f"{host}/demo/chunked:v1", files=_files(work), disable_path_validation=True, quiet=True,
                do_chunked=True, chunk_size=4096)
    return "chunked push (4 KiB chunks; the registry asks for at least 1 KiB)"


def oras_referrers(host: str, work: Path) -> str:
    from oras.oci import Subject
    client = _oras(host, work)
    manifest = seed_content()[1]
    subject = Subject(OCI_MANIFEST, sha256(manifest), len(manifest))
    client.push(target=f"{host}/demo/app:sbom", files=_files(work)[:1], disable_path_validation=True, quiet=True,
                subject=subject)
    return "push an artifact with a subject to a registry without the referrers API"


def python_dxf(host: str, work: Path) -> str:
    from dxf import DXF
    client = DXF(host, "demo/dxf", insecure=True)
    (work / "blob").write_bytes(b"dxf blob " * 100)
    digest = client.push_blob(str(work / "blob"))
    client.set_alias("v1", digest)
    client.get_alias("v1")
    b"".join(client.pull_blob(digest))
    return "push_blob; set_alias; get_alias; pull_blob"


def http_walkthrough(call: Callable[..., Any]) -> None:
    """The push/pull/referrers steps docs/fixtures.md and tests/test_clients_e2e.py take by hand."""
    config, layer = b"{}", b"layer bytes"
    for data in (config, layer):
        call("POST", f"/v2/demo/raw/blobs/uploads/?digest={sha256(data)}", data)
    image = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                   "digest": sha256(config), "size": 2},
                        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                    "digest": sha256(layer), "size": len(layer)}]}).encode()
    call("PUT", "/v2/demo/raw/manifests/1.0", image, {"Content-Type": OCI_MANIFEST})
    pulled = call("GET", "/v2/demo/raw/manifests/1.0", headers={"Accept": OCI_MANIFEST})
    for entry in pulled.json()["layers"]:
        call("GET", f"/v2/demo/raw/blobs/{entry['digest']}")
    signature = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
                            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                                       "digest": sha256(config), "size": 2}, "layers": [],
                            "subject": {"mediaType": OCI_MANIFEST, "digest": sha256(image),
                                        "size": len(image)}}).encode()
    call("PUT", f"/v2/demo/raw/manifests/{sha256(signature)}", signature, {"Content-Type": OCI_MANIFEST})
    call("GET", f"/v2/demo/raw/referrers/{sha256(image)}")


def requests_flow(host: str, work: Path) -> str:
    import requests
    with requests.Session() as session:
        http_walkthrough(lambda method, path, body=None, headers=None: session.request(
            method, f"http://{host}{path}", data=body, headers=headers))
    return "monolithic push, pull, referrers (requests.Session)"


def httpx_flow(host: str, work: Path) -> str:
    import httpx
    with httpx.Client(base_url=f"http://{host}") as client:
        http_walkthrough(lambda method, path, body=None, headers=None: client.request(
            method, path, content=body, headers=headers))
    return "monolithic push, pull, referrers (httpx.Client)"


@dataclass
class Flow:
    client: str
    run: Callable[[str, Path], str]
    auth: bool = False  # bearer auth with user alice
    settings: Dict[str, Any] = field(default_factory=dict)
    faults: List[Dict[str, Any]] = field(default_factory=list)


FLOWS = [
    Flow("skopeo", skopeo_copy, auth=True),
    Flow("skopeo", skopeo_corrupted, auth=True, faults=[{"kinds": ["blob-get"], "first": 1, "corrupt": True}]),
    Flow("skopeo", skopeo_rate_limited, auth=True,
         faults=[{"kinds": ["manifest-get"], "first": 1, "status": 429, "retry_after": 1}]),
    Flow("podman", podman, auth=True),
    Flow("oras-py", oras_push_pull),
    Flow("oras-py", oras_chunked, settings={"chunk_min_length": 1024}),
    Flow("oras-py", oras_referrers, settings={"referrers": False}),
    Flow("python-dxf", python_dxf),
    Flow("requests", requests_flow),
    Flow("httpx", httpx_flow),
]


def version(name: str) -> str:
    try:
        if name in ("skopeo", "podman"):
            return subprocess.run([name, "--version"], capture_output=True, text=True).stdout.split()[-1]
        from importlib.metadata import version as dist_version
        return dist_version({"oras-py": "oras", "python-dxf": "python-dxf"}.get(name, name))
    except Exception:  # the table says "?" rather than failing on a version string
        return "?"


def measure() -> List[Dict[str, Any]]:
    rows = []
    with LiveServer(Registry()) as server:
        for flow in FLOWS:
            registry = Registry(upload_location_state=True, **flow.settings)
            if flow.auth:
                registry.enable_auth(scheme="bearer", users=[{"name": USER, "password": PASSWORD,
                                                               "access": {"*/*": "pull,push"}}])
            seed(registry)
            for fault in flow.faults:
                registry.add_fault(**fault)
            checks = attach(registry).check_clients()
            server.app = registry
            with tempfile.TemporaryDirectory() as work:
                try:
                    what, problem = flow.run(server.host_port, Path(work)), ""
                except Exception as exc:  # reported in the table: a flow that could not run
                    what, problem = "", f"{type(exc).__name__}: {exc}"
            found = checks.violations()
            setup = ", ".join([*(["bearer auth"] if flow.auth else []),
                               *(f"{k}={v}" for k, v in flow.settings.items())])
            rows.append({"client": flow.client, "version": version(flow.client), "flow": what, "problem": problem,
                         "setup": setup, "broken": sorted({v.rule.id for v in found}),
                         "detail": sorted({f"{v.rule.id}: {v.message}" for v in found})[:6],
                         "requests": len(attach(registry))})
    return rows


def table(rows: List[Dict[str, Any]]) -> str:
    lines = ["| client | version | flow | registry | requests | rules broken |", "|---|---|---|---|---|---|"]
    for row in rows:
        broken = ", ".join(f"`{r}`" for r in row["broken"]) or "none"
        flow = row["flow"] or f"not run: {' '.join(str(row['problem']).split())}"
        lines.append(f"| {row['client']} | {row['version']} | {flow} | {row['setup'] or 'defaults'} | "
                     f"{row['requests']} | {broken} |")
    details = [f"- {row['client']}: {d}" for row in rows for d in row["detail"]]
    return "\n".join(lines) + ("\n\nWhat each violation was (first of each kind):\n\n" + "\n".join(details)
                               if details else "")


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print", action="store_true", help="print the table instead of rewriting the page")
    args = parser.parse_args(argv)
    text = table(measure())
    if args.print:
        print(text)
        return 0
    page = replace_between(PAGE.read_text(encoding="utf-8"), (BEGIN, END), text)
    PAGE.write_text(replace_between(page, CATALOGUE, catalogue_markdown()), encoding="utf-8")
    print(text)
    return 0


def replace_between(page: str, markers: Tuple[str, str], text: str) -> str:
    head, found, rest = page.partition(markers[0])
    _, found_end, tail = rest.partition(markers[1])
    if not found or not found_end:
        raise SystemExit(f"{PAGE} lacks the markers {markers[0]} ... {markers[1]}")
    return f"{head}{markers[0]}\n{text}\n{markers[1]}{tail}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
