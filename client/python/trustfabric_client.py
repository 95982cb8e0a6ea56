"""A small Python client of trustfabric, on the generated gRPC modules.

It provides:

* token minting in the high-trust add-in profile (common/token/claims.h):
  `mint_actor_token`, `mint_user_token` with PyJWT, or `mint_with_tfctl`
  through the C++ CLI (`tfctl token mint`). User tokens are minted with a
  signed outer token by default, the only kind a front-end accepts under
  its default outer token policy (docs/outer-token.md); `sign_outer=False`
  makes the add-in model's unsigned one, for a front-end configured with
  `outer_token: UNSIGNED_ALLOWED`;
* `FrontEndClient`: a user's session at a front-end's client listener
  (server-authenticated TLS, bearer token on every call): `sign_in()`,
  `send(to, body)`, `receive()`;
* PEM helpers: `pem_certificates`, `leaf_pem`, `certificate_sha256`, and
  `self_signed_certificate` / `private_key_pem` for an application's own
  signing key and certificate;
* `AdminClient`: the control plane's admin API (`ControlPlane`) over mutual
  TLS with an admin certificate.

Both clients check the server's role as well as its name before they dial
(`check_server_role`): a front-end client talks only to a `frontend`, the
admin client only to `control` (SECURITY.md, "Clients").

Usage (Debian's /usr/bin/python3 with python3-grpcio and python3-jwt;
PYTHONPATH holding build/python and client/python):

    creds = AppCredentials.from_files("pki/contoso.test/app1.key",
                                      "pki/contoso.test/app1.crt", client_id)
    token = mint_user_token(creds, realm, "fe1.contoso.test",
                            upn="alice@contoso.test")
    with FrontEndClient("127.0.0.1:7443", "fe1.contoso.test",
                        root_pem, token) as alice:
        alice.sign_in()
        alice.send("bob@fabrikam.test", "hello")

Errors are the gRPC status the server returned: every call raises
`grpc.RpcError` with `.code()` and `.details()`; every call has a deadline.
"""

import base64
import datetime
import hashlib
import os
import queue
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time


def _import_generated():
    """Imports trustfabric.v1, also from the usual build directories.

    When PYTHONPATH does not already provide the generated modules, the
    directory named by TF_PYTHON_PROTO_DIR is tried, then build/python of
    this checkout.
    """
    import importlib.util
    try:
        found = importlib.util.find_spec("trustfabric.v1.control_pb2") is not None
    except ImportError:
        found = False
    if not found:
        here = os.path.dirname(os.path.abspath(__file__))
        candidates = [os.environ.get("TF_PYTHON_PROTO_DIR", ""),
                      os.path.join(here, "..", "..", "build", "python")]
        for candidate in candidates:
            if candidate and os.path.isfile(
                    os.path.join(candidate, "trustfabric", "v1", "control_pb2.py")):
                sys.path.insert(0, os.path.abspath(candidate))
                break


_import_generated()

import grpc  # noqa: E402
import jwt  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
from google.protobuf import duration_pb2  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from trustfabric.v1 import control_pb2, control_pb2_grpc  # noqa: E402
from trustfabric.v1 import node_pb2, node_pb2_grpc, trust_pb2  # noqa: E402

# The SharePoint principal id, the usual audience principal of add-in tokens.
SHAREPOINT_PRINCIPAL = "00000003-0000-0ff1-ce00-000000000000"

# Deadline of a unary call unless the caller gives one.
DEFAULT_TIMEOUT = 5.0


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _as_bytes(text):
    return text.encode() if isinstance(text, str) else bytes(text)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL)


def pem_certificates(pem):
    """The certificates of a PEM bundle, in order."""
    blocks = _PEM_CERTIFICATE.findall(_as_bytes(pem))
    if not blocks:
        raise ValueError("no PEM certificate found")
    return [x509.load_pem_x509_certificate(block) for block in blocks]


