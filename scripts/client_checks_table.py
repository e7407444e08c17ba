"""Run real clients through their normal flows against mockreg with client checks on, and write
the table of rules each breaks into docs/client-checks.md (between the `client-table` markers).

    python scripts/client_checks_table.py            # rewrite the table
    python scripts/client_checks_table.py --print    # only print it

It also rewrites the rule catalogue (between the `catalogue` markers) from mockreg/checks.
Each client gets a fresh registry (bearer auth for skopeo and podman, anonymous for the Python
libraries) with `upload_location_state` on, so rebuilt upload URLs show. A client that is not
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
from pathlib import Path
from typing import Callable, Dict, List, Tuple

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


def seed(registry: Registry) -> None:
    """demo/app:1.0, a two-layer OCI image, arranged through Python (not judged)."""
    layers = [_tar(f"file{i}.txt", f"layer {i}\n".encode() * 200) for i in range(2)]
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha256(d) for d in layers]}}).encode()
    for data in [config, *layers]:
        registry.push_blob("demo/app", data)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha256(config),
                           "size": len(config)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha256(d),
                            "size": len(d)} for d in layers]}
    registry.push_manifest("demo/app", json.dumps(manifest).encode(), "1.0")


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


def skopeo(host: str, work: Path) -> str:
    tool = shutil.which("skopeo")
    if tool is None:
        raise FileNotFoundError("skopeo not installed")
    creds = [f"--creds={USER}:{PASSWORD}"]
    policy = ["--insecure-policy"]
    run([tool, *policy, "inspect", "--tls-verify=false", *creds, f"docker://{host}/demo/app:1.0"])
    run([tool, *policy, "copy", "--src-tls-verify=false", "--dest-tls-verify=false", f"--src-creds={USER}:{PASSWORD}",
         f"--dest-creds={USER}:{PASSWORD}", f"docker://{host}/demo/app:1.0", f"docker://{host}/copy/app:1.0"])
    run([tool, *policy, "copy", "--src-tls-verify=false", f"--src-creds={USER}:{PASSWORD}",
         f"docker://{host}/demo/app:1.0", f"oci:{work / 'layout'}:1.0"])
    run([tool, *policy, "copy", "--dest-tls-verify=false", f"--dest-creds={USER}:{PASSWORD}",
         f"oci:{work / 'layout'}:1.0", f"docker://{host}/pushed/app:1.0"])
    return "inspect; copy registry→registry; pull to an OCI layout; push from it (bearer auth)"


def podman(host: str, work: Path) -> str:
    tool = shutil.which("podman")
    if tool is None:
        raise FileNotFoundError("podman not installed")
    base = [tool, "--root", str(work / "root"), "--runroot", str(work / "run"), "--storage-driver", "vfs"]
    run([*base, "pull", "--tls-verify=false", f"--creds={USER}:{PASSWORD}", f"{host}/demo/app:1.0"])
    run([*base, "push", "--tls-verify=false", f"--creds={USER}:{PASSWORD}", f"{host}/demo/app:1.0",
         f"{host}/podman/app:1.0"])
    return "pull; push to another repository (bearer auth)"


def oras_py(host: str, work: Path) -> str:
    from oras.provider import Registry as OrasRegistry
    client = OrasRegistry(hostname=host, insecure=True)
    (work / "readme.txt").write_bytes(b"hello registry\n")
    (work / "data.bin").write_bytes(bytes(range(256)) * 64)
    target = f"{host}/demo/artifact:v1"
    client.push(target=target, files=[str(work / "readme.txt"), str(work / "data.bin")],
                disable_path_validation=True, quiet=True)
    client.pull(target=target, outdir=str(work / "out"))
    return "push two files; pull them back"


def python_dxf(host: str, work: Path) -> str:
    from dxf import DXF
    client = DXF(host, "demo/dxf", insecure=True)
    (work / "blob").write_bytes(b"dxf blob " * 100)
    digest = client.push_blob(str(work / "blob"))
    client.set_alias("v1", digest)
    client.get_alias("v1")
    b"".join(client.pull_blob(digest))
    return "push_blob; set_alias; get_alias; pull_blob"


def http_walkthrough(call: Callable[..., object]) -> None:
    """The push/pull/referrers steps docs/fixtures.md shows with requests and httpx."""
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
    for entry in pulled.json()["layers"]:  # type: ignore[attr-defined]
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


CLIENTS: List[Tuple[str, Callable[[str, Path], str], bool]] = [
    ("skopeo", skopeo, True), ("podman", podman, True), ("oras-py", oras_py, False),
    ("python-dxf", python_dxf, False), ("requests", requests_flow, False), ("httpx", httpx_flow, False),
]


def version(name: str) -> str:
    try:
        if name in ("skopeo", "podman"):
            return subprocess.run([name, "--version"], capture_output=True, text=True).stdout.split()[-1]
        from importlib.metadata import version as dist_version
        return dist_version({"oras-py": "oras", "python-dxf": "python-dxf"}.get(name, name))
    except Exception:  # the table says "?" rather than failing on a version string
        return "?"


def measure() -> List[Dict[str, object]]:
    rows = []
    with LiveServer(Registry()) as server:
        for name, flow, auth in CLIENTS:
            registry = Registry(upload_location_state=True)
            if auth:
                registry.enable_auth(scheme="bearer", users=[{"name": USER, "password": PASSWORD,
                                                               "access": {"*/*": "pull,push"}}])
            seed(registry)
            checks = attach(registry).check_clients()
            server.app = registry
            with tempfile.TemporaryDirectory() as work:
                try:
                    what, problem = flow(server.host_port, Path(work)), ""
                except Exception as exc:  # reported in the table: a flow that could not run
                    what, problem = "", f"{type(exc).__name__}: {exc}"
            found = checks.violations()
            rows.append({"client": name, "version": version(name), "flow": what, "problem": problem,
                         "broken": sorted({v.rule.id for v in found}),
                         "detail": sorted({f"{v.rule.id}: {v.message}" for v in found})[:6],
                         "requests": len(attach(registry))})
    return rows


def table(rows: List[Dict[str, object]]) -> str:
    lines = ["| client | version | flow | requests | rules broken |", "|---|---|---|---|---|"]
    for row in rows:
        broken = ", ".join(f"`{r}`" for r in row["broken"]) or "none"  # type: ignore[union-attr]
        flow = row["flow"] or f"not run: {row['problem']}"
        lines.append(f"| {row['client']} | {row['version']} | {flow} | {row['requests']} | {broken} |")
    details = [f"- {row['client']}: {d}" for row in rows for d in row["detail"]]  # type: ignore[union-attr]
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
