"""`mockreg seed` (scenario content into any registry) and `mockreg export` (an OCI image layout
from a running registry or a scenario file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import RegistryError
from ..layout import export_layout
from ..registry import Registry
from ..remote import DEFAULT_CHUNK_SIZE, RemoteError, RemoteRegistry
from ..seed import pull, seed
from .common import FAILURE, OK, CommandError, count, credentials, human_size, load_scenarios, size_argument

SEED_EXAMPLES = """\
examples:
  mockreg seed --scenario fixtures/quickstart.yaml --to http://127.0.0.1:5000
  mockreg seed --scenario base.yaml --scenario extra.yaml --to https://registry.example --user ci:secret
  mockreg seed --scenario big.yaml --to https://localhost:5000 --ca-file ~/.cache/mockreg/tls/ca.crt

Pushes blobs (skipping those already there, mounting those another repository of this run has),
then manifests, index children and subjects first, then tags, through the distribution API.
Progress is printed while a blob larger than --chunk-size is sent in chunks.
Exit codes: 0 seeded, 1 the registry refused or was unreachable, 2 bad option or scenario file."""

EXPORT_EXAMPLES = """\
examples:
  mockreg export http://127.0.0.1:5000 --repo demo/app --to ./demo-app
  mockreg export fixtures/quickstart.yaml --repo demo/app --to demo-app.tar
  skopeo copy oci:./demo-app:1.0 docker-archive:app.tar      # use the layout

From a registry it copies every tag, the manifests they reach, their blobs and referrers.
Exit codes: 0 written, 1 the registry refused or was unreachable, 2 bad option or file."""


def _remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--user", metavar="NAME:PASSWORD",
                        help="credentials for Basic auth or a Bearer token endpoint (e.g. --user ci:secret)")
    parser.add_argument("--insecure", action="store_true",
                        help="do not verify the registry's TLS certificate (an http:// URL needs no flag)")
    parser.add_argument("--ca-file", metavar="FILE",
                        help="trust this CA for https, e.g. the one `mockreg serve --tls self-signed` prints "
                             "(e.g. --ca-file ~/.cache/mockreg/tls/ca.crt)")


def add_parsers(commands: Any) -> None:
    seed_parser = commands.add_parser(
        "seed", help="push scenario content into any registry", epilog=SEED_EXAMPLES,
        description="Push the content of scenario files into a registry (mockreg, distribution, zot, Harbor…), "
                    "so the same scenario runs against a real registry.")
    seed_parser.add_argument("--scenario", action="append", required=True, metavar="FILE",
                             help="a scenario file; repeat to push several (e.g. --scenario fixtures/quickstart.yaml)")
    seed_parser.add_argument("--to", required=True, metavar="URL",
                             help="the registry's URL with its scheme (e.g. --to http://127.0.0.1:5000)")
    _remote_options(seed_parser)
    seed_parser.add_argument("--chunk-size", type=size_argument, default=DEFAULT_CHUNK_SIZE, metavar="SIZE",
                             help="blobs up to SIZE go in one PUT, larger ones in PATCH chunks of SIZE "
                                  f"(default {human_size(DEFAULT_CHUNK_SIZE)}; e.g. --chunk-size 16MiB)")
    seed_parser.set_defaults(run=run_seed)

    export_parser = commands.add_parser(
        "export", help="write a repository as an OCI image layout", epilog=EXPORT_EXAMPLES,
        description="Write one repository, from a running registry or from a scenario file, as an OCI image "
                    "layout directory (or a .tar of one) that skopeo, oras, crane and buildkit read.")
    export_parser.add_argument("source", metavar="URL_OR_SCENARIO",
                               help="a registry URL (e.g. http://127.0.0.1:5000) or a scenario file")
    export_parser.add_argument("--repo", required=True, metavar="NAME", help="the repository (e.g. --repo demo/app)")
    export_parser.add_argument("--to", required=True, type=Path, metavar="DIR",
                               help="a new or empty directory, or a path ending in .tar (e.g. --to ./demo-app)")
    _remote_options(export_parser)
    export_parser.set_defaults(run=run_export)


def run_seed(args: argparse.Namespace) -> int:
    registry = Registry()
    load_scenarios(registry, args.scenario)
    remote = _remote(args, args.to, args.chunk_size)

    def progress(repository: str, digest: str, sent: int, total: int) -> None:
        step = max(total // 10, args.chunk_size)  # about ten lines per large blob
        if sent == total or sent // step != (sent - args.chunk_size) // step:
            print(f"  {repository}: {digest[:19]}… {human_size(sent)} of {human_size(total)} "
                  f"({sent * 100 // total}%)", file=sys.stderr, flush=True)

    try:
        remote.check()
        done = seed(registry, remote, say=lambda text: print(text, flush=True), progress=progress)
    except RemoteError as exc:
        raise CommandError(str(exc), FAILURE) from None
    except ValueError as exc:  # content another registry would refuse (missing blobs)
        raise CommandError(str(exc)) from None
    print(f"seeded {remote.url}: {count(len(done.repositories), 'repository', 'repositories')}, "
          f"{count(done.manifests, 'manifest')}, {count(done.tags, 'tag')}; blobs: {done.uploaded} uploaded "
          f"({human_size(done.bytes)}), {done.mounted} mounted, {done.present} already there")
    return OK


def run_export(args: argparse.Namespace) -> int:
    destination: Path = args.to
    if destination.exists() and not (destination.is_dir() and not any(destination.iterdir())):
        raise CommandError(f"{destination} already exists; export into a new or empty directory or .tar path")
    registry = Registry()
    if "://" in args.source:
        remote = _remote(args, args.source, DEFAULT_CHUNK_SIZE)
        try:
            pull(remote, args.repo, registry)
        except (RemoteError, RegistryError) as exc:
            raise CommandError(str(exc), FAILURE) from None
        if args.repo not in registry.repositories():
            raise CommandError(f"{remote.url} has no tagged manifests in {args.repo}", FAILURE)
    else:
        if not Path(args.source).exists() and ":" in args.source:
            raise CommandError(f"{args.source!r} is no file; give a registry as a URL with its scheme, "
                               "e.g. http://127.0.0.1:5000")
        load_scenarios(registry, [args.source])
        if args.repo not in registry.repositories():
            raise CommandError(f"{args.source} has no repository {args.repo!r} "
                               f"(it has: {', '.join(registry.repositories()) or 'none'})")
    export_layout(registry, destination, args.repo)
    tags = registry.tags(args.repo)
    print(f"wrote {destination}: OCI image layout of {args.repo} (tags: {', '.join(tags) or 'none'})")
    return OK


def _remote(args: argparse.Namespace, url: str, chunk_size: int) -> RemoteRegistry:
    try:
        return RemoteRegistry(url, credentials=credentials(args.user), insecure=args.insecure,
                              ca_file=args.ca_file, chunk_size=chunk_size)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
