"""The extensions one registry serves (`registry.extensions`), and its built-in ones."""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Iterable, Iterator, List, Optional, Tuple

from .discover import oci_extension
from .history import NAME as HISTORY
from .history import history_extension
from .model import REGISTRY, REPOSITORY, RESERVED_NAMES, Extension
from .search import search

if TYPE_CHECKING:
    from ..registry import Registry

BUILTINS = ("discover", "search", "history", "events")
# The built-ins that add an extension of their own, by the name it serves under; it can be added
# once. "_events" is events.extension.NAME, not imported here: that module loads only when enabled.
_OWN_EXTENSION = {"history": HISTORY, "events": "_events"}


class Extensions:
    """User extensions plus the reserved `_oci` one; all off the request path until used.

    Reads take an immutable snapshot, so tests may add extensions while a live server answers.
    """

    def __init__(self, registry: Optional[Registry] = None) -> None:
        # The built-in events extension reads the registry's notifications. A weak reference: the
        # registry holds this object, and a cycle would keep a dropped registry (and the memory
        # and spill files of its blobs) alive until the garbage collector runs.
        self._registry = weakref.ref(registry) if registry is not None else None
        self.oci = oci_extension()
        self._added: Tuple[Extension, ...] = ()
        self._lock = threading.Lock()

    def add(self, extension: Extension) -> Extension:
        """Serve `extension`; its name must be unique and not one the spec reserves."""
        if extension.name in RESERVED_NAMES:
            raise ValueError(f"extension name {extension.name!r} is reserved by the distribution-spec "
                             f"(extensions/README.md, 'Reserved Namespaces': {', '.join(sorted(RESERVED_NAMES))}); "
                             "pick a name of your own, e.g. '_acme'")
        with self._lock:
            if any(existing.name == extension.name for existing in self._added):
                raise ValueError(f"an extension named {extension.name!r} is already added to this registry")
            self._added = self._added + (extension,)
        return extension

    def remove(self, name: str) -> None:
        with self._lock:
            kept = tuple(e for e in self._added if e.name != name)
            if len(kept) == len(self._added):
                raise KeyError(f"no extension named {name!r}")
            self._added = kept

    def enable(self, builtin: str, repositories: Optional[Iterable[str]] = None) -> Extension:
        """Switch on a built-in extension (all are off by default); returns the extension serving it.

        - "discover": list `_oci` itself in discover answers.
        - "search": `GET /v2/_oci/ext/search` (see `mockreg.extensions.search`); lists `_oci`.
        - "history": `GET /v2/<name>/_chainguard/history/<tag>`, for all or the given repositories.
        - "events": `GET /v2/[<name>/]_events/log/page|stream` (docs/events.md); keeps an events log.
        """
        if builtin not in BUILTINS:
            raise ValueError(f"unknown built-in extension {builtin!r}; built-ins: {', '.join(BUILTINS)}")
        if builtin == "history":
            return self.add(history_extension(repositories))
        if builtin == "events":
            registry = self._registry() if self._registry is not None else None
            if registry is None:
                raise ValueError("the events extension needs the registry whose events it serves")
            from ..events.extension import enable as enable_events  # loaded only when asked for
            return enable_events(registry, repositories)
        if repositories is not None:
            raise ValueError(f"{builtin} belongs to _oci, which serves every repository")
        with self._lock:
            if builtin == "search" and self.oci.resolve(REGISTRY, "ext", "search") is None:
                self.oci.registry_endpoint("ext", "search", produces=("application/json",))(search)
            self.oci.listed = True
        return self.oci

    def already_serves(self, builtin: str) -> bool:
        """Whether enabling this built-in would clash with what is served: history and events add
        an extension of their own; discover and search only switch `_oci` on, and may repeat."""
        name = _OWN_EXTENSION.get(builtin)
        return name is not None and self.get(name) is not None

    def get(self, name: str) -> Optional[Extension]:
        if name == self.oci.name:
            return self.oci
        return next((e for e in self._added if e.name == name), None)

    def __iter__(self) -> Iterator[Extension]:
        return iter((self.oci,) + self._added)

    def known(self, name: str, level: str, repository: Optional[str]) -> Optional[Extension]:
        """The extension serving `name` at this level (and repository), or None: EXTENSION_UNKNOWN."""
        extension = self.get(name)
        if extension is None or not extension.serves(level):
            return None
        if level == REPOSITORY and not extension.enabled_for(repository or ""):
            return None
        return extension

    def listed(self, level: str, repository: Optional[str]) -> List[Extension]:
        """What discover lists at this level: `_oci` when enabled, then extensions in the order added."""
        found: List[Extension] = []
        for extension in self:
            if extension.listed and self.known(extension.name, level, repository) is extension:
                found.append(extension)
        return found

    def __repr__(self) -> str:
        return f"Extensions({[e.name for e in self if e.listed]})"
