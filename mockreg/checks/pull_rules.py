"""Rules about pulling and content discovery: the manifest `Accept` header, verifying what was
pulled, the referrers fallback, and what the request line itself may carry."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from .. import reference
from ..digest import looks_like_digest
from .model import DIST_SPEC, INTEROP, MUST, RFC9110, SHOULD, Exchange, Finding, Rule
from .push_rules import media_type

DISTRIBUTION_MANIFESTS = ("https://github.com/distribution/distribution/blob/00f0ef83d54a9df22a703bd07f01308aaf565d08/"
                          "registry/handlers/manifests.go")
_REFERRERS_TAG = re.compile(r"^[a-z0-9]{1,32}-[a-f0-9]{64}$")
_MANIFEST_READS = frozenset({"manifest-get", "manifest-head"})


def accept_sent(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.kind in _MANIFEST_READS and not entry.request_headers.get("Accept"):
        return [("manifest requested without an Accept header", [exchange])]
    return []


def _accepts(accept: str, wanted: str) -> bool:
    for item in accept.split(","):
        offered = media_type(item)
        quality = re.search(r";\s*q=([0-9.]+)", item)
        if quality is not None and float(quality.group(1) or 0) == 0:
            continue
        if offered in ("*/*", wanted) or (offered.endswith("/*") and wanted.startswith(offered[:-1])):
            return True
    return False


def accept_covers_type(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    accept = entry.request_headers.get("Accept")
    served = media_type(entry.header("Content-Type"))
    if entry.kind not in _MANIFEST_READS or entry.status != 200 or not accept or not served:
        return []
    if _accepts(accept, served):
        return []
    return [(f"the manifest is {served}, which the Accept header ({accept}) does not list", [exchange])]


# -- verifying pulled content (per client) ------------------------------------------------------------
def _references(exchange: Exchange) -> List[str]:
    """Digests a pushed manifest points at: config, layers, manifests, subject."""
    body = exchange.json
    if not isinstance(body, dict):
        return []
    found = [d.get("digest") for key in ("layers", "manifests", "blobs") for d in body.get(key) or []
             if isinstance(d, dict)]
    found += [body[key].get("digest") for key in ("config", "subject") if isinstance(body.get(key), dict)]
    return [d for d in found if isinstance(d, str)]


def verify_pulled(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    """A client that received damaged bytes and then pushes something built on them did not verify."""
    entry = exchange.entry
    damaged: Dict[str, Exchange] = state.setdefault(exchange.client, {})
    findings: List[Finding] = []
    if entry.kind in ("blob-get", "manifest-get") and entry.method == "GET" and entry.ok and entry.digest:
        if exchange.corrupted:
            damaged[entry.digest] = exchange
        else:
            damaged.pop(entry.digest, None)  # fetched again: the client noticed
    elif damaged and entry.kind in ("manifest-put", "blob-upload-start", "blob-upload-put"):
        used = set(_references(exchange)) if entry.kind == "manifest-put" else {
            d for d in (entry.arg("digest"), entry.arg("mount")) if d is not None}
        for digest in sorted(used & set(damaged)):
            findings.append((f"{digest} was served corrupted (a fault rule) and the client went on to push "
                             f"content built on it without fetching it again", [damaged.pop(digest), exchange]))
    return findings


# -- the referrers fallback (per client) -------------------------------------------------------------
def fallback_after_404(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    waiting: Dict[Any, Exchange] = state.setdefault("waiting", {})
    if entry.kind == "referrers" and entry.status == 404 and entry.digest:
        waiting[(exchange.client, entry.repository, reference.referrers_tag(entry.digest))] = exchange
    elif entry.kind in _MANIFEST_READS:
        waiting.pop((exchange.client, entry.repository, entry.reference), None)
    return []


def fallback_never_pulled(state: Dict[str, Any]) -> List[Finding]:
    return [(f"the referrers API answered 404 and the client never pulled the fallback tag {repository}:{tag}",
             [asked]) for (_, repository, tag), asked in state.get("waiting", {}).items()]


def subject_fallback(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    pending: Dict[Any, Dict[str, Any]] = state.setdefault("pending", {})
    reads: Dict[Any, bool] = state.setdefault("reads", {})
    if entry.kind in _MANIFEST_READS and entry.reference and _REFERRERS_TAG.match(entry.reference):
        reads[(exchange.client, entry.repository, entry.reference)] = True
    if entry.kind != "manifest-put" or not entry.ok:
        return []
    tag = entry.tag
    key = (exchange.client, entry.repository, tag)
    findings: List[Finding] = []
    if tag is not None and key in pending:
        waiting = pending.pop(key)
        if not waiting["read"] and not reads.get(key):
            findings.append((f"the fallback tag {entry.repository}:{tag} was pushed without pulling the current "
                             f"referrers list first", [waiting["push"], exchange]))
    subject = exchange.json.get("subject") if isinstance(exchange.json, dict) else None
    if isinstance(subject, dict) and isinstance(subject.get("digest"), str) and not entry.header("OCI-Subject"):
        tag_key = (exchange.client, entry.repository, reference.referrers_tag(subject["digest"]))
        reads.pop(tag_key, None)
        pending[tag_key] = {"push": exchange, "read": False}
    return findings


def subject_fallback_missing(state: Dict[str, Any]) -> List[Finding]:
    return [(f"a manifest with a subject was pushed, the registry did not answer OCI-Subject, and the client "
             f"never updated the fallback tag {repository}:{tag}", [waiting["push"]])
            for (_, repository, tag), waiting in state.get("pending", {}).items()]


def fallback_tag_if_match(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    tag = entry.tag
    if tag is None or not _REFERRERS_TAG.match(tag):
        return []
    key = (exchange.client, entry.repository, tag)
    etags: Dict[Any, Exchange] = state.setdefault("etags", {})
    if entry.kind in _MANIFEST_READS and entry.status == 200 and entry.header("ETag"):
        etags[key] = exchange
    elif entry.kind == "manifest-put":
        read = etags.pop(key, None)
        if read is not None and not exchange.request_header("If-Match"):
            return [(f"the fallback tag {entry.repository}:{tag} was read with ETag {read.entry.header('ETag')} "
                     f"and overwritten without If-Match", [read, exchange])]
    return []


def _expected_descriptors(exchange: Exchange, state: Dict[str, Any]) -> Optional[List[Any]]:
    """Remember manifests with a subject this client pushed; for a PUT of a fallback tag, return
    the index's descriptors (None for other requests)."""
    entry = exchange.entry
    body = exchange.json
    if entry.kind != "manifest-put" or not isinstance(body, dict):
        return None
    pushed: Dict[str, Dict[str, Any]] = state.setdefault(exchange.client, {})
    if isinstance(body.get("subject"), dict) and entry.digest:
        config: Dict[str, Any] = body["config"] if isinstance(body.get("config"), dict) else {}
        pushed[entry.digest] = {"artifactType": body.get("artifactType") or config.get("mediaType"),
                                "annotations": body.get("annotations") or {}, "exchange": exchange}
    tag = entry.tag
    if tag is None or not _REFERRERS_TAG.match(tag) or not isinstance(body.get("manifests"), list):
        return None
    return [d for d in body["manifests"] if isinstance(d, dict)]


