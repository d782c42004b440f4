#!/usr/bin/env python3
"""Verify steps of the molecule scenarios: assertions on the real cluster, ZooKeeper and Kafka.

    verify.py SCENARIO --testbed NAME [--brokers N]
"""
import argparse
import calendar
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import BROKER_SELECTOR, ROOT, ZK_SELECTOR, Cluster, wait_for  # noqa: E402  pylint: disable=wrong-import-position
import scenario_default  # noqa: E402  pylint: disable=wrong-import-position
import scenario_migration  # noqa: E402  pylint: disable=wrong-import-position


def check_quorum(cluster, servers=3):
    modes = wait_for(lambda: _quorum_modes(cluster, servers), 180, "a ZooKeeper quorum")
    print("quorum: %s" % modes)


def _quorum_modes(cluster, servers):
    modes = cluster.srvr_modes()
    values = sorted(m for m in modes.values() if m)
    if len(modes) == servers and values == sorted(["leader"] + ["follower"] * (servers - 1)):
        return modes
    return None


def check_membership(cluster, brokers):
    expected = set(range(brokers))
    registered = wait_for(lambda: cluster.registered_broker_ids() == expected and expected, 120,
                          "brokers %s in /brokers/ids" % sorted(expected))
    print("registered broker ids: %s" % sorted(registered))


def check_bootstrap(cluster, brokers):
    # The brokers' own Services (an external one per broker, of type LoadBalancer or NodePort, carries the same
    # labels).
    services = sorted(s["metadata"]["name"] for s in cluster.get("services", BROKER_SELECTOR)
                      if s["spec"].get("type", "ClusterIP") == "ClusterIP")
    assert services == sorted("kafka-service-%d" % i for i in range(brokers)), services
    bootstrap = cluster.bootstrap_servers()
    assert bootstrap == ",".join("kafka-service-%d:9092" % i for i in range(brokers)), bootstrap
    print("bootstrap.servers=%s" % bootstrap)


def check_volumes(cluster, brokers, servers=3):
    claims = {c["metadata"]["name"]: c["status"].get("phase") for c in cluster.get("pvc")}
    expected = {"kafka-data-%d" % i for i in range(brokers)} | {"data-zookeeper-%d" % i for i in range(servers)}
    assert set(claims) == expected, claims
    assert set(claims.values()) == {"Bound"}, claims
    print("claims bound: %s" % sorted(claims))


def round_trip(cluster, topic, count=3):
    cluster.create_topic(topic, replication_factor=3, min_isr=2)
    messages = ["%s-message-%d-%d" % (topic, i, int(time.time())) for i in range(count)]
    cluster.produce(topic, messages)
    received = cluster.consume(topic, count)
    assert sorted(received) == sorted(messages), (received, messages)
    print("round trip through %s: %d messages" % (topic, count))
    return messages


def scenario_heal(cluster, args):
    with open(args.state) as handle:
        state = json.load(handle)
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


def scenario_heal_refuses(cluster, args):
    with open(args.state) as handle:
        state = json.load(handle)
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


def load(args):
    with open(args.state) as handle:
        return json.load(handle)


def scenario_faults(cluster, args):
    state = load(args)
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


