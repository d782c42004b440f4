"""Scenario heal: the seed's "a broker did not join", for real, and heal by proof (molecule/heal).

(1) A live broker loses its registration (broker 2): only its pod is replaced. (a) Broker 1's JVM is SIGKILLed
and its pod deleted: the registration its dead session left is proven stale and removed at once, so the
replacement registers before the session would have expired. (b) Broker 3's JVM is SIGSTOPped until its session
expires and a foreign client takes /brokers/ids/3 with another endpoint: site.yml fails naming both endpoints
and deletes no znode and no pod. Deployments, claims and the other pods are untouched, no message is lost.
"""
import json
import os
import signal
import subprocess
import sys
import time

from lib import BROKER_SELECTOR, drop_registration, registration, wait_for
from scenarios import check_membership, load, run_site, save, snapshot, write_messages


# The heal scenario's brokers keep a ZooKeeper session for 40 s (ZooKeeper's maximum at tickTime 2000) instead
# of 18 s, so that a registration left by a killed broker outlives site.yml's preflight and the heal meets it.
# molecule/heal/molecule.yml converges with the same value.
HEAL_VARS = ["-e", json.dumps({"kafka_broker_extra_config": {"zookeeper.session.timeout.ms": "40000"}})]
HEAL_SESSION_TIMEOUT = 40


def broker_pid(cluster, broker_id):
    """The pid of broker broker_id's JVM (the test bed names it in the broker container's containerID)."""
    (pod,) = cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=%d" % broker_id)
    (status,) = [c for c in pod["status"]["containerStatuses"] if c["name"] == "broker"]
    pid = int(status["containerID"].rsplit("/", 1)[1])
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        assert b"java" in handle.read(), "pid %d is not broker %d's JVM" % (pid, broker_id)
    return pid, pod["metadata"]["name"]


IMPOSTER = r"""
import json, signal, sys, time
from kazoo.client import KazooClient
hosts, path = sys.argv[1], sys.argv[2]
client = KazooClient(hosts=hosts, timeout=10)
client.start(timeout=30)
data = {"version": 5, "host": "imposter", "port": 1, "endpoints": ["PLAINTEXT://imposter:1"],
        "timestamp": str(int(time.time() * 1000))}
client.create(path, json.dumps(data).encode(), ephemeral=True)
def leave(*_):
    client.stop()  # closes the session: its node goes at once
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print("holding 0x%x" % client.client_id[0], flush=True)
while True:
    time.sleep(1)
"""


