"""Federation trust changed at run time, as alice (contoso.test) sending to
bob (fabrikam.test) sees it: the trusted server list, disabled peers,
revocation of the partner edge's certificate on an open connection (also
when the edge presents it re-encoded), and the partner's root bundle removed
and added back."""

import hashlib
import os
import shutil
import subprocess
import time

import grpc
import pytest

import trustfabric_client as tfc
from conftest import (CONTOSO, FABRIKAM, assert_discloses_no_nodes, message_id_of, rpc_error,
                      tfctl_path, wait_until)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# Polling period and bound of the revocation measurement.
POLL_INTERVAL = 0.05
POLL_BOUND = 5.0
# The revocation must stop relays over an open connection within this time
# of the control plane acknowledging it.
REVOCATION_BUDGET = 1.0


def try_send(client, to, body):
    """(SendResponse, None) or (None, grpc.RpcError)."""
    try:
        return client.send(to, body), None
    except grpc.RpcError as e:
        return None, e


def assert_refused_for_client(c, e, domain, *logged):
    """A refused relay as the client sees it (FAILED_PRECONDITION, the
    partner domain named, no node names), with the reason in the sending
    front-end's log under the message id."""
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION, e.details()
    assert f"to: messages to {domain} cannot be delivered (message " in e.details()
    assert_discloses_no_nodes(e.details())
    sender = CONTOSO if domain == FABRIKAM else FABRIKAM
    c.logged(f"{sender}-fe1", f"send failed message={message_id_of(e.details())}", *logged)


def wait_delivered(client, to, body, timeout=10):
    """Sends until a send succeeds (bounded); the SendResponse."""
    return wait_until(lambda: try_send(client, to, body)[0], timeout, interval=0.1,
                      what=f"a message to {to} accepted")


@pytest.fixture
def pair(restored_cluster):
    """(cluster, alice's client, bob's client, bob's inbox), both signed in,
    with a message relayed each way first, so both edges hold an open
    connection to the other: refusals then come from the per-call checks,
    with their reasons (a refused handshake reaches the caller only as
    UNAVAILABLE)."""
    c = restored_cluster
    alice, bob = c.new_user("alice", CONTOSO), c.new_user("bob", FABRIKAM)
    with c.signed_in(alice) as a, c.signed_in(bob) as b:
        inbox = b.receive()
        a.send(bob, "warm-up")
        assert inbox.get(timeout=10).body == "warm-up"
        b.send(alice, "warm-up reply")
        yield c, a, b, inbox


def peer_copy(peer):
    copy = tfc.trust_pb2.FederationPeer()
    copy.CopyFrom(peer)
    return copy


def test_partner_edge_not_on_trusted_server_list_is_refused(pair):
    c, a, b, inbox = pair
    admin = c.control(FABRIKAM)
    original = admin.peer(CONTOSO)
    assert list(original.allowed_server_names) == ["edge1.contoso.test"]
    narrowed = peer_copy(original)
    del narrowed.allowed_server_names[:]
    narrowed.allowed_server_names.append("edge9.contoso.test")
    applied = admin.put_peer(narrowed)
    assert applied.applied_nodes == applied.connected_nodes == 3
    try:
        _, e = try_send(a, b.user, "not on the list")
        assert e is not None, "a message from an edge off the trusted server list was accepted"
        assert_refused_for_client(
            c, e, FABRIKAM, "code=permission_denied",
            "[edge1.contoso.test] not on the trusted server list of contoso.test")
    finally:
        admin.put_peer(original)
    sent = wait_delivered(a, b.user, "back on the list")
    assert inbox.get(timeout=10).id == sent.message_id
    assert inbox.drain(quiet=0.3) == []


@pytest.mark.parametrize("side", ["receiving", "sending"])
def test_disabled_peer_is_refused(pair, side):
    """Disabled at fabrikam (its edge refuses contoso's) or at contoso (its
    edge refuses to relay to fabrikam)."""
    c, a, b, inbox = pair
    domain, partner = (FABRIKAM, CONTOSO) if side == "receiving" else (CONTOSO, FABRIKAM)
    admin = c.control(domain)
    original = admin.peer(partner)
    disabled = peer_copy(original)
    disabled.enabled = False
    admin.put_peer(disabled)
    try:
        _, e = try_send(a, b.user, "to a disabled peer")
        assert e is not None, "a message crossed a disabled federation peer"
        code = "permission_denied" if side == "receiving" else "failed_precondition"
        assert_refused_for_client(c, e, FABRIKAM, f"code={code}",
                                  f"federation peer {partner} is disabled")
    finally:
        admin.put_peer(original)
    sent = wait_delivered(a, b.user, "enabled again")
    assert inbox.get(timeout=10).id == sent.message_id
    assert inbox.drain(quiet=0.3) == []