def scenario_scale_out(cluster, args):
    state = load(args)
    assert state["site_rc"] == 0
    check_membership(cluster, 5)
    check_bootstrap(cluster, 5)
    before, after = state["before"]["broker_pods"], state["after"]["broker_pods"]
    assert set(after) == {"0", "1", "2", "3", "4"}, after
    for broker in ("0", "1", "2", "3"):
        assert after[broker] == before[broker], "broker %s's pod was restarted by the scale-out" % broker
    print("scale out: broker 4 joined, brokers 0-3 kept their pods")

    # --check --diff first: it shows the change on each broker's Deployment and touches nothing.
    assert state["check_rc"] == 0, state["check_output"][-4000:]
    assert state["after_check"] == state["after"], "--check changed the cluster"
    assert state["check_output"].count("KAFKA_LOG_RETENTION_HOURS") >= 5, state["check_output"][-4000:]
    # A setting of every broker changed: each restarted, one at a time, with nothing else replaced.
    assert state["rolling_rc"] == 0, state["rolling_output"][-4000:]
    rolled = state["after_rolling"]
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert rolled[kind] == state["after"][kind], "the rolling change replaced %s" % kind
    for broker in ("0", "1", "2", "3", "4"):
        assert rolled["broker_pods"][broker] != after[broker], "broker %s was not restarted" % broker
    # Broker id order, the controller last; each broker's new pod created only after the one before it had
    # registered again.
    order = sorted(state["new_pods_created"], key=lambda b: state["new_pods_created"][b])
    first = state["controller_before_rolling"]
    assert order == [b for b in ("0", "1", "2", "3", "4") if b != first] + [first], (order, first)
    for previous, broker in zip(order, order[1:]):
        created = calendar.timegm(time.strptime(state["new_pods_created"][broker], "%Y-%m-%dT%H:%M:%SZ"))
        assert created >= state["registered_at_ms"][previous] // 1000, (
            "broker %s's new pod (created %s) started before broker %s registered again (%d ms): two brokers "
            "were down at once" % (broker, state["new_pods_created"][broker], previous,
                                   state["registered_at_ms"][previous]))
    assert sorted(state["received"]) == sorted(state["messages"]), "messages lost in the rolling restart"
    for topic, messages in state["low_rf_messages"].items():
        assert sorted(state["low_rf_received"][topic]) == sorted(messages), "messages of %s lost" % topic
    # Each restart was gated per broker, and the run said what it waited for.
    for broker in ("0", "1", "2", "3", "4"):
        assert "broker %s restarted and is back in the cluster" % broker in state["rolling_output"], broker
    assert state["rolling_output"].count(" may restart after ") >= 4, state["rolling_output"][-4000:]
    # Each restart waited for the partitions to be back in sync, the last one included.
    assert state["out_of_sync_after_rolling"] == {}, state["out_of_sync_after_rolling"]
    check_membership(cluster, 5)
    # External access came with the roll: each broker at its own load balancer, reached from the host through them only.
    lb_ips = state["load_balancers"]
    assert sorted(lb_ips) == ["kafka-external-%d" % b for b in range(5)] and all(lb_ips.values()), lb_ips
    external = state["external"]
    assert external["bootstrap"] == ["%s:9094" % lb_ips["kafka-external-%d" % b] for b in range(5)], external
    assert sorted((int(b), v["address"]) for b, v in external["brokers"].items()) == [
        (b, "%s:9094" % lb_ips["kafka-external-%d" % b]) for b in range(5)], external["brokers"]
    assert len(external["received"]) == 10, external["received"]
    # (Ansible wraps long messages: compared with the whitespace folded.)
    assert "waits for their addresses" in " ".join(state["check_output"].split()), "check mode did not say so"
    print("external access: 5 LoadBalancer Services, every broker advertises its own; a host client round-tripped "
          "10 messages through them only")
    # Run again with the same settings: nothing to roll, nothing changed.
    assert state["rerun_rc"] == 0 and state["after_rerun"] == rolled, "the rerun replaced something"
    recap = [line for line in state["rerun_output"].splitlines() if " changed=" in line]
    assert recap and all(" changed=0 " in line for line in recap), recap
    print("rolling change: brokers 0-4 restarted one after another, each after the previous registered; "
          "%d messages kept (and those of an RF-2 and an RF-1 topic); a rerun changed nothing" % len(state["received"]))
    # A bad image rolled to one broker failed the run with the others untouched; the rerun with the right
    # image fixed it first, without kubectl.
    assert state["bad_rc"] != 0, "site.yml passed with an image that cannot be pulled"
    bad = sorted(b for b, image in state["images_after_bad"].items() if image != state["good_image"])
    assert len(bad) == 1, state["images_after_bad"]
    assert state["fix_rc"] == 0, state["fix_output"][-4000:]
    assert set(state["images_after_fix"].values()) == {state["good_image"]}, state["images_after_fix"]
    assert "broker %s (kafka-broker-%s, not in the cluster)" % (bad[0], bad[0]) in state["fix_output"], (
        "the broken broker was not fixed first: " + state["fix_output"][-4000:])
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert state["after_fix"][kind] == rolled[kind], "the fix replaced %s" % kind
    for broker in ("0", "1", "2", "3", "4"):
        if broker != bad[0]:
            assert state["after_fix"]["broker_pods"][broker] == state["after_rerun"]["broker_pods"][broker], (
                "broker %s was restarted by the bad roll or its fix" % broker)
    check_membership(cluster, 5)
    print("bad image: broker %s alone got it and the run failed; rerunning with the right image fixed it first"
          % bad[0])


