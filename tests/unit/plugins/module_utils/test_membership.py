"""membership.decide(): who is in the cluster and which pod may be deleted (pure)."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import pod_facts
from ansible_collections.kafka_eks.cluster.plugins.module_utils.membership import (
    controller_id,
    decide,
    registration_timestamp,
    session_proof,
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


def endpoints(broker_id):
    return ["PLAINTEXT://kafka-service-%d:9092" % broker_id, "INTERNAL://kafka-service-%d:9093" % broker_id]


# What the plan advertises for each broker (broker_membership's advertised_listeners).
ADVERTISED = dict((i, ",".join(endpoints(i))) for i in range(8))
OWNER = 0x100000b2f5d0001


def reg(at, broker_id=None):
    """A registration made ``at`` ms from NOW; broker_id None: filled in by healthy()/decide_()."""
    return {"endpoints": endpoints(broker_id) if broker_id is not None else None, "timestamp": str(NOW + at),
            "version": 5}


def stat_of(owner=OWNER, version=0):
    return {"version": version, "ephemeral_owner": owner, "ctime": None}


def decide_(expected, regs, pods, **kwargs):
    """decide() with each registration's endpoints filled in as broker's own unless a test set them."""
    regs = dict((i, dict(r, endpoints=endpoints(i)) if isinstance(r, dict) and r.get("endpoints", 0) is None else r)
                for i, r in regs.items())
    kwargs.setdefault("advertised", ADVERTISED)
    kwargs.setdefault("stats", dict((i, stat_of(OWNER + i)) for i in regs))
    return decide(expected, regs, pods, **kwargs)


def healthy(n=4):
    regs = dict((i, reg(-9 * MIN)) for i in range(n))
    pods = dict((i, [pod("kafka-broker-%d-abc" % i, i)]) for i in range(n))
    return regs, pods


def test_all_joined():
    regs, pods = healthy()
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["all_joined"] and d["joined"] == [0, 1, 2, 3]
    assert d["missing"] == d["stale"] == d["unexpected"] == d["to_delete"] == d["waiting"] == d["blocked"] == []


def test_missing_broker_pod_is_deleted_and_joined_pods_never():
    regs, pods = healthy()
    del regs[2]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, startup_grace_ms=30000)
    assert d["missing"] == [2] and not d["all_joined"]
    assert [(i["broker_id"], i["pod"], i["uid"]) for i in d["to_delete"]] == [
        (2, "kafka-broker-2-abc", "uid-kafka-broker-2-abc")]
    assert "not registered" in d["to_delete"][0]["reason"]


def test_stale_registration_older_than_container_start():
    regs, pods = healthy()
    regs[1] = reg(-30 * MIN)  # written by the previous pod; the live container started 10 minutes ago
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [1] and d["missing"] == []
    assert d["registered"] == [0, 1, 2, 3] and 1 not in d["joined"]
    assert [i["broker_id"] for i in d["to_delete"]] == [1]
    assert "stale" in d["to_delete"][0]["reason"]


def test_registration_within_clock_tolerance_is_not_stale():
    regs, pods = healthy()
    regs[1] = reg(-10 * MIN - 1500)  # 1.5 s before the container start: skew, not a stale node
    assert decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["stale"] == []


def test_registration_while_container_crash_loops_is_stale():
    regs, pods = healthy()
    pods[3] = [pod("kafka-broker-3-abc", 3, running=False, started=None, waiting_reason="CrashLoopBackOff")]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [3]
    assert [i["pod"] for i in d["to_delete"]] == ["kafka-broker-3-abc"]


def test_unexpected_ids_are_reported_only():
    regs, pods = healthy()
    regs[7] = reg(-MIN)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["unexpected"] == [7] and d["registered"] == [0, 1, 2, 3, 7]
    assert d["all_joined"] and d["to_delete"] == []


def test_pending_unschedulable_pod_is_blocked_not_deleted():
    regs, pods = healthy()
    del regs[3]
    pods[3] = [pod("kafka-broker-3-abc", 3, phase="Pending", running=False, started=None,
                   unschedulable="Unschedulable: 0/3 nodes are available: 3 Insufficient memory.")]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
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
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert [b["broker_id"] for b in d["blocked"]] == [2]
    assert [w["broker_id"] for w in d["waiting"]] == [3]
    assert d["to_delete"] == []


def test_young_container_gets_time_to_register():
    regs, pods = healthy()
    del regs[0]
    pods[0] = [pod("kafka-broker-0-new", 0, started=-10000)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, startup_grace_ms=30000)
    assert d["to_delete"] == [] and d["waiting"][0]["pod"] == "kafka-broker-0-new"
    assert "started 10s ago" in d["waiting"][0]["reason"]
    # without a grace (the heal's own re-check) it is deletable
    assert decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["to_delete"][0]["pod"] == "kafka-broker-0-new"


def test_duplicate_pods_during_rollout_old_terminating_pod_is_ignored():
    regs, pods = healthy()
    del regs[1]
    pods[1] = [pod("kafka-broker-1-old", 1, deleting=True), pod("kafka-broker-1-new", 1)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert [i["pod"] for i in d["to_delete"]] == ["kafka-broker-1-new"]


def test_registration_held_by_a_terminating_pod_is_waited_for_not_called_stale():
    regs, pods = healthy()
    pods[1] = [pod("kafka-broker-1-old", 1, started=-20 * MIN, deleting=True),
               pod("kafka-broker-1-new", 1, started=-MIN)]
    regs[1] = reg(-19 * MIN)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [] and d["to_delete"] == []
    assert d["waiting"][0]["broker_id"] == 1 and "being deleted" in d["waiting"][0]["reason"]
    assert not d["all_joined"]


def test_two_live_pods_with_one_id_are_blocked():
    regs, pods = healthy()
    del regs[2]
    pods[2] = [pod("kafka-broker-2-a", 2), pod("kafka-broker-2-b", 2)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["to_delete"] == [] and "2 pods carry its id" in d["blocked"][0]["reason"]


def test_joined_broker_with_two_pods_is_never_touched():
    regs, pods = healthy()
    pods[0].append(pod("kafka-broker-0-extra", 0, started=-MIN))
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["all_joined"] and d["to_delete"] == []


def test_no_pod_at_all_is_blocked_and_failed_pods_are_ignored():
    regs, pods = healthy()
    del regs[3]
    pods[3] = [pod("kafka-broker-3-evicted", 3, phase="Failed", running=False, started=None)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["blocked"][0]["pod"] is None and "no pod of broker 3" in d["blocked"][0]["reason"]


def test_stale_node_with_only_a_pending_replacement_is_stale_and_waited_for():
    regs, pods = healthy()
    pods[2] = [pod("kafka-broker-2-new", 2, phase="Pending", running=False, started=None)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["stale"] == [2] and d["to_delete"] == [] and d["waiting"][0]["broker_id"] == 2


def test_unparsable_registration_is_not_joined_and_nothing_is_deleted_for_it():
    regs, pods = healthy()
    regs[1] = {"unparsed": "garbage"}
    assert registration_timestamp(regs[1]) is None
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, sessions={"zk-0": set()}, zookeeper_servers=1)
    assert not d["all_joined"] and 1 not in d["joined"]
    assert d["unparsable"][0]["broker_id"] == 1 and "garbage" in d["unparsable"][0]["data"]
    assert d["to_delete"] == d["to_unregister"] == []


ALL_QUIET = {"zookeeper-0": set(), "zookeeper-1": {0x1234}, "zookeeper-2": set()}


def test_foreign_endpoints_are_never_joined_nor_deleted():
    """The issue's imposter: a young registration of broker 3's id with someone else's endpoint."""
    regs, pods = healthy()
    regs[3] = {"endpoints": ["PLAINTEXT://imposter:1"], "timestamp": str(NOW - MIN), "version": 5}
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, sessions=ALL_QUIET, zookeeper_servers=3)
    assert not d["all_joined"] and d["joined"] == [0, 1, 2]
    assert d["foreign"] == [{"broker_id": 3, "endpoints": ["PLAINTEXT://imposter:1"], "session": "0x%x" % (OWNER + 3),
                             "expected": [",".join(endpoints(3))]}]
    assert d["to_delete"] == d["to_unregister"] == [] and d["stale"] == []


