"""Prometheus metrics as an operator scrapes them: every service of the
cluster exports its trust state on <its loopback address>:9100/metrics."""

import re
import urllib.request

import pytest

from conftest import CONTOSO, FABRIKAM

METRICS_PORT = 9100


def scrape(service):
    host = service["address"].rsplit(":", 1)[0]
    with urllib.request.urlopen(f"http://{host}:{METRICS_PORT}/metrics", timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def value(text, name, labels=""):
    m = re.search(rf"^{re.escape(name + labels)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert m, f"{name}{labels} not exported"
    return float(m.group(1))


@pytest.mark.parametrize("domain", [CONTOSO, FABRIKAM])
def test_nodes_export_their_trust_state(restored_cluster, domain):
    c = restored_cluster
    control = scrape(c.services[f"{domain}-control1"])
    revision = value(control, "trustfabric_control_revision")
    assert value(control, "trustfabric_control_nodes_connected") == 3
    for name, role in (("registrar1", "registrar"), ("fe1", "frontend"), ("edge1", "edge")):
        text = scrape(c.services[f"{domain}-{name}"])
        info = (f'{{role="{role}",trust_domain="{domain}",'
                f'dns_name="{name}.{domain}"}}')
        assert value(text, "trustfabric_node_info", info) == 1
        # Nodes may be one revision behind a change made an instant ago.
        assert revision - 1 <= value(text, "trustfabric_node_trust_revision") <= revision
        assert value(text, "trustfabric_node_control_plane_connected") == 1
        assert value(text, "trustfabric_node_serving") == 1
        assert value(text, "trustfabric_node_trust_updates_total",
                     '{result="nacked"}') == 0
