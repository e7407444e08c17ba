"""Client checks: the registry grades its clients against the spec's client rules
(docs/client-checks.md). Turn them on with `journal.check_clients()`, the pytest option
`mockreg_client_checks`, or `mockreg serve --check-clients`."""

from __future__ import annotations

from .catalogue import BY_ID, NOT_OBSERVABLE, RULES, select
from .checker import ClientChecks
from .model import INTEROP, LEVELS, MUST, SHOULD, Exchange, Rule, Violation

__all__ = ["BY_ID", "NOT_OBSERVABLE", "RULES", "select", "ClientChecks", "INTEROP", "LEVELS", "MUST", "SHOULD",
           "Exchange", "Rule", "Violation"]
