"""TLS for `mockreg serve`: the local CA is made once and reused, server certificates name the
local addresses, the user's own pair works, and every problem is one clear line."""

from __future__ import annotations

import ssl
import sys

import pytest
import requests
import trustme
from cli_helpers import serve_in_process
from cryptography import x509

from mockreg import Registry
from mockreg.cli import main
from mockreg.server import LiveServer
from mockreg.tls import TlsError, client_hints, from_files, self_signed


def _names(server: LiveServer) -> list:
    """The subjectAltName entries of the certificate a live TLS server presents."""
    with ssl.create_connection((server.host, server.port)) as raw:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        with context.wrap_socket(raw) as wrapped:
            der = wrapped.getpeercert(binary_form=True)
    extension = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return [str(name.value) for name in extension.value]


def test_the_ca_is_made_once_and_reused_and_only_ca_crt_sits_on_top(tmp_path):
    first = self_signed(tmp_path / "tls")
    ca_bytes = first.ca_file.read_bytes()
    second = self_signed(tmp_path / "tls")
    assert second.ca_file == tmp_path / "tls" / "ca.crt" and second.ca_file.read_bytes() == ca_bytes
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["ca.crt", "private"]
    assert (tmp_path / "tls" / "private" / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "tls" / "private").stat().st_mode & 0o777 == 0o700


def test_a_client_trusting_the_ca_reaches_the_server_by_every_local_name(tmp_path):
    tls = self_signed(tmp_path, host="127.0.0.1")
    with LiveServer(Registry(), "127.0.0.1", 0, tls.context) as server:
        assert sorted(_names(server)) == sorted(["localhost", "127.0.0.1", "::1"])
        for host in ("127.0.0.1", "localhost"):
            assert requests.get(f"https://{host}:{server.port}/v2/", verify=str(tls.ca_file)).status_code == 200
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{server.url}/v2/")  # the system's CAs do not know it


def test_the_bound_host_is_named_in_the_certificate_too(tmp_path):
    tls = self_signed(tmp_path, host="127.0.0.2")
    with LiveServer(Registry(), "127.0.0.2", 0, tls.context) as server:
        assert "127.0.0.2" in _names(server)
        assert requests.get(f"{server.url}/v2/", verify=str(tls.ca_file)).status_code == 200


def test_a_damaged_ca_directory_is_a_clear_error(tmp_path):
    self_signed(tmp_path)
    (tmp_path / "private" / "ca.key").write_text("not a key")
    with pytest.raises(TlsError, match=f"{tmp_path} holds a CA that cannot be read.*delete the directory"):
        self_signed(tmp_path)


def test_without_trustme_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "trustme", None)  # `import trustme` now raises ImportError
    with pytest.raises(TlsError, match=r"needs the trustme package: pip install 'mockreg\[tls\]'"):
        self_signed(tmp_path)


def test_the_users_own_certificate_and_key(tmp_path):
    ca = trustme.CA()
    leaf = ca.issue_cert("registry.test", "127.0.0.1")
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))
    with LiveServer(Registry(), "127.0.0.1", 0, from_files(cert, key).context) as server:
        assert requests.get(f"{server.url}/v2/", verify=str(tmp_path / "ca.crt")).status_code == 200
    with pytest.raises(TlsError, match=f"cannot use {cert} with {cert}"):
        from_files(cert, cert)
    with pytest.raises(TlsError, match=f"key file {tmp_path / 'none.key'} does not exist"):
        from_files(cert, tmp_path / "none.key")


def test_serve_with_own_certificate_through_main(tmp_path, capsys):
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1")
    leaf.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "both.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.crt"))

    def talk(url: str) -> None:
        assert url.startswith("https://127.0.0.1:")
        assert requests.get(f"{url}/v2/", verify=str(tmp_path / "ca.crt")).status_code == 200

    pem = str(tmp_path / "both.pem")  # a PEM holding key and chain serves as both files
    assert serve_in_process(tmp_path / "url", ["--quiet", "--cert", pem, "--key", pem], talk) == 0
    assert capsys.readouterr().out.startswith("mockreg serving on https://127.0.0.1:")


def test_serve_self_signed_prints_the_ca_and_each_clients_flag(tmp_path, capsys):
    def talk(url: str) -> None:
        assert requests.get(f"{url}/v2/", verify=str(tmp_path / "certs" / "ca.crt")).status_code == 200

    options = ["--quiet", "--tls", "self-signed", "--tls-dir", str(tmp_path / "certs")]
    assert serve_in_process(tmp_path / "url", options, talk) == 0
    out, err = capsys.readouterr()
    host_port = out.split("https://", 1)[1].strip()
    ca = tmp_path / "certs" / "ca.crt"
    assert f"mockreg: TLS certificate issued by the local CA {ca}; to trust it:" in err
    for hint in client_hints(host_port, ca):
        assert f"mockreg:   {hint}" in err


def test_client_hints_name_the_flag_of_each_client(tmp_path):
    ca = tmp_path / "ca.crt"
    hints = "\n".join(client_hints("localhost:5000", ca))
    for expected in (f"curl --cacert {ca} https://localhost:5000/v2/_catalog",
                     f"skopeo inspect --cert-dir {tmp_path} docker://localhost:5000/",
                     f"podman pull --cert-dir {tmp_path} localhost:5000/",
                     f"oras pull --ca-file {ca} localhost:5000/",
                     f"SSL_CERT_FILE={ca} crane ls localhost:5000/",
                     f'regctl registry set --cacert "$(cat {ca})" localhost:5000',
                     f"sudo cp {ca} /etc/docker/certs.d/localhost:5000/ca.crt"):
        assert expected in hints


def test_a_certificate_that_cannot_be_loaded_is_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    assert main(["serve", "--port", "0", "--cert", str(bad), "--key", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mockreg: error: cannot use {bad} with {bad}: ") and err.count("\n") == 1


def test_tls_dir_path_that_cannot_be_created_is_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["serve", "--port", "0", "--tls", "self-signed", "--tls-dir", str(blocker / "tls")]) == 2
    assert capsys.readouterr().err.startswith(f"mockreg: error: cannot keep the CA in {blocker / 'tls'}: ")
