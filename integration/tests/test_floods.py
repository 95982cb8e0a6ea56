"""Connection floods against the real listeners (docs/design.md §4, "Every
listener survives floods"): one process opens idle TCP connections from one
source address, sending nothing, as fast as it can; meanwhile and afterwards
users and administrators from other addresses work as usual, the flood's
connections beyond the per-source bounds are reset at once, and the
refusal is counted and logged with the listener, the source and the bound."""

import contextlib
import resource
import socket
import subprocess
import time

import pytest

from conftest import CONTOSO, FABRIKAM, wait_until
from test_federation import wait_delivered
from test_metrics import scrape, value

FLOOD_SOURCE = "127.250.0.1"
FLOOD_CONNECTIONS = 3000  # far beyond the per-source bounds (32 handshaking, 256 open)
FLOOD_SECONDS = 30


@pytest.fixture(scope="module", autouse=True)
def _descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def flood(address):
    """Idle connections from FLOOD_SOURCE to `address`, bounded in count and
    time; yields how many the kernel completed. Closed on exit."""
    host, port = address.rsplit(":", 1)
    sockets = []
    deadline = time.monotonic() + FLOOD_SECONDS
    try:
        while len(sockets) < FLOOD_CONNECTIONS and time.monotonic() < deadline:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((FLOOD_SOURCE, 0))
            s.settimeout(2)
            try:
                s.connect((host, int(port)))
            except OSError:
                pass  # a full queue or a reset: the flood goes on
        yield len(sockets)
    finally:
        for s in sockets:
            s.close()


