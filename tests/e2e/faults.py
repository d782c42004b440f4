#!/usr/bin/env python3
"""Side effects of the molecule scenarios: real faults on a running test bed, and a record of the state
before them so that verify.py can prove what changed and what did not.

    faults.py ACTION --testbed NAME [--state FILE]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import BROKER_SELECTOR, CACHE, ROOT, Cluster, wait_for  # noqa: E402  pylint: disable=wrong-import-position

ANSIBLE_PLAYBOOK = os.path.join(CACHE, "venv", "bin", "ansible-playbook")
TESTBED_VARS = os.path.join(ROOT, "tests", "e2e", "testbed-vars.yml")


def snapshot(cluster):
    """Uids of everything a heal must leave alone, and of every broker pod."""
    return {
        "deployments": cluster.uids("deployments", BROKER_SELECTOR),
        "pvcs": cluster.uids("pvc", None),
        "broker_pods": {p["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: p["metadata"]["uid"]
                        for p in cluster.pods(BROKER_SELECTOR)},
        "statefulsets": cluster.uids("statefulsets", None),
    }


def run_site(cluster, *extra, check=True):
    """site.yml against the bed, as a user runs it; returns the completed process."""
    argv = [ANSIBLE_PLAYBOOK, os.path.join(ROOT, "site.yml"), "-e", "@" + TESTBED_VARS,
            "-e", "kafka_k8s_kubeconfig=" + cluster.kubeconfig] + list(extra)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
               PATH=os.path.join(CACHE, "venv", "bin") + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-6000:])
    if check and proc.returncode != 0:
        raise AssertionError("site.yml failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:], proc.stderr))
    return proc


def kazoo_client(cluster):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=",".join(cluster.zookeeper_addresses()), timeout=10)
    client.start(timeout=30)
    return client


def drop_registration(cluster, broker_id):
    """Delete a live broker's /brokers/ids/<id> from another session.

    ZooKeeper lets any session delete another's ephemeral node and does not tell the owner: the broker
    keeps running, believes it is registered, and is no longer part of the cluster, which is what a
    registration lost to a session problem looks like (KAFKA-7165).
    """
    client = kazoo_client(cluster)
    try:
        client.delete("/brokers/ids/%d" % broker_id)
    finally:
        client.stop()
        client.close()


HOLDER = r"""
import json, sys, time
from kazoo.client import KazooClient
hosts, path, started_ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
client = KazooClient(hosts=hosts, timeout=18)
client.start(timeout=30)
data = {"version": 5, "host": "stale", "port": 9092, "timestamp": str(started_ms), "endpoints": []}
client.create(path, json.dumps(data).encode(), ephemeral=True)
print("holding", flush=True)
time.sleep(3600)
"""


def stale_registration(cluster, broker_id):
    """A previous incarnation's registration that outlives its process.

    A process creates /brokers/ids/<id> with an 18 s session, as a broker does, and is then SIGKILLed, as a
    pod's process is when its node dies: ZooKeeper keeps the node until the session expires, and a broker
    starting meanwhile fails with NodeExists.
    """
    drop_registration(cluster, broker_id)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, ",".join(cluster.zookeeper_addresses()),
                               "/brokers/ids/%d" % broker_id, str(int(time.time() * 1000) - 600000)],
                              stdout=subprocess.PIPE, text=True)
    line = holder.stdout.readline()
    assert line.strip() == "holding", line
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    return time.time()


def write_messages(cluster, topic, count=20):
    cluster.create_topic(topic, replication_factor=3, min_isr=2)
    messages = ["%s-%d" % (topic, i) for i in range(count)]
    cluster.produce(topic, messages)
    return messages


def heal(cluster, state_file):
    state = {"before": snapshot(cluster), "topic": "e2e-heal"}
    state["messages"] = write_messages(cluster, state["topic"])
    # Way 1: a live broker lost its registration; way 2: a stale registration blocks its replacement.
    drop_registration(cluster, 2)
    wait_for(lambda: 2 not in cluster.registered_broker_ids(), 30, "broker 2 to be missing")
    state["missing_before_heal"] = sorted(set(range(4)) - cluster.registered_broker_ids())
    proc = run_site(cluster)
    state["site_output_way1"] = proc.stdout[-20000:]
    state["after_way1"] = snapshot(cluster)
    stale_registration(cluster, 1)
    proc = run_site(cluster)
    state["site_output_way2"] = proc.stdout[-20000:]
    state["after"] = snapshot(cluster)
    with open(state_file, "w") as handle:
        json.dump(state, handle, indent=2)


ACTIONS = {"heal": heal}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=sorted(ACTIONS))
    parser.add_argument("--testbed", required=True)
    parser.add_argument("--namespace", default="kafka")
    parser.add_argument("--state", required=True)
    args = parser.parse_args()
    ACTIONS[args.action](Cluster(args.testbed, args.namespace), args.state)


if __name__ == "__main__":
    main()
