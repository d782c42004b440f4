"""Scenario upgrade (molecule/upgrade): the seed's versions (ZooKeeper 3.4.10 in the kubernetes-zookeeper image,
cp-kafka 5.5.11 = Kafka 2.5; 3 brokers) to the defaults by site.yml alone with a canary running: the first run
killed during the first broker roll, rerun holding the protocol; Kafka 4, a ZooKeeper downgrade and, after the
raise, the seed's image refused with nothing written; the protocol raised to 3.9 in a second roll; a rerun changes
nothing; the messages written on Kafka 2.5 read back, no acknowledged message lost.
"""
import json
import os
import signal
import subprocess
import time

from lib import BROKER_SELECTOR, CACHE, ROOT, srvr_version, wait_for
from scenarios import (assert_recap_unchanged, check_membership, image_of, load, new_canary, resource_versions,
                       run_site, save, site_argv, site_env, snapshot, write_messages)


# The seed's own versions (cp-kafka 5.5.11 = Kafka 2.5, ZooKeeper 3.4.10), 3 brokers: the smallest cluster where
# an RF-3 min-ISR-2 topic keeps taking acks=all writes while one broker restarts.
SEED_VERSIONS = ["-e", json.dumps({"zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                                   "zookeeper_image_flavor": "kubernetes-zookeeper",
                                   "kafka_broker_image": "confluentinc/cp-kafka:5.5.11", "kafka_broker_count": 3})]
# The collection's defaults, the same 3 brokers.
UPGRADED = ["-e", json.dumps({"kafka_broker_count": 3})]
HOLD = ["-e", json.dumps({"kafka_broker_upgrade_bump_protocol": False})]


def protocol_of(cluster):
    """Broker id -> the inter.broker.protocol.version its Deployment pins (None when it pins none)."""
    result = {}
    for deployment in cluster.get("deployments", BROKER_SELECTOR):
        (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "broker"]
        env = dict((e["name"], e.get("value")) for e in container.get("env", []))
        result[deployment["metadata"]["labels"]["kafka-eks.cluster/broker-id"]] = env.get(
            "KAFKA_INTER_BROKER_PROTOCOL_VERSION")
    return result


def versions_of(cluster):
    """What runs: ZooKeeper servers' own version (srvr), broker Deployments' images and protocol pins."""
    servers = {}
    for address in cluster.zookeeper_addresses():
        servers[address] = srvr_version(address)
    return {"zookeeper": servers, "images": image_of(cluster), "protocols": protocol_of(cluster)}


def zookeeper_rolled(cluster):
    """Every ZooKeeper pod off the seed's image (kubernetes-zookeeper) and ready: the ZooKeeper step is done."""
    pods = cluster.pods("app.kubernetes.io/component=zookeeper")
    return bool(pods) and all(
        "kubernetes-zookeeper" not in pod["spec"]["containers"][0]["image"]
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        for pod in pods)