def leaf_pem(pem):
    """The first certificate of a PEM bundle, as PEM text."""
    return pem_certificates(pem)[0].public_bytes(serialization.Encoding.PEM).decode()


def certificate_sha256(pem):
    """SHA-256 (lower-case hex) of the DER of the first certificate of `pem`,
    as `openssl x509 -fingerprint -sha256` prints it (without the colons):
    what `tfctl revoke --sha256` and AdminClient.revoke(sha256_hex=...) take."""
    der = pem_certificates(pem)[0].public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def self_signed_certificate(key, common_name, ca=False, valid_days=7):
    """A PEM certificate of `key` signed by itself, named `common_name`,
    valid from an hour ago for `valid_days`: an application's signing
    certificate as `tfctl issuer add --certificate` registers it, or with
    `ca=True` a root authority of its own."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def private_key_pem(key):
    """`key` as unencrypted PKCS#8 PEM, as AppCredentials and tfctl read it."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def revocation_key(revocation):
    """The key of a Revocation as the control plane lists it (what
    AdminClient.unrevoke takes): the DER hash of a der-only revocation,
    "certificate:<tbs>", "key:<spki>" or "serial:<issuer spki>:<serial>"."""
    kind = revocation.kind
    if kind == trust_pb2.REVOCATION_DER_ONLY:
        return revocation.sha256_hex
    if kind == trust_pb2.REVOCATION_CERTIFICATE:
        return f"certificate:{revocation.tbs_sha256_hex}"
    if kind == trust_pb2.REVOCATION_KEY:
        return f"key:{revocation.spki_sha256_hex}"
    if kind == trust_pb2.REVOCATION_ISSUER_SERIAL:
        return f"serial:{revocation.issuer_spki_sha256_hex}:{revocation.serial_hex}"
    return f"kind{kind}:{revocation.sha256_hex}"


class AppCredentials:
    """An application's signing key and certificate, and the ids it signs
    as: `client_id` (the application), `issuer_id` (the registered issuer's
    GUID: the client id itself for a per-application issuer, the broker's
    GUID for a trust broker)."""

    def __init__(self, key_pem, cert_pem, client_id, issuer_id=None):
        self.key = serialization.load_pem_private_key(_as_bytes(key_pem), password=None)
        self.certificate = pem_certificates(cert_pem)[0]
        self.client_id = client_id
        self.issuer_id = issuer_id or client_id
        self.algorithm = _algorithm_of(self.key)

    @classmethod
    def from_files(cls, key_path, cert_path, client_id, issuer_id=None):
        return cls(read_file(key_path), read_file(cert_path), client_id, issuer_id)

    def x5t(self):
        """base64url SHA-1 of the signing certificate: names it in the header."""
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return b64url(hashlib.sha1(der).digest())


def _algorithm_of(key):
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1":
        return "ES256"
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise ValueError("signing key: no JWS algorithm for this key type")


def audience(realm, host, principal=SHAREPOINT_PRINCIPAL):
    """"<principal>/<host>@<realm>", the audience a front-end accepts."""
    return f"{principal}/{host}@{realm}"


def mint_actor_token(creds, realm, host, trusted_for_delegation=False, lifetime=3600,
                     now=None, principal=SHAREPOINT_PRINCIPAL, with_x5t=True):
    """A signed actor (or app-only) token, as `tfctl token mint --kind actor`."""
    nbf = int(time.time()) if now is None else int(now)
    claims = {
        "aud": audience(realm, host, principal),
        "iss": f"{creds.issuer_id}@{realm}",
        "nameid": f"{creds.client_id}@{realm}",
        "nbf": nbf,
        "exp": nbf + int(lifetime),
        "trustedfordelegation": "true" if trusted_for_delegation else "false",
    }
    headers = {"typ": "JWT"}
    if with_x5t:
        headers["x5t"] = creds.x5t()
    return jwt.encode(claims, creds.key, algorithm=creds.algorithm, headers=headers)


