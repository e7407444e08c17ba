"""The soak run: a million mixed requests against one live `mockreg serve`, its RSS sampled
throughout. Not a timed test: it shows that after the warm-up the server's memory does not grow
beyond what its store holds.

    python benchmarks/soak.py --requests 1000000            # several minutes
    python benchmarks/soak.py --requests 20000 --json out.json   # the quick form the test suite runs

The workload, over keep-alive connections from `--workers` client processes: pushes (blob
HEAD, monolithic POST+PUT, sometimes a chunked POST/PATCH/PUT, manifest PUT), pulls (manifest
and blob GETs, a Range), tag moves, tag and manifest deletes, cross-repository mounts, referrer
pushes and referrers GETs, extension calls (discover, search, tag history) and 4xx requests
(unknown manifests and blobs, bad digests, invalid manifests). One request in a hundred comes on a
new connection from a new loopback address (127.x.y.z), so per-client state (a rate limit's
windows, the connection table) is exercised too. The server runs with `tag_history_limit=100`
and `rate_limit_windows=1000`, so both bounds are reached during the run. Content comes from bounded pools, so what the
store can hold is bounded too: the report names that bound, what the store held at the end (the
server's own shutdown summary), and the RSS at the end of the warm-up (the first `--warmup` of
the requests), its maximum after, and at the end. Every answer is checked; any 5xx or unexpected
status makes the run fail (exit 1).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import multiprocessing
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
REPOSITORIES = [f"soak/r{i}" for i in range(8)]
TAGS = [f"t{i}" for i in range(16)]
LAYER_POOL = 256          # distinct layers, 4 KiB each
VARIANTS = 64             # distinct manifests per repository (an annotation picks one)
LAYER_SIZE = 4096
SCENARIO = "version: 1\nextensions:\n  - builtin: history\n  - builtin: search\n"
SETTINGS = ["tag_history_limit=100", "rate_limit_windows=1000"]  # bounds reached during the run


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer(index: int) -> bytes:
    seed = f"soak layer {index} ".encode()
    return (seed * (LAYER_SIZE // len(seed) + 1))[:LAYER_SIZE]


CONFIG = b'{"architecture":"amd64","os":"linux"}'


def manifest(variant: int, subject: Optional[Tuple[str, int]] = None) -> bytes:
    layers = [layer((variant * 7 + k) % LAYER_POOL) for k in range(2)]
    document: Dict[str, Any] = {
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(CONFIG), "size": len(CONFIG)},
        "layers": [{"mediaType": OCI_LAYER, "digest": sha256(data), "size": len(data)} for data in layers],
        "annotations": {"variant": str(variant)},
    }
    if subject is not None:
        document["artifactType"] = "application/vnd.example.sbom"
        document["subject"] = {"mediaType": OCI_MANIFEST, "digest": subject[0], "size": subject[1]}
    return json.dumps(document, separators=(",", ":")).encode()


def store_bound() -> int:
    """Bytes the workload can make the store hold at most: every pooled blob, every manifest
    variant and its referrer in every repository, and a full tag history (`tag_history_limit`
    moves of ~200 bytes as Python objects) for every tag; Python's per-object overhead aside."""
    blobs = LAYER_POOL * LAYER_SIZE + len(CONFIG)
    manifests = len(REPOSITORIES) * VARIANTS * (len(manifest(0)) + 200) * 2
    history = len(REPOSITORIES) * len(TAGS) * 100 * 200
    return blobs + manifests + history