def scenario_teardown(cluster, args):
    state = load(args)
    assert state["teardown_rc"] == 0
    gone = state["after_teardown"]
    assert gone["deployments"] == [] and gone["statefulsets"] == [] and gone["configmaps"] in ([], ["kube-root-ca.crt"])
    assert gone["services"] == [], gone["services"]
    assert sorted(gone["pvc"]) == sorted(state["before"]["pvcs"]), "claims were deleted without being asked"
    assert state["site_rc"] == 0
    assert sorted(state["received"]) == sorted(state["messages"]), "data did not survive the teardown"
    assert state["after_site"]["pvcs"] == state["before"]["pvcs"], "the redeploy did not reuse the same claims"
    assert state["teardown_data_rc"] == 0, "teardown with kafka_teardown_delete_data=true failed"
    assert state["after_teardown_data"]["pvc"] == [], "claims left: %s" % state["after_teardown_data"]["pvc"]
    print("teardown: workloads removed, claims kept, redeploy found %d messages; delete_data removed the claims"
          % len(state["received"]))


def scenario_anti_affinity(cluster, args):
    state = load(args)
    assert state["required_rc"] != 0
    assert "zookeeper_anti_affinity" in state["required_output"] and "Pending" in state["required_output"]
    assert not state["namespace_exists_after_required"], "objects were created although the preflight failed"
    assert state["preferred_rc"] == 0, state["preferred_output"][-3000:]
    assert "share a node" in state["preferred_output"], "no warning that ZooKeeper pods share a node"
    nodes = state["zookeeper_nodes"]
    assert len(nodes) == 3 and len(set(nodes.values())) == 2, nodes
    check_quorum(cluster)
    print("anti-affinity: required refused before creating anything; preferred rolled out on 2 nodes and warned")


def scenario_multi_cluster(cluster, args):
    brokers = {"e2e": 4, "e2e-b": 3}[cluster.name]
    check_quorum(cluster)
    check_membership(cluster, brokers)
    check_bootstrap(cluster, brokers)
    if cluster.name == "e2e":
        state = load(args)
        assert state["rc"] != 0 and "zookeeper_replicas" in state["output"], state["output"][-2000:]
        assert "kafka-untouched" not in state["second_namespaces"], "the second cluster was touched"
    print("multi-cluster %s: %d brokers; a failing first cluster left the second untouched" % (cluster.name, brokers))



# Every object site.yml creates for 4 brokers, as "Kind name" (the check-mode preview must name each one).
LP_OBJECTS = (["Namespace kafka", "Service kafka/zk-hs", "Service kafka/zk-cs", "PodDisruptionBudget kafka/zk-pdb",
               "StatefulSet kafka/zookeeper", "PodDisruptionBudget kafka/kafka-broker-pdb",
               "ConfigMap kafka/kafka-client-config"]
              + ["PersistentVolumeClaim kafka/kafka-data-%d" % i for i in range(4)]
              + ["Service kafka/kafka-service-%d" % i for i in range(4)]
              + ["Deployment kafka/kafka-broker-%d" % i for i in range(4)])


