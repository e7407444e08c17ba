"""OCI image layout import and export (image-spec image-layout.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from mockreg import Registry
from mockreg.layout import LayoutError, export_layout, import_layout
from mockreg.server import LiveServer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _image(registry: Registry, repo: str = "demo/app") -> dict:
    config = registry.push_blob(repo, b'{"architecture":"amd64","os":"linux"}')
    layer = registry.push_blob(repo, b"layer-bytes" * 100)
    manifest = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 37},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 1100}],
    }
    digest = registry.push_manifest(repo, manifest, tags=["1.0", "latest"])
    signature = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": registry.push_blob(repo, b"{}"),
                   "size": 2},
        "layers": [],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(registry.manifest(repo, digest).body)},
    }
    return {"image": digest, "layer": layer, "signature": registry.push_manifest(repo, signature)}


@pytest.mark.parametrize("target", ["layout", "layout.tar"])
def test_export_then_import_keeps_digests_tags_and_referrers(tmp_path: Path, target: str) -> None:
    source = Registry()
    digests = _image(source)
    export_layout(source, tmp_path / target, "demo/app")

    copy = Registry()
    result = import_layout(copy, tmp_path / target, "copy/app")

    assert result.tags == {"1.0": digests["image"], "latest": digests["image"]}
    assert copy.tags("copy/app") == ["1.0", "latest"]
    assert copy.manifest("copy/app", "1.0").body == source.manifest("demo/app", "1.0").body
    assert copy.blob("copy/app", digests["layer"]) == b"layer-bytes" * 100
    assert [r["digest"] for r in copy.referrers("copy/app", digests["image"])] == [digests["signature"]]


def test_exported_layout_follows_the_image_layout_spec(tmp_path: Path) -> None:
    registry = Registry()
    digests = _image(registry)
    export_layout(registry, tmp_path / "out", "demo/app")

    assert json.loads((tmp_path / "out/oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    index = json.loads((tmp_path / "out/index.json").read_text())
    refs = {e.get("annotations", {}).get("org.opencontainers.image.ref.name"): e["digest"] for e in index["manifests"]}
    assert refs == {"1.0": digests["image"], "latest": digests["image"], None: digests["signature"]}
    blob = tmp_path / "out/blobs/sha256" / digests["layer"].split(":")[1]
    assert blob.read_bytes() == b"layer-bytes" * 100


def test_whole_registry_export_names_repository_and_tag(tmp_path: Path) -> None:
    registry = Registry()
    _image(registry, "a/one")
    _image(registry, "b/two")
    export_layout(registry, tmp_path / "all")
    index = json.loads((tmp_path / "all/index.json").read_text())
    names = sorted(e["annotations"]["org.opencontainers.image.ref.name"]
                   for e in index["manifests"] if "annotations" in e)
    assert names == ["a/one:1.0", "a/one:latest", "b/two:1.0", "b/two:latest"]


def _broken_copy(tmp_path: Path) -> Path:
    registry = Registry()
    digests = _image(registry)
    export_layout(registry, tmp_path / "layout", "demo/app")
    return tmp_path / "layout" / "blobs" / "sha256" / digests["layer"].split(":")[1]


def test_corrupted_blob_is_refused_and_nothing_is_imported(tmp_path: Path) -> None:
    _broken_copy(tmp_path).write_bytes(b"tampered")
    registry = Registry()
    with pytest.raises(LayoutError, match="does not match its digest"):
        import_layout(registry, tmp_path / "layout", "copy/app")
    assert registry.repositories() == []


def test_missing_blob_is_refused_unless_sparse(tmp_path: Path) -> None:
    _broken_copy(tmp_path).unlink()
    with pytest.raises(LayoutError, match="referenced but missing"):
        import_layout(Registry(), tmp_path / "layout", "copy/app")
    sparse = Registry(sparse_manifests=True)
    assert import_layout(sparse, tmp_path / "layout", "copy/app").tags


def test_symlink_leaving_the_layout_is_refused(tmp_path: Path) -> None:
    blob = _broken_copy(tmp_path)
    outside = tmp_path / "secret"
    outside.write_bytes(b"secret")
    blob.unlink()
    blob.symlink_to(outside)
    with pytest.raises(LayoutError, match="outside the layout"):
        import_layout(Registry(), tmp_path / "layout", "copy/app")


def test_digest_that_tries_to_leave_the_layout_is_refused(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    (layout / "blobs").mkdir(parents=True)
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    evil = {"mediaType": OCI_MANIFEST, "digest": "sha256:../../../etc/passwd", "size": 1}
    (layout / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [evil]}))
    with pytest.raises(LayoutError, match="malformed digest"):
        import_layout(Registry(), layout, "copy/app")


def test_tar_member_that_is_a_link_is_refused(tmp_path: Path) -> None:
    blob = _broken_copy(tmp_path)
    name = "blobs/sha256/" + blob.name
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as out:
        for path in sorted((tmp_path / "layout").rglob("*")):
            relative = str(path.relative_to(tmp_path / "layout"))
            if relative == name:
                link = tarfile.TarInfo(name)
                link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
                out.addfile(link)
            elif path.is_file():
                out.add(path, relative)
    with pytest.raises(LayoutError, match="not a regular file"):
        import_layout(Registry(), archive, "copy/app")


def test_not_a_layout_gives_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LayoutError, match="no such layout"):
        import_layout(Registry(), tmp_path / "missing", "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match="oci-layout"):
        import_layout(Registry(), tmp_path / "empty", "x")


def _skopeo() -> str:
    path = shutil.which("skopeo")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("skopeo is required in CI (.ci/run installs it)")
        pytest.skip("skopeo is not installed (apt-get install skopeo)")
    return path


def test_layout_written_by_skopeo_imports_with_the_same_digests(tmp_path: Path) -> None:
    skopeo = _skopeo()
    source = Registry()
    digests = _image(source)
    export_layout(source, tmp_path / "ours", "demo/app")
    served = Registry()
    with LiveServer(served) as server:
        common = ["--insecure-policy", "--preserve-digests"]
        subprocess.run([skopeo, "copy", *common, "--dest-tls-verify=false", f"oci:{tmp_path / 'ours'}:1.0",
                        f"docker://{server.host_port}/pushed/app:1.0"], check=True, capture_output=True)
        subprocess.run([skopeo, "copy", *common, "--src-tls-verify=false",
                        f"docker://{server.host_port}/pushed/app:1.0", f"oci:{tmp_path / 'theirs'}:v1"],
                       check=True, capture_output=True)
    assert served.manifest("pushed/app", "1.0").digest == digests["image"]
    copy = Registry()
    result = import_layout(copy, tmp_path / "theirs", "copy/app")
    assert result.tags == {"v1": digests["image"]}
    assert copy.blob("copy/app", digests["layer"]) == b"layer-bytes" * 100
