"""`mockreg serve` options for registry events (docs/events.md): webhooks and the events extension.

    --notify URL            send events to URL, the reference registry's defaults otherwise
    --notifications FILE    the `notifications:` section of a registry config.yml (pasted as it is;
                            other sections of the file are ignored) or a file holding just that mapping
    --events                serve the events extension (/v2/_events/log/page|stream) without webhooks

Any of them also serves the events extension, so what the webhooks get can be read back from
the same server. On shutdown, queued deliveries get up to FLUSH_SECONDS to go out, then open
event streams end before the server closes its sockets.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .common import CommandError

if TYPE_CHECKING:
    from ..registry import Registry

FLUSH_SECONDS = 2.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("events (docs/events.md)")
    group.add_argument("--notify", action="append", default=[], metavar="URL",
                       help="POST each event, in the reference registry's envelope, to URL; repeatable "
                            "(e.g. --notify http://127.0.0.1:8000/hook). Also serves the events extension")
    group.add_argument("--notifications", type=Path, metavar="FILE",
                       help="webhook endpoints from the `notifications:` section of a distribution "
                            "config.yml, pasted as it is (e.g. --notifications config.yml)")
    group.add_argument("--events", action="store_true",
                       help="serve the events extension /v2/_events/log/page|stream (listed in discover)")


def apply(registry: Registry, args: argparse.Namespace, say: Callable[..., None]) -> None:
    if not (args.notify or args.notifications or args.events):
        return
    from ..mapping import ConfigError

    hub = registry.notifications
    try:
        if args.notifications is not None:
            hub.configure(_notifications_of(args.notifications))
        for url in args.notify:
            hub.add_endpoint(url)
    except (ConfigError, ValueError) as exc:
        where = "--notify" if args.notifications is None else f"--notify/--notifications {args.notifications}"
        raise CommandError(f"{where}: {exc}") from None
    for endpoint in hub.endpoints:
        config = endpoint.config
        named = config.url if config.name == config.url else f"{config.name} ({config.url})"
        say(f"notifying {named}, timeout={config.timeout:g}s, threshold={config.threshold}, "
            f"backoff={config.backoff:g}s", endpoint=config.name, url=config.url)
    if registry.extensions.get("_events") is None:
        registry.extensions.enable("events")


def finish(registry: Registry) -> None:
    """Let queued deliveries go out (briefly), then stop delivery and end event streams."""
    hub = registry.__dict__.get("_notifications")  # never create one just to close it
    if hub is not None:
        hub.flush(FLUSH_SECONDS)
        hub.close()


def _notifications_of(path: Path) -> Any:
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CommandError(f"--notifications {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CommandError(f"--notifications {path}: not YAML or JSON: {exc}") from None
    if isinstance(data, dict) and "notifications" in data:
        return data["notifications"]
    if isinstance(data, dict) and "endpoints" in data:
        return data
    raise CommandError(f"--notifications {path}: expected a `notifications:` section (as in a distribution "
                       "config.yml) or a mapping with `endpoints:`")
