"""Section 6: what the observers and layers added to the request path cost, off and on.

A small mix (manifest GET by tag, blob GET, manifest PUT) is called in process (WSGI, no socket)
on registries that differ only in what observes or rewrites their requests: plain `Registry()`
(the baseline), events, the request journal with client checks, and profile quirks (the policy
layer, an error rule and a header rule). Every configuration is measured once per repetition,
back to back, so each ratio pairs figures taken moments apart. The figure is the process's CPU
time per request: webhook deliveries run on a worker thread and are waited for, so they count.

"Off" must cost nothing (target <= 1.05× the baseline): a registry whose event hub exists with
no endpoint, one given the default profile. Client checks live on the request journal (older
than checks; every pytest fixture keeps one): checks off *is* that journal, whose ratio is shown
without a target, and checks on is judged against it as well as against plain. "On" rows carry
no target: their cost is the price of a feature a test asked for, shown so that a change making
it dearer is seen here.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from mockreg import Registry
from mockreg.journal import attach

from . import client_checks, events_cost
from .report import Ratio, Row

if TYPE_CHECKING:
    from .sections import Benchmark

OFF_TARGET = "<= 1.05"
# The mix's three requests, picked from client_checks.workload() (which also has a HEAD and a POST).
MANIFEST_GET, BLOB_GET, MANIFEST_PUT = 0, 2, 4


def plain() -> Registry:
    return Registry()


def events_off() -> Registry:
    registry = Registry()
    registry.notifications  # noqa: B018 - the hub exists, with no endpoint and no log: what "off" is
    return registry


def events_log() -> Registry:
    return events_cost.observe(Registry(), "log")


def events_webhook() -> Registry:
    return events_cost.observe(Registry(), "webhook")


def journal_checks_off() -> Registry:
    registry = Registry()
    attach(registry)  # the journal that client checks live on, with checks not asked for
    return registry


def default_profile() -> Registry:
    return Registry(profile="strict-spec")  # the default profile: applying it changes nothing


def checks_on() -> Registry:
    registry = Registry()
    attach(registry).check_clients()  # every rule
    return registry


def profile_quirks() -> Registry:
    """Quirks as a profile sets them (ECR's and Quay's kind): settings that install the policy
    layer and touch the mix (the repository must exist, the Accept header decides the manifest),
    one error rule and one header rule that adds a header to every answer."""
    registry = Registry(repository_must_exist=True, tags_page_size=100, oci_accept_negotiation=True)
    registry.create_repository("bench/app")
    registry.add_error_rule(when={"code": "MANIFEST_UNKNOWN"}, answer={"message": "manifest {reference} not found"})
    registry.add_header_rule(add={"X-Bench-Quirk": "1"})
    return registry


# (figure key, label, registry factory, ratios: (baseline key, target) pairs), in measuring order.
# The journal predates client checks and every pytest fixture keeps one, so checks "off" is a
# journal with checks not asked for; what checks on cost is judged against that journal too.
Configuration = Tuple[str, str, Callable[[], Registry], Tuple[Tuple[str, Optional[str]], ...]]
CONFIGURATIONS: Tuple[Configuration, ...] = (
    ("plain", "plain Registry() (baseline)", plain, ()),
    ("events_off", "events off: hub made, no endpoint, no log", events_off, (("plain", OFF_TARGET),)),
    ("profile_off", "default profile applied (strict-spec)", default_profile, (("plain", OFF_TARGET),)),
    ("journal", "journal attached, client checks off (pytest fixtures' default)", journal_checks_off,
     (("plain", None),)),
    ("events_log", "events on: events extension's log", events_log, (("plain", None),)),
    ("events_webhook", "events on: one webhook endpoint (in-process receiver)", events_webhook, (("plain", None),)),
    ("checks_on", "client checks on (every rule)", checks_on, (("plain", None), ("journal", None))),
    ("profile_quirks", "profile quirks: policy layer + error rule + header rule", profile_quirks, (("plain", None),)),
)


def mix() -> Callable[[], Dict[str, Any]]:
    """A new WSGI environ per call, cycling through the mix's requests."""
    work = client_checks.workload()
    requests = itertools.cycle([work[MANIFEST_GET], work[BLOB_GET], work[MANIFEST_PUT]])
    return lambda: next(requests)()


def measure(factory: Callable[[], Registry], count: int) -> float:
    """CPU microseconds per request of `count` requests of the mix on a fresh, seeded registry."""
    registry = client_checks.seed(factory())
    try:
        events_cost.cost(registry, mix(), min(30, count))  # warm up: first-call imports and caches
        _, process = events_cost.cost(registry, mix(), count)
    finally:
        if "_notifications" in registry.__dict__:
            registry.notifications.close()
    return 1e6 * process


def section(bench: Benchmark) -> List[Row]:
    count = 20 * bench.plan.in_process_requests  # ~10 µs each: enough of them for a 5% target
    keys = {name: bench.declare(f"mockreg.observers.{name}", f"{label}, mix in process", "CPU µs")
            for name, label, _, _ in CONFIGURATIONS}
    for repetition in bench.repetitions():
        # Rotate the order so no configuration always runs first (or last) in a repetition.
        shift = repetition % len(CONFIGURATIONS)
        for name, _, factory, _ in CONFIGURATIONS[shift:] + CONFIGURATIONS[:shift]:
            bench.results.add(keys[name], measure(factory, count))
    return [Row(keys[name], ratios=tuple(Ratio(keys[name], keys[base], f"to {base}", target)
                                         for base, target in ratios))
            for name, _, _, ratios in CONFIGURATIONS]
