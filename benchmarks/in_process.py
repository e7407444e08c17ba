"""Section 5: the same small requests through `requests` and `httpx` with no socket at all.

`requests` is routed to the WSGI app through `responses` (mockreg's own adapter when the
package has one, else the minimal callback below); `httpx` uses its WSGITransport.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any, Callable, Dict, List, Tuple
from urllib.parse import unquote, urlsplit

from mockreg import Registry

from .wire import OCI_MANIFEST, SMALL_CONFIG, SMALL_LAYER, SMALL_MANIFEST, TAGS

IN_PROCESS_URL = "http://mockreg.test"


def seeded_registry() -> Registry:
    """A registry holding exactly what `wire.seed_small` pushes over HTTP."""
    registry = Registry()
    for repo in ("bench/small", "bench/tags"):
        registry.push_blob(repo, SMALL_CONFIG)
        registry.push_blob(repo, SMALL_LAYER)
    registry.push_manifest("bench/small", SMALL_MANIFEST, tags="latest", media_type=OCI_MANIFEST)
    registry.push_manifest("bench/tags", SMALL_MANIFEST, tags=TAGS, media_type=OCI_MANIFEST)
    return registry


def wsgi_callback(app: Callable[..., Any]) -> Callable[[Any], Tuple[int, List[Tuple[str, str]], bytes]]:
    """A `responses` callback that hands a prepared `requests` request to a WSGI app."""

    def answer(request: Any) -> Tuple[int, List[Tuple[str, str]], bytes]:
        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ: Dict[str, Any] = {
            "REQUEST_METHOD": request.method, "SCRIPT_NAME": "", "PATH_INFO": unquote(url.path, "latin-1"),
            "QUERY_STRING": url.query, "SERVER_NAME": url.hostname or "", "SERVER_PORT": str(url.port or 80),
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": url.scheme, "wsgi.input": io.BytesIO(body),
            "wsgi.errors": io.StringIO(), "wsgi.multithread": True, "wsgi.multiprocess": False,
            "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in request.headers.items():
            name = key.upper().replace("-", "_")
            environ[name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name] = value
        started: List[Any] = []
        chunks = app(environ, lambda status, headers, exc_info=None: started.extend((status, headers)))
        return int(started[0][:3]), list(started[1]), b"".join(chunks)

    return answer


def routed_requests(app: Callable[..., Any]) -> Any:
    """A started `responses.RequestsMock` that sends every request for IN_PROCESS_URL to `app`."""
    import responses

    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    pattern = re.compile(re.escape(IN_PROCESS_URL) + r"/.*")
    for method in ("GET", "HEAD", "PUT", "POST", "PATCH", "DELETE"):
        mock.add_callback(method, pattern, callback=wsgi_callback(app))
    mock.start()
    return mock


def loop(send: Callable[[str, str], Any], method: str, url: str, count: int) -> float:
    """Seconds per request of `count` calls of a client's `send(method, url)`."""
    for _ in range(min(20, count)):
        _check(send(method, url))
    started = time.perf_counter()
    for _ in range(count):
        response = send(method, url)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {url} answered {response.status_code}")
    return (time.perf_counter() - started) / count


def _check(response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.method} {response.request.url} answered {response.status_code}")