def test_revoked_partner_edge_is_refused_on_the_open_connection(pair):
    c, a, b, inbox = pair
    admin = c.control(FABRIKAM)
    edge_pem = tfc.leaf_pem(tfc.read_file(c.service(CONTOSO, "edge1")["cert"]))
    sha = tfc.certificate_sha256(edge_pem)
    pids = c.pids()
    try:
        try:
            admin.revoke(edge_pem, reason="integration test: key compromise")
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.FAILED_PRECONDITION:
                raise
            admin.revoke(edge_pem, reason="integration test: key compromise", force=True)
        acknowledged = time.monotonic()
        first_refusal = None
        sends = 0
        while time.monotonic() - acknowledged < POLL_BOUND:
            sends += 1
            _, e = try_send(a, b.user, f"poll {sends}")
            if e is not None:
                first_refusal = time.monotonic()
                break
            time.sleep(POLL_INTERVAL)
        assert first_refusal is not None, (
            f"relays still accepted {POLL_BOUND:g} s after the revocation ({sends} sends)")
        latency = first_refusal - acknowledged
        print(f"revocation: first refused send {latency * 1000:.0f} ms after the ack "
              f"({sends} sends)")
        tbs = hashlib.sha256(tfc.pem_certificates(edge_pem)[0].tbs_certificate_bytes).hexdigest()
        assert_refused_for_client(c, e, FABRIKAM, "code=unauthenticated",
                                  f"certificate {tbs} (CN=edge1.contoso.test", "is revoked")
        assert latency <= REVOCATION_BUDGET, (
            f"first refusal {latency:.3f} s after the revocation was acknowledged")
        # Still refused while revoked, not a one-off.
        _, again = try_send(a, b.user, "still revoked")
        assert again is not None and again.code() == grpc.StatusCode.FAILED_PRECONDITION
    finally:
        admin.unrevoke(sha)
    sent = wait_delivered(a, b.user, "unrevoked")
    received = inbox.drain(quiet=0.5)
    assert sent.message_id in [m.id for m in received]
    assert c.pids() == pids, "a service restarted"


def test_partner_root_removed_and_added_back(pair):
    c, a, b, inbox = pair
    admin = c.control(CONTOSO)
    d = c.domain(CONTOSO)
    root_name = d["partner_root_name"]
    root = next(r for r in admin.roots() if r.name == root_name)
    peer = admin.peer(FABRIKAM)
    pids = c.pids()

    e = rpc_error(admin.remove_root, root_name)
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert f"root authority {root_name} is still needed by federation peers {FABRIKAM}" \
        in e.details()

    applied = admin.remove_root(root_name, force=True)
    assert applied.applied_nodes == applied.connected_nodes == 3
    try:
        inert = f"federation peer {FABRIKAM} is inert: root authority {root_name} was removed"
        _, e = try_send(a, b.user, "without the bundle")
        assert e is not None, "a message was relayed to a domain whose root was removed"
        assert_refused_for_client(c, e, FABRIKAM, inert)
        # The other way round: contoso's federation listener refuses fabrikam.
        alice_inbox = a.receive()
        _, e = try_send(b, a.user, "back without the bundle")
        assert e is not None, "contoso accepted fabrikam's edge without its root"
        assert_refused_for_client(c, e, CONTOSO, "code=unauthenticated", inert)
    finally:
        admin.add_root(root)
        if admin.peer(FABRIKAM) != peer:
            admin.put_peer(peer)
    sent = wait_delivered(a, b.user, "bundle back")
    assert sent.message_id in [m.id for m in inbox.drain(quiet=0.5)]
    reply = wait_delivered(b, a.user, "bundle back, reply")
    assert reply.message_id in [m.id for m in alice_inbox.drain(quiet=0.5)]
    assert c.pids() == pids, "a service restarted"


# --- re-encoded certificates ------------------------------------------------

# Orders of the curves `tfctl pki init` signs with.
_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB2"
                     "48B0A77AECEC196ACCC52973", 16),
}