def mint_user_token(creds, realm, host, upn=None, smtp=None, nameid=None, nii=None,
                    lifetime=3600, now=None, principal=SHAREPOINT_PRINCIPAL, sign_outer=True):
    """A user+app token: an actor token trusted for delegation inside an
    outer token naming the user, as `tfctl token mint --kind user`. The
    outer token is signed with the same key as the actor token (`tfctl token
    mint --sign-outer`); `sign_outer=False` leaves it unsigned ("alg":"none",
    as SharePoint issues it), which only a front-end with
    `outer_token: UNSIGNED_ALLOWED` accepts."""
    if not (upn or smtp or nameid):
        raise ValueError("user token names no user (upn, smtp or nameid)")
    nbf = int(time.time()) if now is None else int(now)
    actor = mint_actor_token(creds, realm, host, True, lifetime, nbf, principal)
    claims = {
        "aud": audience(realm, host, principal),
        "iss": f"{creds.client_id}@{realm}",
        "nbf": nbf,
        "exp": nbf + int(lifetime),
        "actortoken": actor,
    }
    for name, value in (("nameid", nameid), ("nii", nii), ("upn", upn), ("smtp", smtp)):
        if value:
            claims[name] = value
    if sign_outer:
        return jwt.encode(claims, creds.key, algorithm=creds.algorithm,
                          headers={"typ": "JWT", "x5t": creds.x5t()})
    return jwt.encode(claims, None, algorithm="none", headers={"typ": "JWT"})


def mint_with_tfctl(tfctl, key_path, cert_path, issuer_id, realm, host, upn,
                    client_id=None, lifetime="1h", timeout=30, sign_outer=True):
    """A user+app token minted by the C++ CLI (`tfctl token mint --kind user`,
    with `--sign-outer` unless `sign_outer` is False). Raises RuntimeError
    with tfctl's message when it refuses."""
    args = [tfctl, "token", "mint", "--key", key_path, "--cert", cert_path,
            "--issuer-id", issuer_id, "--realm", realm, "--host", host,
            "--lifetime", lifetime, "--kind", "user", "--upn", upn]
    if client_id:
        args += ["--client-id", client_id]
    if sign_outer:
        args.append("--sign-outer")
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"tfctl token mint failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout.strip()


class ServerRoleError(Exception):
    """The server's certificate verified for the expected name, but its
    SPIFFE ID names another role (or none)."""


def _split_address(address):
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address {address!r}: expected host:port")
    return host.strip("[]"), int(port)


