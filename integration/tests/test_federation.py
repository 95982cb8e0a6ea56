"""Federation trust changed at run time, as alice (contoso.test) sending to
bob (fabrikam.test) sees it: the trusted server list, disabled peers,
revocation of the partner edge's certificate on an open connection, and the
partner's root bundle removed and added back, all without a restart."""

import time

import grpc
import pytest

import trustfabric_client as tfc
from conftest import (CONTOSO, FABRIKAM, assert_discloses_no_nodes, message_id_of, rpc_error,
                      wait_until)

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
        assert_refused_for_client(c, e, FABRIKAM, "code=unauthenticated",
                                  f"certificate {sha} (CN=edge1.contoso.test", "is revoked")
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