def scenario_least_privilege(cluster, args):
    state = load(args)
    token = state["token"]
    assert len(token) > 100 and token.count(".") == 2, "not a ServiceAccount token: %r" % token[:20]
    # The token is the ServiceAccount's and only what examples/rbac grants (the API server's own answers).
    assert state["can_i_before"] == {"list nodes": "yes", "create namespaces": "no", "create services": "no"}, (
        state["can_i_before"])
    assert state["can_i"] == {"list secrets": "no", "create services": "yes", "create services in default": "no",
                              "create namespaces": "no"}, state["can_i"]
    runs = ("check", "site", "heal", "roll", "teardown", "foreign_teardown")
    for run in runs:
        assert state[run]["rc"] == 0, "%s as the ServiceAccount failed:\n%s" % (run, state[run]["tail"])
    # Secrets never print: the token (and its signature alone) is nowhere in any run's stdout+stderr, -vvv included.
    signature = token.rsplit(".", 1)[1]
    for run in runs:
        with open(state[run]["log"]) as handle:
            output = handle.read()
        assert output, "empty log %s" % state[run]["log"]
        assert token not in output and signature not in output, "the token is in %s" % state[run]["log"]
    with open(state["site"]["log"]) as handle:
        site_output = handle.read()
    assert "<127.0.0.1> EXEC" in site_output or "ESTABLISH LOCAL CONNECTION" in site_output, "site.yml ran below -vvv"
    # Check mode on a cluster without the namespace: passed, named every object, created nothing.
    assert state["namespace_before"] is False, "the namespace existed before the check-mode run"
    assert state["namespace_after_check"] is False, "check mode created the namespace"
    with open(state["check"]["log"]) as handle:
        check_output = handle.read()
    missing = [ref for ref in LP_OBJECTS if "+ " + ref not in check_output]
    assert not missing, "check mode did not name: %s" % missing
    # Heal: only broker 2's pod was replaced; Deployments, claims, StatefulSet untouched.
    before, after = state["before_heal"], state["after_heal"]
    assert after["broker_pods"]["2"] != before["broker_pods"]["2"], "broker 2's pod was not replaced"
    for broker in ("0", "1", "3"):
        assert after["broker_pods"][broker] == before["broker_pods"][broker], "broker %s's pod was touched" % broker
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert after[kind] == before[kind], "%s changed in the heal" % kind
    assert state["registered_after_heal"] == [0, 1, 2, 3], state["registered_after_heal"]
    # Rolling change: every broker restarted with the property, same Deployments and claims, no message lost.
    rolled = state["after_roll"]
    assert all(rolled["broker_pods"][b] != after["broker_pods"][b] for b in "0123"), "not every broker restarted"
    assert rolled["deployments"] == after["deployments"] and rolled["pvcs"] == after["pvcs"]
    assert state["roll_env"] == {"kafka-broker-%d" % i: ["15001"] for i in range(4)}, state["roll_env"]
    assert state["registered_after_roll"] == [0, 1, 2, 3], state["registered_after_roll"]
    assert sorted(state["received"]) == sorted(state["messages"]), "messages lost in the roll"
    # Teardown: workloads, Services, PDBs and the client ConfigMap gone, claims kept (read live as well).
    gone = state["after_teardown"]
    for kind in ("deployments", "statefulsets", "services", "pdb"):
        assert gone[kind] == [], "%s left by the teardown: %s" % (kind, gone[kind])
    assert "kafka-client-config" not in gone["configmaps"], gone["configmaps"]
    assert set(gone["pvc"]) == {"kafka-data-%d" % i for i in range(4)} | {"data-zookeeper-%d" % i for i in range(3)}
    assert cluster.get("deployments") == [] and cluster.get("statefulsets") == []
    # A same-named ConfigMap the collection did not create: left (same uid) and reported.
    assert "kafka-client-config" in state["foreign_before"]
    assert state["foreign_after"] == state["foreign_before"], "the teardown deleted an object it did not create"
    with open(state["foreign_teardown"]["log"]) as handle:
        # The YAML callback wraps long messages: compare with the line breaks folded.
        foreign_output = " ".join(handle.read().split())
    assert "so were not created by it: ConfigMap kafka-foreign/kafka-client-config." in foreign_output, (
        state["foreign_teardown"]["tail"][-3000:])
    print("least_privilege: check mode previewed %d objects and created nothing; site.yml, heal, rolling change "
          "and teardown ran with the ServiceAccount token only; the token is in none of %d outputs; a foreign "
          "ConfigMap was left and reported (scenario %.0f s)" % (len(LP_OBJECTS), len(runs), state["seconds"]))

def default_broker_image():
    """kafka_broker_image's default, read from the role (the scenario upgrades to whatever it is)."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, "roles", "kafka_broker", "defaults", "main.yml")) as handle:
        return yaml.safe_load(handle)["kafka_broker_image"]


def assert_recap_unchanged(output):
    recap = [line for line in output.splitlines() if " changed=" in line]
    assert recap and all(" changed=0 " in line for line in recap), recap


def scenario_upgrade(cluster, args):
    state = load(args)
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


SCENARIOS = {
    "anti_affinity": scenario_anti_affinity,
    "multi_cluster": scenario_multi_cluster,
    "faults": scenario_faults,
    "scale_out": scenario_scale_out,
    "teardown": scenario_teardown,
    "heal": scenario_heal,
    "heal_refuses": scenario_heal_refuses,
    "least_privilege": scenario_least_privilege,
    "upgrade": scenario_upgrade,
    # A scenario whose whole story is in one file (tests/e2e/scenario_<name>.py).
    "default": scenario_default.verify,
    "migration": scenario_migration.verify,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--testbed", required=True)
    parser.add_argument("--namespace", default="kafka")
    parser.add_argument("--brokers", type=int, default=4)
    parser.add_argument("--state", help="state file written by faults.py")
    args = parser.parse_args()
    SCENARIOS[args.scenario](Cluster(args.testbed, args.namespace), args)
    print("verify %s: ok" % args.scenario)


if __name__ == "__main__":
    main()
