"""Fixtures of the integration suite: one two-domain cluster per session.

Modes:
* direct (default): `tfctl cluster up --dir <tmp> --subnet <random 2..250>`
  starts the eight real processes (tfcontrol x2, tfnode x6) and bootstraps
  the federation; `tfctl cluster down` stops them at the end.
* external: TF_CLUSTER_DIR names the directory of a cluster that already
  runs (docker-compose, or a `tfctl cluster up` of your own). Under
  docker-compose (TF_COMPOSE=1) a stopped service is restarted by its
  container (integration/run_service.sh); otherwise the suite restarts it
  with the command line `tfctl cluster up` uses.

Environment: TF_BUILD_DIR (build tree with tfctl, tfnode, tfcontrol and
python/; default <checkout>/build), TF_CLUSTER_DIR, TF_COMPOSE,
TF_KEEP_CLUSTER=1 (keep the direct-mode directory and its logs),
TF_TEST_TIMEOUT (seconds per test, default 180).

Every test runs against the trust state the cluster had after bootstrap with
every service running: what a test changes, it restores itself, and the
`restored_cluster` fixture checks and repairs it afterwards.
"""

import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("TF_BUILD_DIR") or os.path.join(REPO, "build"))
for path in (os.path.join(BUILD_DIR, "python"), os.path.join(REPO, "client", "python")):
    if path not in sys.path:
        sys.path.insert(0, path)

import grpc  # noqa: E402
import trustfabric_client as tfc  # noqa: E402

CONTOSO = "contoso.test"
FABRIKAM = "fabrikam.test"
NODES = ("registrar1", "fe1", "edge1")


def tfctl_path():
    return os.path.join(BUILD_DIR, "client", "tfctl")


def service_binary(name):
    """tfcontrol or tfnode of the build tree, where `tfctl cluster up` finds it."""
    for sub in ("server/control", "server/node", "server", ""):
        path = os.path.join(BUILD_DIR, sub, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(f"{name} not found under {BUILD_DIR}/server")


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls `predicate` until it returns a true value (returned), at most
    `timeout` seconds; TimeoutError naming `what` and the last value or
    exception otherwise."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = value
        except (grpc.RpcError, OSError, ValueError) as e:
            last = e
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout:g} s (last: {last!r})")
        time.sleep(interval)


# Host names and relay paths a client must never see in an error (the
# detail stays in the nodes' logs).
NODE_NAMES = ("edge1.", "fe1.", "registrar1.", "control1.", " via ", "relay to ", "127.")


def assert_discloses_no_nodes(details):
    for name in NODE_NAMES:
        assert name not in details, f"{name!r} disclosed to the client: {details}"


def message_id_of(details):
    """The message id a refused Send names ("... (message <id>)")."""
    import re
    m = re.search(r"\(message ([0-9a-f]+)\)", details)
    assert m, f"no message id in {details!r}"
    return m.group(1)


