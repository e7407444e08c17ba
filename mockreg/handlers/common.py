"""Checks and headers shared by the handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Optional, Tuple

from .. import digest as digests
from .. import reference
from ..errors import RegistryError

if TYPE_CHECKING:
    from ..http import Request
    from ..registry import Registry


def check_name(name: str) -> None:
    if not reference.is_valid_name(name):
        raise RegistryError("NAME_INVALID", {"name": name})


def invalid_tag(tag: str) -> RegistryError:
    # The spec's list has no tag code (TAG_INVALID is legacy Docker); a bad tag makes the
    # request's manifest reference invalid.
    return RegistryError("MANIFEST_INVALID", {"tag": tag, "grammar": reference.TAG_PATTERN},
                         message="invalid tag")


def check_digest(registry: Registry, digest: str) -> str:
    """Validate a digest the client sent; return its algorithm. 400 DIGEST_INVALID otherwise."""
    try:
        return digests.parse(digest, registry.algorithms)
    except digests.DigestError as exc:
        raise RegistryError("DIGEST_INVALID", str(exc)) from None


def method_disabled(what: str, request: Request, allowed: str) -> RegistryError:
    """405 for an optional operation switched off, as the spec tells clients to expect; RFC 9110
    asks a 405 to list the methods the resource does allow."""
    return RegistryError("UNSUPPORTED", f"{what} is disabled on this registry",
                         message=f"{request.method} is not allowed here", headers=[("Allow", allowed)])


def digest_header(registry: Registry, digest: str) -> List[Tuple[str, str]]:
    return [("Docker-Content-Digest", digest)] if registry.settings.digest_headers else []


# Past any count or size a registry holds; longer numbers are clamped to it rather than parsed
# (Python refuses to parse numbers of more than 4300 digits).
HUGE = 10 ** 18


def whole_number(digits: str) -> int:
    """The value of a string of ASCII digits, clamped at HUGE."""
    return HUGE if len(digits.lstrip("0")) > 18 else int(digits)


def positive_int_arg(value: Optional[str], name: str) -> Optional[int]:
    """A non-negative integer query parameter such as `n`; 400 when it is anything else."""
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()):  # isdigit alone takes "²" and other non-ASCII digits
        raise RegistryError("UNSUPPORTED", f"query parameter {name} must be a non-negative integer, got {value!r}",
                            status=400)
    return whole_number(value)


def paginate(items: List[str], n: Optional[int], last: Optional[str]) -> Tuple[List[str], bool]:
    """The spec's tag/catalog pagination: items after `last`, at most `n`; and whether more remain."""
    if last is not None:
        items = [item for item in items if item > last]
    if n is None:
        return items, False
    return items[:n], len(items) > n and n > 0