def _der_header(data, pos):
    """(tag, content start, content end) of the DER element at `pos`."""
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, pos, pos + length


def _der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _der_integer(value):
    raw = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    return _der(0x02, (b"\0" + raw) if raw[0] & 0x80 else raw)


def reencode_ecdsa_signature(cert_der, curve_order):
    """The same certificate with its ECDSA signature (r, s) rewritten as
    (r, n - s): same signed body, same key, still valid, another DER."""
    tag, start, end = _der_header(cert_der, 0)
    assert tag == 0x30 and end == len(cert_der)
    _, _, tbs_end = _der_header(cert_der, start)
    _, _, alg_end = _der_header(cert_der, tbs_end)
    tag, bits_start, bits_end = _der_header(cert_der, alg_end)
    assert tag == 0x03 and cert_der[bits_start] == 0
    sig = cert_der[bits_start + 1:bits_end]
    _, seq_start, _ = _der_header(sig, 0)
    _, r_start, r_end = _der_header(sig, seq_start)
    _, s_start, s_end = _der_header(sig, r_end)
    r = int.from_bytes(sig[r_start:r_end], "big")
    s = int.from_bytes(sig[s_start:s_end], "big")
    new_sig = _der(0x30, _der_integer(r) + _der_integer(curve_order - s))
    body = cert_der[start:alg_end] + _der(0x03, b"\0" + new_sig)
    return _der(0x30, body)


