"""Scenario multi_cluster (molecule/multi_cluster): two test beds rolled out one at a time by
playbooks/multi_cluster.yml, each with its own variables; a failing first cluster leaves the second untouched.
side_effect runs once (for the first cluster, the second given), verify once per cluster.
"""
import json
import os
import subprocess

from lib import ROOT, Cluster
from scenarios import (ANSIBLE_PLAYBOOK, TESTBED_VARS, check_bootstrap, check_membership, check_quorum, load, save,
                       site_env)


def side_effect(cluster, state_file, second):
    """First cluster fails its preflight (an even ensemble): the second must not be touched."""
    inventory = os.path.join(os.path.dirname(state_file), "multi_cluster_failing_inventory.yml")
    with open(inventory, "w") as handle:
        json.dump({"kafka_clusters": {"hosts": {
            cluster.name: {"kafka_k8s_kubeconfig": cluster.kubeconfig, "zookeeper_replicas": 2},
            second.name: {"kafka_k8s_kubeconfig": second.kubeconfig, "kafka_namespace": "kafka-untouched"},
        }, "vars": {"ansible_connection": "local"}}}, handle)
    argv = [ANSIBLE_PLAYBOOK, "-i", inventory, os.path.join(ROOT, "playbooks", "multi_cluster.yml"),
            "-e", "@" + TESTBED_VARS]
    proc = subprocess.run(argv, cwd=ROOT, env=site_env(), capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-4000:])
    namespaces = json.loads(Cluster(second.name, "default").kubectl("get", "namespaces", "-o", "json").stdout)
    save({"rc": proc.returncode, "output": proc.stdout[-8000:] + proc.stderr[-8000:],
          "second_namespaces": [n["metadata"]["name"] for n in namespaces["items"]]}, state_file)


def verify(cluster, state_file):
    brokers = {"e2e": 4, "e2e-b": 3}[cluster.name]
    check_quorum(cluster)
    check_membership(cluster, brokers)
    check_bootstrap(cluster, brokers)
    if cluster.name == "e2e":
        state = load(state_file)
        assert state["rc"] != 0 and "zookeeper_replicas" in state["output"], state["output"][-2000:]
        assert "kafka-untouched" not in state["second_namespaces"], "the second cluster was touched"
    print("multi-cluster %s: %d brokers; a failing first cluster left the second untouched" % (cluster.name, brokers))
