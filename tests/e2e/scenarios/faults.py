"""Scenario faults (molecule/faults): the ZooKeeper leader deleted mid-rollout, a broker pod killed, a bad
context: each recovers, no message lost.
"""
import subprocess

from lib import BROKER_SELECTOR, ROOT, wait_for
from scenarios import check_membership, check_quorum, load, run_site, save, site_argv, site_env, write_messages


def zookeeper_leader(cluster):
    modes = cluster.srvr_modes()
    leaders = [pod for pod, mode in modes.items() if mode == "leader"]
    return leaders[0] if leaders else None


def side_effect(cluster, state_file):
    state = {}
    # 1. The ZooKeeper leader's pod is deleted while the brokers roll out; the rollout still succeeds.
    site = subprocess.Popen(site_argv(cluster), cwd=ROOT, env=site_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: cluster.get("deployments", BROKER_SELECTOR), 900, "the broker Deployments")
    leader = wait_for(lambda: zookeeper_leader(cluster), 120, "a ZooKeeper leader")
    cluster.kubectl("delete", "pod", leader, "--wait=false")
    state["deleted_leader"] = leader
    output = site.communicate(timeout=1800)[0]
    state["rollout_rc"] = site.returncode
    state["rollout_output"] = output[-8000:]
    # 2. A broker pod killed (forced, as when its node dies): the next site.yml restores full membership.
    state["messages"] = write_messages(cluster, "e2e-faults")
    pod = cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=1")[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", pod, "--grace-period=0", "--force")
    state["killed_broker_pod"] = pod
    state["rerun_rc"] = run_site(cluster, check=False).returncode
    # 3. An API error: a context that does not exist fails clearly; the next run converges.
    bad = run_site(cluster, "-e", "kafka_k8s_context=no-such-context", check=False)
    state["bad_context_rc"] = bad.returncode
    state["bad_context_output"] = bad.stdout[-4000:] + bad.stderr[-2000:]
    state["after_bad_context_rc"] = run_site(cluster, check=False).returncode
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    assert state["rollout_rc"] == 0, "rollout failed after the ZooKeeper leader %s was deleted:\n%s" % (
        state["deleted_leader"], state["rollout_output"])
    assert state["rerun_rc"] == 0, "site.yml did not restore membership after a broker pod was killed"
    assert state["bad_context_rc"] != 0 and "no-such-context" in state["bad_context_output"], state["bad_context_output"]
    assert state["after_bad_context_rc"] == 0
    check_quorum(cluster)
    check_membership(cluster, 4)
    received = cluster.consume("e2e-faults", len(state["messages"]))
    assert sorted(received) == sorted(state["messages"])
    print("faults: leader %s deleted mid-rollout, broker pod %s killed, bad context: all recovered, no data lost"
          % (state["deleted_leader"], state["killed_broker_pod"]))
