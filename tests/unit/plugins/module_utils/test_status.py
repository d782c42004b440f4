"""module_utils/status.py (pure): partitions classified from assignments and states, the metadata mode from what
runs, registrations judged from ZooKeeper or the KRaft metadata, zones, and the health rules of build_report in one
place; module_utils/k8s_objects.py: the read-only object calls (a missing object is None, a refusal an error)."""
import json

import pytest

from status_fakes import (
    ADVERTISED,
    LABEL,
    STARTED_MS,
    broker_pod,
    controller_statefulset,
    deployment,
    registration,
    statefulset,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils import status
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_objects import ObjectApi
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.kraft import parse_topics

SETTINGS = {"broker_id_label": LABEL, "broker_container": "broker", "zookeeper_container": "zookeeper",
            "controller_container": "controller", "zookeeper_servers": 3, "expected_controller_ids": [],
            "default_min_insync_replicas": 2, "client_config_name": "kafka-client-config", "zone_label": None}


# ------------------------------------------------------------------------------------------ partitions

def test_partitions_are_classified_offline_under_replicated_and_below_min_isr():
    assignments = {"a": {0: [1, 2, 3], 1: [1, 2, 3], 2: [1, 2, 3], 3: [1, 2, 3]}, "b": {0: [4]}, "c": {0: [1, 2]}}
    states = {("a", 0): {"leader": 1, "isr": [1, 2, 3]},
              ("a", 1): {"leader": -1, "isr": [3]},  # no leader: offline, in no other list
              ("a", 2): {"leader": 2, "isr": [2, 3]},  # under-replicated, at min ISR
              ("a", 3): {"leader": 3, "isr": [3]},  # under-replicated and below min ISR 2
              ("b", 0): None,  # no state at all: offline
              ("c", 0): {"leader": 1, "isr": [2, 1]}}  # ISR order does not matter
    found = status.classify_partitions(assignments, states, {"c": 3}, default_min_isr=2)
    assert found["total"] == 6 and found["topics"] == 3
    assert [(p["topic"], p["partition"]) for p in found["offline"]] == [("a", 1), ("b", 0)]
    assert [(p["topic"], p["partition"]) for p in found["under_replicated"]] == [("a", 2), ("a", 3)]
    # c-0 is fully in sync but its topic's own min ISR 3 is above its RF: acks=all cannot succeed.
    assert [(p["topic"], p["partition"], p["min_isr"]) for p in found["under_min_isr"]] == [("a", 3, 2), ("c", 0, 3)]
    assert found["offline"][1] == {"topic": "b", "partition": 0, "replicas": [4], "isr": [], "leader": -1, "min_isr": 2}


def test_no_topics_is_nothing_wrong():
    assert status.classify_partitions({}, {}) == {"topics": 0, "total": 0, "offline": [], "under_replicated": [],
                                                  "under_min_isr": []}


def test_the_kraft_description_gives_assignments_and_states_in_one_read():
    described = parse_topics("Topic: t\tTopicId: x\tPartitionCount: 2\tReplicationFactor: 2\tConfigs:\n"
                             "\tTopic: t\tPartition: 0\tLeader: none\tReplicas: 0,1\tIsr: 1\n"
                             "\tTopic: t\tPartition: 1\tLeader: -1\tReplicas: 0,1\tIsr: 0\n")
    assignments, states = status.partitions_from_topics(described)
    # "Leader: none" is not a line the parser reads: that partition has no state and counts as offline.
    assert assignments == {"t": {1: [0, 1]}} and states == {("t", 1): {"leader": -1, "isr": [0]}}
    assert [p["partition"] for p in status.classify_partitions(assignments, states)["offline"]] == [1]


# ------------------------------------------------------------------------------------- metadata mode

def test_the_metadata_mode_follows_the_migration_phase():
    zookeeper = status.metadata_state([deployment(0), deployment(1)], None, LABEL)
    assert (zookeeper["mode"], zookeeper["phase"], zookeeper["registrations"], zookeeper["partitions"]) == (
        "zookeeper", "zookeeper", "zookeeper", "zookeeper")
    migrating = status.metadata_state([deployment(0, "kraft"), deployment(1, "migrating")],
                                      controller_statefulset(migration=True), LABEL)
    assert (migrating["mode"], migrating["phase"], migrating["registrations"], migrating["partitions"],
            migrating["zookeeper"]) == ("migrating", "brokers_kraft", "kraft", "zookeeper", True)
    final = status.metadata_state([deployment(0, "kraft")], controller_statefulset(migration=False), LABEL)
    assert (final["mode"], final["finalized"], final["zookeeper"], final["registrations"], final["partitions"]) == (
        "kraft", True, False, "kraft", "kraft")
    reverting = status.metadata_state([deployment(0)], None, LABEL, migration_znode='{"kraft_metadata_offset": -1}')
    assert reverting["reverting"] and "rollback of a migration is half-way" in status.describe_metadata(reverting)


def test_client_endpoints_take_the_listener_on_the_client_port():
    assert status.client_endpoints(ADVERTISED, 9092)[2] == "kafka-service-2:9092"
    assert status.client_endpoints({"5": ["INTERNAL://b5:9093", "PLAINTEXT://b5:9092"]}, 9093) == {5: "b5:9093"}
    assert status.client_endpoints({"5": "INTERNAL://b5:9093"}, 9092) == {}


def test_containers_are_found_by_name_and_zones_by_node():
    pod = broker_pod(0, sidecar_first=True)
    assert status.container(pod, "broker")["image"] == "confluentinc/cp-kafka:7.9.11"
    assert status.container(deployment(1), "broker")["name"] == "broker"
    assert status.container(statefulset("zookeeper", "zookeeper", "zookeeper:3.9.3"), "broker") is None
    zones = status.node_zones([{"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "za"}}},
                               {"metadata": {"name": "n2", "labels": {}}}])
    assert status.pod_zone("n1", zones) == "za" and status.pod_zone("n2", zones) == "(no zone label)"
    assert status.pod_zone(None, zones) == "(not scheduled)" and status.pod_zone("n9", zones) == "(zone unknown)"
    assert status.pod_zone("n1", None) == "(zone unknown)"


# ---------------------------------------------------------------------------------------------- report

def observed(**changes):
    """A healthy ZooKeeper-mode read of 2 brokers; ``changes`` replace its parts."""
    base = {
        "namespace": "kafka", "expected_broker_ids": [0, 1], "advertised": dict((int(k), v) for k, v in ADVERTISED.items()),
        "addresses": {0: "kafka-service-0:9092", 1: "kafka-service-1:9092"},
        "deployments": [deployment(0), deployment(1)], "broker_pods": [broker_pod(0), broker_pod(1)],
        "zookeeper_pods": [], "controller_pods": [], "nodes": [], "zookeeper_statefulset": None,
        "controller_statefulset": None, "client_config": None,
        "metadata": status.metadata_state([deployment(0), deployment(1)], None, LABEL),
        "zookeeper_answers": dict(("zookeeper-%d" % i, {"serving": True, "mode": "leader" if i == 0 else "follower"})
                                  for i in range(3)),
        "registrations": dict((i, json.loads(registration(i))) for i in (0, 1)),
        "stats": dict((i, {"ctime": STARTED_MS + 20000, "ephemeral_owner": 7, "version": 0}) for i in (0, 1)),
        "controller_znode": json.dumps({"brokerid": 0}),
        "partitions": {"assignments": {"t": {0: [0, 1]}}, "states": {("t", 0): {"leader": 0, "isr": [0, 1]}},
                       "min_isr": {}},
        "errors": {}, "skipped": {},
    }
    base.update(changes)
    return base


def test_a_healthy_read_is_healthy():
    report = status.build_report(observed(), SETTINGS)
    assert report["healthy"] and report["problems"] == [] and report["lines"][-1] == "Healthy."
    assert report["status"]["healthy"] is True and report["status"]["problems"] == []


def test_a_registration_older_than_its_broker_container_is_stale_not_own():
    stats = {0: {"ctime": STARTED_MS - 600000, "ephemeral_owner": 7, "version": 0},
             1: {"ctime": STARTED_MS + 20000, "ephemeral_owner": 7, "version": 0}}
    report = status.build_report(observed(stats=stats), SETTINGS)
    assert not report["healthy"] and report["status"]["brokers"][0]["state"] == "stale"
    assert report["problems"][0].startswith("Broker 0 is not registered under its own endpoint (stale)")


def test_a_registration_without_endpoints_is_unparsable():
    registrations = {0: {"unparsed": "hello"}, 1: json.loads(registration(1))}
    report = status.build_report(observed(registrations=registrations), SETTINGS)
    assert report["status"]["brokers"][0]["state"] == "unparsable" and not report["healthy"]


def test_each_unhealthy_part_is_one_problem_sentence():
    report = status.build_report(observed(
        zookeeper_answers={"zookeeper-0": {"serving": True, "mode": "leader"}, "zookeeper-1": "pod is Pending",
                           "zookeeper-2": "pod is Pending"},
        registrations={0: json.loads(registration(0, endpoints=["PLAINTEXT://imposter:1"]))},
        partitions={"assignments": {"t": {0: [0, 1], 1: [0, 1]}},
                    "states": {("t", 0): {"leader": -1, "isr": []}, ("t", 1): {"leader": 0, "isr": [0]}}, "min_isr": {}}),
        SETTINGS)
    problems = report["problems"]
    assert len(problems) == 5 and not report["healthy"]
    assert problems[0].startswith("ZooKeeper has no quorum")
    assert problems[1].startswith("Broker 0 is not registered under its own endpoint (foreign)")
    assert problems[2].startswith("Broker 1 is not registered under its own endpoint (missing)")
    assert problems[3].startswith("1 partition(s) offline") and problems[4].startswith("1 partition(s) under-replicated")
    assert report["lines"][-6] == "UNHEALTHY: 5 problem(s)."


def test_failed_reads_of_what_health_needs_are_problems_and_skipped_ones_notes():
    report = status.build_report(observed(errors={"partitions": "zkCli timed out"}), SETTINGS)
    assert report["problems"] == ["The partitions could not be read from ZooKeeper: zkCli timed out."]
    report = status.build_report(observed(skipped={"partitions": "ZooKeeper has no quorum to answer"}), SETTINGS)
    assert report["healthy"] and any(n.startswith("The partitions could not be read") for n in report["notes"])
    report = status.build_report(observed(errors={"registrations": "zkCli failed"}), SETTINGS)
    assert [b["state"] for b in report["status"]["brokers"]] == ["unknown", "unknown"]
    assert report["problems"] == ["The brokers' registrations in ZooKeeper (/brokers/ids) could not be read: zkCli failed."]


def test_kraft_registrations_are_judged_by_their_listed_endpoint():
    state = status.metadata_state([deployment(0, "kraft"), deployment(1, "kraft")], controller_statefulset(False), LABEL)
    report = status.build_report(observed(
        metadata=state, zookeeper_answers=None, registrations=None, controller_znode=None,
        kraft_quorum={"leader_id": None, "leader_epoch": 3, "voters": [3000]},
        kraft_endpoints={0: "kafka-service-0:9092", 1: "10.0.0.9:9092", 9: "x:9092"}), SETTINGS)
    states = dict((b["id"], b["state"]) for b in report["status"]["brokers"])
    assert states == {0: "joined", 1: "foreign"} and report["status"]["unexpected_brokers"] == [9]
    assert report["problems"][0] == "The KRaft controllers have no quorum: no leader (voters 3000)."
    assert report["status"]["controller"] is None


def test_placement_groups_every_pod_by_its_nodes_zone():
    nodes = [{"metadata": {"name": "node-za", "labels": {"topology.kubernetes.io/zone": "za"}}}]
    pending = broker_pod(1)
    pending["spec"].pop("nodeName")
    zookeeper = {"metadata": {"name": "zookeeper-0"}, "spec": {"nodeName": "node-za"}}
    leaving = {"metadata": {"name": "zookeeper-9", "deletionTimestamp": "x"}, "spec": {"nodeName": "node-za"}}
    report = status.build_report(observed(nodes=nodes, broker_pods=[broker_pod(0), pending],
                                          zookeeper_pods=[zookeeper, leaving]), SETTINGS)
    assert report["status"]["placement"] == {
        "za": {"brokers": [0], "zookeeper": ["zookeeper-0"], "controllers": []},
        "(not scheduled)": {"brokers": [1], "zookeeper": [], "controllers": []}}


# ------------------------------------------------------------------------------------------- k8s_objects

class ApiException(Exception):
    def __init__(self, status, reason=""):
        super(ApiException, self).__init__(reason)
        self.status, self.reason, self.body = status, reason, ""


class FakeResponse:
    def __init__(self, body):
        self.data = json.dumps(body).encode("utf-8")


class FakeApi:
    """A typed API whose every call answers ``{"kind": <method name>}`` (a list: one such item), or raises ``fail``."""

    def __init__(self, fail=None):
        self.fail = fail
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if self.fail is not None:
                raise self.fail
            return FakeResponse({"items": [{"kind": name}]} if name.startswith("list") else {"kind": name})
        return call


def test_object_reads_return_json_a_missing_object_is_none_and_a_refusal_an_error(monkeypatch):
    from ansible_collections.kafka_eks.cluster.plugins.module_utils import k8s_objects
    monkeypatch.setattr(k8s_objects, "ApiException", ApiException)
    api = ObjectApi(None, core_v1=FakeApi(), apps_v1=FakeApi())
    assert api.list_nodes() == [{"kind": "list_node"}]
    assert api.get_stateful_set("kafka", "zookeeper") == {"kind": "read_namespaced_stateful_set"}
    assert api.list_deployments("kafka", "a=b") == [{"kind": "list_namespaced_deployment"}]
    assert api.apps.calls[-1][2] == {"label_selector": "a=b", "_request_timeout": 30, "_preload_content": False}
    missing = ObjectApi(None, core_v1=FakeApi(ApiException(404, "Not Found")), apps_v1=FakeApi())
    assert missing.get_config_map("kafka", "kafka-client-config") is None
    refused = ObjectApi(None, core_v1=FakeApi(ApiException(403, "Forbidden")), apps_v1=FakeApi())
    with pytest.raises(PodApiError) as info:
        refused.list_nodes()
    assert "listing the nodes failed: HTTP 403 Forbidden" in str(info.value) and not info.value.transient
    with pytest.raises(PodApiError) as info:
        refused.get_config_map("kafka", "x")
    assert "reading ConfigMap kafka/x" in str(info.value)
    # A list that is not found is an error (a wrong API group or version), not an empty list.
    with pytest.raises(PodApiError):
        ObjectApi(None, core_v1=FakeApi(ApiException(404, "Not Found")), apps_v1=FakeApi()).list_nodes()
    dropped = ObjectApi(None, core_v1=FakeApi(OSError("reset")), apps_v1=FakeApi())
    with pytest.raises(PodApiError) as info:
        dropped.list_nodes()
    assert info.value.transient