def fallback_descriptor_complete(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    descriptors = _expected_descriptors(exchange, state)
    findings: List[Finding] = []
    pushed = state.get(exchange.client, {})
    for descriptor in descriptors or ():
        wanted = pushed.get(descriptor.get("digest"))
        if wanted is None:
            continue
        if wanted["artifactType"] and descriptor.get("artifactType") != wanted["artifactType"]:
            findings.append((f"the descriptor of {descriptor.get('digest')} has artifactType "
                             f"{descriptor.get('artifactType')!r}, not {wanted['artifactType']!r}",
                             [wanted["exchange"], exchange]))
        copied = descriptor.get("annotations") or {}
        missing = sorted(k for k, v in wanted["annotations"].items() if copied.get(k) != v)
        if missing:
            findings.append((f"the descriptor of {descriptor.get('digest')} lacks the pushed manifest's "
                             f"annotations {', '.join(missing)}", [wanted["exchange"], exchange]))
    return findings


def fallback_without_duplicates(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    digests = [d.get("digest") for d in _expected_descriptors(exchange, state) or ()]
    repeated = sorted({d for d in digests if digests.count(d) > 1 and isinstance(d, str)})
    if repeated:
        return [(f"the referrers list names {', '.join(repeated)} more than once", [exchange])]
    return []


def no_ns_parameter(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.kind is not None and entry.arg("ns") is not None:
        return [(f"ns={entry.arg('ns')} was sent to a registry that is not a proxy", [exchange])]
    return []


def valid_names(exchange: Exchange, state: Dict[str, Any]) -> List[Finding]:
    entry = exchange.entry
    if entry.kind is None and exchange.error_code == "NAME_INVALID":
        return [("the repository name breaks the grammar [a-z0-9]+(?:[._-][a-z0-9]+)* per component", [exchange])]
    ref: Optional[str] = entry.reference
    if ref is not None and not looks_like_digest(ref) and not reference.is_valid_tag(ref):
        return [(f"{ref!r} is neither a digest nor a tag matching [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}", [exchange])]
    return []


RULES = [
    Rule("OCI-C004", "manifest-accept-sent", SHOULD,
         "The client SHOULD include an `Accept` header indicating which manifest content types it supports.",
         DIST_SPEC + "#pulling-manifests",
         "Without `Accept`, registries answer what old clients understood: the spec's content-negotiation.md "
         "lists Docker schema 1 (`manifest.v1+prettyjws`) for a request without Accept, and the reference "
         "registry refuses OCI content the client did not accept (OCI-C005). The client gets a different "
         "manifest (and digest) than it would elsewhere.", accept_sent, kinds=_MANIFEST_READS),
    Rule("OCI-C005", "manifest-accept-covers-type", INTEROP,
         "OCI index found, but accept header does not support OCI indexes", DISTRIBUTION_MANIFESTS,
         "The reference registry answers `404 MANIFEST_UNKNOWN` when an OCI manifest or index is not in the "
         "client's `Accept` list (\"OCI manifest found, but accept header does not support OCI manifests\", and "
         "the sentence above for indexes); mockreg serves "
         "it anyway, so this rule reports a 200 answer whose Content-Type the client did not accept. Accept "
         "every type the client can parse, indexes included.", accept_covers_type, kinds=_MANIFEST_READS),
    Rule("OCI-C015", "fallback-tag-updated-with-if-match", INTEROP,
         "If-Match is most often used with state-changing methods (e.g., POST, PUT, DELETE) to prevent accidental "
         "overwrites when multiple user agents might be acting in parallel on the same resource (i.e., to "
         "prevent the \"lost update\" problem).", RFC9110 + "#section-13.1.1",
         "The spec lets clients use conditional requests when they rewrite the referrers fallback tag "
         "(\"The client MAY use conditional HTTP requests to prevent overwriting a referrers list that has "
         "changed since it was first pulled\"). Two clients attaching signatures at once otherwise lose one. "
         "When the registry offered an ETag on the read, the PUT should carry If-Match.",
         fallback_tag_if_match, scope="client", kinds=_MANIFEST_READS | {"manifest-put"},
         settings={"referrers": False}),
    Rule("OCI-C016", "referrers-fallback-after-404", MUST,
         "A client querying the referrers API and receiving a `404 Not Found` MUST fallback to using an image index "
         "pushed to a tag described by the referrers tag schema.", DIST_SPEC + "#backwards-compatibility",
         "Registries without the referrers API answer 404; the referrers then live in the `<alg>-<hex>` tag. "
         "Judged at the end of the run: a 404 that no pull of that tag followed.",
         fallback_after_404, finish=fallback_never_pulled, scope="client", kinds=_MANIFEST_READS | {"referrers"},
         settings={"referrers": False}),
    Rule("OCI-C017", "subject-push-fallback", MUST,
         "When pushing a manifest with the `subject` field and the `OCI-Subject` header was not set, the client "
         "MUST:", DIST_SPEC + "#pushing-manifests-with-subject",
         "...pull the referrers tag, add the pushed manifest's descriptor and push the index back to the tag. A "
         "client that skips this leaves the artifact undiscoverable on registries without the referrers API. "
         "Judged at the end of the run (the tag was never pushed) and when the tag is pushed without a pull "
         "first.", subject_fallback, finish=subject_fallback_missing, scope="client",
         kinds=_MANIFEST_READS | {"manifest-put"},
         settings={"referrers": False}),
    Rule("OCI-C023", "fallback-descriptor-complete", MUST,
         "The value of the `artifactType` MUST be set to the `artifactType` value in the pushed manifest, if "
         "present.", DIST_SPEC + "#pushing-manifests-with-subject",
         "The same step goes on: \"If the `artifactType` is empty or missing in a pushed image manifest, the value "
         "of `artifactType` MUST be set to the config descriptor `mediaType` value. All annotations from the "
         "pushed manifest MUST be copied to this descriptor.\" Readers filter referrers by artifactType and show "
         "their annotations; a fallback list that lacks them hides signatures and SBOMs from tools that use the "
         "tag schema. Judged on the descriptors of manifests this client pushed.",
         fallback_descriptor_complete, scope="client", kinds=frozenset({"manifest-put"}),
         settings={"referrers": False}),
    Rule("OCI-C024", "fallback-without-duplicates", SHOULD,
         "Verify the descriptor for the manifest is not already in the referrers list (duplicate entries SHOULD "
         "NOT be created).", DIST_SPEC + "#pushing-manifests-with-subject",
         "A client that appends without looking grows the list with each retry or re-push.",
         fallback_without_duplicates, scope="client", kinds=frozenset({"manifest-put"}),
         settings={"referrers": False}),
    Rule("OCI-C018", "pulled-content-verified", SHOULD,
         "Clients SHOULD verify that the response body matches the requested digest.", DIST_SPEC + "#pulling-blobs",
         "For manifests: \"If the `<tag-or-digest>` part of a manifest request is a digest, clients SHOULD "
         "verify the returned manifest matches this digest.\" Visible when a fault rule (`corrupt: true`) serves "
         "damaged bytes: a client that verifies fetches them "
         "again or stops; one that pushes a manifest referencing that digest (or uploads/mounts it) without "
         "fetching it again used unverified content. A client that only pulls keeps what it pulled out of sight, "
         "so pull-only flows are not judged.", verify_pulled, scope="client",
         kinds=frozenset({"blob-get", "manifest-get", "manifest-put", "blob-upload-start", "blob-upload-put"})),
    Rule("OCI-C019", "no-ns-parameter", SHOULD,
         "A client SHOULD avoid sending `ns` query parameters to non-proxy registries.",
         DIST_SPEC + "#registry-proxying",
         "`ns` tells a pull-through proxy which upstream a request is for; mockreg is not a proxy.",
         no_ns_parameter),
    Rule("OCI-C021", "names-and-tags-valid", MUST,
         "Throughout this document, `<tag-or-digest>` as a tag MUST be at most 128 characters in length and MUST "
         "match the following regular expression:", DIST_SPEC + "#pulling-manifests",
         "Repository names MUST match `[a-z0-9]+(?:[._-][a-z0-9]+)*` per path component, and tags "
         "`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. Clients that pass user input through unchecked get "
         "`NAME_INVALID` / `TAG_INVALID` answers in production.", valid_names,
         refused_by="400 NAME_INVALID / MANIFEST_INVALID (invalid tag)"),
]
