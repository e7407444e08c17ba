"""The pytest plugin (entry point `pytest11`): fixtures, the `mockreg` marker and options.

Every test gets a fresh registry (`mockreg`); one live server per session (per xdist worker)
serves whichever registry the running test owns (`mockreg_server`); `mockreg_requests` and
`mockreg_httpx` reach the same registry without a socket. See docs/fixtures.md.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Generator, Iterator, List, Optional, Set, Tuple

import pytest

# Installing mockreg loads this plugin into every pytest session, used or not: so nothing of
# mockreg beyond this module, and no third-party library, is imported here. Fixtures and hooks
# import what they need when they run (issue 16: a session that uses no fixture pays <= 10 ms).
if TYPE_CHECKING:
    import ssl

    from .inprocess import RequestsRouter
    from .journal import Journal
    from .registry import Registry
    from .scenario import Scenario
    from .server import LiveServer
    from .session import LiveRegistry

_REGISTRY = pytest.StashKey["Registry"]()
_SCENARIO = pytest.StashKey[Optional["Scenario"]]()
_ERRORS_REPORTED = pytest.StashKey[int]()
_CHECKS_LEVEL = pytest.StashKey[str]()  # the level at which client checks fail the test
# The journal's default size, repeated so that registering the ini option imports nothing;
# tests/test_plugin_fixtures.py checks it equals mockreg.journal.DEFAULT_MAXLEN.
DEFAULT_JOURNAL_SIZE = 10_000


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mockreg_journal_size", "requests each test's journal keeps (oldest dropped first)",
                  default=str(DEFAULT_JOURNAL_SIZE))
    parser.addoption("--mockreg-profiles", metavar="NAMES", default=None,
                     help="run @pytest.mark.mockreg_profiles tests only under these registry profiles "
                          "(comma-separated, e.g. --mockreg-profiles=ecr,ghcr)")
    parser.addini("mockreg_client_checks", "grade clients against the spec's client rules: off (default), must, "
                  "should or interop fails tests at that level and stricter; lower levels are warnings "
                  "(docs/client-checks.md)", default="off")
    parser.addini("mockreg_client_checks_ignore", "client rules not to run, by id (e.g. OCI-C013 OCI-C019)",
                  type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_ClientCheckTally(), "mockreg-client-check-tally")
    config.addinivalue_line(
        "markers", "mockreg(scenario=None, profile=None, users=(), **settings): make the test's registry behave "
        "like a registry profile (users: (name, password) pairs who may log in under its auth), load a scenario "
        "file and/or change settings, e.g. "
        "@pytest.mark.mockreg(profile='ecr', scenario='fixtures/quickstart.yaml', referrers=False); "
        "client_checks='must' grades the client and client_checks_ignore=[ids] skips rules "
        "(docs/client-checks.md); see docs/fixtures.md")
    config.addinivalue_line(
        "markers", "mockreg_profiles(*names, exclude=()): run the test once per registry profile (all shipped "
        "profiles when no names are given), the profile's name in the test id; see docs/profiles.md")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.mockreg_profiles(...)`: parametrize the `mockreg_profile` fixture, which the
    `mockreg` fixture (and so every registry fixture) reads."""
    marker = metafunc.definition.get_closest_marker("mockreg_profiles")
    if marker is None or "mockreg_profile" not in metafunc.fixturenames:
        return
    from .profile_params import profile_id, selected_profiles  # profiles are read only by tests that ask for them

    seen = metafunc.config.stash.setdefault(_PROFILE_IDS, set())
    seen.update(profile_id(str(name)) for name in marker.args)
    chosen = selected_profiles(metafunc.definition.nodeid, marker.args, marker.kwargs,
                               metafunc.config.getoption("--mockreg-profiles"))
    metafunc.parametrize("mockreg_profile", chosen, ids=[profile_id(name) for name in chosen])


