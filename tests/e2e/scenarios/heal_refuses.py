"""Scenario heal_refuses (molecule/heal_refuses): zookeeper_replicas 3 -> 1 on the running ensemble is refused
before any write; with ZooKeeper below quorum the heal (broker_membership, run ad hoc) deletes nothing and says
why; site.yml restores the ensemble.
"""
import json
import os
import subprocess

from lib import CACHE, ROOT, drop_registration, wait_for
from scenarios import check_membership, check_quorum, load, run_site, save, site_env, snapshot


def side_effect(cluster, state_file):
    """A resize of the running ensemble is refused before any write; then, with ZooKeeper below quorum, the
    module must delete nothing and say why."""
    state = {"before": snapshot(cluster)}
    proc = run_site(cluster, "-e", "zookeeper_replicas=1", check=False)
    state["resize_rc"], state["resize_output"] = proc.returncode, proc.stdout[-6000:] + proc.stderr[-4000:]
    state["after_resize"] = snapshot(cluster)
    state["replicas_after_resize"] = cluster.get("statefulset", name="zookeeper")["spec"]["replicas"]
    drop_registration(cluster, 3)
    # Two of three servers gone (the StatefulSet scaled to 1 by hand, claims kept): no quorum.
    cluster.kubectl("scale", "statefulset/zookeeper", "--replicas=1")
    wait_for(lambda: len(cluster.pods("app.kubernetes.io/component=zookeeper")) == 1, 120, "one ZooKeeper pod")
    proc = run_module(cluster, "broker_membership", {
        "namespace": cluster.namespace, "expected_broker_ids": [0, 1, 2, 3], "heal": True, "zookeeper_servers": 3,
        "zookeeper_pod_selector": "app.kubernetes.io/component=zookeeper,app.kubernetes.io/instance=kafka"})
    state["module_rc"] = proc.returncode
    state["module_output"] = proc.stdout[-8000:]
    state["after"] = snapshot(cluster)
    # Put the ensemble back the way a user would: site.yml (the ensemble is still configured for 3).
    state["site_rc"] = run_site(cluster).returncode
    state["after_site"] = snapshot(cluster)
    save(state, state_file)


def run_module(cluster, module, args):
    """One module of the collection, run ad hoc as a user would from the command line."""
    argv = [os.path.join(CACHE, "venv", "bin", "ansible"), "localhost", "-m", "kafka_eks.cluster." + module,
            "-a", json.dumps(dict(args, kubeconfig=cluster.kubeconfig)),
            "-e", "ansible_python_interpreter=" + os.path.join(CACHE, "venv", "bin", "python")]
    proc = subprocess.run(argv, cwd=ROOT, env=site_env(), capture_output=True, text=True, timeout=900, check=False)
    print(proc.stdout[-4000:])
    return proc


def verify(cluster, state_file):
    state = load(state_file)
    # zookeeper_replicas 3 -> 1 on the running ensemble: refused by the preflight, nothing written.
    assert state["resize_rc"] != 0, "site.yml accepted a resize of the running ensemble"
    assert "zookeeper_replicas" in state["resize_output"] and "Nothing was written" in state["resize_output"], (
        state["resize_output"][-3000:])
    assert state["after_resize"] == state["before"] and state["replicas_after_resize"] == 3
    assert state["module_rc"] != 0, "the module did not fail without a quorum"
    assert "quorum" in state["module_output"].lower(), state["module_output"]
    assert state["after"]["broker_pods"] == state["before"]["broker_pods"], "a pod was deleted without a quorum"
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert state["after"][kind] == state["before"][kind]
    assert state["site_rc"] == 0
    check_quorum(cluster)
    check_membership(cluster, 4)
    print("heal refused without a quorum and deleted nothing; site.yml restored quorum and membership")
