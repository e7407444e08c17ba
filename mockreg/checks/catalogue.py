"""The catalogue: every client rule by id, in one place (docs/client-checks.md is generated
from it by scripts/client_checks_doc.py)."""

from __future__ import annotations

import inspect
from typing import Dict, Iterable, List, Optional

from . import pull_rules, push_rules, session_rules
from .model import Rule

RULES: List[Rule] = sorted(push_rules.RULES + pull_rules.RULES + session_rules.RULES, key=lambda rule: rule.id)
BY_ID: Dict[str, Rule] = {rule.id: rule for rule in RULES}

# Client-side sentences of the distribution spec that no exchange the registry sees can show;
# listed so the catalogue says why they are absent rather than silently skipping them.
NOT_OBSERVABLE = [
    ("All client implementations SHOULD treat unknown error codes as `UNKNOWN`", "#errors",
     "what a client does with an error code happens inside the client"),
    ("If the manifest has a `mediaType` field, clients SHOULD reject unless the `mediaType` field's value matches "
     "the type specified by the `Content-Type` header.", "#pulling-manifests",
     "rejecting happens inside the client; mockreg always serves matching types"),
    ("Registries MAY respond to any request with a redirect ...; clients SHOULD follow such redirects, and MUST NOT "
     "forward `Authorization` headers across host boundaries unless explicitly configured to do so.",
     "#redirects", "the other host is not mockreg (a redirecting fault rule's storage URL is the same host)"),
    ("In accordance with RFC 7234, clients MUST NOT take any automated action based on the presence or contents of "
     "warnings, only report them to the user.", "#warnings", "reporting to the user happens inside the client"),
    ("Most clients MAY ignore the value, but if it is used, the client MUST verify the value matches the returned "
     "manifest.", "#pulling-manifests", "whether a client uses `Docker-Content-Digest` happens inside it (the "
     "same sentence for blobs is in #pulling-blobs)"),
    ("When deleting an image manifest that contains a `subject` field, and the referrers API returns a 404, clients "
     "SHOULD: ...", "#deleting-manifests", "not checked yet: the checks see the DELETE but not the deleted "
     "manifest's body unless the same client pushed it"),
    ("If the response to the referrers API is a 404, and the tag schema does not return a valid image index, the "
     "client SHOULD assume there are no referrers to the manifest.", "#listing-referrers",
     "what the client assumes happens inside it"),
    ("Client implementations MUST support registries that implement partial or older versions of the OCI "
     "Distribution Spec.", "#backwards-compatibility",
     "a general duty; its observable parts are OCI-C016 and OCI-C017"),
]


def select(ids: Optional[Iterable[str]] = None, ignore: Iterable[str] = ()) -> List[Rule]:
    """The rules to run: all, or those named in `ids`, minus `ignore`; unknown ids raise ValueError."""
    wanted = list(ids) if ids is not None else [rule.id for rule in RULES]
    ignored = list(ignore)
    unknown = [rule_id for rule_id in wanted + ignored if rule_id not in BY_ID]
    if unknown:
        raise ValueError(f"unknown client rule(s) {', '.join(unknown)}; known: {', '.join(BY_ID)}")
    return [BY_ID[rule_id] for rule_id in wanted if rule_id not in ignored]


def _unrefused(rule: Rule) -> str:
    if rule.level != "MUST":
        return "accepted"
    return "cannot be: no single request is wrong" if rule.scope != "request" else "accepted"


def catalogue_markdown() -> str:
    """The catalogue as docs/client-checks.md shows it (between the `catalogue` markers)."""
    parts = ["| id | name | level | follows | refused by default |", "|---|---|---|---|---|"]
    parts += [f"| {r.id} | {r.name} | {r.level} | {r.scope} | {r.refused_by or _unrefused(r)} |" for r in RULES]
    from .examples import EXAMPLES  # the examples' source, shown as ruff's docs show theirs
    for rule in RULES:
        needs = ", ".join(f"`{k}={v}`" for k, v in rule.settings.items())
        bad, good = (inspect.getsource(example).rstrip() for example in EXAMPLES[rule.id])
        parts.append(f"\n### {rule.id} {rule.name} ({rule.level})\n\n> {rule.source}\n\nSource: <{rule.url}>\n\n"
                     f"{rule.doc}\n\nViolating (`{EXAMPLES[rule.id][0].__name__}`) and compliant "
                     f"(`{EXAMPLES[rule.id][1].__name__}`) exchanges, from `mockreg/checks/examples.py`"
                     + (f", run with {needs}" if needs else "") + f":\n\n```py\n{bad}\n```\n\n```py\n{good}\n```")
    parts.append("\n### Client sentences no exchange shows\n")
    parts += [f"- \"{text}\" (spec.md{anchor}): {why}." for text, anchor, why in NOT_OBSERVABLE]
    return "\n".join(parts)