def side_effect(cluster, state_file):
    state = {"before": snapshot(cluster), "topic": "e2e-heal"}
    state["messages"] = write_messages(cluster, state["topic"])
    # Way 1: a live broker lost its registration (deleted from another session, KAFKA-7165): its pod is
    # replaced.
    drop_registration(cluster, 2)
    wait_for(lambda: 2 not in cluster.registered_broker_ids(), 30, "broker 2 to be missing")
    state["missing_before_heal"] = sorted(set(range(4)) - cluster.registered_broker_ids())
    proc = run_site(cluster, *HEAL_VARS)
    state["site_output_way1"] = proc.stdout[-20000:]
    state["after_way1"] = snapshot(cluster)

    # (a) broker 1's JVM SIGKILLed and its pod deleted, as when its node dies: the registration of the dead
    # session stays up to the session timeout. The heal proves it stale (its writer's pod is gone, no ZooKeeper
    # server lists the session) and removes it at once, so the new pod registers without waiting.
    stale = registration(cluster, 1)
    pid, pod = broker_pid(cluster, 1)
    os.kill(pid, signal.SIGKILL)
    state["killed_at_ms"] = int(time.time() * 1000)
    cluster.kubectl("delete", "pod", pod, "--wait=false")
    state["stale_owner"] = stale[1]
    proc = run_site(cluster, *HEAL_VARS)
    state["site_output_kill"] = proc.stdout[-20000:]
    fresh = registration(cluster, 1)
    state["fresh_owner"], state["fresh_registered_ms"] = (fresh[1], fresh[2]) if fresh else (None, None)
    state["after_kill"] = snapshot(cluster)

    # (b) broker 3's JVM SIGSTOPped past its session timeout: its registration expires, and a foreign client
    # registers /brokers/ids/3 with an endpoint that is not broker 3's. site.yml must fail naming both
    # endpoints, and delete neither a znode nor a pod.
    pid3, dummy = broker_pid(cluster, 3)
    os.kill(pid3, signal.SIGSTOP)
    try:
        wait_for(lambda: registration(cluster, 3) is None, HEAL_SESSION_TIMEOUT + 30,
                 "broker 3's registration to expire while its JVM is stopped")
        imposter = subprocess.Popen([sys.executable, "-c", IMPOSTER, ",".join(cluster.zookeeper_addresses()),
                                     "/brokers/ids/3"], stdout=subprocess.PIPE, text=True)
        try:
            line = imposter.stdout.readline()
            assert line.startswith("holding "), line
            state["imposter_session"] = int(line.split()[1], 16)
            owners_before = {i: (registration(cluster, i) or [None, None])[1] for i in range(4)}
            before_foreign = snapshot(cluster)
            proc = run_site(cluster, *HEAL_VARS, check=False)
            state["foreign_rc"] = proc.returncode
            state["foreign_output"] = proc.stdout[-20000:] + proc.stderr[-4000:]
            state["owners_before_foreign"] = owners_before
            state["owners_after_foreign"] = {i: (registration(cluster, i) or [None, None])[1] for i in range(4)}
            state["before_foreign"], state["after_foreign"] = before_foreign, snapshot(cluster)
        finally:
            imposter.terminate()
            imposter.wait(timeout=30)
    finally:
        os.kill(pid3, signal.SIGCONT)
    # Broker 3 wakes up with an expired session and registers again; the next run is clean.
    state["after_foreign_rc"] = run_site(cluster, *HEAL_VARS, check=False).returncode
    state["after"] = snapshot(cluster)
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    before, after_way1 = state["before"], state["after_way1"]
    assert state["missing_before_heal"] == [2], state["missing_before_heal"]
    # (1) lost registration: only broker 2's pod was replaced.
    assert after_way1["broker_pods"]["2"] != before["broker_pods"]["2"], "broker 2's pod was not replaced"
    for broker in ("0", "1", "3"):
        assert after_way1["broker_pods"][broker] == before["broker_pods"][broker], "broker %s's pod was touched" % broker
    # (a) killed broker 1: the dead session's registration was removed by the heal, and broker 1 registered
    # anew before that session would have expired.
    assert "removed the stale registration /brokers/ids/1" in state["site_output_kill"], state["site_output_kill"][-4000:]
    assert state["fresh_owner"] and state["fresh_owner"] != state["stale_owner"], "broker 1 did not register anew"
    waited = (state["fresh_registered_ms"] - state["killed_at_ms"]) / 1000.0
    assert waited < 40, "broker 1 registered %.1fs after the kill: the heal waited for the session to expire" % waited
    after_kill = state["after_kill"]
    for broker in ("0", "2", "3"):
        assert after_kill["broker_pods"][broker] == after_way1["broker_pods"][broker], "broker %s's pod was touched" % broker
    # (b) a foreign registration of broker 3's id: the run failed naming both endpoints, nothing deleted.
    assert state["foreign_rc"] != 0, "site.yml passed while /brokers/ids/3 was held by a foreign client"
    output = state["foreign_output"]
    assert "PLAINTEXT://imposter:1" in output and "PLAINTEXT://kafka-service-3:9092" in output, output[-4000:]
    assert state["owners_after_foreign"] == state["owners_before_foreign"], "a registration was deleted or replaced"
    assert state["owners_after_foreign"]["3"] == state["imposter_session"]
    assert state["after_foreign"] == state["before_foreign"], "something was deleted for a foreign registration"
    assert state["after_foreign_rc"] == 0, "site.yml did not converge once the foreign client left"
    check_membership(cluster, 4)
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert state["after"][kind] == before[kind], "%s changed: %s -> %s" % (kind, before[kind], state["after"][kind])
    received = cluster.consume(state["topic"], len(state["messages"]))
    assert sorted(received) == sorted(state["messages"]), "messages lost: %s" % (
        sorted(set(state["messages"]) - set(received)))
    print("heal: broker 2 (lost registration) replaced; broker 1 (killed) registered %.1fs after the kill, its stale "
          "registration removed by proof; a foreign registration of broker 3 failed the run with nothing deleted; "
          "%d messages intact" % (waited, len(received)))
