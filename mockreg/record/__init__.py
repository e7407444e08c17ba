"""Record a real registry, replay it offline (docs/record.md).

    with Recorder(upstream="https://registry.example", out="recorded.yaml") as recorder:
        ...  # point a client at recorder.url (or recorder.host_port)
    # recorded.yaml (+ recorded.layout/) now reproduce what the client met

The recorder serves the distribution API on a loopback port, forwards each request to the
upstream and relays the answer (proxy.py); what it saw becomes a scenario file (observe.py,
writer.py) that `mockreg serve --scenario` and the pytest marker replay.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable, Optional, Tuple, Union

from ..server import LiveServer
from .backfill import Backfill
from .compare import differences, recorded_exchanges, replayed_exchanges, view
from .observe import observe
from .proxy import TOKEN_PREFIX, RecordingProxy
from .recording import Recording
from .upstream import Upstream, UpstreamError
from .writer import write

__all__ = ["Recorder", "UpstreamError", "differences", "recorded_exchanges", "replayed_exchanges", "view"]

REALM_CHOICE = (f"rewritten to the recorder's {TOKEN_PREFIX}N, which forwards to the real realm, so the client's "
                "token requests are recorded too and a realm it could not reach directly still works; the "
                "replay serves its own token endpoint")


class Recorder:
    """A recording proxy in front of `upstream`; stopping it writes `out` (also after errors)."""

    def __init__(self, upstream: str, out: Union[str, Path], *, host: str = "127.0.0.1", port: int = 0,
                 ca_file: Optional[str] = None, credentials: Optional[Tuple[str, str]] = None,
                 token: Optional[str] = None, replay_password: str = "replay", backfill: bool = True,
                 say: Callable[[str], None] = lambda line: None) -> None:
        self.out = Path(out)
        self.upstream = Upstream(upstream, ca_file=ca_file, credentials=credentials, token=token)
        self.recording = Recording(self.upstream.url)
        self.replay_password = replay_password
        self._backfill = Backfill(self.upstream, self.recording) if backfill else None
        self.proxy = RecordingProxy(self.upstream, self.recording, self._backfill, say)
        try:
            self.server = LiveServer(self.proxy, host, port)
        except OSError:  # the port is taken: leave no thread or scratch directory behind
            if self._backfill is not None:
                self._backfill.close()
            shutil.rmtree(self.recording.scratch, ignore_errors=True)
            raise
        self._stopped = False

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host_port(self) -> str:
        return self.server.host_port

    def start(self) -> Recorder:
        self.server.start()
        return self

    def stop(self) -> Path:
        """Stop serving and write the scenario (once); returns its path."""
        if self._stopped:
            return self.out
        self._stopped = True
        self.server.stop()
        if not self.proxy.wait_idle(timeout=60):
            self.recording.problem("an answer was still being relayed when the recording stopped; it is left out")
        if self._backfill is not None:
            self._backfill.close()
        self.recording.own_challenge = self.upstream.own_challenge
        try:
            behaviour = observe(self.recording, self.replay_password, self.upstream.has_own_credentials)
            return write(self.recording, behaviour, self.out, REALM_CHOICE)
        finally:
            self.upstream.close()
            shutil.rmtree(self.recording.scratch, ignore_errors=True)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
