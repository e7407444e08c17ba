"""A registry for one test, and the ways to reach it, without pytest: `MockRegistry` is a context
manager, a decorator and a `start()`/`stop()` object for unittest suites. The pytest plugin
builds its fixtures from the same parts (`fresh_registry`, `LiveRegistry`, `ServerErrors`).
"""

from __future__ import annotations

import functools
import inspect
import json
import ssl
import traceback
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, TypeVar, Union

from .inprocess import DEFAULT_BASE_URL, RequestsRouter, httpx_client
from .journal import DEFAULT_MAXLEN, Journal, attach
from .registry import Registry
from .server import LiveServer

F = TypeVar("F", bound=Callable[..., Any])


def fresh_registry(settings: Optional[Mapping[str, Any]] = None, journal_size: int = DEFAULT_MAXLEN,
                   profile: Optional[str] = None) -> Registry:
    """A new, empty registry with `profile` and `settings` applied and a request journal as its first layer."""
    registry = Registry(profile=profile, **dict(settings or {}))
    attach(registry, journal_size)
    return registry


def journal_of(registry: Registry) -> Journal:
    """The registry's request journal (attached as its first layer if it had none)."""
    return attach(registry)


class ServerErrors(AssertionError):
    """Exceptions raised inside the registry while serving a test's requests (each was answered
    with a 500), with their tracebacks."""

    def __init__(self, errors: Sequence[BaseException]) -> None:
        self.errors = list(errors)
        super().__init__(format_server_errors(self.errors))


def format_server_errors(errors: Sequence[BaseException]) -> str:
    parts = [f"mockreg raised {len(errors)} exception(s) while serving requests:"]
    for number, error in enumerate(errors, 1):
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        parts.append(f"--- server error {number} ---\n{trace.rstrip()}")
    return "\n".join(parts)


class _ReportingApp:
    """The app a live server runs for a test: the registry, plus a record of any exception that
    escapes it (a bug in a layer), so the test that caused it fails instead of seeing only a
    dropped connection. ConnectionError is how fault rules drop connections on purpose."""

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __call__(self, environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.registry(environ, start_response)
        except ConnectionError:
            raise
        except Exception as exc:
            self.registry.server_errors.append(exc)
            raise


def idle_app(environ: Dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """What the shared live server answers between tests: 503, so a straggling client of an
    earlier test never reaches the next test's registry."""
    body = json.dumps({"errors": [{"code": "UNAVAILABLE", "message": "no mockreg test owns this server now"}]}).encode()
    start_response("503 Service Unavailable", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(body)))])
    return [body]


class LiveRegistry:
    """A registry served by a live server: what the `mockreg_server` fixture gives a test."""

    def __init__(self, server: LiveServer, registry: Registry) -> None:
        self.server = server
        self.registry = registry
        self.journal = journal_of(registry)

    @property
    def url(self) -> str:
        """e.g. "http://127.0.0.1:53817"."""
        return self.server.url

    @property
    def host_port(self) -> str:
        """e.g. "127.0.0.1:53817" or "[::1]:53817", as image references start."""
        return self.server.host_port

    def reference(self, name: str) -> str:
        """A full image reference on this server: reference("demo/app:1.0") -> "127.0.0.1:53817/demo/app:1.0"."""
        return f"{self.host_port}/{name}"

    def serve(self) -> LiveRegistry:
        self.server.app = _ReportingApp(self.registry)
        return self

    def release(self) -> None:
        self.server.app = idle_app

    def __repr__(self) -> str:
        return f"<LiveRegistry {self.url}>"


class MockRegistry:
    """A fresh registry per use, reachable in process and/or over a live server.

    As a context manager::

        with MockRegistry(live=True) as mocked:
            client = MyClient(mocked.url)

    As a decorator (a fresh registry per call, passed as the last positional argument, as
    `unittest.mock.patch` does)::

        class PushTest(unittest.TestCase):
            @MockRegistry(requests=True, settings={"referrers": False})
            def test_push(self, mocked): ...

    `profile="ecr"` makes it behave like a real registry (docs/profiles.md); `settings` win over it.
    `requests=True` routes `requests` calls for `base_url` (default http://mockreg.test) to the
    registry; `live=True` starts a server on `host`:`port` (default 127.0.0.1 and a free port).
    `stop()` (and leaving the block) raises `ServerErrors` if the registry hit a bug.
    """

    def __init__(self, *, live: bool = False, requests: bool = False,
                 base_url: Union[str, Sequence[str]] = DEFAULT_BASE_URL, passthrough: bool = True,
                 host: str = "127.0.0.1", port: int = 0,
                 ssl_context: Optional[ssl.SSLContext] = None, settings: Optional[Mapping[str, Any]] = None,
                 journal_size: int = DEFAULT_MAXLEN, profile: Optional[str] = None) -> None:
        self._options: Dict[str, Any] = dict(
            live=live, requests=requests, base_url=base_url, passthrough=passthrough, host=host, port=port,
            ssl_context=ssl_context, settings=settings, journal_size=journal_size, profile=profile)
        self.registry = fresh_registry(settings, journal_size, profile)
        self.journal = journal_of(self.registry)
        self.live: Optional[LiveRegistry] = None
        self.router: Optional[RequestsRouter] = None
        self._clients: List[Any] = []

    @property
    def url(self) -> str:
        """The live server's URL when `live`, else the first in-process base URL."""
        if self.live is not None:
            return self.live.url
        if self.router is not None:
            return self.router.url
        raise RuntimeError("this MockRegistry is not started, or has neither live=True nor requests=True")

    @property
    def host_port(self) -> str:
        if self.live is None:
            raise RuntimeError("host_port needs MockRegistry(live=True), started")
        return self.live.host_port

    def start(self) -> MockRegistry:
        options = self._options
        if options["requests"] and self.router is None:
            urls = [options["base_url"]] if isinstance(options["base_url"], str) else list(options["base_url"])
            self.router = RequestsRouter(self.registry, urls, passthrough=options["passthrough"]).start()
        if options["live"] and self.live is None:
            server = LiveServer(idle_app, options["host"], options["port"], options["ssl_context"]).start()
            self.live = LiveRegistry(server, self.registry).serve()
            if self.router is not None:
                self.router.allow(self.live.url)
        return self

    def httpx_client(self, **options: Any) -> Any:
        """An in-process `httpx.Client` for this registry (closed by `stop()`)."""
        base_url = self._options["base_url"]
        client = httpx_client(self.registry, base_url if isinstance(base_url, str) else base_url[0], **options)
        self._clients.append(client)
        return client

    def stop(self, check: bool = True) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self.router is not None:
            self.router.stop()
            self.router = None
        if self.live is not None:
            self.live.server.stop()
            self.live = None
        if check:
            self.check()

    def check(self) -> None:
        """Raise `ServerErrors` if the registry raised while serving (each such request got a 500)."""
        if self.registry.server_errors:
            raise ServerErrors(self.registry.server_errors)

    def __enter__(self) -> MockRegistry:
        return self.start()

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        self.stop(check=exc_type is None)

    def __call__(self, func: F) -> F:
        options = self._options
        signature = inspect.signature(func)
        parameters = list(signature.parameters.values())

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with MockRegistry(**options) as mocked:
                return func(*args, mocked, **kwargs)

        # Hide the injected parameter, so pytest does not look for a fixture of that name.
        wrapper.__signature__ = signature.replace(parameters=parameters[:-1])  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]
