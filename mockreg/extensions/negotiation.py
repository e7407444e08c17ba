"""`Accept` negotiation for extension endpoints that declare the media types they produce.

extensions/README.md ("Versioning") asks extensions to version their payloads with `Accept` and
`Content-Type`. The rules are RFC 9110 section 12.5.1: the most specific media range that covers a
type gives its quality; q=0 means "not acceptable"; among equal qualities the endpoint's own order
(best first) decides.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from ..errors import RegistryError

MediaRange = Tuple[str, str, float]  # (type, subtype, quality)


def parse_accept(header: str) -> List[MediaRange]:
    ranges: List[MediaRange] = []
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";")]
        kind, _, subtype = parts[0].lower().partition("/")
        if not kind or not subtype:
            continue  # a malformed range accepts nothing, as if absent
        quality = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        ranges.append((kind, subtype, quality))
    return ranges


def _quality(media_type: str, ranges: Sequence[MediaRange]) -> float:
    kind, _, subtype = media_type.lower().partition("/")
    best_specificity, quality = -1, 0.0
    for range_kind, range_subtype, range_quality in ranges:
        if range_kind == kind and range_subtype == subtype:
            specificity = 2
        elif range_kind == kind and range_subtype == "*":
            specificity = 1
        elif range_kind == "*" and range_subtype == "*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, quality = specificity, range_quality
    return quality


def negotiate(accept: Optional[str], produces: Sequence[str]) -> Optional[str]:
    """The media type to answer with; None when the endpoint declared none.

    Raises 406 (with the spec's error body, code UNSUPPORTED) when no declared type is acceptable.
    """
    if not produces:
        return None
    if accept is None or not accept.strip():
        return produces[0]
    ranges = parse_accept(accept)
    best: Optional[str] = None
    best_quality = 0.0
    for media_type in produces:
        quality = _quality(media_type, ranges)
        if quality > best_quality:
            best, best_quality = media_type, quality
    if best is None:
        raise RegistryError("UNSUPPORTED", {"accept": accept, "produces": list(produces)},
                            status=406, message="none of the requested media types can be produced")
    return best
