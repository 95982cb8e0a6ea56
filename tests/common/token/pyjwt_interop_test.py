"""Interoperability of `tfctl token` with PyJWT, a standard JOSE library.

Tokens minted by `tfctl token mint` must verify with PyJWT, and tokens
minted by PyJWT must be accepted by `tfctl token verify` against a snapshot
file this test writes. Every key and certificate is generated here.

Environment (set by ctest): TFCTL (the tfctl binary, when built),
TFCTL_TOKEN_DRIVER (the token command group on its own), TF_PYTHON_PROTO_DIR
(generated trustfabric.v1 python modules).
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

REALM = "6c9a3f4e-1b2d-4e5f-8a7b-9c0d1e2f3a4b"
HOST = "fe1.contoso.test"
PRINCIPAL = "00000003-0000-0ff1-ce00-000000000000"
AUDIENCE = f"{PRINCIPAL}/{HOST}@{REALM}"

KINDS = {
    # kind: (issuer guid, JWS alg, snapshot algorithm)
    "rsa": ("a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", "RS256", "RS256"),
    "ec": ("b0b0b0b0-0000-4000-8000-00000000b0b0", "ES256", "ES256"),
    "ed": ("edededed-0000-4000-8000-00000000eded", "EdDSA", "EDDSA"),
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tfctl_binary():
    """The real tfctl when it carries the token commands, else the driver."""
    real = os.environ.get("TFCTL")
    if real and os.path.exists(real):
        probe = subprocess.run([real, "token", "--help"], capture_output=True)
        if probe.returncode == 0:
            return real
    return os.environ["TFCTL_TOKEN_DRIVER"]


class App:
    def __init__(self, kind, tmp):
        self.kind = kind
        self.guid, self.alg, self.snapshot_alg = KINDS[kind]
        if kind == "rsa":
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kind == "ec":
            self.key = ec.generate_private_key(ec.SECP256R1())
        else:
            self.key = ed25519.Ed25519PrivateKey.generate()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{kind} app")])
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=False,
                    crl_sign=False, encipher_only=False, decipher_only=False),
                critical=True)
        )
        algorithm = None if kind == "ed" else hashes.SHA256()
        self.cert = builder.sign(self.key, algorithm)
        self.der = self.cert.public_bytes(serialization.Encoding.DER)
        self.cert_pem = self.cert.public_bytes(serialization.Encoding.PEM).decode()
        self.key_pem = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        self.key_path = os.path.join(tmp, f"{kind}.key")
        self.cert_path = os.path.join(tmp, f"{kind}.crt")
        with open(self.key_path, "w") as f:
            f.write(self.key_pem)
        with open(self.cert_path, "w") as f:
            f.write(self.cert_pem)
        self.x5t = b64url(hashlib.sha1(self.der).digest())
        self.registered = f"{self.guid}@{REALM}"


@pytest.fixture(scope="module")
def cli():
    return tfctl_binary()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("token-interop"))


@pytest.fixture(scope="module")
def apps(workdir):
    return {kind: App(kind, workdir) for kind in KINDS}


def snapshot_json(apps):
    return {
        "revision": "1",
        "trustDomain": "contoso.test",
        "realm": REALM,
        "roots": [
            {
                "name": f"{a.kind}-signing",
                "trustDomain": "contoso.test",
                "certificatesPem": a.cert_pem,
                "purposes": ["TOKEN_SIGNING"],
            }
            for a in apps.values()
        ],
        "issuers": [
            {
                "name": f"{a.kind}-app",
                "registeredIssuerName": a.registered,
                "signingCertificatesPem": [a.cert_pem],
                "algorithms": [a.snapshot_alg],
                "allowUserDelegation": True,
            }
            for a in apps.values()
        ],
    }


@pytest.fixture(scope="module")
def snapshot_path(apps, workdir):
    path = os.path.join(workdir, "snapshot.json")
    with open(path, "w") as f:
        json.dump(snapshot_json(apps), f, indent=2)
    return path


def run(cli, *args):
    return subprocess.run([cli, "token", *args], capture_output=True, text=True, timeout=60)


def mint(cli, app, *extra):
    r = run(cli, "mint", "--key", app.key_path, "--cert", app.cert_path, "--issuer-id", app.guid,
            "--realm", REALM, "--host", HOST, "--lifetime", "1h", *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def verify(cli, snapshot, token, *extra):
    return run(cli, "verify", "--snapshot", snapshot, "--host", HOST, "--token", token, *extra)


def app_claims(app, client=None, delegation="false", lifetime=3600, now=None):
    now = int(time.time()) if now is None else now
    return {
        "aud": AUDIENCE,
        "iss": app.registered,
        "nbf": now,
        "exp": now + lifetime,
        "nameid": f"{client or app.guid}@{REALM}",
        "trustedfordelegation": delegation,
    }


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pyjwt_verifies_tfctl_minted_token(cli, apps, kind):
    app = apps[kind]
    token = mint(cli, app, "--x5t-s256")
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "JWT"
    assert header["alg"] == app.alg
    assert header["x5t"] == app.x5t
    assert header["x5t#S256"] == b64url(hashlib.sha256(app.der).digest())
    claims = jwt.decode(
        token, app.cert.public_key(), algorithms=[app.alg], audience=AUDIENCE,
        issuer=app.registered, options={"require": ["exp", "nbf", "iss", "aud"]})
    assert claims["nameid"] == f"{app.guid}@{REALM}"
    assert claims["trustedfordelegation"] == "false"
    assert claims["exp"] - claims["nbf"] == 3600
    assert isinstance(claims["exp"], int)


def test_pyjwt_verifies_tfctl_user_token(cli, apps):
    app = apps["rsa"]
    token = mint(cli, app, "--kind", "user", "--upn", "alice@contoso.test",
                 "--user-nameid", "s-1-5-21-7")
    assert token.endswith(".")
    assert jwt.get_unverified_header(token) == {"typ": "JWT", "alg": "none"}
    outer = jwt.decode(token, options={"verify_signature": False})
    assert outer["upn"] == "alice@contoso.test"
    assert outer["iss"] == f"{app.guid}@{REALM}"
    actor = jwt.decode(outer["actortoken"], app.cert.public_key(), algorithms=["RS256"],
                       audience=AUDIENCE, issuer=app.registered)
    assert actor["trustedfordelegation"] == "true"
    assert actor["nameid"] == outer["iss"]


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_pyjwt_verifies_tfctl_signed_outer_token(cli, apps, kind):
    """`--sign-outer`: both the outer and the actor token verify with the
    application's public key, and the outer token binds the actor's."""
    app = apps[kind]
    token = mint(cli, app, "--kind", "user", "--upn", "alice@contoso.test", "--sign-outer")
    header = jwt.get_unverified_header(token)
    assert header == {"typ": "JWT", "alg": app.alg, "x5t": app.x5t}
    outer = jwt.decode(token, app.cert.public_key(), algorithms=[app.alg], audience=AUDIENCE,
                       options={"require": ["exp", "nbf", "iss", "aud"]})
    assert outer["upn"] == "alice@contoso.test"
    assert outer["iss"] == f"{app.guid}@{REALM}"
    actor = jwt.decode(outer["actortoken"], app.cert.public_key(), algorithms=[app.alg],
                       audience=AUDIENCE, issuer=app.registered)
    assert actor["trustedfordelegation"] == "true"
    assert actor["nameid"] == outer["iss"]
    # Rewriting the user breaks the signature for PyJWT as for tfctl.
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["upn"] = "ceo@contoso.test"
    forged = ".".join([head, b64url(json.dumps(claims).encode()), sig])
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, app.cert.public_key(), algorithms=[app.alg], audience=AUDIENCE)


def test_pyjwt_verifies_token_minted_from_pkcs12(cli, apps, workdir):
    app = apps["ec"]
    pfx = pkcs12.serialize_key_and_certificates(
        b"app", app.key, app.cert, None,
        serialization.BestAvailableEncryption(b"changeit"))
    pfx_path = os.path.join(workdir, "ec.pfx")
    pw_path = os.path.join(workdir, "ec.pw")
    with open(pfx_path, "wb") as f:
        f.write(pfx)
    with open(pw_path, "w") as f:
        f.write("changeit\n")
    r = run(cli, "mint", "--pkcs12", pfx_path, "--password-file", pw_path, "--issuer-id",
            app.guid, "--realm", REALM, "--host", HOST)
    assert r.returncode == 0, r.stderr
    claims = jwt.decode(r.stdout.strip(), app.cert.public_key(), algorithms=["ES256"],
                        audience=AUDIENCE)
    assert claims["exp"] - claims["nbf"] == 12 * 3600

    # The same password from the environment.
    env = dict(os.environ, TF_PKCS12_PASSWORD="changeit")
    r = subprocess.run([cli, "token", "mint", "--pkcs12", pfx_path, "--issuer-id", app.guid,
                        "--realm", REALM, "--host", HOST], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    jwt.decode(r.stdout.strip(), app.cert.public_key(), algorithms=["ES256"], audience=AUDIENCE)

    # Never on the command line: refused before anything is read.
    r = run(cli, "mint", "--pkcs12", pfx_path, "--password", "changeit", "--issuer-id",
            app.guid, "--realm", REALM, "--host", HOST)
    assert r.returncode != 0
    assert r.stdout == ""
    assert ("--password: secrets are not taken on the command line; use --password-file FILE "
            "or the environment variable TF_PKCS12_PASSWORD") in r.stderr


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tfctl_verify_accepts_pyjwt_token(cli, apps, snapshot_path, kind):
    app = apps[kind]
    token = jwt.encode(app_claims(app), app.key, algorithm=app.alg, headers={"x5t": app.x5t})
    r = verify(cli, snapshot_path, token)
    assert r.returncode == 0, r.stderr
    identity = json.loads(r.stdout)
    assert identity["kind"] == "app-only"
    assert identity["issuer"] == app.registered
    assert identity["issuer_name"] == f"{kind}-app"
    assert identity["client_id"] == app.guid
    assert identity["realm"] == REALM
    assert identity["audience"] == AUDIENCE
    assert identity["algorithm"] == app.alg
    assert identity["signing_certificate_sha256"] == hashlib.sha256(app.der).hexdigest()


def test_tfctl_verify_accepts_pyjwt_user_token(cli, apps, snapshot_path):
    app = apps["ec"]
    actor = jwt.encode(app_claims(app, delegation="true"), app.key, algorithm="ES256")
    now = int(time.time())
    outer = jwt.encode(
        {"aud": AUDIENCE, "iss": f"{app.guid}@{REALM}", "nbf": now, "exp": now + 600,
         "nameid": "s-1-5-21-7", "smtp": "alice@contoso.test", "actortoken": actor},
        None, algorithm="none")
    # The add-in model's unsigned outer token: refused under the default
    # policy, accepted where a front-end allows it.
    r = verify(cli, snapshot_path, outer)
    assert r.returncode != 0
    assert ("rejected: token: unsigned outer token is not accepted "
            "(outer token policy: signed)") in r.stderr
    r = verify(cli, snapshot_path, outer, "--outer-token", "unsigned_allowed")
    assert r.returncode == 0, r.stderr
    identity = json.loads(r.stdout)
    assert identity["kind"] == "user+app"
    assert identity["user"] == {"nameid": "s-1-5-21-7", "smtp": "alice@contoso.test"}
    assert identity["outer_signed"] is False


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_tfctl_verify_accepts_pyjwt_signed_outer_token(cli, apps, snapshot_path, kind):
    """TokenHelper's signed variant built with PyJWT: the outer token signed
    with the same application key as the actor token."""
    app = apps[kind]
    actor = jwt.encode(app_claims(app, delegation="true"), app.key, algorithm=app.alg,
                       headers={"x5t": app.x5t})
    now = int(time.time())
    claims = {"aud": AUDIENCE, "iss": f"{app.guid}@{REALM}", "nbf": now, "exp": now + 600,
              "upn": "alice@contoso.test", "actortoken": actor}
    outer = jwt.encode(claims, app.key, algorithm=app.alg, headers={"x5t": app.x5t})
    r = verify(cli, snapshot_path, outer)
    assert r.returncode == 0, r.stderr
    identity = json.loads(r.stdout)
    assert identity["kind"] == "user+app"
    assert identity["user"] == {"upn": "alice@contoso.test"}
    assert identity["outer_signed"] is True

    # Signed by another registered application's key: refused.
    other = apps["rsa" if kind != "rsa" else "ec"]
    wrong = jwt.encode(claims, other.key, algorithm=other.alg, headers={"x5t": other.x5t})
    r = verify(cli, snapshot_path, wrong)
    assert r.returncode != 0
    assert "rejected: token: header: " in r.stderr


def test_tfctl_verify_accepts_token_file_and_binary_snapshot(cli, apps, snapshot_path, workdir):
    sys.path.insert(0, os.environ["TF_PYTHON_PROTO_DIR"])
    from google.protobuf import json_format
    from trustfabric.v1 import trust_pb2

    with open(snapshot_path) as f:
        message = json_format.Parse(f.read(), trust_pb2.TrustSnapshot())
    binary_path = os.path.join(workdir, "snapshot.pb")
    with open(binary_path, "wb") as f:
        f.write(message.SerializeToString())
    app = apps["rsa"]
    token_path = os.path.join(workdir, "token.jwt")
    with open(token_path, "w") as f:
        f.write(jwt.encode(app_claims(app), app.key, algorithm="RS256") + "\n")
    r = run(cli, "verify", "--snapshot", binary_path, "--host", HOST, "--token-file", token_path)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["client_id"] == app.guid


def test_tfctl_verify_rejects_with_reason(cli, apps, snapshot_path):
    app = apps["rsa"]
    claims = app_claims(app)

    def rejected(token, reason):
        r = verify(cli, snapshot_path, token)
        assert r.returncode != 0, r.stdout
        assert r.stdout == ""
        assert f"rejected: {reason}" in r.stderr, r.stderr

    # RS256 -> HS256 confusion keyed with the issuer's certificate PEM.
    # PyJWT itself refuses a PEM as an HMAC secret, so the token is built by hand.
    signing_input = (b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." +
                     b64url(json.dumps(claims).encode()))
    mac = hmac.new(app.cert_pem.encode(), signing_input.encode(), hashlib.sha256).digest()
    rejected(signing_input + "." + b64url(mac), "token: header: alg HS256 is not supported")

    rejected(jwt.encode(claims, None, algorithm="none"), "token: header: alg none is not allowed")

    expired = app_claims(app, now=int(time.time()) - 7200)
    rejected(jwt.encode(expired, app.key, algorithm="RS256"), "token: expired")

    other = apps["ec"]
    rejected(jwt.encode(claims, other.key, algorithm="ES256"),
             f"token: header: alg ES256 is not allowed for issuer {app.registered}")

    good = jwt.encode(claims, app.key, algorithm="RS256", headers={"x5t": app.x5t})
    head, body, sig = good.split(".")
    flipped = sig[:-3] + ("A" if sig[-3] != "A" else "B") + sig[-2:]
    rejected(".".join([head, body, flipped]), "token: signature invalid")

    rejected(jwt.encode(claims, app.key, algorithm="RS256", headers={"x5t": other.x5t}),
             f"token: header: x5t does not name a certificate of issuer {app.registered}")

    r = run(cli, "verify", "--snapshot", snapshot_path + ".missing", "--host", HOST,
            "--token", good)
    assert r.returncode != 0
    assert "cannot read" in r.stderr