def test_partial_endpoints_are_foreign():
    regs, pods = healthy()
    regs[0] = {"endpoints": endpoints(0)[:1], "timestamp": str(NOW - MIN)}
    assert [f["broker_id"] for f in decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["foreign"]] == [0]


def test_listeners_the_current_pod_declares_are_its_own_during_a_rolling_change():
    regs, pods = healthy()
    old = ["PLAINTEXT://old-svc-1:9092", "INTERNAL://old-svc-1:9093"]
    regs[1] = {"endpoints": old, "timestamp": str(NOW - 9 * MIN)}
    pods[1][0]["advertised_listeners"] = ",".join(old)
    assert decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["all_joined"]
    pods[1][0]["advertised_listeners"] = None
    assert decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["foreign"][0]["broker_id"] == 1


def restarted(regs, pods, broker_id=1):
    """Broker broker_id's container was SIGKILLed and restarted: its registration predates the new one."""
    regs[broker_id] = reg(-30 * MIN)
    pods[broker_id][0].update(restart_count=1, last_state="terminated (Error, exit 137)")


def test_stale_registration_of_a_dead_writer_is_removed_by_version_when_no_server_lists_its_session():
    regs, pods = healthy()
    restarted(regs, pods)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, stats=dict((i, stat_of(OWNER + i, version=i)) for i in regs),
                sessions=ALL_QUIET, zookeeper_servers=3)
    assert d["stale"] == [1] and d["to_delete"] == []
    (item,) = d["to_unregister"]
    assert (item["broker_id"], item["path"], item["version"], item["ephemeral_owner"]) == (
        1, "/brokers/ids/1", 1, OWNER + 1)
    assert "no ZooKeeper server lists session 0x%x" % (OWNER + 1) in item["reason"]