class Worker:
    """One client process: a keep-alive connection, a seeded plan, every answer checked."""

    def __init__(self, host: str, port: int, seed: int, index: int) -> None:
        self.host, self.port, self.index = host, port, index
        self.random = random.Random(seed)
        self.connection = http.client.HTTPConnection(host, port, timeout=60)
        self.requests = 0
        self.unexpected: List[str] = []
        self.fresh = 0

    def call(self, method: str, path: str, expect: Sequence[int], body: Optional[bytes] = None,
             headers: Optional[Dict[str, str]] = None, connection: Optional[http.client.HTTPConnection] = None,
             ) -> http.client.HTTPResponse:
        conn = connection or self.connection
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        self.requests += 1
        if response.status not in expect:
            self.unexpected.append(f"{method} {path}: {response.status} (expected {list(expect)})")
        if response.getheader("Connection", "").lower() == "close":
            conn.close()
        return response

    # -- operations --------------------------------------------------------------------------
    def push_blob(self, repo: str, data: bytes) -> None:
        digest = sha256(data)
        if self.call("HEAD", f"/v2/{repo}/blobs/{digest}", (200, 404)).status == 200:
            return
        if self.random.random() < 0.2:  # chunked: POST, PATCH, PUT
            location = self.call("POST", f"/v2/{repo}/blobs/uploads/", (202,)).getheader("Location", "")
            location = self.call("PATCH", location, (202,), data,
                                 {"Content-Type": "application/octet-stream"}).getheader("Location", "")
            separator = "&" if "?" in location else "?"
            self.call("PUT", f"{location}{separator}digest={digest}", (201,), b"")
            return
        location = self.call("POST", f"/v2/{repo}/blobs/uploads/", (202,)).getheader("Location", "")
        separator = "&" if "?" in location else "?"
        self.call("PUT", f"{location}{separator}digest={digest}", (201,), data,
                  {"Content-Type": "application/octet-stream"})

    def push(self, repo: str) -> None:
        variant = self.random.randrange(VARIANTS)
        self.push_blob(repo, CONFIG)
        for k in range(2):
            self.push_blob(repo, layer((variant * 7 + k) % LAYER_POOL))
        self.call("PUT", f"/v2/{repo}/manifests/{self.random.choice(TAGS)}", (201,), manifest(variant),
                  {"Content-Type": OCI_MANIFEST})

    def pull(self, repo: str) -> None:
        answer = self.call("GET", f"/v2/{repo}/manifests/{self.random.choice(TAGS)}", (200, 404),
                           headers={"Accept": OCI_MANIFEST})
        if answer.status == 200:
            data = layer(self.random.randrange(LAYER_POOL))
            self.call("GET", f"/v2/{repo}/blobs/{sha256(data)}", (206, 404), headers={"Range": "bytes=0-99"})

    def tag(self, repo: str) -> None:
        body = manifest(self.random.randrange(VARIANTS))
        answer = self.call("HEAD", f"/v2/{repo}/manifests/{sha256(body)}", (200, 404))
        if answer.status == 200:
            self.call("PUT", f"/v2/{repo}/manifests/{self.random.choice(TAGS)}", (201,), body,
                      {"Content-Type": OCI_MANIFEST})

    def delete(self, repo: str) -> None:
        if self.random.random() < 0.5:
            self.call("DELETE", f"/v2/{repo}/manifests/{self.random.choice(TAGS)}", (202, 404))
        else:
            digest = sha256(manifest(self.random.randrange(VARIANTS)))
            self.call("DELETE", f"/v2/{repo}/manifests/{digest}", (202, 404))

    def mount(self, repo: str) -> None:
        source = self.random.choice(REPOSITORIES)
        digest = sha256(layer(self.random.randrange(LAYER_POOL)))
        answer = self.call("POST", f"/v2/{repo}/blobs/uploads/?mount={digest}&from={source}", (201, 202))
        if answer.status == 202:  # not there to mount: an upload was opened instead; cancel it
            self.call("DELETE", answer.getheader("Location", ""), (204,))

    def referrers(self, repo: str) -> None:
        variant = self.random.randrange(VARIANTS)
        subject = manifest(variant)
        if self.random.random() < 0.5:
            self.push_blob(repo, CONFIG)
            for k in range(2):
                self.push_blob(repo, layer((variant * 7 + k) % LAYER_POOL))
            self.call("PUT", f"/v2/{repo}/manifests/{sha256(manifest(variant, (sha256(subject), len(subject))))}",
                      (201,), manifest(variant, (sha256(subject), len(subject))), {"Content-Type": OCI_MANIFEST})
        self.call("GET", f"/v2/{repo}/referrers/{sha256(subject)}", (200,))

    def extension(self, repo: str) -> None:
        choice = self.random.randrange(3)
        if choice == 0:
            self.call("GET", "/v2/_oci/ext/discover", (200,))
        elif choice == 1:
            self.call("GET", f"/v2/_oci/ext/search?repository={repo}", (200,))
        else:
            self.call("GET", f"/v2/{repo}/_chainguard/history/{self.random.choice(TAGS)}", (200, 404))

    def client_error(self, repo: str) -> None:
        choice = self.random.randrange(5)
        if choice == 0:
            self.call("GET", f"/v2/{repo}/manifests/no-such-tag", (404,))
        elif choice == 1:
            self.call("GET", f"/v2/{repo}/blobs/sha256:{'0' * 64}", (404,))
        elif choice == 2:
            self.call("GET", f"/v2/{repo}/blobs/sha256:nothex", (400, 404))
        elif choice == 3:
            self.call("PUT", f"/v2/{repo}/manifests/bad", (400,), b'{"schemaVersion": 2, "layers": 7}',
                      {"Content-Type": OCI_MANIFEST})
        else:
            self.call("GET", "/v2/UPPER/case/tags/list", (400, 404))

    def fresh_client(self, repo: str) -> None:
        """A request on a new connection from a new loopback address."""
        self.fresh += 1
        number = self.index * 1_000_000 + self.fresh
        address = f"127.{1 + number // 62500 % 250}.{number // 250 % 250}.{1 + number % 250}"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60, source_address=(address, 0))
        try:
            self.call("GET", f"/v2/{repo}/tags/list", (200, 404), connection=conn)
        finally:
            conn.close()

    MIX = [("push", 12), ("pull", 30), ("tag", 12), ("delete", 5), ("mount", 6), ("referrers", 8),
           ("extension", 10), ("client_error", 16), ("fresh_client", 1)]

    def run(self, budget: int, progress: Any) -> Tuple[int, List[str]]:
        names = [name for name, _ in self.MIX]
        weights = [weight for _, weight in self.MIX]
        reported = 0
        while self.requests < budget:
            operation = self.random.choices(names, weights)[0]
            try:
                getattr(self, operation)(self.random.choice(REPOSITORIES))
            except (OSError, http.client.HTTPException) as exc:
                self.unexpected.append(f"{operation}: {exc!r}")
                self.connection.close()
            if self.requests - reported >= 200:
                with progress.get_lock():
                    progress.value += self.requests - reported
                reported = self.requests
        with progress.get_lock():
            progress.value += self.requests - reported
        return self.requests, self.unexpected[:50] + ([f"... {len(self.unexpected)} in all"]
                                                      if len(self.unexpected) > 50 else [])


