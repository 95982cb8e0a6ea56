"""Processes that go away: a control plane that is down (the nodes go on
from their last-known-good trust state) and a front-end that is killed and
started again (registrations persist at the registrar, trust state comes
back from disk)."""

import grpc

from conftest import CONTOSO, FABRIKAM, assert_discloses_no_nodes, rpc_error, wait_until
from test_federation import try_send, wait_delivered


def test_messaging_goes_on_while_the_control_plane_is_down(restored_cluster):
    c = restored_cluster
    control = f"{CONTOSO}-control1"
    node_pids = {sid: pid for sid, pid in c.pids().items() if sid != control}
    alice, bob = c.new_user("alice", CONTOSO), c.new_user("bob", FABRIKAM)
    with c.signed_in(bob) as b:
        bob_inbox = b.receive()
        c.stop(control)
        try:
            # The administrator sees the control plane gone ...
            e = rpc_error(c.control(CONTOSO).snapshot)
            assert e.code() == grpc.StatusCode.UNAVAILABLE
            # ... users of its domain do not: sign-in (token issuers) and
            # federation (partner root, peer) come from the nodes' snapshot.
            with c.signed_in(alice) as a:
                alice_inbox = a.receive()
                sent = a.send(bob, "control plane down")
                m = bob_inbox.get(timeout=10)
                assert (m.id, getattr(m, "from"), m.body) == (
                    sent.message_id, alice, "control plane down")
                reply = b.send(alice, "still here")
                assert alice_inbox.get(timeout=10).id == reply.message_id
        finally:
            c.start(control)
    c.reset_admins()
    # The nodes reconnect by themselves and take changes again.
    c.wait_converged(timeout=60)
    admin = c.control(CONTOSO)
    applied = admin.put_peer(admin.peer(FABRIKAM))
    assert applied.applied_nodes == applied.connected_nodes == 3
    assert {sid: c.pid(sid) for sid in node_pids} == node_pids, "a node restarted"
    with c.signed_in(alice) as a, c.signed_in(bob) as b:
        inbox = b.receive()
        sent = a.send(bob, "control plane back")
        assert inbox.get(timeout=10).id == sent.message_id


def test_restarted_frontend_picks_its_state_back_up(restored_cluster):
    """fabrikam's fe1 is killed together with fabrikam's control plane and
    started again while the control plane is still down: it serves from
    its last-known-good trust state, the registrar still knows bob, and bob
    receives after signing in again."""
    c = restored_cluster
    fe, control = f"{FABRIKAM}-fe1", f"{FABRIKAM}-control1"
    alice, bob = c.new_user("alice", CONTOSO), c.new_user("bob", FABRIKAM)
    with c.signed_in(bob):
        pass
    with c.signed_in(alice) as a:
        c.stop(fe)
        c.stop(control)
        try:
            _, e = try_send(a, bob, "front-end down")
            assert e is not None, "a message to a user of a stopped front-end was accepted"
            assert e.code() == grpc.StatusCode.UNAVAILABLE
            assert e.details().startswith(f"to: {FABRIKAM} cannot be reached now; retry later")
            assert_discloses_no_nodes(e.details())
            # Which of fabrikam's front-ends is down is fabrikam's business.
            c.logged(f"{FABRIKAM}-edge1", "inbound relay failed", f"to={bob}",
                     "fe1.fabrikam.test")

            c.start(fe)
            # Bob has not signed in again: the registrar still sends his
            # messages to fe1, which keeps them until he receives.
            sent = wait_delivered(a, bob, "front-end back", timeout=20)
            assert sent.disposition == "queued"
            with c.signed_in(bob) as b:
                inbox = b.receive()
                m = inbox.get(timeout=10)
                assert (m.id, getattr(m, "from"), m.body) == (
                    sent.message_id, alice, "front-end back")
                live = a.send(bob, "while receiving")
                assert live.disposition == "delivered"
                assert inbox.get(timeout=10).id == live.message_id
        finally:
            if c.pid(control) is None:
                c.start(control)
    c.reset_admins()
    c.wait_converged(timeout=60)
    wait_until(lambda: c.serving(fe), 30, what=f"{fe} serving")