def _fingerprint(der):
    """The DER's SHA-256 as `openssl x509 -fingerprint -sha256` prints it."""
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _tfctl_admin(c, domain, *args, timeout=30):
    d = c.domain(domain)
    command = [tfctl_path(), "--control", d["control"]["address"],
               "--server-name", d["control"]["server_name"], "--domain", domain,
               "--cert", d["admin_cert"], "--key", d["admin_key"], "--ca", d["root"], *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def _revoke_when_reported(c, domain, fingerprint, timeout=10):
    """`tfctl revoke --sha256`, as an operator runs it, retried while the
    control plane does not know the certificate yet (a node's report of the
    certificate it accepted may still be on its way)."""
    deadline = time.monotonic() + timeout
    while True:
        r = _tfctl_admin(c, domain, "revoke", "--sha256", fingerprint,
                         "--reason", "integration test: key compromise", "--wait-all")
        if r.returncode != 6 or "is not known to the control plane" not in r.stderr:
            return r
        if time.monotonic() >= deadline:
            return r
        time.sleep(0.2)


def _new_lines(path, offset, predicate):
    """Lines of the log at `path` after byte `offset` that satisfy `predicate`."""
    with open(path, "rb") as f:
        f.seek(offset)
        return [line for line in f.read().decode(errors="replace").splitlines() if predicate(line)]


def test_reencoded_partner_edge_certificate_revoked_by_its_der_hash_is_refused(pair):
    """fabrikam revokes contoso's edge certificate by the SHA-256 of its DER
    (what `openssl x509 -fingerprint -sha256` shows); contoso's edge then
    presents the same certificate with its signature re-encoded as (r, n - s),
    a new DER with a new hash: the next relay on the open connection fails,
    and so does a new connection presenting the re-encoded certificate."""
    c, a, b, inbox = pair
    edge_id = f"{CONTOSO}-edge1"
    chain_path = c.service(CONTOSO, "edge1")["cert"]
    partner_log = c.services[f"{FABRIKAM}-edge1"]["log"]
    original = tfc.read_file(chain_path)
    chain = tfc.pem_certificates(original)
    leaf, issuer = chain[0], chain[1]
    leaf_der = leaf.public_bytes(serialization.Encoding.DER)
    reencoded_der = reencode_ecdsa_signature(leaf_der,
                                             _CURVE_ORDERS[issuer.public_key().curve.name])
    reencoded = tfc.x509.load_der_x509_certificate(reencoded_der)
    # The attack certificate: another DER, the same signed body, and valid.
    assert reencoded_der != leaf_der
    assert reencoded.tbs_certificate_bytes == leaf.tbs_certificate_bytes
    issuer.public_key().verify(reencoded.signature, reencoded.tbs_certificate_bytes,
                               ec.ECDSA(reencoded.signature_hash_algorithm))
    pem = serialization.Encoding.PEM
    reencoded_chain = reencoded.public_bytes(pem) + b"".join(x.public_bytes(pem) for x in chain[1:])
    if shutil.which("openssl"):
        work = os.path.join(c.path, "reencoded-check")
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "leaf.pem"), "wb") as f:
            f.write(reencoded.public_bytes(pem))
        with open(os.path.join(work, "chain.pem"), "wb") as f:
            f.write(b"".join(x.public_bytes(pem) for x in chain[1:]))
        verified = subprocess.run(
            ["openssl", "verify", "-CAfile", c.domain(CONTOSO)["root"], "-untrusted",
             os.path.join(work, "chain.pem"), os.path.join(work, "leaf.pem")],
            capture_output=True, text=True, timeout=30)
        assert verified.returncode == 0, verified.stdout + verified.stderr

    tbs = hashlib.sha256(leaf.tbs_certificate_bytes).hexdigest()
    der_sha = hashlib.sha256(leaf_der).hexdigest()
    admin = c.control(FABRIKAM)
    try:
        # fabrikam's edge accepted contoso's edge certificate (the warm-up
        # relays) and reported it: the DER hash resolves to the signed body.
        r = _revoke_when_reported(c, FABRIKAM, _fingerprint(leaf_der))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "warning" not in r.stderr, r.stderr
        listed = {entry.key: entry for entry in admin.revocations()}
        assert f"certificate:{tbs}" in listed, list(listed)
        assert not listed[f"certificate:{tbs}"].weak
        assert listed[f"certificate:{tbs}"].revocation.sha256_hex == der_sha

        # The next relay on the open connection fails.
        e = wait_until(lambda: try_send(a, b.user, "after the revocation")[1], POLL_BOUND,
                       interval=POLL_INTERVAL, what="a refused relay")
        assert_refused_for_client(c, e, FABRIKAM, "code=unauthenticated",
                                  f"certificate {tbs} (CN=edge1.contoso.test", "is revoked")

        # contoso's edge presents the certificate re-encoded, on a new
        # connection: its identity file rewritten, the process restarted.
        with open(partner_log, "rb") as f:
            log_start = len(f.read())
        with open(chain_path, "wb") as f:
            f.write(reencoded_chain)
        c.stop(edge_id)
        c.start(edge_id)

        def refused_and_logged():
            _, error = try_send(a, b.user, "re-encoded")
            assert error is not None, "a relay from the re-encoded certificate was accepted"
            return _new_lines(partner_log, log_start,
                              lambda line: "rule=revoked" in line and f"certificate {tbs}" in line)
        lines = wait_until(refused_and_logged, 20, interval=0.2,
                           what="fabrikam's edge refusing the re-encoded certificate")
        assert "CN=edge1.contoso.test" in lines[-1]

        # Not the re-encoding itself: unrevoked, the same certificate passes.
        r = _tfctl_admin(c, FABRIKAM, "unrevoke", "--sha256", der_sha, "--wait-all")
        assert r.returncode == 0, r.stdout + r.stderr
        sent = wait_delivered(a, b.user, "re-encoded, unrevoked", timeout=30)
        assert sent.message_id in [m.id for m in inbox.drain(quiet=0.5)]
    finally:
        # The identity file is reloaded within about a second.
        with open(chain_path, "wb") as f:
            f.write(original)
        if c.pid(edge_id) is None:
            c.start(edge_id)
        if f"certificate:{tbs}" in {entry.key for entry in admin.revocations()}:
            admin.unrevoke(f"certificate:{tbs}")


def test_an_unresolvable_der_hash_is_refused_without_der_only(pair):
    c, a, b, inbox = pair
    unknown = hashlib.sha256(os.urandom(32)).hexdigest()
    revision = c.control(FABRIKAM).snapshot().revision
    r = _tfctl_admin(c, FABRIKAM, "revoke", "--sha256", unknown)
    assert r.returncode == 6, r.stdout + r.stderr
    assert f"certificate {unknown} is not known to the control plane" in r.stderr
    assert "--der-only" in r.stderr
    assert c.control(FABRIKAM).snapshot().revision == revision
    # With --der-only: stored, weak, with a warning.
    r = _tfctl_admin(c, FABRIKAM, "revoke", "--sha256", unknown, "--der-only")
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"warning: revocation {unknown} is der-only" in r.stderr
        listed = {l.key: l for l in c.control(FABRIKAM).revocations()}
        assert listed[unknown].weak
        r = _tfctl_admin(c, FABRIKAM, "status")
        assert "der-only revocations 1" in r.stdout
    finally:
        c.control(FABRIKAM).unrevoke(unknown)
