"""Scenario anti_affinity (molecule/anti_affinity), on a bed of 2 nodes: zookeeper_anti_affinity=required fails
before anything exists; preferred rolls out and warns.
"""
import json

from scenarios import check_quorum, load, run_site, save


def side_effect(cluster, state_file):
    state = {}
    required = run_site(cluster, "-e", "zookeeper_anti_affinity=required", check=False)
    state["required_rc"] = required.returncode
    # Ansible prints a failed task's message and warnings on stderr.
    state["required_output"] = required.stdout[-6000:] + required.stderr[-6000:]
    namespaces = json.loads(cluster.kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    state["namespace_exists_after_required"] = any(n["metadata"]["name"] == cluster.namespace for n in namespaces)
    preferred = run_site(cluster, check=False)
    state["preferred_rc"] = preferred.returncode
    state["preferred_output"] = preferred.stdout[-30000:] + preferred.stderr[-10000:]
    state["zookeeper_nodes"] = {p["metadata"]["name"]: p["spec"].get("nodeName")
                                for p in cluster.pods("app.kubernetes.io/component=zookeeper")}
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    assert state["required_rc"] != 0
    assert "zookeeper_anti_affinity" in state["required_output"] and "Pending" in state["required_output"]
    assert not state["namespace_exists_after_required"], "objects were created although the preflight failed"
    assert state["preferred_rc"] == 0, state["preferred_output"][-3000:]
    assert "share a node" in state["preferred_output"], "no warning that ZooKeeper pods share a node"
    nodes = state["zookeeper_nodes"]
    assert len(nodes) == 3 and len(set(nodes.values())) == 2, nodes
    check_quorum(cluster)
    print("anti-affinity: required refused before creating anything; preferred rolled out on 2 nodes and warned")
