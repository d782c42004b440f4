"""Scenario scale_out (molecule/scale_out): 4 -> 5 brokers, broker 4 joins and brokers 0-3 keep their pods; then a
broker property changed and external access turned on (loadbalancer): --check --diff shows it and touches nothing,
the real run restarts brokers 0-4 one at a time, gated per broker (an RF-2 and an RF-1 topic do not block it), a
host client round-trips through the load balancers only, a rerun changes nothing; then an image the cluster
cannot run reaches one broker and fails the run, and rerunning with the right image fixes that broker first.
"""
import calendar
import json
import time

from lib import BROKER_SELECTOR, kazoo_client
from scenarios import (check_bootstrap, check_membership, external_clients, image_of, load, load_balancer_ips, run_site,
                       save, snapshot, write_messages)


def registration_ctimes(cluster):
    """Broker id -> when its /brokers/ids node was created (epoch ms)."""
    client = kazoo_client(cluster)
    try:
        return {child: client.get("/brokers/ids/" + child)[1].ctime for child in client.get_children("/brokers/ids")}
    finally:
        client.stop()
        client.close()


def controller(cluster):
    """The broker id in /controller (as a string, like the pod labels)."""
    client = kazoo_client(cluster)
    try:
        return str(json.loads(client.get("/controller")[0])["brokerid"])
    finally:
        client.stop()
        client.close()


def out_of_sync_partitions(cluster):
    """``topic-partition: (replicas, isr)`` of every partition whose ISR lacks one of its replicas, from the
    topic and partition-state nodes Kafka keeps in ZooKeeper."""
    client = kazoo_client(cluster)
    try:
        lagging = {}
        for topic in client.get_children("/brokers/topics"):
            replicas = json.loads(client.get("/brokers/topics/" + topic)[0])["partitions"]
            for partition, assigned in replicas.items():
                state = json.loads(client.get("/brokers/topics/%s/partitions/%s/state" % (topic, partition))[0])
                if set(assigned) - set(state["isr"]):
                    lagging["%s-%s" % (topic, partition)] = (assigned, state["isr"])
        return lagging
    finally:
        client.stop()
        client.close()


def side_effect(cluster, state_file):
    """Broker 4 added; then a setting of every broker changed, which must restart them one at a time, gated per
    broker (an RF-2 and an RF-1 topic present do not block it); then a bad image rolled to one broker is fixed
    by rerunning with the right one."""
    state = {"before": snapshot(cluster)}
    state["site_rc"] = run_site(cluster, "-e", "kafka_broker_count=5").returncode
    state["after"] = snapshot(cluster)
    state["messages"] = write_messages(cluster, "e2e-rolling")
    # RF <= min ISR: such topics never block a restart (strimzi#2964); their messages survive the roll.
    state["low_rf_messages"] = {}
    for topic, rf in (("e2e-rf2", 2), ("e2e-rf1", 1)):
        cluster.create_topic(topic, replication_factor=rf, min_isr=1, partitions=5)
        messages = ["%s-%d" % (topic, i) for i in range(10)]
        cluster.produce(topic, messages)
        state["low_rf_messages"][topic] = messages
    # A broker property and external access at once: the LoadBalancer Services come first, then every broker rolls
    # to its new setting and its EXTERNAL listener at its load balancer's address.
    changed = ["-e", "kafka_broker_count=5", "-e", '{"kafka_broker_extra_config": {"log.retention.hours": "100"}}',
               "-e", "kafka_broker_external_access=loadbalancer"]
    proc = run_site(cluster, *changed, "--check", "--diff", check=False)
    state["check_rc"], state["check_output"] = proc.returncode, proc.stdout[-60000:] + proc.stderr[-4000:]
    state["after_check"] = snapshot(cluster)
    state["controller_before_rolling"] = controller(cluster)
    proc = run_site(cluster, *changed, check=False)
    state["rolling_rc"], state["rolling_output"] = proc.returncode, proc.stdout[-120000:] + proc.stderr[-4000:]
    # At once: the last broker restarted (the controller) must already be back in every ISR.
    state["out_of_sync_after_rolling"] = out_of_sync_partitions(cluster)
    state["after_rolling"] = snapshot(cluster)
    state["new_pods_created"] = {p["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: p["metadata"]["creationTimestamp"]
                                 for p in cluster.pods(BROKER_SELECTOR)}
    state["registered_at_ms"] = registration_ctimes(cluster)
    state["received"] = cluster.consume("e2e-rolling", len(state["messages"]))
    state["low_rf_received"] = {topic: cluster.consume(topic, len(messages))
                                for topic, messages in state["low_rf_messages"].items()}
    state["load_balancers"] = load_balancer_ips(cluster)
    state["external"] = external_clients(cluster, ["e2e-external-%d" % i for i in range(10)])
    proc = run_site(cluster, *changed, check=False)
    state["rerun_rc"], state["rerun_output"] = proc.returncode, proc.stdout[-30000:]
    state["after_rerun"] = snapshot(cluster)
    # A bad roll: an image the cluster cannot pull. The first broker rolled stays Pending and the run fails
    # after its wait; the others keep the old image. Rerunning with the right image fixes that broker first.
    good = image_of(cluster)["0"]
    bad = ["-e", "kafka_broker_image=registry.example.invalid/no-such/cp-kafka:7.9.0", "-e", "kafka_broker_rollout_timeout=30"]
    proc = run_site(cluster, *(changed + bad), check=False)
    state["bad_rc"], state["bad_output"] = proc.returncode, proc.stdout[-20000:] + proc.stderr[-4000:]
    state["images_after_bad"] = image_of(cluster)
    proc = run_site(cluster, *changed, check=False)
    state["fix_rc"], state["fix_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
    state["images_after_fix"], state["good_image"] = image_of(cluster), good
    state["after_fix"] = snapshot(cluster)
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
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
