"""The digests every shipped scenario (fixtures/*.yaml) produces, and the committed record of them.

Generated content must be byte-identical on every supported Python (issue 16), so the digests are
computed once and committed in `shipped_digests.json`; tests/test_shipped_digests.py recomputes
them on whichever Python runs the suite. After changing a scenario or the content generator on
purpose, rewrite the record with::

    python tests/shipped_digests.py --write
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Dict

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
RECORD = Path(__file__).resolve().parent / "shipped_digests.json"


def digests_of(path: Path) -> Dict[str, str]:
    """`repository@name` -> manifest digest and `repository blob N` -> blob digest, for one scenario."""
    from mockreg.scenario import Scenario

    scenario = Scenario.load(path)
    found: Dict[str, str] = {}
    for row in scenario.summary():
        found[f"{row['repository']}@{row['name']}"] = row["digest"]
    for name, plan in scenario.repositories.items():
        for position, blob in enumerate(plan.blobs):
            found[f"{name} blob {position}"] = blob.digest
    return found


def shipped() -> Dict[str, Dict[str, str]]:
    return {path.name: digests_of(path) for path in sorted(FIXTURES.glob("*.yaml"))}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/shipped_digests.py --write")
    sys.path.insert(0, str(ROOT))
    RECORD.write_text(json.dumps(shipped(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}")