def test_without_cons_answers_a_stale_registration_asks_for_them_and_is_not_removed():
    regs, pods = healthy()
    restarted(regs, pods)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["needs_sessions"] == [1] and d["to_unregister"] == []


@pytest.mark.parametrize("sessions, servers, why", [
    ({"zookeeper-0": set(), "zookeeper-1": {OWNER + 1}, "zookeeper-2": set()}, 3,
     "still connected to zookeeper-1"),
    ({"zookeeper-0": set(), "zookeeper-1": "cons: connection refused", "zookeeper-2": set()}, 3,
     "zookeeper-1 did not answer cons"),
    ({"zookeeper-0": set(), "zookeeper-2": set()}, 3, "only 2 of the 3 ZooKeeper servers answered"),
])
def test_stale_registration_is_kept_unless_every_server_of_the_plan_answered_without_its_session(
        sessions, servers, why):
    regs, pods = healthy()
    restarted(regs, pods)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, sessions=sessions, zookeeper_servers=servers)
    assert d["to_unregister"] == [] and d["stale"] == [1]
    assert why in d["stale_reasons"][1]
    # not proven: the old rule (delete the pod, wait for the session to expire) still applies
    assert [i["broker_id"] for i in d["to_delete"]] == [1]


def test_persistent_node_with_the_brokers_endpoints_is_never_removed():
    regs, pods = healthy()
    restarted(regs, pods)
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, stats={1: stat_of(owner=0)}, sessions=ALL_QUIET,
                zookeeper_servers=3)
    assert d["to_unregister"] == [] and "not ephemeral" in d["stale_reasons"][1]


def test_stale_registration_is_not_removed_while_a_pod_of_the_broker_is_terminating():
    regs, pods = healthy()
    regs[2] = reg(-30 * MIN)
    pods[2] = [pod("kafka-broker-2-old", 2, running=False, started=None, deleting=True),
               pod("kafka-broker-2-new", 2, started=-MIN)]
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW, sessions=ALL_QUIET, zookeeper_servers=3)
    assert d["to_unregister"] == [] and "still being deleted" in d["stale_reasons"][2]


