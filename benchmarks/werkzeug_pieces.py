"""Why mockreg has its own server, request view, response and router although werkzeug is a
dependency: what werkzeug's pieces would cost on mockreg's request path, measured side by side.

    python -m benchmarks.werkzeug_pieces [--quick]

1. werkzeug's development server (`werkzeug.serving.make_server`, threaded): whether a second
   request can reuse the connection (it answers `Connection: close`, so every request of a test
   suite pays a TCP connect), against mockreg's LiveServer.
2. Per request, in process: the whole Registry WSGI call for a small manifest GET, then the work
   werkzeug's Request (headers, args), Map (match) and Response (WSGI call) would add for that same
   request, against mockreg's own Request view, Router and Response tuple.
Best-of-N wall time per call (take it under load with a grain of salt; ratios are steadier).
"""

from __future__ import annotations

import argparse
import http.client
import io
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request as WerkzeugRequest
from werkzeug.wrappers import Response as WerkzeugResponse

from mockreg import Registry
from mockreg.content import push_image
from mockreg.http import Request, json_response
from mockreg.server import LiveServer

PATH = "/v2/demo/app/manifests/1.0"
ACCEPT = "application/vnd.oci.image.manifest.v1+json"


def _environ() -> Dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": PATH, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "5000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "HTTP_ACCEPT": ACCEPT, "HTTP_HOST": "127.0.0.1:5000", "wsgi.input": io.BytesIO(b"")}


def best(action: Callable[[], object], number: int, repeat: int = 7) -> float:
    result = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            action()
        result = min(result, (time.perf_counter() - start) / number)
    return result


def _ignore(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> None:
    return None


def connection_reuse(registry: Registry) -> List[Tuple[str, str, bool]]:
    """(server, Connection header of the first answer, whether a 2nd request on the socket worked)."""
    rows = []
    werkzeug_server = make_server("127.0.0.1", 0, registry, threaded=True)
    thread = threading.Thread(target=werkzeug_server.serve_forever, daemon=True)
    thread.start()
    try:
        rows.append(("werkzeug.serving (threaded)", *_two_requests(werkzeug_server.server_port)))
    finally:
        werkzeug_server.shutdown()
    with LiveServer(registry) as live:
        rows.append(("mockreg LiveServer", *_two_requests(live.port)))
    return rows


def _two_requests(port: int) -> Tuple[str, bool]:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/v2/", headers={"Connection": "keep-alive"})
    first = connection.getresponse()
    first.read()
    header = first.getheader("Connection", "(none: keep-alive)")
    reused = first.will_close is False and connection.sock is not None
    connection.close()
    return header, reused


def per_request(number: int) -> List[Tuple[str, float]]:
    registry = Registry()
    push_image(registry, "demo/app:1.0", layers=[1024])
    werkzeug_map = Map([Rule("/v2/<path:name>/manifests/<reference>", endpoint="manifest", methods=["GET", "HEAD"]),
                        Rule("/v2/<path:name>/blobs/<digest>", endpoint="blob", methods=["GET", "HEAD"]),
                        Rule("/v2/<path:name>/tags/list", endpoint="tags", methods=["GET"]),
                        Rule("/v2/", endpoint="base")])
    body = registry.manifest("demo/app", "1.0").body

    def whole_call() -> object:
        return b"".join(registry(_environ(), _ignore))

    def werkzeug_pieces() -> object:
        environ = _environ()
        request = WerkzeugRequest(environ)
        request.headers.get("Accept"), request.args.get("digest")  # what a handler reads
        werkzeug_map.bind_to_environ(environ).match(PATH, method="GET")
        response = WerkzeugResponse(body, 200, [("Content-Type", ACCEPT), ("Docker-Content-Digest", "sha256:x")])
        return b"".join(response(environ, _ignore))

    def mockreg_pieces() -> object:
        environ = _environ()
        request = Request(environ)
        request.environ.get("HTTP_ACCEPT"), request.arg("digest")
        registry.router.match(request.method, request.path)
        response = json_response(200, body, [("Docker-Content-Digest", "sha256:x")], content_type=ACCEPT)
        return response.body

    return [("Registry WSGI call, small manifest GET (all of it)", best(whole_call, number)),
            ("werkzeug Request + Map.match + Response for it", best(werkzeug_pieces, number)),
            ("mockreg Request view + Router.match + Response", best(mockreg_pieces, number))]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    number = 500 if parser.parse_args(argv).quick else 5000
    print("Connection reuse (two requests, one socket)")
    for name, header, reused in connection_reuse(Registry()):
        print(f"  {name:30s} Connection: {header:22s} second request on the same socket: {reused}")
    print("\nPer request, in process (best of 7)")
    rows = per_request(number)
    for label, seconds in rows:
        print(f"  {label:52s} {seconds * 1e6:7.1f} us")
    print(f"  werkzeug's pieces add {(rows[1][1] - rows[2][1]) * 1e6:.1f} us over mockreg's own; "
          f"ratio {rows[1][1] / rows[2][1]:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