def rpc_error(call, *args, **kwargs):
    """The grpc.RpcError `call` raises; AssertionError if it succeeds."""
    try:
        result = call(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    raise AssertionError(f"expected the call to be refused, it returned {result!r}")


class Cluster(tfc.ClusterDir):
    """A running cluster: the cluster dir plus process control and trust
    state bookkeeping for tests."""

    def __init__(self, path, compose):
        super().__init__(path)
        self.compose = compose
        self._children = []
        self._admins = {}

    # --- clients -----------------------------------------------------------

    def control(self, domain):
        """The (cached) AdminClient of `domain`'s control plane."""
        if domain not in self._admins:
            self._admins[domain] = self.admin(domain)
        return self._admins[domain]

    def reset_admins(self):
        for admin in self._admins.values():
            admin.close()
        self._admins.clear()

    @staticmethod
    def new_user(name, domain):
        """A user nobody else in the session uses: "alice-1a2b3c4d@contoso.test"."""
        return f"{name}-{secrets.token_hex(4)}@{domain}"

    def signed_in(self, user, **kwargs):
        """A FrontEndClient for `user`, signed in."""
        client = self.frontend(user, **kwargs)
        try:
            client.sign_in()
        except BaseException:
            client.close()
            raise
        return client

    # --- processes ---------------------------------------------------------

    def pid(self, service_id):
        """The live pid of a service, from its pid file (None when down)."""
        s = self.services[service_id]
        try:
            with open(s["pid_file"]) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, ValueError):
            return None
        if state == "Z" or s["config"].encode() not in cmdline:
            return None
        return pid

    def pids(self):
        return {sid: self.pid(sid) for sid in self.services}

    def stop(self, service_id, timeout=10):
        """Kills a service (SIGKILL: no clean shutdown) and waits until it is
        gone. Under docker-compose its container is held back from starting
        it again until start()."""
        pid = self.pid(service_id)
        assert pid is not None, f"{service_id} is not running"
        if self.compose:
            open(self._hold_file(service_id), "w").close()
        os.kill(pid, signal.SIGKILL)
        self._reap()
        wait_until(lambda: self.pid(service_id) is None, timeout, what=f"{service_id} stopped")

    def start(self, service_id, timeout=30):
        """Starts a stopped service with its cluster command line and waits
        until it answers SERVING."""
        s = self.services[service_id]
        if self.compose:
            if os.path.exists(self._hold_file(service_id)):
                os.unlink(self._hold_file(service_id))
        else:
            with open(s["log"], "ab") as log:
                stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                log.write(f"=== integration suite restart {stamp}\n".encode())
                log.flush()
                child = subprocess.Popen([service_binary(s["binary"]), "--config", s["config"]],
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
            self._children.append(child)
            tmp = s["pid_file"] + ".tmp"
            with open(tmp, "w") as f:
                f.write(f"{child.pid}\n")
            os.replace(tmp, s["pid_file"])
        wait_until(lambda: self.pid(service_id), timeout, what=f"{service_id} started")
        self.wait_healthy([service_id], timeout)

    def _hold_file(self, service_id):
        return os.path.join(self.layout["pids_dir"], f"{service_id}.hold")

    def _reap(self):
        for child in list(self._children):
            if child.poll() is not None:
                self._children.remove(child)

    def reap_all(self, timeout=15):
        for child in self._children:
            try:
                child.wait(timeout)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(5)
        self._children.clear()

    # --- health and convergence --------------------------------------------

    def serving(self, service_id):
        try:
            return self.health(service_id) == "SERVING"
        except grpc.RpcError:
            return False

    def wait_healthy(self, service_ids=None, timeout=60):
        for sid in service_ids or list(self.services):
            wait_until(lambda: self.serving(sid), timeout, what=f"{sid} serving")

    def converged(self, domain):
        """Every node of `domain` is connected to its control plane and has
        applied the control plane's current revision."""
        status = self.control(domain).status()
        applied = {n.dns_name for n in status.nodes
                   if n.connected and n.applied_revision == status.revision}
        return all(f"{n}.{domain}" in applied for n in NODES)

    def wait_converged(self, timeout=60):
        for domain in self.domains:
            wait_until(lambda: self.converged(domain), timeout, interval=0.2,
                       what=f"{domain} nodes at the current revision")

    # --- trust state -------------------------------------------------------

    def trust_state(self):
        """{domain: {kind: {key: object}}} of both control planes."""
        state = {}
        for domain in self.domains:
            snap = self.control(domain).snapshot()
            state[domain] = {
                "roots": {r.name: r for r in snap.roots},
                "issuers": {i.name: i for i in snap.issuers},
                "peers": {p.trust_domain: p for p in snap.peers},
                "revocations": {tfc.revocation_key(r): r for r in snap.revocations},
            }
        return state

    def restore(self, baseline):
        """Brings both domains' trust state back to `baseline` (roots, then
        issuers, peers and revocations), waiting for the nodes each time.
        Returns what it had to change."""
        changed = []
        current = self.trust_state()
        for domain, want in baseline.items():
            have = current[domain]
            admin = self.control(domain)

            def put(kind, put_one, remove_first=None):
                """Puts each object of `kind` that `want` has and `have` lacks
                or holds otherwise (removing the old one first if asked)."""
                for name, obj in want[kind].items():
                    if have[kind].get(name) != obj:
                        if remove_first is not None and name in have[kind]:
                            remove_first(name)
                        put_one(obj)
                        changed.append(f"{domain}: {kind[:-1]} {name} restored")

            def remove(kind, remove_one):
                """Removes each object of `kind` that `have` has and `want` lacks."""
                for name in set(have[kind]) - set(want[kind]):
                    remove_one(name)
                    changed.append(f"{domain}: {kind[:-1]} {name} removed")

            def remove_root(name):
                admin.remove_root(name, force=True)

            def remove_issuer(name):
                admin.stub.RemoveTokenIssuer(
                    tfc.control_pb2.RemoveTokenIssuerRequest(name=name), timeout=10)

            def remove_peer(name):
                admin.stub.RemoveFederationPeer(
                    tfc.control_pb2.RemoveFederationPeerRequest(trust_domain=name), timeout=10)

            put("roots", admin.add_root, remove_first=remove_root)
            put("issuers", admin.add_issuer, remove_first=remove_issuer)
            remove("issuers", remove_issuer)
            put("peers", admin.put_peer)
            remove("peers", remove_peer)
            remove("revocations", admin.unrevoke)
            remove("roots", remove_root)
        return changed

    def logged(self, service_id, *needles, timeout=5):
        """The first line of `service_id`'s log that holds every needle,
        waiting (bounded) for it to be written; TimeoutError otherwise."""
        def find():
            with open(self.services[service_id]["log"], errors="replace") as f:
                for line in f:
                    if all(n in line for n in needles):
                        return line
            return None
        return wait_until(find, timeout, what=f"{needles!r} in the log of {service_id}")

    def log_tail(self, service_id, lines=12):
        try:
            with open(self.services[service_id]["log"], errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return f"({e})\n"


def _run(args, timeout):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def _start_direct():
    """A fresh cluster on a random subnet (a few subnets are tried, in case
    another cluster on this machine holds the first one)."""
    errors = []
    for _ in range(3):
        subnet = random.randint(2, 250)
        path = tempfile.mkdtemp(prefix="tf-it-")
        r = _run([tfctl_path(), "cluster", "up", "--dir", path, "--subnet", str(subnet),
                  "--timeout", "60s"], timeout=300)
        if r.returncode == 0:
            return path
        errors.append(f"subnet {subnet}: exit {r.returncode}\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
        _run([tfctl_path(), "cluster", "down", "--dir", path, "--grace", "3s"], timeout=60)
        shutil.rmtree(path, ignore_errors=True)
    raise RuntimeError("tfctl cluster up failed:\n" + "\n".join(errors))


_session_cluster = None


@pytest.fixture(scope="session")
def cluster():
    """The session's running cluster (Cluster), every service serving and
    every node at its control plane's current revision."""
    global _session_cluster
    external = os.environ.get("TF_CLUSTER_DIR")
    compose = os.environ.get("TF_COMPOSE") == "1"
    path = external or _start_direct()
    c = Cluster(path, compose=compose)
    _session_cluster = c
    try:
        c.wait_healthy(timeout=120)
        c.wait_converged(timeout=120)
        c.baseline = c.trust_state()
        yield c
    finally:
        _session_cluster = None
        c.reset_admins()
        if not external:
            r = _run([tfctl_path(), "cluster", "down", "--dir", path, "--grace", "5s"], timeout=120)
            c.reap_all()
            if r.returncode != 0:
                print(f"tfctl cluster down: exit {r.returncode}: {r.stderr}", file=sys.stderr)
            left = {sid: pid for sid, pid in c.pids().items() if pid}
            assert not left, f"services still running after cluster down: {left}"
            if os.environ.get("TF_KEEP_CLUSTER") == "1":
                print(f"cluster dir kept: {path}", file=sys.stderr)
            else:
                shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def restored_cluster(cluster):
    """The cluster, checked before and repaired after the test: every
    service running and serving, the bootstrap trust state, nodes
    converged."""
    yield cluster
    for sid, pid in cluster.pids().items():
        if pid is None:
            cluster.start(sid)
    cluster.restore(cluster.baseline)
    cluster.wait_healthy(timeout=60)
    cluster.wait_converged(timeout=60)


class TestTimeout(Exception):
    pass


@pytest.fixture(autouse=True)
def _time_limit():
    """Fails a test that runs longer than TF_TEST_TIMEOUT seconds; every
    wait inside a test is bounded already, this bounds their sum."""
    limit = int(os.environ.get("TF_TEST_TIMEOUT", "180"))

    def expired(signum, frame):
        raise TestTimeout(f"test exceeded {limit} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(limit)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the last lines of every service's log."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _session_cluster is not None:
        for sid in _session_cluster.services:
            report.sections.append((f"log tail {sid}", _session_cluster.log_tail(sid)))
