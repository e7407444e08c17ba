"""Every shipped scenario gives the same digests on every supported Python and machine.

The expected digests were computed once and committed (tests/shipped_digests.json); this test
recomputes them on whichever Python runs it, and CI runs it on 3.9 to 3.13 (tox.ini). Generated
gzip layers once carried the Python-dependent OS byte of `gzip.compress` (3 on 3.11/3.12, 255
elsewhere), so one scenario named different images on different Pythons.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import zlib

import pytest
from shipped_digests import FIXTURES, RECORD, digests_of

from mockreg.content import gzip_bytes, tar_layer

RECORDED = json.loads(RECORD.read_text())


def test_every_shipped_scenario_is_recorded() -> None:
    shipped = sorted(path.name for path in FIXTURES.glob("*.yaml"))
    assert sorted(RECORDED) == shipped, "new or removed scenario: python tests/shipped_digests.py --write"


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_shipped_scenario_gives_the_recorded_digests(name: str) -> None:
    assert digests_of(FIXTURES / name) == RECORDED[name]


def test_gzip_layers_have_a_fixed_header_and_round_trip() -> None:
    data = b"hello from mockreg\n" * 100
    packed = gzip_bytes(data)
    # magic, deflate, no flags, mtime 0, XFL 2 (level 9), OS 255 (unknown) on every Python
    assert packed[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    assert gzip.decompress(packed) == data
    assert packed[10:-8] == zlib.compress(data, 9)[2:-4]  # the deflate stream of zlib at level 9


def test_tar_layer_headers_hold_no_machine_or_time() -> None:
    layer = tar_layer({"/etc/motd": "welcome\n", "bin/hello": b"#!/bin/sh\n"}, compress=True)
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer.data))) as archive:
        members = archive.getmembers()
    assert [m.name for m in members] == ["etc/motd", "bin/hello"]  # sorted by the paths as given
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode, m.type) for m in members} == \
        {(0, 0, 0, "", "", 0o644, tarfile.REGTYPE)}
