"""The `Date` header every response carries (RFC 9110 §6.6.1: an origin server with a clock MUST
send one), formatted once per second and reused, so it costs a clock read per response.

The value is real time (the moment the answer left), not the registry's controllable clock: a
client compares it with its own clock, as with any server.
"""

from __future__ import annotations

import time
from typing import Tuple

# IMF-fixdate (RFC 9110 §5.6.7) names days and months in English whatever the locale, so no strftime.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Header = Tuple[str, str]
_cached: Tuple[int, Header] = (-1, ("Date", ""))


def imf_fixdate(seconds: float) -> str:
    """`seconds` since the epoch as IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"."""
    t = time.gmtime(seconds)
    return (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
            f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")


def date_header() -> Header:
    """("Date", now as IMF-fixdate), computed at most once per second. Thread-safe: the cache is
    one tuple, replaced whole; two threads racing at a second's turn both compute the same value."""
    global _cached
    now = int(time.time())
    cached = _cached
    if cached[0] != now:
        cached = _cached = (now, ("Date", imf_fixdate(now)))
    return cached[1]
