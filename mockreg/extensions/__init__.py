"""Extensions of the distribution API (distribution-spec `extensions/README.md`, `_oci.md`).

`registry.add_extension(...)` declares one; `registry.extensions.enable(...)` switches on a
built-in (`discover`, `search`, `history`); `paginate` helps an extension page its answers.
See docs/extensions.md.
"""

from .installed import BUILTINS, Extensions
from .model import RESERVED_NAMES, Extension
from .pagination import paginate
from .routing import extension_routes

__all__ = ["BUILTINS", "RESERVED_NAMES", "Extension", "Extensions", "extension_routes", "paginate"]
