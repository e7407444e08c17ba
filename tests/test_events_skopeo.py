"""End to end: skopeo pushes to `mockreg serve --notify URL`; the webhook gets push events for
every blob and the manifest in the reference registry's envelope, and a client reads the same
events back from the events extension of the same server."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import requests
from cli_helpers import required_tool, serve_processes

from mockreg import Registry
from mockreg.events.webhook import WebhookReceiver
from mockreg.layout import export_layout
from mockreg.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "fixtures" / "quickstart.yaml"


def test_a_skopeo_push_notifies_and_the_extension_serves_the_same_events(tmp_path: Path) -> None:
    skopeo = required_tool("skopeo")
    scenario = Scenario.load(QUICKSTART)
    source = Registry()
    scenario.apply(source)
    layout = export_layout(source, tmp_path / "layout", "demo/app")
    image = scenario.content("demo/app:1.0")
    with WebhookReceiver() as hook, serve_processes() as serve:
        served = serve("--quiet", "--notify", hook.url)
        copied = subprocess.run([skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", f"oci:{layout}:1.0",
                                 f"docker://{served.host_port}/demo/app:1.0"], capture_output=True, text=True,
                                timeout=120)
        assert copied.returncode == 0, copied.stderr

        manifest = hook.assert_event("push", "demo/app:1.0", timeout=30)
        assert manifest["target"]["digest"] == scenario.digest("demo/app:1.0")
        assert manifest["target"]["url"] == f"{served.url}/v2/demo/app/manifests/{manifest['target']['digest']}"
        assert manifest["request"]["useragent"].startswith("skopeo/")
        blobs = [image.config.digest, *[layer.digest for layer in image.layers]]
        for digest in blobs:
            pushed = hook.assert_event("push", f"demo/app@{digest}", timeout=30, media_type="application/octet-stream")
            assert pushed["target"]["url"] == f"{served.url}/v2/demo/app/blobs/{digest}"
        for digest in blobs:  # each blob before the manifest that needs it (skopeo sends blobs in parallel)
            hook.assert_events([f"push demo/app@{digest}", "push demo/app:1.0"])
        assert {d.media_type for d in hook.deliveries} == {"application/vnd.docker.distribution.events.v1+json"}
        received = [e["id"] for e in hook.wait(len(blobs) + 1, "push")]

        discover = requests.get(f"{served.url}/v2/_oci/ext/discover").json()
        assert [e["name"] for e in discover["extensions"]] == ["_events"]
        page = requests.get(f"{served.url}/v2/_events/log/page").json()["events"]
        assert [e["id"] for e in page] == received
        assert page == hook.events
        stream = requests.get(f"{served.url}/v2/demo/app/_events/log/stream?n={len(received)}&timeout=30").text
        streamed = [json.loads(line[len("data: "):]) for line in stream.splitlines() if line.startswith("data: ")]
        assert streamed == page
        assert served.stop() == 0