def _work(args: Tuple[str, int, int, int, int, Any]) -> Tuple[int, List[str]]:
    host, port, seed, index, budget, progress = args
    return Worker(host, port, seed, index).run(budget, progress)


_progress: Any = None


def _init(progress: Any) -> None:
    global _progress
    _progress = progress


def _work_in_pool(args: Tuple[str, int, int, int, int]) -> Tuple[int, List[str]]:
    return _work((*args, _progress))


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def soak(requests: int, workers: int, seed: int, warmup: float) -> Dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mockreg-soak-") as workdir:
        scenario = Path(workdir, "soak.yaml")
        scenario.write_text(SCENARIO)
        errors = Path(workdir, "stderr.txt")
        command = [sys.executable, "-m", "mockreg", "serve", "--port", "0", "--quiet", "--control-api",
                   "--scenario", str(scenario), *[arg for s in SETTINGS for arg in ("--set", s)]]
        with errors.open("w") as stderr:
            server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            line = server.stdout.readline() if server.stdout else ""
            host, port = line.strip().rsplit("://", 1)[1].rsplit(":", 1)
            control = http.client.HTTPConnection(host, int(port), timeout=60)
            control.request("POST", "/_mockreg/rate-limits", body=json.dumps({"limit": 10 ** 9, "window": 3600}),
                            headers={"Content-Type": "application/json"})
            control.getresponse().read()
            progress = multiprocessing.Value("q", 0)
            samples: List[Tuple[float, int, int]] = []
            started = time.monotonic()
            share = [requests // workers + (1 if i < requests % workers else 0) for i in range(workers)]
            with multiprocessing.Pool(workers, initializer=_init, initargs=(progress,)) as pool:
                result = pool.map_async(_work_in_pool, [(host, int(port), seed * 1000 + i, i, share[i])
                                                        for i in range(workers)])
                while not result.ready():
                    samples.append((time.monotonic() - started, progress.value, rss(server.pid)))
                    result.wait(0.5)
                outcomes = result.get()
            elapsed = time.monotonic() - started
            samples.append((elapsed, progress.value, rss(server.pid)))
            control.close()  # idle for the whole run: the server has closed it (idle_timeout)
            control = http.client.HTTPConnection(host, int(port), timeout=60)
            control.request("GET", "/_mockreg/rate-limits")
            windows = json.loads(control.getresponse().read())["rate_limits"][0]
            control.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
        summary = _held(errors.read_text())
    sent = sum(count for count, _ in outcomes)
    unexpected = [problem for _, problems in outcomes for problem in problems]
    after_warmup = [s for s in samples if s[1] >= warmup * sent]
    at_warmup = after_warmup[0] if after_warmup else samples[-1]
    peak_after = max(s[2] for s in after_warmup) if after_warmup else samples[-1][2]
    half_way = next((s for s in samples if s[1] >= sent // 2), samples[-1])
    return {
        "requests": sent, "seconds": round(elapsed, 1), "requests_per_second": round(sent / elapsed),
        "workers": workers, "seed": seed, "unexpected": unexpected,
        "rss_start": samples[0][2], "rss_at_warmup": at_warmup[2], "rss_peak_after_warmup": peak_after,
        "rss_end": samples[-1][2], "growth_after_warmup": peak_after - at_warmup[2],
        "rss_half_way": half_way[2], "growth_second_half": samples[-1][2] - half_way[2],
        "store_bound": store_bound(), "store_held_at_end": summary,
        "rate_limit_windows": windows.get("windows"), "rate_limit_windows_dropped": windows.get("windows_dropped"),
        "samples": [{"seconds": round(t, 1), "requests": n, "rss": r} for t, n, r in samples],
    }


def _held(stderr: str) -> str:
    """The server's shutdown summary, e.g. 'held 8 repositories, 512 manifests, 257 blobs, 1.6 MiB'."""
    for line in reversed(stderr.splitlines()):
        if "held " in line:
            return line.split("held ", 1)[1].strip()
    return "unknown"


def report(result: Dict[str, Any]) -> str:
    mib = 1024 * 1024
    lines = [
        f"soak: {result['requests']:,} requests in {result['seconds']} s ({result['requests_per_second']:,}/s, "
        f"{result['workers']} client processes, seed {result['seed']})",
        f"  server RSS: start {result['rss_start'] / mib:.1f} MiB, after warm-up {result['rss_at_warmup'] / mib:.1f} "
        f"MiB, peak after warm-up {result['rss_peak_after_warmup'] / mib:.1f} MiB, "
        f"end {result['rss_end'] / mib:.1f} MiB",
        f"  growth after warm-up: {result['growth_after_warmup'] / mib:.1f} MiB; the store can hold at most "
        f"{result['store_bound'] / mib:.1f} MiB; it held at the end: {result['store_held_at_end']}",
        f"  second half of the run: RSS {result['rss_half_way'] / mib:.1f} -> {result['rss_end'] / mib:.1f} MiB "
        f"({result['growth_second_half'] / mib:+.1f} MiB)",
        f"  rate-limit windows kept {result['rate_limit_windows']}, dropped {result['rate_limit_windows_dropped']}",
        f"  unexpected answers: {len(result['unexpected'])}",
    ]
    lines += [f"    {problem}" for problem in result["unexpected"][:20]]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=float, default=0.1, help="share of the requests counted as warm-up")
    parser.add_argument("--json", type=Path, help="also write the result (with every RSS sample) here")
    args = parser.parse_args(argv)
    result = soak(args.requests, args.workers, args.seed, args.warmup)
    print(report(result))
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=1))
    return 1 if result["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
