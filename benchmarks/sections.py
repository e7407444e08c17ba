"""The five sections of the benchmark, each measuring mockreg, the reference registry and the
floor or machine limit in alternation, and returning the table rows (with ratios) it filled."""

from __future__ import annotations

import compileall
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import mockreg
from mockreg import Registry

from . import bigblobs, in_process, limits, plugin_costs, procs, wire
from .report import Ratio, Results, Row

MB = 1e6
MiB = 1 << 20


@dataclass(frozen=True)
class Plan:
    """How much work each section does (see FULL and QUICK in run.py)."""

    repetitions: int
    sequential_requests: int
    concurrent_seconds: float
    connections: int
    images: int
    blob_mib: int
    chunk_mib: int
    upload_cap: float
    pull_setup_cap: float
    startups: int
    in_process_requests: int
    quiet_wait: float
    zero_gib: int  # the zero-filled blob pushed in 16 MiB PATCHes (oras-py's chunked-push test)
    spill_gib: int  # the unrepeated blob pushed under `spill_limit_mib` of blob_memory_limit
    spill_limit_mib: int  # seconds to wait, before each repetition, for other work on the machine to stop


class Benchmark:
    def __init__(self, plan: Plan, results: Results, mockreg: procs.ServerProcess,
                 peer: Optional[procs.ServerProcess], floor: procs.ServerProcess, peer_binary: Optional[str],
                 ggcr: Optional[procs.ServerProcess] = None) -> None:
        self.plan = plan
        self.results = results
        self.mockreg = mockreg
        self.peer = peer
        self.floor = floor
        self.peer_binary = peer_binary
        self.ggcr = ggcr  # ggcr's in-memory registry (`crane registry serve`), for section 3

    def servers(self, *extra: procs.ServerProcess) -> List[procs.ServerProcess]:
        """mockreg, then the peer when there is one, then `extra`: the interleaving order."""
        return [self.mockreg] + ([self.peer] if self.peer else []) + list(extra)

    def repetitions(self, count: Optional[int] = None) -> Iterator[int]:
        """Repetition numbers; before each, wait (up to `plan.quiet_wait`) for the machine to be idle:
        other processes take the second core that the client/server pipelines need."""
        for number in range(self.plan.repetitions if count is None else count):
            if self.plan.quiet_wait:
                busy = procs.wait_for_quiet(self.plan.quiet_wait)
                self.results.declare("machine.busy", "cores busy with other work before a repetition", "%")
                self.results.add("machine.busy", 100 * busy)
            yield number

    def declare(self, key: str, label: str, unit: str, short: str = "") -> str:
        self.results.declare(key, label, unit, short or ("floor" if key.startswith("floor.") else ""))
        return key

    # -- 1. start-up and per-test costs --------------------------------------------------
    def startup(self) -> List[Row]:
        serve = self.declare("mockreg.startup.serve", "spawn `mockreg serve` → first 200 on /v2/", "ms")
        bare = self.declare("baseline.startup.werkzeug", "python -c 'import werkzeug.serving'", "ms", "bare import")
        peer = self.declare("peer.startup.serve", "spawn → first 200 on /v2/", "ms")
        # As `pip install` does: an editable install or PYTHONDONTWRITEBYTECODE would otherwise
        # make every start compile mockreg from source, which installed werkzeug never does.
        compileall.compile_dir(str(Path(mockreg.__file__).parent), quiet=1)
        for _ in self.repetitions(self.plan.startups):
            self.results.add(serve, 1e3 * procs.spawn_to_ready(
                [sys.executable, "-m", "mockreg", "serve", "--port", "0"]))
            self.results.add(bare, 1e3 * procs.spawn_to_exit([sys.executable, "-c", "import werkzeug.serving"]))
            if self.peer_binary:
                started = time.perf_counter()
                procs.start_peer(self.peer_binary).stop()
                self.results.add(peer, 1e3 * (time.perf_counter() - started))
        unused = self.declare("mockreg.plugin.import_unused", "import the pytest plugin, no fixture used", "ms")
        used = self.declare("mockreg.plugin.import_used", "import the plugin and what its fixtures import", "ms")
        for _ in self.repetitions():
            self.results.add(unused, 1e3 * plugin_costs.plugin_import_seconds(False, repeat=3))
            self.results.add(used, 1e3 * plugin_costs.plugin_import_seconds(True, repeat=3))
        fresh = self.declare("mockreg.pertest.registry", "fresh Registry() per test", "µs")
        swap = self.declare("mockreg.pertest.swap", "session LiveServer.app = registry", "µs")
        ready = self.declare("mockreg.pertest.live_ready", "live server thread ready (start → first 200), in pytest",
                             "ms")
        for _ in self.repetitions():
            self.results.add(fresh, 1e6 * _per_call(Registry, 500))
            self.results.add(swap, 1e6 * _swap_cost())
        for seconds in procs.ready_inside_pytest(self.plan.repetitions):
            self.results.add(ready, 1e3 * seconds)
        return [
            Row(serve, peer_key(peer, self.peer), bare, (Ratio(serve, bare, "to bare import", "<= 1.3"),)),
            Row(unused, ratios=(Ratio(unused, 10.0, "to 10 ms", "<= 1"),)),
            Row(used),
            Row(fresh, ratios=(Ratio(fresh, 200.0, "to 200 µs", "<= 1"),)),
            Row(swap),
            Row(ready, ratios=(Ratio(ready, 5.0, "to 5 ms", "<= 1"),)),
        ]

    # -- 2. small requests ---------------------------------------------------------------
    def small_requests(self) -> List[Row]:
        rows: List[Row] = []
        for server in self.servers():
            wire.seed_small(server.host_port)
        cpu_keys = {server.name: self.declare(f"{server.name}.cpu.head", "server CPU per HEAD manifest", "µs")
                    for server in self.servers(self.floor)}
        for kind, request in _kinds():
            keys = {server.name: self.declare(f"{server.name}.seq.{kind}", f"sequential {request.name}", "µs")
                    for server in self.servers(self.floor)}
            for _ in self.repetitions():
                for server in self.servers(self.floor):
                    path = request.path if server is not self.floor else "/canned"
                    per_request, cpu = wire.sequential(server.host_port, request.method, path,
                                                       self.plan.sequential_requests,
                                                       server.cpu_seconds if kind == "head" else None)
                    self.results.add(keys[server.name], 1e6 * per_request)
                    if cpu is not None:
                        self.results.add(cpu_keys[server.name], 1e6 * cpu)
            m, p, f = keys["mockreg"], keys.get("peer"), keys["floor"]
            rows.append(Row(m, p, f, (Ratio(m, f, "to floor", "<= 1.3"),) + _vs_peer(m, p)))
            if kind == "head":
                m, p = cpu_keys["mockreg"], cpu_keys.get("peer")
                rows.append(Row(m, p, cpu_keys["floor"], (Ratio(m, 250.0, "to 250 µs", "<= 1"),)
                                + _vs_peer(m, p)))
        for kind, request in _kinds():
            keys = {server.name: self.declare(f"{server.name}.concurrent.{kind}",
                                              f"{request.name}, {self.plan.connections} connections", "req/s")
                    for server in self.servers(self.floor)}
            for _ in self.repetitions():
                for server in self.servers(self.floor):
                    path = request.path if server is not self.floor else "/canned"
                    self.results.add(keys[server.name], wire.concurrent(
                        server.host_port, request.method, path, self.plan.connections, self.plan.concurrent_seconds))
            m, p = keys["mockreg"], keys.get("peer")
            rows.append(Row(m, p, keys["floor"], _vs_peer(m, p, ">= 3")))
        return rows

    # -- 3. push workflow ----------------------------------------------------------------
    def push_workflow(self) -> List[Row]:
        """The workflow of an independent side-by-side run, against ggcr's in-memory registry too
        when `crane` is installed: its figures fill the floor / limit column, and mockreg's targets
        are ggcr's rate and CPU measured in the same repetitions."""
        servers = self.servers(*([self.ggcr] if self.ggcr else []))
        keys = {server.name: self.declare(f"{server.name}.push.images",
                                          "push small images (config + 2 × 4 KiB layers, HEAD/POST/PUT each, "
                                          "manifest PUT)", "images/s", "ggcr" if server is self.ggcr else "")
                for server in servers}
        cpu = {server.name: self.declare(f"{server.name}.push.cpu", "server CPU per small image pushed", "ms",
                                         "ggcr" if server is self.ggcr else "")
               for server in servers}
        for repetition in self.repetitions():
            for server in servers:
                rate, seconds = wire.push_images(server.host_port, self.plan.images, f"r{repetition}",
                                                 server.cpu_seconds)
                self.results.add(keys[server.name], rate)
                self.results.add(cpu[server.name], 1e3 * (seconds or 0.0))
        m, p, g = keys["mockreg"], keys.get("peer"), keys.get("ggcr")
        c, p_cpu, g_cpu = cpu["mockreg"], cpu.get("peer"), cpu.get("ggcr")
        return [Row(m, p, g, ratios=_vs_ggcr(m, g, ">= 1") + _vs_peer(m, p)),
                Row(c, p_cpu, g_cpu, ratios=_vs_ggcr(c, g_cpu, "<= 1") + _vs_peer(c, p_cpu))]

    # -- 4. big blobs --------------------------------------------------------------------
    def big_blobs(self) -> List[Row]:
        """Each mockreg transfer is judged against the sha256 rate measured just before it (the
        machine's speed drifts within seconds), and its pull also against that run's loopback."""
        size = self.plan.blob_mib * MiB
        # Random throughout: a blob that repeats a block would be stored once per distinct piece
        # (see mockreg.blobdata) and measure deduplication, not a push.
        blob = bytearray(os.urandom(size))
        mib = f"{self.plan.blob_mib} MiB"
        sha = self.declare("limit.sha256", "hashlib.sha256 on the same buffer", "MB/s", "sha256")
        loop = self.declare("limit.loopback", "loopback socket copy between two processes", "MB/s", "loopback")
        before = {mode: self.declare(f"limit.sha256.{mode}", f"sha256 just before the {mode} push", "MB/s",
                                     "sha256") for mode in ("mono", "chunked")}
        pull_limit = self.declare("limit.pull", "min(sha256, loopback) just before the pull", "MB/s", "min")
        figures = {server.name: {
            "mono": self.declare(f"{server.name}.blob.mono", f"{mib} monolithic push", "MB/s"),
            "chunked": self.declare(f"{server.name}.blob.chunked",
                                    f"{mib} chunked push ({self.plan.chunk_mib} MiB PATCHes)", "MB/s"),
            "pull": self.declare(f"{server.name}.blob.pull", f"{mib} pull, hashed while streaming", "MB/s"),
            "mono_mem": self.declare(f"{server.name}.mem.mono", f"peak memory above idle, {mib} monolithic push",
                                     "MiB"),
            "chunked_mem": self.declare(f"{server.name}.mem.chunked", f"peak memory above idle, {mib} chunked push",
                                        "MiB"),
        } for server in self.servers()}
        pull_digests = {}
        for server in self.servers():  # the blob every repetition pulls
            blob[:16] = os.urandom(16)
            digest = wire.digest_of(blob)
            cap = self.plan.pull_setup_cap
            if not bigblobs.push_monolithic(server.host_port, "bench/pull", memoryview(blob), digest, cap).capped:
                pull_digests[server.name] = digest
            else:
                self.results.notes.append(f"{server.name}: no pull figure, the blob to pull took over {cap:.0f} s")
        for _ in self.repetitions():
            loopback = limits.loopback_rate(size) / MB
            self.results.add(loop, loopback)
            for server in self.servers():
                for mode in ("mono", "chunked"):
                    sha_rate = self._push_big(server, mode, blob, figures[server.name])
                    if server is self.mockreg:
                        self.results.add(before[mode], sha_rate)
                        self.results.add(sha, sha_rate)
                if server.name not in pull_digests:
                    continue
                if server is self.mockreg:
                    sha_rate = limits.sha256_rate(blob) / MB
                    self.results.add(sha, sha_rate)
                    self.results.add(pull_limit, min(sha_rate, loopback))
                transfer = bigblobs.pull(server.host_port, "bench/pull", pull_digests[server.name], size)
                self.results.add(figures[server.name]["pull"], transfer.rate / MB)
        mine, peer = figures["mockreg"], figures.get("peer", {})
        blob_mib = float(self.plan.blob_mib)
        return [
            Row(None, reference=sha), Row(None, reference=loop),
            Row(mine["mono"], peer.get("mono"), before["mono"],
                (Ratio(mine["mono"], before["mono"], "to sha256", ">= 0.6"),)
                + _vs_peer(mine["mono"], peer.get("mono"))),
            Row(mine["chunked"], peer.get("chunked"), before["chunked"],
                (Ratio(mine["chunked"], before["chunked"], "to sha256", ">= 0.5"),)
                + _vs_peer(mine["chunked"], peer.get("chunked"))),
            Row(mine["pull"], peer.get("pull"), pull_limit,
                (Ratio(mine["pull"], pull_limit, "to min(sha256, loopback)", ">= 0.8"),)
                + _vs_peer(mine["pull"], peer.get("pull"))),
            Row(mine["mono_mem"], peer.get("mono_mem"),
                ratios=(Ratio(mine["mono_mem"], blob_mib, "to blob size", "<= 1.25"),)),
            Row(mine["chunked_mem"], peer.get("chunked_mem"),
                ratios=(Ratio(mine["chunked_mem"], blob_mib, "to blob size", "<= 1.25"),)),
        ] + self._larger_than_memory()

    def _larger_than_memory(self) -> List[Row]:
        """Once each (they take long), against a fresh `mockreg serve` so its peak memory (VmHWM)
        is this push and pull alone: a zero-filled blob, and an unrepeated one under a spill limit."""
        zero_size, spill_size = self.plan.zero_gib << 30, self.plan.spill_gib << 30
        limit = self.plan.spill_limit_mib
        zero = self.declare("mockreg.huge.zero", f"{self.plan.zero_gib} GiB zero-filled push, 16 MiB PATCHes", "MB/s")
        zero_pull = self.declare("mockreg.huge.zero_pull", f"{self.plan.zero_gib} GiB zero-filled pull, hashed", "MB/s")
        zero_peak = self.declare("mockreg.huge.zero_peak",
                                 f"peak RSS, {self.plan.zero_gib} GiB zero-filled push + pull",
                                 "MiB")
        spill = self.declare("mockreg.huge.spill", f"{self.plan.spill_gib} GiB unrepeated push, "
                             f"blob_memory_limit {limit} MiB", "MB/s")
        spill_pull = self.declare("mockreg.huge.spill_pull", f"{self.plan.spill_gib} GiB unrepeated pull (spilled), "
                                  "hashed", "MB/s")
        spill_peak = self.declare("mockreg.huge.spill_peak", f"peak RSS above idle, {self.plan.spill_gib} GiB "
                                  f"unrepeated push + pull, limit {limit} MiB", "MiB")
        for size, options, chunks, keys in (
                (zero_size, (), bigblobs.zero_chunks(zero_size, 16 * MiB), (zero, zero_pull, zero_peak)),
                (spill_size, ("--set", f"blob_memory_limit={limit * MiB}"),
                 bigblobs.unrepeated_chunks(spill_size, 16 * MiB), (spill, spill_pull, spill_peak))):
            server = procs.start_mockreg(*options)
            try:
                idle = server.memory("VmRSS") if options else 0
                digest, pushed = bigblobs.push_generated(server.host_port, "bench/huge", chunks)
                pulled = bigblobs.pull(server.host_port, "bench/huge", digest, size)
                self.results.add(keys[0], pushed.rate / MB)
                self.results.add(keys[1], pulled.rate / MB)
                self.results.add(keys[2], (server.memory("VmHWM") - idle) / MiB)
            finally:
                server.stop()
        return [
            Row(zero), Row(zero_pull), Row(zero_peak, ratios=(Ratio(zero_peak, 1024.0, "to 1 GiB", "< 1"),)),
            Row(spill), Row(spill_pull),
            Row(spill_peak, ratios=(Ratio(spill_peak, float(limit), "to the limit", "< 1.1"),)),
        ]

    def _push_big(self, server: procs.ServerProcess, mode: str, blob: bytearray, figures: Dict[str, str]) -> float:
        """One big push of fresh content, with the server's peak memory above its idle memory.
        Returns the sha256 rate (MB/s) seen while computing the content's digest just before."""
        blob[:16] = os.urandom(16)
        hashed = time.perf_counter()
        digest = wire.digest_of(blob)
        sha_rate = len(blob) / (time.perf_counter() - hashed) / MB
        # The peak is reset first, then the idle figure read: memory the server frees in between
        # (the previous push's, released late) then lowers neither, so peak - idle cannot go
        # below zero the way it could when idle was read before a reset that followed a release.
        peak_known = server.reset_peak_memory()
        idle = server.memory("VmRSS")
        if mode == "mono":
            transfer = bigblobs.push_monolithic(server.host_port, "bench/big", memoryview(blob), digest,
                                                self.plan.upload_cap)
        else:
            transfer = bigblobs.push_chunked(server.host_port, "bench/big", memoryview(blob), digest,
                                             self.plan.chunk_mib * MiB, self.plan.upload_cap)
        self.results.add(figures[mode], transfer.rate / MB, transfer.capped)
        if not transfer.capped:
            if peak_known:
                self.results.add(figures[mode + "_mem"], (server.memory("VmHWM") - idle) / MiB)
            bigblobs.delete_blob(server.host_port, "bench/big", digest)
        return sha_rate

    # -- 5. in-process -------------------------------------------------------------------
    def in_process(self) -> List[Row]:
        import httpx
        import requests

        from mockreg.inprocess import RequestsRouter

        registry = in_process.seeded_registry()
        session = requests.Session()
        live_httpx = httpx.Client()
        wsgi_httpx = httpx.Client(transport=httpx.WSGITransport(app=registry))
        headers = wire.ACCEPT
        rows: List[Row] = []
        for client in ("requests", "httpx"):
            for kind, request in _kinds():
                label = f"{client}: {request.name}"
                inside = self.declare(f"mockreg.inprocess.{client}.{kind}", f"{label}, in-process", "µs")
                live = {server.name: self.declare(f"{server.name}.live.{client}.{kind}", f"{label}, loopback", "µs",
                                                  "loopback" if server is self.mockreg else "")
                        for server in self.servers()}
                for _ in self.repetitions():
                    count = self.plan.in_process_requests
                    if client == "requests":
                        with RequestsRouter(registry, [in_process.IN_PROCESS_URL]):
                            seconds = in_process.loop(
                                lambda m, u: session.request(m, u, headers=headers), request.method,
                                in_process.IN_PROCESS_URL + request.path, count)
                    else:
                        seconds = in_process.loop(lambda m, u: wsgi_httpx.request(m, u, headers=headers),
                                                  request.method, in_process.IN_PROCESS_URL + request.path, count)
                    self.results.add(inside, 1e6 * seconds)
                    for server in self.servers():
                        send = session.request if client == "requests" else live_httpx.request
                        seconds = in_process.loop(lambda m, u, send=send: send(m, u, headers=headers), request.method,
                                                  f"http://{server.host_port}{request.path}", count)
                        self.results.add(live[server.name], 1e6 * seconds)
                ratios = (Ratio(inside, live["mockreg"], "to mockreg loopback", "< 1"),)
                if "peer" in live:
                    ratios += (Ratio(inside, live["peer"], "to reference loopback", "< 1"),)
                rows.append(Row(inside, live.get("peer"), live["mockreg"], ratios))
        return rows


def peer_key(key: str, peer: Optional[procs.ServerProcess]) -> Optional[str]:
    return key if peer is not None else None


def _vs_peer(mine: str, peer: Optional[str], target: Optional[str] = None) -> tuple:
    return (Ratio(mine, peer, "to reference", target),) if peer else ()


def _vs_ggcr(mine: str, ggcr: Optional[str], target: str) -> tuple:
    return (Ratio(mine, ggcr, "to ggcr", target),) if ggcr else ()


def _kinds():
    return zip(("head", "get", "tags"), wire.SMALL_REQUESTS)


def _per_call(function, count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        function()
    return (time.perf_counter() - started) / count


def _swap_cost() -> float:
    """Seconds per `LiveServer.app = registry`: what the session server pays to serve a new test."""
    from mockreg.server import LiveServer

    registry = Registry()
    server = LiveServer(registry).start()
    try:
        return _per_call(lambda: setattr(server, "app", registry), 2000)
    finally:
        server.stop()
