"""Unit tests of trustfabric_client's token minting and certificate helpers,
checked against the C++ implementation: tokens minted here must pass
`tfctl token verify`, and must carry the same claims `tfctl token mint`
writes.

    TF_BUILD_DIR=build PYTHONPATH=build/python:client/python \\
        /usr/bin/python3 -m pytest -q client/python
"""

import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_DIR = os.path.abspath(os.environ.get("TF_BUILD_DIR")
                            or os.path.join(HERE, "..", "..", "build"))
sys.path.insert(0, os.path.join(BUILD_DIR, "python"))

import trustfabric_client as tfc  # noqa: E402
from google.protobuf import json_format  # noqa: E402

REALM = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
CLIENT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"
HOST = "fe1.contoso.test"
TFCTL = os.path.join(BUILD_DIR, "client", "tfctl")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An RSA application with its files on disk."""
    d = tmp_path_factory.mktemp("app")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = tfc.self_signed_certificate(key, "app")
    (d / "app.key").write_bytes(tfc.private_key_pem(key))
    (d / "app.crt").write_bytes(cert)
    creds = tfc.AppCredentials.from_files(str(d / "app.key"), str(d / "app.crt"), CLIENT_ID)
    creds.dir = d
    return creds


def snapshot_file(app, path):
    """A snapshot registering `app` as a per-application issuer whose
    self-signed certificate is its own TOKEN_SIGNING root."""
    cert_pem = app.certificate.public_bytes(serialization.Encoding.PEM).decode()
    snap = tfc.trust_pb2.TrustSnapshot(revision=1, trust_domain="contoso.test", realm=REALM)
    snap.roots.add(name="app-signing", trust_domain="contoso.test",
                   certificates_pem=cert_pem, purposes=[tfc.trust_pb2.TOKEN_SIGNING])
    snap.issuers.add(name="app", registered_issuer_name=f"{CLIENT_ID}@{REALM}",
                     signing_certificates_pem=[cert_pem], algorithms=[tfc.trust_pb2.RS256],
                     allow_user_delegation=True)
    path.write_text(json_format.MessageToJson(snap))
    return str(path)


def tfctl_verify(snapshot, token, *extra):
    if not os.access(TFCTL, os.X_OK):
        pytest.fail(f"{TFCTL} is not built")
    return subprocess.run([TFCTL, "token", "verify", "--snapshot", snapshot, "--host", HOST,
                           "--token", token, *extra], capture_output=True, text=True, timeout=60)


def test_user_token_passes_tfctl_verify(app, tmp_path):
    token = tfc.mint_user_token(app, REALM, HOST, upn="alice@contoso.test")
    r = tfctl_verify(snapshot_file(app, tmp_path / "snap.json"), token)
    assert r.returncode == 0, r.stderr
    identity = json.loads(r.stdout)
    assert identity["kind"] == "user+app"
    assert identity["user"] == {"upn": "alice@contoso.test"}
    assert identity["client_id"] == CLIENT_ID
    assert identity["issuer"] == f"{CLIENT_ID}@{REALM}"
    assert identity["audience"] == f"{tfc.SHAREPOINT_PRINCIPAL}/{HOST}@{REALM}"
    assert identity["trusted_for_delegation"] is True
    # Signed by default: what a front-end's default outer token policy wants.
    assert identity["outer_signed"] is True
    der = app.certificate.public_bytes(serialization.Encoding.DER)
    assert identity["signing_certificate_sha256"] == hashlib.sha256(der).hexdigest()


def test_unsigned_outer_token_needs_the_unsigned_allowed_policy(app, tmp_path):
    token = tfc.mint_user_token(app, REALM, HOST, smtp="alice@contoso.test", sign_outer=False)
    snapshot = snapshot_file(app, tmp_path / "snap.json")
    r = tfctl_verify(snapshot, token)
    assert r.returncode != 0
    assert ("rejected: token: unsigned outer token is not accepted "
            "(outer token policy: signed)") in r.stderr
    r = tfctl_verify(snapshot, token, "--outer-token", "unsigned_allowed")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["outer_signed"] is False


def test_expired_token_is_refused_by_tfctl_verify(app, tmp_path):
    token = tfc.mint_user_token(app, REALM, HOST, upn="alice@contoso.test", lifetime=60,
                                now=int(time.time()) - 3600)
    r = tfctl_verify(snapshot_file(app, tmp_path / "snap.json"), token)
    assert r.returncode != 0
    assert "rejected: token: actor token: expired" in r.stderr


def test_claims_match_tfctl_token_mint(app):
    """The same claim names and shapes as the C++ minting library."""
    if not os.access(TFCTL, os.X_OK):
        pytest.fail(f"{TFCTL} is not built")
    theirs = tfc.mint_with_tfctl(TFCTL, str(app.dir / "app.key"), str(app.dir / "app.crt"),
                                 CLIENT_ID, REALM, HOST, "alice@contoso.test")
    ours = tfc.mint_user_token(app, REALM, HOST, upn="alice@contoso.test")

    def shape(token):
        outer = jwt.decode(token, options={"verify_signature": False})
        actor_token = outer.pop("actortoken")
        actor = jwt.decode(actor_token, app.certificate.public_key(), algorithms=["RS256"],
                           audience=outer["aud"])
        return (jwt.get_unverified_header(token), sorted(outer), jwt.get_unverified_header(
            actor_token), {k: v for k, v in actor.items() if k not in ("nbf", "exp")},
            outer["exp"] - outer["nbf"])

    assert shape(ours) == shape(theirs)


def test_actor_token_header_names_the_certificate(app):
    token = tfc.mint_actor_token(app, REALM, HOST, trusted_for_delegation=False)
    header = jwt.get_unverified_header(token)
    der = app.certificate.public_bytes(serialization.Encoding.DER)
    assert header == {"alg": "RS256", "typ": "JWT",
                      "x5t": tfc.b64url(hashlib.sha1(der).digest())}
    claims = jwt.decode(token, app.certificate.public_key(), algorithms=["RS256"],
                        audience=f"{tfc.SHAREPOINT_PRINCIPAL}/{HOST}@{REALM}")
    assert claims["trustedfordelegation"] == "false"
    assert claims["nameid"] == claims["iss"] == f"{CLIENT_ID}@{REALM}"
    assert isinstance(claims["nbf"], int) and isinstance(claims["exp"], int)


def test_algorithm_follows_the_key():
    key = ec.generate_private_key(ec.SECP256R1())
    creds = tfc.AppCredentials(tfc.private_key_pem(key), tfc.self_signed_certificate(key, "app"),
                               CLIENT_ID)
    assert creds.algorithm == "ES256"
    token = tfc.mint_actor_token(creds, REALM, HOST)
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    with pytest.raises(ValueError, match="no JWS algorithm"):
        other = ec.generate_private_key(ec.SECP384R1())
        tfc.AppCredentials(tfc.private_key_pem(other), tfc.self_signed_certificate(other, "app"),
                           CLIENT_ID)


def test_user_token_needs_a_user(app):
    with pytest.raises(ValueError, match="names no user"):
        tfc.mint_user_token(app, REALM, HOST)


def test_certificate_helpers_take_the_first_certificate_of_a_chain(app):
    leaf = app.certificate.public_bytes(serialization.Encoding.PEM)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = tfc.self_signed_certificate(other_key, "ca")
    chain = leaf + other
    assert len(tfc.pem_certificates(chain)) == 2
    assert tfc.leaf_pem(chain) == leaf.decode()
    der = app.certificate.public_bytes(serialization.Encoding.DER)
    assert tfc.certificate_sha256(chain) == hashlib.sha256(der).hexdigest()
    with pytest.raises(ValueError):
        tfc.pem_certificates(b"not a certificate")


def _issued(ca_key, ca_name, key, dns, uri):
    now = datetime.datetime.now(datetime.timezone.utc)
    sans = [x509.DNSName(dns)] + ([x509.UniformResourceIdentifier(uri)] if uri else [])
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns)]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def tls_server(tmp_path):
    """A TLS server on 127.0.0.1 that presents a certificate for
    fe1.contoso.test under a test root; `start(uri)` puts `uri` (a SPIFFE ID
    or None) in its SANs and returns (address, root_pem)."""
    import socket
    import ssl
    import threading
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test root")])
    root_pem = tfc.self_signed_certificate(ca_key, "test root", ca=True, valid_days=1)
    servers = []

    def start(uri):
        key = ec.generate_private_key(ec.SECP256R1())
        (tmp_path / "s.crt").write_bytes(_issued(ca_key, ca_name, key, HOST, uri))
        (tmp_path / "s.key").write_bytes(tfc.private_key_pem(key))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "s.crt", tmp_path / "s.key")
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(10)
        servers.append(listener)

        def serve():
            try:
                conn, _ = listener.accept()
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except OSError:
                pass

        threading.Thread(target=serve, daemon=True).start()
        return f"127.0.0.1:{listener.getsockname()[1]}", root_pem

    yield start
    for listener in servers:
        listener.close()


def test_server_role_is_read_from_the_verified_spiffe_id(tls_server):
    address, root = tls_server("spiffe://contoso.test/frontend/fe1")
    tfc.check_server_role(address, HOST, root, "frontend")


def test_a_server_of_another_role_is_refused(tls_server):
    address, root = tls_server("spiffe://contoso.test/edge/edge1")
    with pytest.raises(tfc.ServerRoleError, match="has role 'edge', expected 'frontend'"):
        tfc.check_server_role(address, HOST, root, "frontend")


def test_a_server_without_a_spiffe_id_is_refused(tls_server):
    address, root = tls_server(None)
    with pytest.raises(tfc.ServerRoleError, match="0 SPIFFE IDs"):
        tfc.check_server_role(address, HOST, root, "frontend")


def test_the_role_check_verifies_the_certificate_first(tls_server):
    address, _ = tls_server("spiffe://contoso.test/frontend/fe1")
    other_root = tfc.self_signed_certificate(ec.generate_private_key(ec.SECP256R1()), "other root",
                                             ca=True, valid_days=1)
    import ssl
    with pytest.raises(ssl.SSLCertVerificationError):
        tfc.check_server_role(address, HOST, other_root, "frontend")