_PROFILE_IDS = pytest.StashKey[Set[str]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    only = session.config.getoption("--mockreg-profiles")
    if only is not None:
        from .profile_params import check_option

        check_option(only, session.config.stash.get(_PROFILE_IDS, set()))


# -- the test's registry ------------------------------------------------------------------------
@pytest.fixture
def mockreg_profile(request: pytest.FixtureRequest) -> Optional[str]:
    """The registry profile this test's registry takes: the name `mockreg_profiles` parametrizes
    the test with, else the closest `@pytest.mark.mockreg(profile=...)`, else None (strict-spec)."""
    marker = next((m for m in request.node.iter_markers("mockreg") if "profile" in m.kwargs), None)
    return None if marker is None else marker.kwargs["profile"]


@pytest.fixture
def mockreg(request: pytest.FixtureRequest, mockreg_profile: Optional[str]) -> Iterator[Registry]:
    """A fresh, empty `Registry` for this test, configured by its profile and `mockreg` markers."""
    from .session import ServerErrors, fresh_registry

    size = request.config.getini("mockreg_journal_size")
    if not str(size).isdigit() or int(size) == 0:
        pytest.fail(f"ini option mockreg_journal_size must be a positive whole number, got {size!r}", pytrace=False)
    journal_size = int(size)
    registry = fresh_registry(journal_size=journal_size)
    if mockreg_profile is not None:
        from .profile_params import apply_profile

        apply_profile(registry, request.node, mockreg_profile, _marker_users(request.node))
    request.node.stash[_SCENARIO] = configure_from_markers(registry, request.node)
    request.node.stash[_REGISTRY] = registry
    _start_client_checks(request.node, registry)
    yield registry
    notifications = registry.__dict__.get("_notifications")
    if notifications is not None:  # stop its delivery threads: a dead endpoint is retried for ever
        notifications.close()
    # The item outlives the test (pytest keeps every item): let the registry and its blobs go.
    del request.node.stash[_REGISTRY]
    del request.node.stash[_SCENARIO]
    reported = request.node.stash.get(_ERRORS_REPORTED, 0)
    if len(registry.server_errors) > reported:  # raised after the test body, e.g. by a fixture's teardown
        raise ServerErrors(registry.server_errors[reported:])


def configure_from_markers(registry: Registry, node: pytest.Item) -> Optional[Scenario]:
    """Apply `@pytest.mark.mockreg(scenario=..., **settings)` markers, farthest (module, class)
    first, so the closest wins: each marker's scenario is loaded, then its settings on top.
    Returns the closest scenario, which the `mockreg_scenario` fixture hands to the test."""
    from .scenario import ScenarioError

    closest: Optional[Scenario] = None
    for marker in reversed(list(node.iter_markers("mockreg"))):
        if len(marker.args) > 1:
            pytest.fail(f"{node.nodeid}: @pytest.mark.mockreg takes one scenario file and settings by name",
                        pytrace=False)
        path = marker.args[0] if marker.args else marker.kwargs.get("scenario")
        settings = {k: v for k, v in marker.kwargs.items()
                    if k not in ("scenario", "profile", "users", "client_checks", "client_checks_ignore")}
        try:
            if path is not None:
                closest = _scenario(node, path)
                closest.apply(registry)
            if settings:
                registry.configure(**settings)
        except (ScenarioError, ValueError) as exc:
            pytest.fail(f"{node.nodeid}: @pytest.mark.mockreg: {exc}", pytrace=False)
    return closest


def _marker_users(node: pytest.Item) -> Any:
    """The closest `@pytest.mark.mockreg(users=[(name, password), ...])`: who may log in under the profile."""
    marker = next((m for m in node.iter_markers("mockreg") if "users" in m.kwargs), None)
    return () if marker is None else marker.kwargs["users"]


def _start_client_checks(node: pytest.Item, registry: Registry) -> None:
    """Client checks per the closest `client_checks=` / `client_checks_ignore=` marker options, else
    the ini options."""
    setting: Any = node.config.getini("mockreg_client_checks")
    ignore: Any = node.config.getini("mockreg_client_checks_ignore")
    where = "ini option mockreg_client_checks"
    for marker in reversed(list(node.iter_markers("mockreg"))):  # farthest first: the closest wins
        if "client_checks" in marker.kwargs:
            setting, where = marker.kwargs["client_checks"], f"{node.nodeid}: @pytest.mark.mockreg"
        ignore = marker.kwargs.get("client_checks_ignore", ignore)
    if str(setting).lower() == "off":
        return
    from .checks.pytest_support import level_of
    from .session import journal_of

    try:
        level = level_of(setting, where)
        if level is not None:
            journal_of(registry).check_clients(ignore=[ignore] if isinstance(ignore, str) else ignore)
    except ValueError as exc:
        pytest.fail(f"{where}: {exc}" if "client_checks" not in str(exc) else str(exc), pytrace=False)
    if level is not None:
        node.stash[_CHECKS_LEVEL] = level


_SCENARIOS = pytest.StashKey[Dict[Tuple[str, float], "Scenario"]]()


def _scenario(node: pytest.Item, path: Any) -> Scenario:
    """The scenario at `path` (absolute, or relative to the test's file, then to the rootdir),
    loaded once per session: content is built once and applied to each test's registry."""
    from .scenario import Scenario, ScenarioError

    candidates = [Path(path)] if Path(path).is_absolute() else [Path(node.path).parent / path,
                                                               node.config.rootpath / path]
    found = next((c for c in candidates if c.is_file()), None)
    if found is None:
        raise ScenarioError(path, (), "no such scenario file; looked for " + ", ".join(map(str, candidates)))
    cache = node.config.stash.setdefault(_SCENARIOS, {})
    key = (str(found.resolve()), found.stat().st_mtime)
    if key not in cache:
        cache[key] = Scenario.load(found)
    return cache[key]


@pytest.fixture
def mockreg_scenario(request: pytest.FixtureRequest, mockreg: Registry) -> Scenario:
    """The scenario the test's `mockreg` marker loaded, to look digests up:
    `mockreg_scenario.digest("demo/app:1.0")`."""
    scenario: Optional[Scenario] = request.node.stash.get(_SCENARIO, None)
    if scenario is None:
        pytest.fail(f"{request.node.nodeid}: mockreg_scenario needs @pytest.mark.mockreg(scenario=...)",
                    pytrace=False)
    return scenario


@pytest.fixture
def mockreg_journal(mockreg: Registry) -> Journal:
    """The request journal of this test's registry."""
    from .session import journal_of

    return journal_of(mockreg)


# -- the live server ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mockreg_listen_address() -> Tuple[str, int]:
    """(host, port) the session's live server binds: MOCKREG_HOST / MOCKREG_PORT, else 127.0.0.1 and
    a free port. Override this fixture (e.g. to ("::1", 0)) in a conftest.py."""
    host = os.environ.get("MOCKREG_HOST", "127.0.0.1")
    raw_port = os.environ.get("MOCKREG_PORT", "0")
    if not raw_port.isdigit() or int(raw_port) > 65535:
        pytest.fail(f"MOCKREG_PORT must be a port number (0 for any free port), got {raw_port!r}", pytrace=False)
    return host, int(raw_port)


@pytest.fixture(scope="session")
def mockreg_ssl_context() -> Optional[ssl.SSLContext]:
    """A server-side SSLContext to serve HTTPS with; None (plain HTTP) unless overridden."""
    return None


@pytest.fixture(scope="session")
def mockreg_live_server(mockreg_listen_address: Tuple[str, int],
                        mockreg_ssl_context: Optional[ssl.SSLContext]) -> Generator[LiveServer, None, None]:
    """The session's threaded live server (one per xdist worker); tests use `mockreg_server`."""
    from .server import LiveServer
    from .session import idle_app

    host, port = mockreg_listen_address
    try:
        server: Optional[LiveServer] = LiveServer(idle_app, host, port, mockreg_ssl_context)
        problem = None
    except OSError as exc:
        server, problem = None, f"mockreg cannot listen on {host}:{port}: {exc}"
    if server is None:
        pytest.fail(str(problem), pytrace=False)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mockreg_server(mockreg_live_server: LiveServer, mockreg: Registry) -> Iterator[LiveRegistry]:
    """This test's registry on the session's live server: `.url`, `.host_port`, `.registry`, `.journal`."""
    from .session import LiveRegistry

    live = LiveRegistry(mockreg_live_server, mockreg).serve()
    yield live
    live.release()


# -- in process ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def mockreg_base_url() -> str:
    """The URL `mockreg_requests` and `mockreg_httpx` answer on; override to change it (a test
    that needs one more host calls `mockreg_requests.add_host`)."""
    return "http://mockreg.test"  # mockreg.inprocess.DEFAULT_BASE_URL, not imported: see above


@pytest.fixture
def mockreg_requests(request: pytest.FixtureRequest, mockreg: Registry,
                     mockreg_base_url: str) -> Iterator[RequestsRouter]:
    """`requests` calls to `mockreg_base_url` (and hosts added with `.add_host`) reach this test's
    registry in process; other hosts pass through unless `.passthrough = False`."""
    from .inprocess import RequestsRouter

    with RequestsRouter(mockreg, [mockreg_base_url]) as router:
        if "mockreg_server" in request.fixturenames:
            router.allow(request.getfixturevalue("mockreg_server").url)
        yield router


@pytest.fixture
def mockreg_httpx(mockreg: Registry, mockreg_base_url: str) -> Iterator[Any]:
    """An `httpx.Client` (base URL `mockreg_base_url`) whose requests reach this test's registry in process."""
    if importlib.util.find_spec("httpx") is None:
        pytest.fail("the mockreg_httpx fixture needs httpx: pip install httpx", pytrace=False)
    from .inprocess import httpx_client

    with httpx_client(mockreg, mockreg_base_url) as client:
        yield client


# -- registry events (docs/events.md) ------------------------------------------------------------
@pytest.fixture
def mockreg_webhook(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A webhook receiver (`mockreg.events.webhook.WebhookReceiver`) with assertions such as
    `assert_event("push", "demo/app:1.0")`. Subscribed, without a socket, to this test's registry
    when the test uses one; `.url` takes deliveries over HTTP (e.g. `mockreg serve --notify`)."""
    from .events.webhook import WebhookReceiver  # imported only by tests that ask for it

    receiver = WebhookReceiver()
    if "mockreg" in request.fixturenames:
        receiver.subscribe(request.getfixturevalue("mockreg"))
    yield receiver
    receiver.close()


# -- surfacing exceptions raised while serving ---------------------------------------------------
@pytest.hookimpl(trylast=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Runs after a test body that passed: a registry exception still fails the test."""
    registry = item.stash.get(_REGISTRY, None)
    if registry is not None and registry.server_errors:
        from .session import ServerErrors

        item.stash[_ERRORS_REPORTED] = len(registry.server_errors)
        raise ServerErrors(registry.server_errors)
    level = item.stash.get(_CHECKS_LEVEL, None)
    if registry is not None and level is not None:
        from .checks.pytest_support import as_properties, judge
        from .session import journal_of

        found, failure = judge(journal_of(registry), level)
        item.user_properties.append(("mockreg_client_checks", as_properties(found)))
        if failure:
            pytest.fail(failure, pytrace=False)


class _ClientCheckTally:
    """Counts client-check violations (also those xdist workers report) for the end-of-run summary."""

    def __init__(self) -> None:
        self.tally: Dict[Tuple[str, str, str], List[str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, found in report.user_properties:
            if name == "mockreg_client_checks":
                for rule_id, rule_name, level in found:  # type: ignore[attr-defined]
                    self.tally.setdefault((rule_id, rule_name, level), []).append(report.nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.tally:
            from .checks.pytest_support import summary_lines
            terminalreporter.section("mockreg client checks")
            for line in summary_lines(self.tally):
                terminalreporter.line(line)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """A test that failed on its own still shows the registry's tracebacks (often the cause)."""
    outcome = yield
    registry = item.stash.get(_REGISTRY, None)
    if call.when != "call" or registry is None or not registry.server_errors:
        return
    from .session import ServerErrors, format_server_errors

    report = outcome.get_result()
    if report.failed and not (call.excinfo is not None and call.excinfo.errisinstance(ServerErrors)):
        item.stash[_ERRORS_REPORTED] = len(registry.server_errors)
        report.sections.append(("mockreg server errors", format_server_errors(registry.server_errors)))
