"""Messaging across the federation as a user sees it: delivery from
contoso.test to fabrikam.test, and tokens the front-end refuses."""

import uuid

import grpc
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

import trustfabric_client as tfc
from conftest import CONTOSO, FABRIKAM, assert_discloses_no_nodes, rpc_error


@pytest.fixture
def alice_and_bob(restored_cluster):
    """The cluster, alice of contoso.test and bob of fabrikam.test."""
    c = restored_cluster
    return c, c.new_user("alice", CONTOSO), c.new_user("bob", FABRIKAM)


def test_alice_to_bob_is_delivered(alice_and_bob):
    c, alice, bob = alice_and_bob
    with c.signed_in(bob) as b, c.signed_in(alice) as a:
        inbox = b.receive()
        first = a.send(bob, "hello bob")
        assert first.message_id
        # Bob's stream may not be attached yet: then the message waits for it.
        assert first.disposition in ("delivered", "queued")
        m = inbox.get(timeout=10)
        assert (m.id, getattr(m, "from"), m.to, m.body) == (
            first.message_id, alice, bob, "hello bob")
        # Now that the stream is live, the next one is handed over at once.
        second = a.send(bob, "second message")
        assert second.disposition == "delivered"
        m = inbox.get(timeout=10)
        assert (m.id, getattr(m, "from"), m.to, m.body) == (
            second.message_id, alice, bob, "second message")
        assert inbox.drain(quiet=0.5) == []


def test_reply_from_bob_reaches_alice(alice_and_bob):
    c, alice, bob = alice_and_bob
    with c.signed_in(alice) as a, c.signed_in(bob) as b:
        inbox = a.receive()
        sent = b.send(alice, "hello alice")
        m = inbox.get(timeout=10)
        assert (m.id, getattr(m, "from"), m.to, m.body) == (
            sent.message_id, bob, alice, "hello alice")


def test_unknown_recipient_is_not_found(restored_cluster):
    c = restored_cluster
    alice = c.new_user("alice", CONTOSO)
    nobody = c.new_user("nobody", FABRIKAM)
    with c.signed_in(alice) as a:
        e = rpc_error(a.send, nobody, "anyone there?")
    assert e.code() == grpc.StatusCode.NOT_FOUND
    assert e.details() == f"to: no such recipient {nobody}"
    assert_discloses_no_nodes(e.details())
    # The detail is fabrikam's business: its edge logged it.
    c.logged(f"{FABRIKAM}-edge1", "inbound relay failed", f"to={nobody}",
             f"user {nobody} is not registered")


def _foreign_signing_key(common_name):
    """A fresh RSA key and self-signed certificate no control plane knows."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return tfc.private_key_pem(key), tfc.self_signed_certificate(key, common_name, valid_days=1)


@pytest.mark.parametrize("issuer", ["unregistered issuer id", "registered issuer id"])
def test_token_of_unregistered_issuer_is_unauthenticated(restored_cluster, issuer):
    """A token signed with a key no control plane registered: either under a
    new issuer id, or claiming a registered application's id."""
    c = restored_cluster
    d = c.domain(CONTOSO)
    key_pem, cert_pem = _foreign_signing_key("rogue app")
    if issuer == "unregistered issuer id":
        client_id = str(uuid.uuid4())
        expected = f"token: issuer {client_id}@{d['realm']} is not registered"
    else:
        client_id = c.app(CONTOSO, "app1").client_id
        expected = (f"token: header: x5t does not name a certificate of issuer "
                    f"{client_id}@{d['realm']}")
    rogue = tfc.AppCredentials(key_pem, cert_pem, client_id)
    alice = c.new_user("alice", CONTOSO)
    token = tfc.mint_user_token(rogue, d["realm"], d["frontend"]["server_name"], upn=alice)
    with c.frontend(alice, token=token) as a:
        for call in (a.sign_in, lambda: a.send(c.new_user("bob", FABRIKAM), "hi")):
            e = rpc_error(call)
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED
            assert expected in e.details()
        inbox = a.receive(timeout=10)
        with pytest.raises(grpc.RpcError) as refused:
            inbox.get(timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert expected in refused.value.details()


def test_missing_token_is_unauthenticated(restored_cluster):
    c = restored_cluster
    d = c.domain(CONTOSO)
    with tfc.FrontEndClient(d["frontend"]["address"], d["frontend"]["server_name"],
                            c.root_pem(CONTOSO), token=None) as anonymous:
        e = rpc_error(anonymous.send, c.new_user("bob", FABRIKAM), "hi")
    assert e.code() == grpc.StatusCode.UNAUTHENTICATED
    assert e.details() == "token: missing authorization: bearer token"


def test_unsigned_outer_token_is_refused_by_default(restored_cluster):
    """The add-in model's unsigned outer token, and the forgery it allows
    (the user rewritten around a valid actor token), are refused by a
    front-end with the default outer token policy; the signed variant of
    the same application works."""
    c = restored_cluster
    d = c.domain(CONTOSO)
    alice = c.new_user("alice", CONTOSO)
    app = c.app(CONTOSO, "app1")
    unsigned = tfc.mint_user_token(app, d["realm"], d["frontend"]["server_name"], upn=alice,
                                   sign_outer=False)
    claims = jwt.decode(unsigned, options={"verify_signature": False})
    claims["upn"] = c.new_user("ceo", CONTOSO)
    forged = jwt.encode(claims, None, algorithm="none", headers={"typ": "JWT"})
    for token in (unsigned, forged):
        with c.frontend(alice, token=token) as a:
            e = rpc_error(a.sign_in)
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED
        assert e.details() == ("token: unsigned outer token is not accepted "
                               "(outer token policy: signed)")
    with c.signed_in(alice) as a:
        assert a.user == alice
