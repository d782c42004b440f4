"""membership.decide(): who is in the cluster and which pod may be deleted (pure)."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.membership import (
    controller_id,
    decide,
    registration_timestamp,
)

NOW = 1795590000000  # ms
MIN = 60 * 1000


def pod(name, broker_id=0, phase="Running", started=-10 * MIN, running=True, deleting=False, unschedulable=None,
        waiting_reason=None, uid=None):
    return {
        "name": name, "uid": uid or "uid-" + name, "broker_id": broker_id, "phase": phase, "deleting": deleting,
        "created_at": NOW + (started or 0) - 5000, "started_at": NOW + started if running and started is not None
        else None,
        "running": running, "ready": running, "restart_count": 0, "unschedulable": unschedulable,
        "waiting_reason": waiting_reason, "last_started_at": None, "state": "running" if running else "waiting",
        "last_state": None, "node": "node-a",
    }


def reg(at):
    return {"endpoints": ["PLAINTEXT://kafka-service-0:9092"], "timestamp": str(NOW + at), "version": 5}


def healthy(n=4):
    regs = dict((i, reg(-9 * MIN)) for i in range(n))
    pods = dict((i, [pod("kafka-broker-%d-abc" % i, i)]) for i in range(n))
    return regs, pods


def test_all_joined():
    regs, pods = healthy()
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["all_joined"] and d["joined"] == [0, 1, 2, 3]
    assert d["missing"] == d["stale"] == d["unexpected"] == d["to_delete"] == d["waiting"] == d["blocked"] == []


def test_missing_broker_pod_is_deleted_and_joined_pods_never():
    regs, pods = healthy()
    del regs[2]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW, startup_grace_ms=30000)
    assert d["missing"] == [2] and not d["all_joined"]
    assert [(i["broker_id"], i["pod"], i["uid"]) for i in d["to_delete"]] == [
        (2, "kafka-broker-2-abc", "uid-kafka-broker-2-abc")]
    assert "not registered" in d["to_delete"][0]["reason"]


def test_stale_registration_older_than_container_start():
    regs, pods = healthy()
    regs[1] = reg(-30 * MIN)  # written by the previous pod; the live container started 10 minutes ago
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [1] and d["missing"] == []
    assert d["registered"] == [0, 1, 2, 3] and 1 not in d["joined"]
    assert [i["broker_id"] for i in d["to_delete"]] == [1]
    assert "stale" in d["to_delete"][0]["reason"]


def test_registration_within_clock_tolerance_is_not_stale():
    regs, pods = healthy()
    regs[1] = reg(-10 * MIN - 1500)  # 1.5 s before the container start: skew, not a stale node
    assert decide([0, 1, 2, 3], regs, pods, now_ms=NOW)["stale"] == []


def test_registration_while_container_crash_loops_is_stale():
    regs, pods = healthy()
    pods[3] = [pod("kafka-broker-3-abc", 3, running=False, started=None, waiting_reason="CrashLoopBackOff")]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [3]
    assert [i["pod"] for i in d["to_delete"]] == ["kafka-broker-3-abc"]


def test_unexpected_ids_are_reported_only():
    regs, pods = healthy()
    regs[7] = reg(-MIN)
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["unexpected"] == [7] and d["registered"] == [0, 1, 2, 3, 7]
    assert d["all_joined"] and d["to_delete"] == []


def test_pending_unschedulable_pod_is_blocked_not_deleted():
    regs, pods = healthy()
    del regs[3]
    pods[3] = [pod("kafka-broker-3-abc", 3, phase="Pending", running=False, started=None,
                   unschedulable="Unschedulable: 0/3 nodes are available: 3 Insufficient memory.")]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["missing"] == [3] and d["to_delete"] == []
    assert d["blocked"][0]["broker_id"] == 3
    assert "cannot be scheduled" in d["blocked"][0]["reason"] and "Insufficient memory" in d["blocked"][0]["reason"]


def test_image_pull_error_is_blocked_and_creating_pod_is_waited_for():
    regs, pods = healthy()
    del regs[2], regs[3]
    pods[2] = [pod("kafka-broker-2-abc", 2, phase="Pending", running=False, started=None,
                   waiting_reason="ImagePullBackOff")]
    pods[3] = [pod("kafka-broker-3-abc", 3, phase="Pending", running=False, started=None,
                   waiting_reason="ContainerCreating")]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert [b["broker_id"] for b in d["blocked"]] == [2]
    assert [w["broker_id"] for w in d["waiting"]] == [3]
    assert d["to_delete"] == []


def test_young_container_gets_time_to_register():
    regs, pods = healthy()
    del regs[0]
    pods[0] = [pod("kafka-broker-0-new", 0, started=-10000)]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW, startup_grace_ms=30000)
    assert d["to_delete"] == [] and d["waiting"][0]["pod"] == "kafka-broker-0-new"
    assert "started 10s ago" in d["waiting"][0]["reason"]
    # without a grace (the heal's own re-check) it is deletable
    assert decide([0, 1, 2, 3], regs, pods, now_ms=NOW)["to_delete"][0]["pod"] == "kafka-broker-0-new"


def test_duplicate_pods_during_rollout_old_terminating_pod_is_ignored():
    regs, pods = healthy()
    del regs[1]
    pods[1] = [pod("kafka-broker-1-old", 1, deleting=True), pod("kafka-broker-1-new", 1)]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert [i["pod"] for i in d["to_delete"]] == ["kafka-broker-1-new"]


def test_registration_held_by_a_terminating_pod_is_waited_for_not_called_stale():
    regs, pods = healthy()
    pods[1] = [pod("kafka-broker-1-old", 1, started=-20 * MIN, deleting=True),
               pod("kafka-broker-1-new", 1, started=-MIN)]
    regs[1] = reg(-19 * MIN)
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [] and d["to_delete"] == []
    assert d["waiting"][0]["broker_id"] == 1 and "being deleted" in d["waiting"][0]["reason"]
    assert not d["all_joined"]


def test_two_live_pods_with_one_id_are_blocked():
    regs, pods = healthy()
    del regs[2]
    pods[2] = [pod("kafka-broker-2-a", 2), pod("kafka-broker-2-b", 2)]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["to_delete"] == [] and "2 pods carry its id" in d["blocked"][0]["reason"]


def test_joined_broker_with_two_pods_is_never_touched():
    regs, pods = healthy()
    pods[0].append(pod("kafka-broker-0-extra", 0, started=-MIN))
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["all_joined"] and d["to_delete"] == []


def test_no_pod_at_all_is_blocked_and_failed_pods_are_ignored():
    regs, pods = healthy()
    del regs[3]
    pods[3] = [pod("kafka-broker-3-evicted", 3, phase="Failed", running=False, started=None)]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["blocked"][0]["pod"] is None and "no pod of broker 3" in d["blocked"][0]["reason"]


def test_stale_node_with_only_a_pending_replacement_is_stale_and_waited_for():
    regs, pods = healthy()
    pods[2] = [pod("kafka-broker-2-new", 2, phase="Pending", running=False, started=None)]
    d = decide([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [2] and d["to_delete"] == [] and d["waiting"][0]["broker_id"] == 2


def test_unparsable_registration_counts_as_joined():
    regs, pods = healthy()
    regs[1] = {"unparsed": "garbage"}
    assert registration_timestamp(regs[1]) is None
    assert decide([0, 1, 2, 3], regs, pods, now_ms=NOW)["all_joined"]


def test_ids_are_normalised_and_sorted():
    regs, pods = healthy()
    d = decide(["3", 1, 0, 2, 2], regs, pods)
    assert d["expected"] == [0, 1, 2, 3] and d["all_joined"]


@pytest.mark.parametrize("data, expected", [
    ('{"version":2,"brokerid":3,"timestamp":"1795590000000","kraftControllerEpoch":-1}', 3),
    ('{"version":1,"brokerid":0,"timestamp":"1"}', 0),
    ("", None), (None, None), ("not json", None), ('{"version":1}', None), ('{"brokerid":"x"}', None),
])
def test_controller_id(data, expected):
    assert controller_id(data) == expected