def probe_is_reset(address):
    """Whether a further connection from the flooding source is reset on
    accept (it is beyond the source's bounds)."""
    host, port = address.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((FLOOD_SOURCE, 0))
    s.settimeout(5)
    try:
        s.connect((host, int(port)))
        return s.recv(1) == b""
    except (ConnectionResetError, ConnectionRefusedError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def refused(service, listener):
    text = scrape(service)
    prefix = "trustfabric_control" if service["role"] == "control" else "trustfabric_node"
    return sum(value(text, f"{prefix}_listener_refused_total",
                     f'{{listener="{listener}",reason="{reason}"}}')
               for reason in ("source_connections", "source_handshaking"))


def test_client_listener_flood_does_not_stop_sign_in(restored_cluster):
    c = restored_cluster
    fe = c.services[f"{CONTOSO}-fe1"]
    address = c.domain(CONTOSO)["frontend"]["address"]
    before = refused(fe, "client")
    alice, bob = c.new_user("alice", CONTOSO), c.new_user("bob", CONTOSO)
    with flood(address) as opened:
        assert opened > 100
        assert probe_is_reset(address), "a connection beyond the source's bounds stayed open"
        with c.signed_in(alice) as a, c.signed_in(bob) as b:
            inbox = b.receive()
            sent = a.send(bob, "during the flood")
            assert inbox.get(timeout=10).id == sent.message_id
    assert refused(fe, "client") > before
    c.logged(fe["id"], "refused connection listener=client", f'peer="{FLOOD_SOURCE}"',
             "rule=source_")
    with c.signed_in(alice) as a:  # and after it
        a.send(bob, "after the flood")


def test_federation_listener_flood_does_not_stop_relays(restored_cluster):
    c = restored_cluster
    edge = c.services[f"{FABRIKAM}-edge1"]
    address = edge["listen"]["federation"]
    before = refused(edge, "federation")
    alice, bob = c.new_user("alice", CONTOSO), c.new_user("bob", FABRIKAM)
    with c.signed_in(bob) as b:
        inbox = b.receive()
        with flood(address) as opened:
            assert opened > 100
            with c.signed_in(alice) as a:
                sent = a.send(bob, "across the flood")
                assert inbox.get(timeout=15).id == sent.message_id
        assert refused(edge, "federation") > before
        with c.signed_in(alice) as a:
            sent = wait_delivered(a, bob, "after the flood")
            assert inbox.get(timeout=10).id == sent.message_id


def test_control_plane_listener_flood_does_not_stop_admin_or_nodes(restored_cluster):
    c = restored_cluster
    control = c.services[f"{CONTOSO}-control1"]
    before = refused(control, "control")
    with flood(control["address"]) as opened:
        assert opened > 100
        assert c.control(CONTOSO).status() is not None
        wait_until(lambda: c.converged(CONTOSO), 30, what="nodes connected to the control plane")
    assert refused(control, "control") > before


def test_an_idle_connection_is_closed_after_the_handshake_timeout(restored_cluster):
    c = restored_cluster
    host, port = c.domain(CONTOSO)["frontend"]["address"].rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.250.2.1", 0))
    s.settimeout(20)  # the listener's timeout is 10 s
    try:
        s.connect((host, int(port)))
        try:
            assert s.recv(1) == b""
        except ConnectionResetError:
            pass
    finally:
        s.close()


def _soft_nofile(pid, soft=None):
    """The soft RLIMIT_NOFILE of process `pid`; sets it first when `soft`."""
    if soft is not None:
        subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={soft}:"], check=True)
    out = subprocess.run(["prlimit", "--pid", str(pid), "--nofile", "--raw", "--noheadings",
                          "--output=SOFT"], check=True, capture_output=True, text=True)
    return int(out.stdout.split()[0])


def test_a_flood_up_to_the_descriptor_limit_leaves_the_node_serving(restored_cluster):
    """Many source addresses fill the front-end's descriptors up to its
    budget: connections beyond it are reset (never EMFILE, so the listener
    never stops accepting), the node keeps its control plane stream (the
    headroom), and sign-in works again within seconds after the flood,
    without a restart."""
    c = restored_cluster
    if c.compose:
        pytest.skip("prlimit on a containerised process needs the host's pid")
    fe = c.services[f"{CONTOSO}-fe1"]
    pid = c.pid(fe["id"])
    host, port = c.domain(CONTOSO)["frontend"]["address"].rsplit(":", 1)
    text = scrape(fe)
    before = value(text, "trustfabric_node_listener_refused_total",
                   '{listener="client",reason="descriptors"}')
    errors = value(text, "trustfabric_node_listener_accept_errors_total", '{listener="client"}')
    original = _soft_nofile(pid)
    sockets = []
    try:
        _soft_nofile(pid, 512)  # headroom 64: about 448 descriptors for connections
        wait_until(lambda: value(scrape(fe), "trustfabric_node_descriptors",
                                 '{kind="limit"}') == 512, 10, what="the node to see its limit")
        for i in range(1200):  # non-blocking: the kernel completes them in parallel
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(s)
            s.bind((f"127.250.{10 + i // 30}.{1 + i % 30}", 0))
            s.setblocking(False)
            s.connect_ex((host, int(port)))

        def refused_for_descriptors():
            return value(scrape(fe), "trustfabric_node_listener_refused_total",
                         '{listener="client",reason="descriptors"}') > before
        wait_until(refused_for_descriptors, FLOOD_SECONDS,
                   what="connections beyond the descriptor budget refused")
        text = scrape(fe)
        assert value(text, "trustfabric_node_listener_accept_errors_total",
                     '{listener="client"}') == errors
        assert value(text, "trustfabric_node_control_plane_connected") == 1
    finally:
        for s in sockets:
            s.close()
        _soft_nofile(pid, original)
    alice = c.new_user("alice", CONTOSO)

    def signs_in():
        try:
            with c.signed_in(alice):
                return True
        except Exception:  # refused while the flood's connections drain
            return False
    wait_until(signs_in, 20, interval=0.5, what="sign-in after the flood")
    assert c.pid(fe["id"]) == pid, "the front-end restarted"
    c.logged(fe["id"], "refused connection listener=client", "rule=descriptors")