def _peer_certificate(context, address, server_name, timeout):
    # A server that is still starting refuses connections: retry those (not
    # TLS failures) until `timeout`, as a gRPC channel would.
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(_split_address(address), timeout=timeout) as raw:
                with context.wrap_socket(raw, server_hostname=server_name) as tls:
                    return tls.getpeercert(binary_form=True)
        except ConnectionRefusedError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def server_role(address, server_name, root_pem, key_pem=None, chain_pem=None,
                timeout=DEFAULT_TIMEOUT):
    """The role in the SPIFFE ID (spiffe://<domain>/<role>/<name>) of the
    certificate the server at `address` presents, after the certificate has
    verified against `root_pem` for the DNS name `server_name`.
    `key_pem`/`chain_pem`: a client identity, for listeners that require one.
    Raises ssl.SSLError when the certificate does not verify and
    ServerRoleError when it carries no trustfabric SPIFFE ID.

    gRPC's Python API has no certificate callback, so this is a TLS handshake
    of its own, made before the gRPC channel's (SECURITY.md, "Clients")."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cadata=_as_bytes(root_pem).decode())
    context.set_alpn_protocols(["h2"])
    with tempfile.TemporaryDirectory() as tmp:
        if key_pem is not None:
            key_path = os.path.join(tmp, "client.key")
            chain_path = os.path.join(tmp, "client.crt")
            for path, data in ((key_path, key_pem), (chain_path, chain_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(_as_bytes(data))
            context.load_cert_chain(chain_path, key_path)
        der = _peer_certificate(context, address, server_name, timeout)
    certificate = x509.load_der_x509_certificate(der)
    try:
        names = certificate.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = None
    uris = names.get_values_for_type(x509.UniformResourceIdentifier) if names else []
    spiffe = [u for u in uris if u.startswith("spiffe://")]
    if len(spiffe) != 1:
        raise ServerRoleError(f"server {server_name} at {address}: certificate carries "
                              f"{len(spiffe)} SPIFFE IDs, expected exactly one")
    parts = spiffe[0][len("spiffe://"):].split("/")
    if len(parts) != 3 or not all(parts):
        raise ServerRoleError(f"server {server_name} at {address}: SPIFFE ID "
                              f"{spiffe[0]!r} is not spiffe://<domain>/<role>/<name>")
    return parts[1]


def check_server_role(address, server_name, root_pem, expected_role, key_pem=None,
                      chain_pem=None, timeout=DEFAULT_TIMEOUT):
    """Raises ServerRoleError unless the server at `address` (verified for
    `server_name` against `root_pem`) has the role `expected_role`."""
    role = server_role(address, server_name, root_pem, key_pem, chain_pem, timeout)
    if role != expected_role:
        raise ServerRoleError(f"server {server_name} at {address} has role {role!r}, "
                              f"expected {expected_role!r}")


def _channel_options(server_name):
    return [
        ("grpc.ssl_target_name_override", server_name),
        ("grpc.default_authority", server_name),
        # A fresh connection per client object: tests watch what happens to
        # one session, not to a connection shared with another.
        ("grpc.use_local_subchannel_pool", 1),
    ]


class ReceiveStream:
    """A running Receive call. A background thread reads messages into a
    queue so every wait is bounded: `get(timeout)` returns the next message
    or raises `queue.Empty`; once the stream has ended, `get` raises the
    `grpc.RpcError` it ended with (`error`), or EOFError when the server
    closed it with OK."""

    _END = object()

    def __init__(self, call):
        self._call = call
        self._queue = queue.Queue()
        self.error = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for message in self._call:
                self._queue.put(message)
        except grpc.RpcError as e:
            self.error = e
        finally:
            self._done.set()
            self._queue.put(self._END)

    def get(self, timeout=DEFAULT_TIMEOUT):
        item = self._queue.get(timeout=timeout)
        if item is self._END:
            self._queue.put(item)  # every later get() ends the same way
            if self.error is not None:
                raise self.error
            raise EOFError("receive stream ended")
        return item

    def drain(self, quiet=0.3):
        """Every message that arrives until none came for `quiet` seconds
        (or the stream ended)."""
        out = []
        while True:
            try:
                out.append(self.get(timeout=quiet))
            except (queue.Empty, EOFError, grpc.RpcError):
                return out

    def done(self):
        return self._done.is_set()

    def wait_done(self, timeout):
        return self._done.wait(timeout)

    def __iter__(self):
        """Messages until the stream ends; raises the error it ended with
        unless it was cancelled."""
        while True:
            try:
                yield self.get(timeout=None)
            except EOFError:
                return
            except grpc.RpcError as e:
                if e.code() == grpc.StatusCode.CANCELLED:
                    return
                raise

    def cancel(self):
        self._call.cancel()
        self._done.wait(DEFAULT_TIMEOUT)


class _ChannelClient:
    """A client of one gRPC channel (`self._channel`): close() closes it,
    and so does the end of a `with` block."""

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FrontEndClient(_ChannelClient):
    """One user's session at a front-end's client listener.

    `address` is "host:port"; `server_name` the front-end's DNS name (its
    certificate must carry it); `root_pem` the PEM root(s) of the
    front-end's domain. `token` is sent as "authorization: Bearer <token>"
    on every call (None: no authorization metadata); `set_token` replaces
    it. `expected_role`: the role the server's SPIFFE ID must name
    (check_server_role; None skips the check)."""

    def __init__(self, address, server_name, root_pem, token, timeout=DEFAULT_TIMEOUT,
                 expected_role="frontend"):
        if expected_role is not None:
            check_server_role(address, server_name, root_pem, expected_role, timeout=timeout)
        credentials = grpc.ssl_channel_credentials(root_certificates=_as_bytes(root_pem))
        self._channel = grpc.secure_channel(address, credentials,
                                            options=_channel_options(server_name))
        self._stub = node_pb2_grpc.FrontEndStub(self._channel)
        self._token = token
        self._timeout = timeout
        self._streams = []
        # The user the front-end signed in, once sign_in() succeeded.
        self.user = None

    def set_token(self, token):
        self._token = token

    def _metadata(self):
        if self._token is None:
            return ()
        return (("authorization", f"Bearer {self._token}"),)

    def wait_ready(self, timeout=DEFAULT_TIMEOUT):
        """Waits until the channel connected; grpc.FutureTimeoutError if not."""
        grpc.channel_ready_future(self._channel).result(timeout=timeout)

    def sign_in(self, timeout=None):
        """Registers the token's user at this front-end; SignInResponse."""
        response = self._stub.SignIn(node_pb2.SignInRequest(), metadata=self._metadata(),
                                     timeout=timeout or self._timeout)
        self.user = response.user
        return response

    def send(self, to, body, timeout=None):
        """Sends `body` to `to`; SendResponse (message_id, disposition)."""
        return self._stub.Send(node_pb2.SendRequest(to=to, body=body),
                               metadata=self._metadata(), timeout=timeout or self._timeout)

    def receive(self, timeout=None):
        """Opens the user's Receive stream (ReceiveStream). `timeout` bounds
        the whole stream; None keeps it open until cancelled or closed."""
        call = self._stub.Receive(node_pb2.ReceiveRequest(), metadata=self._metadata(),
                                  timeout=timeout)
        stream = ReceiveStream(call)
        self._streams.append(stream)
        return stream

    def close(self):
        for stream in self._streams:
            stream.cancel()
        self._streams.clear()
        super().close()


