"""Optional auth for a registry: Basic, or Bearer tokens from a built-in token endpoint.

    registry.enable_auth(users=[{"name": "alice", "password": "pw", "access": {"demo/*": "pull,push"}}],
                         anonymous={"public/*": "pull"})

See docs/edge-cases.md for what each route needs and how clients are answered.
"""

from .config import AuthConfig, User
from .layer import AuthLayer
from .tokens import Scope

__all__ = ["AuthConfig", "AuthLayer", "Scope", "User"]
