"""Registry profiles on the command line: `mockreg serve --profile NAME [--user U:P]` and
`mockreg profiles list|show NAME` (docs/profiles.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, List

from ..mapping import ConfigError
from .common import OK, CommandError

LIST_EXAMPLES = """\
examples:
  mockreg profiles list
  mockreg profiles show strict-spec
  mockreg profiles show ecr --json
  mockreg serve --profile ecr --user alice:secret

Exit codes: 0 shown, 2 unknown profile or bad file."""


def add_serve_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="NAME|FILE",
                        help="behave like a real registry: a shipped profile (mockreg profiles list) or a profile "
                             "file, applied before scenarios and --set; with --user, that user may do everything "
                             "under the profile's own auth (e.g. --profile ecr --user alice:secret)")


def apply_profile(registry: Any, args: argparse.Namespace) -> bool:
    """Apply `--profile` to `registry`. True when the profile's auth took the `--user`s (each may do
    everything), so the ordinary --auth handling must leave them alone. A profile without auth of
    its own takes --auth as usual; with --user alone it gets Basic auth."""
    if not args.profile:
        return False
    from .. import profiles
    from ..profiles.model import full_rights_user

    try:
        profile = profiles.load(args.profile)
    except profiles.ProfileError as exc:
        raise CommandError(f"--profile: {exc}") from None
    takes_users = profile.auth is not None
    if profile.auth is not None and args.auth:
        raise CommandError(f"profile {profile.name} brings its own auth ({profile.auth.get('scheme', 'bearer')}); "
                           "drop --auth, and give --user to log in under it")
    if takes_users and args.anonymous:
        raise CommandError(f"profile {profile.name} says what anonymous clients may do; drop --anonymous")
    if args.user and not takes_users and not args.auth:
        args.auth = "basic"  # no auth of its own: --user still logs in, with the simplest scheme there is
    try:
        users = [full_rights_user(*_name_and_password(text)) for text in args.user] if takes_users else []
        profile.apply(registry, users)
    except (ConfigError, profiles.ProfileError) as exc:
        raise CommandError(f"--profile {args.profile}: {exc}") from None
    return takes_users


def profile_line(profile: Any, args: argparse.Namespace) -> str:
    """What `serve` says about the profile it serves, and how to log in under it."""
    line = f"behaving like {profile.name} ({profile.title})"
    who = ", ".join(text.partition(":")[0] for text in args.user)
    if profile.auth is not None:
        scheme = profile.auth.get("scheme", "bearer")
        line += f"; {scheme} auth: " + (f"{who} may do everything" if who else
                                         "only anonymous access until you add --user NAME:PASSWORD")
    elif who:
        line += f"; it has no auth of its own: {args.auth} auth for {who}"
    return line


def _name_and_password(text: str) -> List[str]:
    name, sep, password = text.partition(":")
    if not sep or not name or not password:
        raise CommandError(f"under --profile, --user takes NAME:PASSWORD, got {text!r}")
    return [name, password]


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "profiles", help="list registry profiles or show one's behaviours and sources", epilog=LIST_EXAMPLES,
        description="Registry profiles make mockreg answer like a real registry (docs/profiles.md).")
    actions = parser.add_subparsers(dest="action", required=True, metavar="{list,show}")
    listing = actions.add_parser("list", help="the shipped profiles, one per line: name and title",
                                 epilog=LIST_EXAMPLES, description="List the shipped registry profiles.")
    listing.set_defaults(run=run_list)
    show = actions.add_parser("show", help="a profile's behaviours, each with its source", epilog=LIST_EXAMPLES,
                              description="Show a profile's behaviours, each with its source and note.")
    show.add_argument("name", metavar="NAME|FILE", help="a shipped profile's name or a profile file (e.g. ecr)")
    show.add_argument("--json", action="store_true", help="print the profile as JSON")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    from .. import profiles

    for name in profiles.names():
        try:
            title = profiles.load(name).title
        except profiles.ProfileError as exc:
            title = f"(cannot be loaded: {exc})"
        print(f"{name:<14} {title}")
    return OK


def run_show(args: argparse.Namespace) -> int:
    from .. import profiles

    try:
        profile = profiles.load(args.name)
    except profiles.ProfileError as exc:
        raise CommandError(str(exc), command="mockreg profiles show") from None
    if args.json:
        json.dump(profile.summary(), sys.stdout, indent=1, default=str)
        print()
        return OK
    print(f"{profile.name}: {profile.title}")
    if profile.description:
        print(profile.description.rstrip())
    for behaviour in profile.behaviours():
        print(f"\n  {behaviour.key} = {json.dumps(behaviour.value, default=str)}")
        for url in behaviour.sources:
            print(f"    source: {url}")
        if behaviour.note:
            print(f"    note: {' '.join(behaviour.note.split())}")
    for item in profile.not_emulated:
        print(f"\n  not emulated: {item.value}")
        for url in item.sources:
            print(f"    source: {url}")
    return OK