class AdminClient(_ChannelClient):
    """The control plane's admin API over mutual TLS.

    `root_pem` verifies the control plane (its domain's root); `key_pem` and
    `chain_pem` are the admin identity (leaf + intermediate). `stub` is the
    generated ControlPlaneStub for calls this class does not wrap.
    `expected_role`: the role the server's SPIFFE ID must name
    (check_server_role; None skips the check)."""

    def __init__(self, address, server_name, root_pem, key_pem, chain_pem,
                 timeout=10.0, expected_role="control"):
        if expected_role is not None:
            check_server_role(address, server_name, root_pem, expected_role, key_pem,
                              chain_pem, timeout)
        credentials = grpc.ssl_channel_credentials(root_certificates=_as_bytes(root_pem),
                                                   private_key=_as_bytes(key_pem),
                                                   certificate_chain=_as_bytes(chain_pem))
        self._channel = grpc.secure_channel(address, credentials,
                                            options=_channel_options(server_name))
        self.stub = control_pb2_grpc.ControlPlaneStub(self._channel)
        self._timeout = timeout

    @staticmethod
    def options(wait_all=False, wait_timeout=10.0, expected_revision=None):
        """MutationOptions: optionally wait until every connected node of the
        domain applied the new revision."""
        o = control_pb2.MutationOptions()
        if expected_revision is not None:
            o.expected_revision = expected_revision
        if wait_all:
            o.wait.all_nodes = True
            o.wait.timeout.CopyFrom(duration_pb2.Duration(seconds=int(wait_timeout)))
        return o

    def _deadline(self, wait_all, wait_timeout):
        return self._timeout + (wait_timeout if wait_all else 0)

    def snapshot(self):
        return self.stub.GetSnapshot(control_pb2.GetSnapshotRequest(), timeout=self._timeout)

    def status(self):
        return self.stub.GetPropagationStatus(control_pb2.GetPropagationStatusRequest(),
                                              timeout=self._timeout)

    def audit(self, since_revision=0, limit=100):
        return self.stub.GetAuditLog(
            control_pb2.GetAuditLogRequest(since_revision=since_revision, limit=limit),
            timeout=self._timeout)

    def peers(self):
        return list(self.stub.ListFederationPeers(control_pb2.ListFederationPeersRequest(),
                                                  timeout=self._timeout).peers)

    def peer(self, trust_domain):
        for p in self.peers():
            if p.trust_domain == trust_domain:
                return p
        return None

    def roots(self):
        return list(self.stub.ListRootAuthorities(control_pb2.ListRootAuthoritiesRequest(),
                                                  timeout=self._timeout).roots)

    def issuers(self):
        return list(self.stub.ListTokenIssuers(control_pb2.ListTokenIssuersRequest(),
                                               timeout=self._timeout).issuers)

    def _mutate(self, rpc, request_type, wait_all, wait_timeout, **fields):
        """Calls the unary mutation `rpc` with `request_type(**fields)` and the
        wait options; the deadline covers the wait."""
        return rpc(request_type(options=self.options(wait_all, wait_timeout), **fields),
                   timeout=self._deadline(wait_all, wait_timeout))

    def put_peer(self, peer, wait_all=True, wait_timeout=10.0):
        return self._mutate(self.stub.PutFederationPeer, control_pb2.PutFederationPeerRequest,
                            wait_all, wait_timeout, peer=peer)

    def add_root(self, root, wait_all=True, wait_timeout=10.0):
        return self._mutate(self.stub.AddRootAuthority, control_pb2.AddRootAuthorityRequest,
                            wait_all, wait_timeout, root=root)

    def remove_root(self, name, force=False, wait_all=True, wait_timeout=10.0):
        return self._mutate(self.stub.RemoveRootAuthority,
                            control_pb2.RemoveRootAuthorityRequest, wait_all, wait_timeout,
                            name=name, force=force)

    def add_issuer(self, issuer, wait_all=True, wait_timeout=10.0):
        return self._mutate(self.stub.AddTokenIssuer, control_pb2.AddTokenIssuerRequest,
                            wait_all, wait_timeout, issuer=issuer)

    def revoke(self, certificate_pem=None, reason="integration test", force=False,
               wait_all=False, wait_timeout=10.0, sha256_hex=None, tbs_sha256_hex=None,
               key_sha256_hex=None, revoke_key=False, der_only=False):
        """Revokes by exactly one target: a PEM certificate (its signed body,
        or its key with revoke_key), the SHA-256 of a DER encoding (resolved
        by the control plane; der_only stores an unresolvable one as a weak
        revocation), a signed-body hash or a key hash. The response's
        `warnings` say what the caller should know (a der-only revocation)."""
        targets = {"certificate_pem": certificate_pem, "sha256_hex": sha256_hex,
                   "tbs_sha256_hex": tbs_sha256_hex, "key_sha256_hex": key_sha256_hex}
        given = {k: v for k, v in targets.items() if v is not None}
        if len(given) != 1:
            raise ValueError(f"revoke: give exactly one of {', '.join(targets)}")
        return self._mutate(self.stub.RevokeCertificate, control_pb2.RevokeCertificateRequest,
                            wait_all, wait_timeout, reason=reason, force=force,
                            revoke_key=revoke_key, der_only=der_only, **given)

    def revocations(self):
        """The RevocationListings (revocation, key, weak) of the current state."""
        return list(self.stub.ListRevocations(control_pb2.ListRevocationsRequest(),
                                              timeout=self._timeout).revocations)

    def unrevoke(self, key_or_sha256_hex, wait_all=True, wait_timeout=10.0):
        """Removes the revocation with this key (revocation_key), or every
        revocation requested by or resolved from this DER hash."""
        return self._mutate(self.stub.UnrevokeCertificate,
                            control_pb2.UnrevokeCertificateRequest, wait_all, wait_timeout,
                            sha256_hex=key_or_sha256_hex)