def side_effect(cluster, state_file):
    """From the seed's versions to the defaults with a canary running: killed in the first broker roll and
    rerun holding the protocol, refusals that write nothing, then the raise, then a rerun that changes nothing."""
    state = {"before": versions_of(cluster), "snapshot_before": snapshot(cluster)}
    state["messages"] = write_messages(cluster, "e2e-upgrade")
    canary = new_canary(cluster)
    canary.start()
    steps = state["step_seconds"] = {}
    began, began_canary = time.monotonic(), canary.now()
    try:
        # 1. Killed in the middle of the first broker roll (after ZooKeeper, once a broker got the new image).
        target = "confluentinc/cp-kafka"
        # Output to a file: a pipe nobody reads while waiting would fill and stall the run.
        killed_log = os.path.join(CACHE, "e2e-logs", "upgrade-killed-run.log")
        os.makedirs(os.path.dirname(killed_log), exist_ok=True)
        log = open(killed_log, "w")  # pylint: disable=consider-using-with
        runner = subprocess.Popen(site_argv(cluster, *(UPGRADED + HOLD)), cwd=ROOT, env=site_env(),
                                  stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        zookeeper_done = {}

        def first_broker_moved():
            if runner.poll() is not None:
                with open(killed_log) as handle:
                    raise AssertionError("site.yml ended (rc %s) before any broker got the new image:\n%s"
                                         % (runner.returncode, handle.read()[-6000:]))
            if not zookeeper_done and zookeeper_rolled(cluster):
                zookeeper_done.update(monotonic=time.monotonic(), canary=canary.now())
            return [b for b, image in image_of(cluster).items()
                    if image.startswith(target) and not image.endswith(":5.5.11")]
        try:
            wait_for(first_broker_moved, 900, "a broker Deployment with the new image", interval=0.5)
        finally:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
            log.close()
            with open(killed_log) as handle:
                state["killed_output"] = handle.read()[-20000:]
        killed_at = canary.now()
        state["at_kill"] = versions_of(cluster)
        steps["zookeeper_roll_and_first_broker_until_killed"] = round(time.monotonic() - began, 1)
        # The ZooKeeper roll (site.yml's start to every server ready on the new image) and what came after it
        # until the kill, apart: the first is the upgrade's ZooKeeper step, the second part of the first roll.
        zookeeper_done.setdefault("monotonic", time.monotonic())
        zookeeper_done.setdefault("canary", killed_at)
        steps["zookeeper_roll"] = round(zookeeper_done["monotonic"] - began, 1)
        steps["first_broker_roll_until_killed"] = round(time.monotonic() - zookeeper_done["monotonic"], 1)
        canary.mark_phase("zookeeper_roll", began_canary, zookeeper_done["canary"])
        canary.mark_phase("first_broker_roll_until_killed", zookeeper_done["canary"], killed_at)
        began = time.monotonic()
        # 2. Rerun, holding the protocol: every broker on the new image, the protocol still the seed's.
        with canary.phase("rerun_first_broker_roll_held"):
            proc = run_site(cluster, *(UPGRADED + HOLD), check=False)
        state["held_rc"], state["held_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["held"] = versions_of(cluster)
        steps["rerun_first_broker_roll_held"] = round(time.monotonic() - began, 1)
        # 3. Refused before any write: Kafka 4 in ZooKeeper mode, a ZooKeeper downgrade.
        refused = {}
        for name, extra in (("kafka4", {"kafka_broker_image": "confluentinc/cp-kafka:8.0.0"}),
                            ("zookeeper_downgrade", {"zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                                                     "zookeeper_image_flavor": "kubernetes-zookeeper"})):
            before = resource_versions(cluster)
            proc = run_site(cluster, *(UPGRADED + ["-e", json.dumps(extra)]), check=False)
            # Under molecule a failed task's message goes to stderr (ANSIBLE_DISPLAY_FAILED_STDERR): keep both.
            refused[name] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                             "unchanged": resource_versions(cluster) == before}
        # 4. The raise: a second roll.
        began = time.monotonic()
        with canary.phase("second_roll_protocol_raised"):
            proc = run_site(cluster, *UPGRADED, check=False)
        state["raise_rc"], state["raise_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["raised"] = versions_of(cluster)
        steps["second_roll_protocol_raised"] = round(time.monotonic() - began, 1)
        # 5. After the raise, the seed's broker image is refused.
        before = resource_versions(cluster)
        proc = run_site(cluster, *(UPGRADED + ["-e", json.dumps({"kafka_broker_image": "confluentinc/cp-kafka:5.5.11"})]),
                        check=False)
        refused["downgrade_after_raise"] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                                            "unchanged": resource_versions(cluster) == before}
        state["refused"] = refused
        # 6. A rerun after the end changes nothing.
        began = time.monotonic()
        proc = run_site(cluster, *UPGRADED, check=False)
        state["rerun_rc"], state["rerun_output"] = proc.returncode, proc.stdout[-8000:]
        steps["rerun_after_the_end"] = round(time.monotonic() - began, 1)
    finally:
        state["canary"] = canary.stop()
    state["received"] = cluster.consume("e2e-upgrade", len(state["messages"]))
    save(state, state_file)


def default_broker_image():
    """kafka_broker_image's default, read from the role (the scenario upgrades to whatever it is)."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, "roles", "kafka_broker", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)["kafka_broker_image"]


def verify(cluster, state_file):
    state = load(state_file)
    target = default_broker_image()
    seed = state["before"]
    assert set(seed["images"].values()) == {"confluentinc/cp-kafka:5.5.11"}, seed["images"]
    assert set(seed["protocols"].values()) == {"2.5"}, seed["protocols"]
    assert set(seed["zookeeper"].values()) == {"3.4.10"}, "the bed did not run ZooKeeper 3.4.10: %s" % seed["zookeeper"]
    # Killed during the first broker roll: ZooKeeper was done, some broker had the new image with the old pin.
    killed = state["at_kill"]
    assert set(killed["zookeeper"].values()) == {"3.9.3"}, killed["zookeeper"]
    assert target in killed["images"].values(), killed["images"]
    assert set(killed["protocols"].values()) == {"2.5"}, "the protocol moved with the image: %s" % killed["protocols"]
    # The rerun continued and held the protocol (kafka_broker_upgrade_bump_protocol=false).
    assert state["held_rc"] == 0, state["held_output"][-4000:]
    held = state["held"]
    assert set(held["images"].values()) == {target} and set(held["protocols"].values()) == {"2.5"}, held
    assert "kafka_broker_upgrade_bump_protocol is false" in state["held_output"], state["held_output"][-4000:]
    # Refusals wrote nothing and said why, naming the variable.
    refused = state["refused"]
    for name, words in (("kafka4", ("kafka_broker_image", "KRaft")),
                        ("zookeeper_downgrade", ("zookeeper_image", "older than the 3.9.3")),
                        ("downgrade_after_raise", ("kafka_broker_image", "older than the protocol 3.9"))):
        assert refused[name]["rc"] != 0 and refused[name]["unchanged"], (name, refused[name]["output"][-3000:])
        for word in words:
            assert word in refused[name]["output"], (name, word, refused[name]["output"][-3000:])
    # The raise: every broker speaks 3.9 now, the run said it was the point of no return.
    assert state["raise_rc"] == 0, state["raise_output"][-4000:]
    raised = state["raised"]
    assert set(raised["images"].values()) == {target} and set(raised["protocols"].values()) == {"3.9"}, raised
    assert "the older image cannot rejoin" in state["raise_output"], state["raise_output"][-4000:]
    assert state["rerun_rc"] == 0
    assert_recap_unchanged(state["rerun_output"])
    # Nothing written before the upgrade was lost, and the canary lost no acknowledged message.
    assert sorted(state["received"]) == sorted(state["messages"]), "messages written on Kafka 2.5 were lost"
    report = state["canary"]
    assert report["acknowledged"] > 0 and report["lost"] == 0, report
    check_membership(cluster, 3)
    print("upgrade: seconds per step %s; canary restart windows %s" % (
        json.dumps(state["step_seconds"]),
        json.dumps([(w.get("broker"), w["seconds"], w["latency_ms"].get("p99"), w["longest_stall"])
                    for w in report["restart_windows"]])))
    # What the canary saw in each step (the ZooKeeper roll, the first roll until the kill and its rerun, the
    # second roll), for docs/benchmarks.md.
    for phase in report.get("phases", []):
        print("upgrade: step %s: %.1f s, %d sent, %d acknowledged, %d failed, latency p50/p99/max %s/%s/%s ms, "
              "longest without any ack %s s, on one partition %s s, broker restarts %s" % (
                  phase["name"], phase["seconds"], phase["sent"], phase["acknowledged"], phase["failed"],
                  phase["latency_ms"]["p50"], phase["latency_ms"]["p99"], phase["latency_ms"]["max"],
                  (phase["longest_stall"] or {}).get("seconds"), (phase["longest_partition_stall"] or {}).get("seconds"),
                  ",".join(str(b) for b in phase["restart_windows"]) or "none"))
    print("upgrade: ZooKeeper 3.4.10 -> 3.9.3 and cp-kafka 5.5.11 -> %s in two rolls (killed and resumed in the"
          " first, held at protocol 2.5, then raised to 3.9); refusals wrote nothing; canary %d acknowledged,"
          " %d lost, p99 %s ms, max %s ms" % (target, report["acknowledged"], report["lost"],
                                              report.get("latency_ms", {}).get("p99"),
                                              report.get("latency_ms", {}).get("max")))