def test_session_proof_needs_an_ephemeral_owner_and_answers():
    assert session_proof(OWNER, None, 3)[0] is False
    assert session_proof(0, ALL_QUIET, 3)[0] is False
    assert session_proof(OWNER, ALL_QUIET, 3) == (True, "no ZooKeeper server lists session 0x%x" % OWNER)


def api_pod(statuses, containers, labels=None):
    return {"metadata": {"name": "kafka-broker-1-x", "uid": "u1", "labels": labels or {"id": "1"},
                         "creationTimestamp": "2026-11-25T07:00:00Z"},
            "spec": {"containers": containers}, "status": {"phase": "Running", "containerStatuses": statuses}}


def test_the_broker_container_is_read_by_name_when_a_sidecar_sorts_first():
    sidecar = {"name": "a-log-shipper", "ready": True, "restartCount": 0,
               "state": {"running": {"startedAt": "2026-11-25T07:00:00Z"}}}
    broker = {"name": "broker", "ready": False, "restartCount": 2, "started": True,
              "state": {"running": {"startedAt": "2026-11-25T07:30:00Z"}},
              "lastState": {"terminated": {"exitCode": 137, "startedAt": "2026-11-25T07:00:01Z"}}}
    spec = [{"name": "a-log-shipper"}, {"name": "broker", "env": [
        {"name": "KAFKA_ADVERTISED_LISTENERS", "value": ",".join(endpoints(1))}]}]
    facts = pod_facts(api_pod([sidecar, broker], spec), "id", "broker")
    assert facts["restart_count"] == 2 and facts["started_at"] == pod_facts(
        api_pod([broker], spec), "id", "broker")["started_at"]
    assert facts["advertised_listeners"] == ",".join(endpoints(1))
    # a registration made by the broker's previous container (07:10) is stale, although the sidecar runs
    # since 07:00: with containerStatuses[0] it would have counted as the broker's own
    registration = {"endpoints": endpoints(1), "timestamp": str(facts["started_at"] - 20 * MIN)}
    d = decide([1], {1: registration}, {1: [facts]}, now_ms=facts["started_at"] + MIN, advertised=ADVERTISED,
               stats={1: stat_of()})
    assert d["stale"] == [1] and d["joined"] == []
    missing = pod_facts(api_pod([sidecar], [{"name": "a-log-shipper"}]), "id", "broker")
    assert missing["container_found"] is False and missing["running"] is False


def test_a_broker_loading_its_logs_is_waited_for_within_its_startup_budget_not_deleted():
    regs, pods = healthy()
    del regs[0]
    pods[0][0].update(started=False, startup_budget_ms=30 * MIN)  # running 10 min, startup probe not passed
    d = decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)
    assert d["to_delete"] == [] and d["waiting"][0]["kind"] == "starting"
    assert "has not passed its startup probe" in d["waiting"][0]["reason"]
    assert d["waiting"][0]["until_ms"] == NOW - 10 * MIN + 30 * MIN
    pods[0][0].update(startup_budget_ms=5 * MIN)  # past its budget: the kubelet restarts it; the heal may act
    assert [i["broker_id"] for i in decide_([0, 1, 2, 3], regs, pods, now_ms=NOW)["to_delete"]] == [0]


def test_ids_are_normalised_and_sorted():
    regs, pods = healthy()
    d = decide_(["3", 1, 0, 2, 2], regs, pods)
    assert d["expected"] == [0, 1, 2, 3] and d["all_joined"]


@pytest.mark.parametrize("data, expected", [
    ('{"version":2,"brokerid":3,"timestamp":"1795590000000","kraftControllerEpoch":-1}', 3),
    ('{"version":1,"brokerid":0,"timestamp":"1"}', 0),
    ("", None), (None, None), ("not json", None), ('{"version":1}', None), ('{"brokerid":"x"}', None),
])
def test_controller_id(data, expected):
    assert controller_id(data) == expected