class ClusterDir:
    """A cluster directory written by `tfctl cluster config` (cluster.json:
    protobuf's JSON of trustfabric.v1.ClusterLayout, proto/trustfabric/v1/
    cluster.proto, with the proto field names as keys: domains with realm,
    root, admin identity, applications and endpoints; services with their
    addresses, pid and log files)."""

    def __init__(self, path):
        import json
        self.path = os.path.abspath(path)
        with open(os.path.join(self.path, "cluster.json")) as f:
            self.layout = json.load(f)
        if self.layout.get("version") != 1:
            raise ValueError(f"{self.path}/cluster.json: unsupported version "
                             f"{self.layout.get('version')}")
        self.subnet = self.layout["subnet"]
        self.domains = {d["domain"]: d for d in self.layout["domains"]}
        self.services = {s["id"]: s for s in self.layout["services"]}

    def domain(self, name):
        return self.domains[name]

    def service(self, domain, name):
        return self.services[f"{domain}-{name}"]

    def root_pem(self, domain):
        return read_file(self.domains[domain]["root"])

    def app(self, domain, name="app1"):
        for a in self.domains[domain]["apps"]:
            if a["name"] == name:
                return AppCredentials.from_files(a["key"], a["cert"], a["client_id"],
                                                 a["issuer_id"])
        raise KeyError(f"{domain} has no application {name}")

    def user_token(self, user, app="app1", lifetime=3600):
        """A user+app token for `user` ("alice@contoso.test") from an
        application of the user's domain, for that domain's front-end."""
        domain = user.split("@", 1)[1]
        d = self.domains[domain]
        return mint_user_token(self.app(domain, app), d["realm"], d["frontend"]["server_name"],
                               upn=user, lifetime=lifetime)

    def frontend(self, user, token=None, timeout=DEFAULT_TIMEOUT):
        """A FrontEndClient for `user` at the front-end of the user's domain,
        with a fresh token from app1 unless `token` is given."""
        domain = user.split("@", 1)[1]
        d = self.domains[domain]
        return FrontEndClient(d["frontend"]["address"], d["frontend"]["server_name"],
                              self.root_pem(domain), token or self.user_token(user),
                              timeout=timeout)

    def health(self, service_id, timeout=2.0):
        """gRPC health of a service on its mutual-TLS listener, asked as the
        domain's administrator: "SERVING", "NOT_SERVING", ... A node serves
        only once it holds trust state. grpc.RpcError when nothing answers."""
        s = self.services[service_id]
        d = self.domains[s["domain"]]
        credentials = grpc.ssl_channel_credentials(
            root_certificates=self.root_pem(s["domain"]),
            private_key=read_file(d["admin_key"]), certificate_chain=read_file(d["admin_cert"]))
        with grpc.secure_channel(s["address"], credentials,
                                 options=_channel_options(s["dns_name"])) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                              timeout=timeout)
        statuses = health_pb2.HealthCheckResponse.ServingStatus
        return statuses.Name(reply.status) if reply.status in statuses.values() else "UNKNOWN"

    def admin(self, domain, timeout=10.0):
        """An AdminClient of `domain`'s control plane, as its administrator."""
        d = self.domains[domain]
        return AdminClient(d["control"]["address"], d["control"]["server_name"],
                           self.root_pem(domain), read_file(d["admin_key"]),
                           read_file(d["admin_cert"]), timeout=timeout)


__all__ = [
    "AdminClient", "AppCredentials", "ClusterDir", "FrontEndClient", "ReceiveStream",
    "SHAREPOINT_PRINCIPAL", "audience", "certificate_sha256", "leaf_pem", "revocation_key",
    "mint_actor_token", "mint_user_token", "mint_with_tfctl", "pem_certificates",
    "read_file", "control_pb2", "node_pb2", "trust_pb2",
]
