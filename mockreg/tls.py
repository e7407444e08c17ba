"""TLS for `mockreg serve`: a local CA and a server certificate, or the user's own pair.

`--tls self-signed` keeps one CA per directory (default `~/.cache/mockreg/tls`) and reuses it,
so a client is told to trust it once; each start issues a fresh server certificate for
`localhost`, `127.0.0.1` and `::1` (and the bound host). The directory holds only `ca.crt` at
its top, so it can be handed to skopeo's and podman's `--cert-dir` as it is (they would read a
`*.key` there as a client key); the CA key lives in `private/`, readable by its owner only.
Certificates come from `trustme` (`pip install 'mockreg[tls]'`), imported only when needed.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
_WILDCARDS = ("0.0.0.0", "::", "")


class TlsError(ValueError):
    """A certificate that cannot be made or loaded; the message says which file and why."""


@dataclass
class ServerTls:
    context: ssl.SSLContext
    ca_file: Optional[Path] = None  # set for a self-signed setup: what clients must trust


def default_directory() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "mockreg" / "tls"


def self_signed(directory: Path, host: str = "127.0.0.1") -> ServerTls:
    """A server context with a certificate from the CA kept in `directory` (made on first use)."""
    trustme = _trustme()
    ca = _load_or_create_ca(trustme, Path(directory))
    names = list(LOCAL_NAMES)
    if host in _WILDCARDS:
        names.append(socket.gethostname())
    elif host not in names:
        names.append(host)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert(*names).configure_cert(context)
    return ServerTls(context, Path(directory) / "ca.crt")


def from_files(cert: Path, key: Path) -> ServerTls:
    """A server context from the user's certificate chain and key (PEM)."""
    for role, path in (("certificate", cert), ("key", key)):
        if not Path(path).is_file():
            raise TlsError(f"{role} file {path} does not exist")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(cert), str(key))
    except ssl.SSLError as exc:
        raise TlsError(f"cannot use {cert} with {key}: {exc.reason or exc}") from None
    return ServerTls(context)


def client_hints(host_port: str, ca_file: Path) -> List[str]:
    """How each common client trusts the CA, as lines to print (see docs/cli.md)."""
    ca, cert_dir = str(ca_file), str(ca_file.parent)
    return [
        f"curl    curl --cacert {ca} https://{host_port}/v2/_catalog",
        f"skopeo  skopeo inspect --cert-dir {cert_dir} docker://{host_port}/REPO:TAG"
        "  (copy: --src-cert-dir / --dest-cert-dir)",
        f"podman  podman pull --cert-dir {cert_dir} {host_port}/REPO:TAG",
        f"oras    oras pull --ca-file {ca} {host_port}/REPO:TAG",
        f"crane   SSL_CERT_FILE={ca} crane ls {host_port}/REPO",
        f'regctl  regctl registry set --cacert "$(cat {ca})" {host_port}',
        f"docker  sudo mkdir -p /etc/docker/certs.d/{host_port} && "
        f"sudo cp {ca} /etc/docker/certs.d/{host_port}/ca.crt",
    ]


def _trustme() -> Any:
    try:
        import trustme
    except ImportError:
        raise TlsError("--tls self-signed needs the trustme package: pip install 'mockreg[tls]'") from None
    return trustme


def _load_or_create_ca(trustme: Any, directory: Path) -> Any:
    cert_file, key_file = directory / "ca.crt", directory / "private" / "ca.key"
    if cert_file.is_file() and key_file.is_file():
        try:
            return trustme.CA.from_pem(cert_file.read_bytes(), key_file.read_bytes())
        except ValueError as exc:
            raise TlsError(f"{directory} holds a CA that cannot be read ({exc}); delete the directory "
                           "to get a new one") from None
    try:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(key_file.parent, 0o700)
        ca = trustme.CA(organization_name="mockreg local CA")
        _write(key_file, ca.private_key_pem.bytes(), 0o600)
        _write(cert_file, ca.cert_pem.bytes(), 0o644)
    except OSError as exc:
        raise TlsError(f"cannot keep the CA in {directory}: {exc.strerror or exc}") from None
    return ca


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write via a temporary file and rename, so a reader never sees half a PEM file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
