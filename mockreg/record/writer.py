"""Write a recording: the scenario file, and an OCI image layout per repository beside it.

`OUT.yaml` gets the behaviour (settings, auth, faults, rate limits, each with a `# from:`
comment naming the exchange it came from) and the repositories, whose manifests and blobs live
in `OUT.layout/<repository>/` (an OCI image layout, as skopeo and oras write them). Blobs not
referenced by any recorded manifest go inline (base64) when small. The `recorded:` section
holds what was observed for review: upstream, auth challenge, notes, error answers per kind,
what the client pushed, and the exchange list the replay is compared with.
Nothing secret is ever in the recording to begin with (see proxy.py); the writer adds none.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Set, Tuple

from .. import manifests as manifest_rules
from ..errors import RegistryError
from ..layout import LAYOUT_VERSION, REF_NAME
from .observe import Behaviour
from .recording import Recording

INLINE_LIMIT = 1024  # bytes; larger standalone blobs are files in the layout


def write(recording: Recording, behaviour: Behaviour, out: Path, realm_note: str) -> Path:
    """Write `out` and its layouts (replacing an earlier recording of the same name)."""
    out = Path(out)
    layouts = out.with_name(out.stem + ".layout")
    staging = out.with_name(f".{out.stem}.layout.{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    repositories, sparse, manifests = _write_layouts(recording, staging, layouts.name)
    if sparse:
        behaviour.settings.setdefault("sparse_manifests", (True, "blobs the client never fetched are not recorded, "
                                                                 "so some manifests reference missing blobs"))
    summary = (f"{_count(len(repositories), 'repository', 'repositories')} and "
               f"{_count(manifests, 'manifest')} as they were before the client's operations, "
               f"{_count(len(recording.exchanges), 'exchange')}")
    text = _scenario_text(recording, behaviour, repositories, realm_note, summary)
    temporary = out.with_name(f".{out.name}.{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    shutil.rmtree(layouts, ignore_errors=True)
    if staging.exists():
        os.replace(staging, layouts)
    os.replace(temporary, out)
    return out


def _write_layouts(recording: Recording, root: Path, relative: str) -> Tuple[Dict[str, Dict[str, Any]], bool, int]:
    """The scenario's repositories, whether some blobs are missing, and how many manifests were written."""
    repositories: Dict[str, Dict[str, Any]] = {}
    sparse = False
    written: Set[str] = set()
    tags_of: Dict[Tuple[str, str], List[str]] = {}
    for (repository, tag), digest in sorted(recording.tags.items()):
        tags_of.setdefault((repository, digest), []).append(tag)
    for repository, held in sorted(recording.upstream_content().items()):
        entries, used, missing = _manifest_entries(recording, repository, held, tags_of)
        sparse = sparse or missing
        written |= {entry["digest"] for entry in entries}
        spec: Dict[str, Any] = {}
        directory = root / repository
        if entries:
            for digest in used:
                _put_blob(recording, directory, digest)
            (directory / "oci-layout").write_text(json.dumps(LAYOUT_VERSION))
            (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": entries}, indent=1))
            spec["layouts"] = [{"path": f"{relative}/{repository}"}]
        standalone = sorted(d for d in held if d in recording.blob_files and d not in used)
        blobs = []
        for digest in standalone:
            size = recording.blob_files[digest].stat().st_size
            if size <= INLINE_LIMIT:
                blobs.append({"base64": base64.b64encode(recording.blob_files[digest].read_bytes()).decode()})
            else:
                _put_blob(recording, directory, digest)
                blobs.append({"file": f"{relative}/{repository}/blobs/{digest.replace(':', '/')}"})
        if blobs:
            spec["blobs"] = blobs
        if spec:
            repositories[repository] = spec
    return repositories, sparse, len(written)


def _manifest_entries(recording: Recording, repository: str, held: Set[str],
                      tags_of: Dict[Tuple[str, str], List[str]]) -> Tuple[List[Dict[str, Any]], Set[str], bool]:
    """index.json entries for the repository's manifests whose child manifests were all recorded."""
    entries: List[Dict[str, Any]] = []
    used: Set[str] = set()
    missing = False
    for digest in sorted(d for d in held if d in recording.manifests):
        closure = _closure(recording, digest)
        if closure is None:
            recording.problem(f"{repository}@{digest} left out: a manifest it lists was never fetched")
            continue
        manifest_digests, blob_digests = closure
        used |= manifest_digests
        for blob in blob_digests:
            if blob in recording.blob_files:
                used.add(blob)
            else:
                missing = True
        stored = recording.manifests[digest]
        descriptor = {"mediaType": stored.media_type, "digest": digest, "size": len(stored.body)}
        tags = tags_of.get((repository, digest), [])
        entries += [{**descriptor, "annotations": {REF_NAME: tag}} for tag in tags] or [dict(descriptor)]
    return entries, used, missing


def _closure(recording: Recording, digest: str) -> Any:
    """(manifests, distributable blobs) under `digest`, or None when a child manifest is missing."""
    manifests_seen: Set[str] = set()
    blobs: Set[str] = set()
    pending = [digest]
    while pending:
        current = pending.pop()
        if current in manifests_seen:
            continue
        stored = recording.manifests.get(current)
        if stored is None:
            return None
        manifests_seen.add(current)
        try:
            parsed = manifest_rules.parse(stored.body, stored.media_type or None)
        except RegistryError:
            return None
        pending += [child.digest for child in parsed.children]
        blobs |= {blob.digest for blob in parsed.blobs if manifest_rules.is_distributable(blob)}
    return manifests_seen, blobs


def _put_blob(recording: Recording, directory: Path, digest: str) -> None:
    algorithm, encoded = digest.split(":", 1)
    target = directory / "blobs" / algorithm / encoded
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    stored = recording.manifests.get(digest)
    if stored is not None:
        target.write_bytes(stored.body)
    else:
        shutil.copyfile(recording.blob_files[digest], target)


# -- the YAML text -------------------------------------------------------------------------------
def _count(number: int, singular: str, plural: str = "") -> str:
    return f"{number} {singular if number == 1 else (plural or singular + 's')}"


def _scenario_text(recording: Recording, behaviour: Behaviour, repositories: Dict[str, Any], realm_note: str,
                   summary: str) -> str:
    import yaml

    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [f"# Recorded by `mockreg record` from {recording.upstream} at {when}.",
             "# Replay: mockreg serve --scenario THIS_FILE (docs/record.md). Credentials, tokens, cookies and",
             "# signed URLs were never written; auth users get the replay password instead of theirs.",
             "version: 1",
             f"description: {json.dumps(f'Recorded from {recording.upstream}: {summary}')}"]
    if behaviour.settings:
        lines.append("settings:")
        for name, (value, source) in behaviour.settings.items():
            lines.append(f"  {name}: {json.dumps(value)}  # from: {source}")
    if behaviour.auth is not None:
        config, source = behaviour.auth
        lines.append(f"# auth from: {source}")
        lines += _dump({"auth": config})
    for key, found in (("faults", behaviour.faults), ("rate_limits", behaviour.rate_limits),
                       ("error_rules", behaviour.error_rules)):
        if found:
            lines.append(f"{key}:")
            for rule, source in found:
                lines += [f"  # from: {source}", f"  - {json.dumps(rule)}"]
    if repositories:
        lines += _dump({"repositories": repositories})
    lines += _dump({"recorded": _recorded(recording, behaviour, realm_note)})
    text = "\n".join(lines) + "\n"
    yaml.safe_load(text)  # what we write must read back; a failure here is a bug, not bad input
    return text


def _dump(mapping: Dict[str, Any]) -> List[str]:
    import yaml

    return yaml.safe_dump(mapping, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=4096).rstrip("\n").split("\n")


def _recorded(recording: Recording, behaviour: Behaviour, realm_note: str) -> Dict[str, Any]:
    section: Dict[str, Any] = {"upstream": recording.upstream}
    challenge = next((ex for ex in recording.exchanges if ex.status == 401 and "www-authenticate" in ex.headers), None)
    if challenge is not None:
        section["auth"] = {"challenge": challenge.headers["www-authenticate"],
                           "realms": sorted({realm.split("?", 1)[0] for realm in recording.realms}),
                           "realm_choice": realm_note,
                           "scopes": sorted({ex.args["scope"] for ex in recording.exchanges
                                             if ex.kind == "token" and ex.args.get("scope")}),
                           "from": challenge.label}
    if behaviour.notes:
        section["notes"] = behaviour.notes
    if behaviour.errors:
        section["errors"] = behaviour.errors
    unlisted = {repository: sorted(tags - {t for (r, t) in recording.tags if r == repository})
                for repository, tags in recording.listed_tags.items()}
    unlisted = {k: v for k, v in unlisted.items() if v}
    if unlisted:
        section["tags_not_recorded"] = unlisted
    pushed = recording.client_content()
    if pushed:
        section["pushed"] = pushed
    if recording.problems:
        section["problems"] = list(recording.problems)
    section["exchanges"] = [ex.to_dict() for ex in recording.exchanges]
    return section
