"""Pagination the spec's way (`n`, `last`, `Link: <...>; rel="next"`), for extension authors.

extensions/README.md ("Pagination") asks extensions to follow the content-discovery pattern of
spec.md: items in lexical order, at most `n` after `last`, and a `Link` header to the next page.
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, TypeVar
from urllib.parse import quote, urlencode

from ..handlers.common import positive_int_arg
from ..http import Headers, Request

T = TypeVar("T")


def paginate(request: Request, items: Sequence[T], key: Callable[[T], str] = str,
             path: Optional[str] = None, default_size: Optional[int] = None) -> Tuple[List[T], Headers]:
    """One page of `items` as the request's `n` and `last` ask, and the headers to send with it.

    Items are ordered by `key` (a string per item, unique); `last` is compared with those keys.
    Without `n` every remaining item is returned, unless `default_size` caps the page. The
    `Link` header repeats the request's other query parameters (filters) for the next page;
    `path` defaults to the request path. A malformed `n` answers 400.
    """
    size = positive_int_arg(request.arg("n"), "n")
    if size is None:
        size = default_size
    ordered = sorted(items, key=key)
    last = request.arg("last")
    if last is not None:
        ordered = [item for item in ordered if key(item) > last]
    if size is None or len(ordered) <= size:
        return ordered, []
    page = ordered[:size]
    if size == 0:
        return page, []
    kept = [(k, v) for k, values in request.query.items() if k not in ("n", "last") for v in values]
    query = urlencode(kept + [("n", str(size)), ("last", key(page[-1]))], quote_via=quote)
    return page, [("Link", f'<{path or request.path}?{query}>; rel="next"')]
