"""module_utils/migration.py and kraft.py: the phase of a migration to KRaft read from what runs, the one step a
run takes toward kafka_metadata_mode (forward, at the soak point, finalizing, and back from every reversible
phase), the brokers' properties in each mode, and the KRaft tools' answers - including the awkward states: a
roll stopped half-way, /migration without a copy, a /controller still held by a ZooKeeper broker, a rollback left
half-way, a foreign endpoint in the metadata."""
import copy
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import kraft, migration, versions
from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import PlanError, build_plan
from role_defaults import role_defaults

LABEL = "kafka-eks.cluster/broker-id"
IMAGE = "confluentinc/cp-kafka:7.9.11"


def make_plan(**overrides):
    cfg = copy.deepcopy(role_defaults())
    cfg.update(kafka_broker_count=3, kafka_controller_replicas=3, kafka_broker_image=IMAGE)
    cfg.update(overrides)
    plan = build_plan(cfg)
    return dict(plan, upgrade={"step": "steady", "inter_broker_protocol_version": "3.9"})


def deployment(broker, mode):
    env = [{"name": "KAFKA_BROKER_ID", "value": str(broker)}]
    if mode == "migrating":
        env.append({"name": "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE", "value": "true"})
    if mode == "kraft":
        env.append({"name": "KAFKA_PROCESS_ROLES", "value": "broker"})
    return {"metadata": {"labels": {LABEL: str(broker)}},
            "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "env": []},
                                                          {"name": "broker", "env": env}]}}}}


def controllers(migration_flag=True):
    env = [{"name": "KAFKA_PROCESS_ROLES", "value": "controller"}]
    if migration_flag:
        env.append({"name": "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE", "value": "true"})
    return {"spec": {"template": {"spec": {"containers": [{"name": "controller", "env": env}]}}}}


COPIED = {"version": 0, "kraft_controller_id": 3000, "kraft_controller_epoch": 2, "kraft_metadata_offset": 41,
          "kraft_metadata_epoch": 1}
NOT_COPIED = dict(COPIED, kraft_metadata_offset=-1)
KRAFT_CONTROLLER = {"version": 2, "brokerid": 3000, "timestamp": "1", "kraftControllerEpoch": 2}
ZK_CONTROLLER = {"version": 1, "brokerid": 0, "timestamp": "1"}


def evidence(modes, sts=None, migration_znode=None, controller_znode=None, cluster_id="abc"):
    facts = {"migration_znode": migration_znode, "controller_znode": controller_znode,
             "migration_exists": migration_znode is not None, "cluster_id": cluster_id}
    return migration.evidence_from([deployment(b, m) for b, m in enumerate(modes)], [sts] if sts else [], LABEL, facts)


def decide(modes, sts=None, mz=None, cz=None, **settings):
    cz = ZK_CONTROLLER if cz is None else cz
    plan = make_plan(**settings)
    result, errors = migration.apply_to_plan(plan, evidence(modes, sts, mz, cz))
    return result, errors


# -- phases ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("modes, sts, mz, cz, phase", [
    (["zookeeper"] * 3, None, None, ZK_CONTROLLER, "zookeeper"),
    (["zookeeper"] * 3, controllers(), None, ZK_CONTROLLER, "controllers"),
    # /migration exists as soon as a KRaft controller leads, before any copy: not migrated.
    (["zookeeper"] * 3, controllers(), NOT_COPIED, ZK_CONTROLLER, "controllers"),
    (["migrating", "zookeeper", "zookeeper"], controllers(), NOT_COPIED, ZK_CONTROLLER, "brokers_migrating"),
    (["migrating"] * 3, controllers(), NOT_COPIED, KRAFT_CONTROLLER, "brokers_migrating"),
    (["migrating"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, "migrated"),
    # A copy recorded by another controller epoch than the one holding /controller proves nothing.
    (["migrating"] * 3, controllers(), COPIED, dict(KRAFT_CONTROLLER, kraftControllerEpoch=3), "brokers_migrating"),
    (["migrating"] * 3, controllers(), COPIED, ZK_CONTROLLER, "brokers_migrating"),
    (["kraft", "migrating", "migrating"], controllers(), COPIED, KRAFT_CONTROLLER, "brokers_kraft"),
    (["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, "kraft"),
    (["kraft"] * 3, controllers(migration_flag=False), COPIED, KRAFT_CONTROLLER, "finalized"),
])
def test_the_phase_is_read_from_what_runs(modes, sts, mz, cz, phase):
    assert migration.detect_phase(evidence(modes, sts, mz, cz))["phase"] == phase


def test_a_rollback_left_half_way_is_seen():
    found = migration.detect_phase(evidence(["migrating", "zookeeper", "zookeeper"], None, NOT_COPIED))
    assert found["phase"] == "zookeeper" and found["reverting"]
    found = migration.detect_phase(evidence(["zookeeper"] * 3, None, COPIED))
    assert found["reverting"]
    assert not migration.detect_phase(evidence(["zookeeper"] * 3))["reverting"]


@pytest.mark.parametrize("data, parsed", [
    (json.dumps(COPIED), COPIED), (json.dumps(COPIED).encode(), COPIED), ("not json", None), ("[1]", None),
    (None, None), ("", None), (COPIED, COPIED)])
def test_znode_data_is_read_as_a_json_object_or_nothing(data, parsed):
    assert migration.parse_json_znode(data) == parsed


def test_the_copy_needs_an_offset_and_the_same_epoch():
    assert migration.migration_completed(json.dumps(COPIED), json.dumps(KRAFT_CONTROLLER))
    assert not migration.migration_completed(json.dumps(NOT_COPIED), json.dumps(KRAFT_CONTROLLER))
    assert not migration.migration_completed(json.dumps(dict(COPIED, kraft_metadata_offset=True)),
                                             json.dumps(KRAFT_CONTROLLER))
    assert not migration.migration_completed(json.dumps(COPIED), None)
    assert not migration.migration_completed(None, json.dumps(KRAFT_CONTROLLER))


# -- steps forward --------------------------------------------------------------------------------------------


def test_a_zookeeper_cluster_stays_as_it_is_in_zookeeper_mode():
    result, errors = decide(["zookeeper"] * 3)
    assert errors == [] and result["migration"]["step"] == "steady"
    assert result["migration"]["controllers"] == "absent"
    assert all("KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE" not in [e["name"] for e in b["env"]]
               for b in result["brokers"])


def test_kraft_starts_with_the_controllers_then_the_brokers_in_migration_mode():
    result, errors = decide(["zookeeper"] * 3, kafka_metadata_mode="kraft")
    decision = result["migration"]
    assert errors == []
    assert decision["step"] == "deploy_controllers" and decision["controllers"] == "migration"
    assert decision["broker_mode"] == "migrating" and decision["wait_for_migration"]
    assert decision["continue_after_roll"] and decision["registrations"] == "zookeeper"
    props = result["brokers"][1]["properties"]
    assert props["zookeeper.metadata.migration.enable"] == "true" and props["broker.id"] == "1"
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["listener.security.protocol.map"].endswith(",CONTROLLER:PLAINTEXT")
    assert props["controller.quorum.voters"] == result["controller"]["voters"]
    assert result["controller"]["voters"].startswith(
        "3000@kafka-controller-0.kafka-controller-hs.kafka.svc.cluster.local:9093,3001@")
    controller = result["controller"]["properties"]
    assert controller["process.roles"] == "controller" and controller["zookeeper.metadata.migration.enable"] == "true"
    assert controller["zookeeper.connect"] == result["zookeeper"]["connect"]
    assert controller["inter.broker.listener.name"] == "INTERNAL"
    assert "node.id" not in controller  # set per pod from its ordinal
    assert decision["cluster_id"] == "abc"


def test_the_broker_roll_into_migration_mode_continues_where_it_stopped():
    result, errors = decide(["migrating", "zookeeper", "zookeeper"], controllers(), NOT_COPIED,
                            kafka_metadata_mode="kraft")
    assert errors == [] and result["migration"]["step"] == "brokers_to_migration"
    assert all(b["mode"] == "migrating" for b in result["brokers"])


def test_once_copied_the_brokers_go_to_kraft_and_the_run_stops_at_the_soak_point():
    result, errors = decide(["migrating"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft")
    decision = result["migration"]
    assert errors == [] and decision["step"] == "brokers_to_kraft" and decision["soak"]
    assert not decision["continue_after_roll"] and decision["registrations"] == "kraft"
    props = result["brokers"][2]["properties"]
    assert props["process.roles"] == "broker" and props["node.id"] == "2"
    for gone in ("broker.id", "zookeeper.connect", "zookeeper.metadata.migration.enable",
                 "inter.broker.protocol.version"):
        assert gone not in props
    env = dict((e["name"], e["value"]) for e in result["brokers"][2]["env"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker" and env["KAFKA_NODE_ID"] == "2" and env["CLUSTER_ID"] == "abc"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in env


def test_at_the_soak_point_nothing_moves_until_finalize_is_asked():
    result, errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft")
    assert errors == [] and result["migration"]["step"] == "soak" and result["migration"]["controllers"] == "migration"
    result, errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft",
                            kafka_migration_finalize=True)
    decision = result["migration"]
    assert errors == [] and decision["step"] == "finalize" and decision["irreversible"]
    assert decision["controllers"] == "final"
    assert "zookeeper.metadata.migration.enable" not in result["controller"]["properties"]
    assert "zookeeper.connect" not in result["controller"]["properties"]


def test_finalize_asked_early_rolls_to_kraft_first_and_continues():
    result, _errors = decide(["migrating"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft",
                             kafka_migration_finalize=True)
    assert result["migration"]["step"] == "brokers_to_kraft" and result["migration"]["continue_after_roll"]


def test_a_finalized_cluster_is_steady_in_kraft_and_refuses_to_go_back():
    result, errors = decide(["kraft"] * 3, controllers(False), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft")
    assert errors == [] and result["migration"]["step"] == "steady" and result["migration"]["controllers"] == "final"
    result, errors = decide(["kraft"] * 3, controllers(False), COPIED, KRAFT_CONTROLLER)
    assert result["migration"]["step"] == "refused"
    assert errors and errors[0].startswith("kafka_metadata_mode:") and "cannot be undone" in errors[0]


@pytest.mark.parametrize("settings, upgrade, problem", [
    ({"kafka_broker_image": "apache/kafka:3.9.0"}, None, "3.9.1 or later"),
    ({"kafka_broker_image": "confluentinc/cp-kafka:7.9.1"}, None, "is Kafka 3.9.0"),
    ({"kafka_broker_image": "confluentinc/cp-kafka:7.9"}, None, "does not say which 3.9 patch"),
    ({"kafka_broker_image": "confluentinc/cp-kafka:5.5.11"}, None, "3.9.1 or later"),
    ({}, {"step": "binaries", "inter_broker_protocol_version": "2.5"}, "never change the protocol"),
    ({}, {"step": "steady", "inter_broker_protocol_version": "3.8"}, "inter.broker.protocol.version 3.9"),
])
def test_a_migration_kafka_does_not_support_is_refused(settings, upgrade, problem):
    plan = make_plan(kafka_metadata_mode="kraft", **settings)
    if upgrade:
        plan["upgrade"] = upgrade
    result, errors = migration.apply_to_plan(plan, evidence(["zookeeper"] * 3))
    assert result["migration"]["step"] == "refused"
    assert any(problem in e for e in errors), errors


@pytest.mark.parametrize("image, release", [
    ("confluentinc/cp-kafka:7.9.0", (3, 9, 0)), ("confluentinc/cp-kafka:7.9.1-1-ubi8", (3, 9, 0)),
    ("confluentinc/cp-kafka:7.9.2", (3, 9, 1)), ("confluentinc/cp-server:7.9.5", (3, 9, 1)),
    ("confluentinc/cp-kafka:7.9.11", (3, 9, 2)), ("confluentinc/cp-kafka:7.9", (3, 9, None)),
    ("confluentinc/cp-kafka:7.8.3", (3, 8, None)), ("apache/kafka:3.9.1", (3, 9, 1)), ("x/y:latest", None)])
def test_the_apache_patch_of_a_confluent_release_is_known_where_a_migration_needs_it(image, release):
    assert versions.kafka_release(image) == release


def test_a_migration_without_a_cluster_id_or_brokers_is_refused():
    _result, errors = migration.apply_to_plan(make_plan(kafka_metadata_mode="kraft"),
                                              evidence(["zookeeper"] * 3, cluster_id=None))
    assert errors and "/cluster/id" in errors[0]
    _result, errors = migration.apply_to_plan(make_plan(kafka_metadata_mode="kraft"), evidence([]))
    assert errors and "no broker runs yet" in errors[0]


def test_a_new_migration_after_a_half_done_rollback_is_refused():
    _result, errors = decide(["zookeeper"] * 3, None, COPIED, kafka_metadata_mode="kraft")
    assert errors and "strimzi#11262" in errors[0]


# -- steps back -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("modes, mz, cz", [
    (["zookeeper"] * 3, None, ZK_CONTROLLER),
    (["migrating", "zookeeper", "zookeeper"], NOT_COPIED, ZK_CONTROLLER),
    (["migrating"] * 3, COPIED, KRAFT_CONTROLLER),
])
def test_back_from_controllers_or_migration_mode_removes_the_controllers_then_rolls(modes, mz, cz):
    result, errors = decide(modes, controllers(), mz, cz)
    decision = result["migration"]
    assert errors == [] and decision["step"] == "remove_controllers"
    assert decision["controllers"] == "absent" and decision["revert_zookeeper"]
    assert decision["broker_mode"] == "zookeeper" and decision["registrations"] == "zookeeper"
    assert all("zookeeper.metadata.migration.enable" not in b["properties"] for b in result["brokers"])


@pytest.mark.parametrize("modes", [["kraft"] * 3, ["kraft", "migrating", "migrating"]])
def test_back_from_kraft_brokers_keeps_the_migration_flag_for_the_first_roll(modes):
    result, errors = decide(modes, controllers(), COPIED, KRAFT_CONTROLLER)
    decision = result["migration"]
    assert errors == [] and decision["step"] == "revert_brokers_to_zookeeper"
    assert decision["controllers"] == "migration" and not decision["revert_zookeeper"]
    assert decision["broker_mode"] == "migrating" and decision["continue_after_roll"]
    assert decision["registrations"] == "kraft"
    props = result["brokers"][0]["properties"]
    assert props["zookeeper.metadata.migration.enable"] == "true" and props["broker.id"] == "0"
    assert "process.roles" not in props


def test_a_rollback_left_half_way_is_finished():
    result, errors = decide(["migrating", "zookeeper", "zookeeper"], None, NOT_COPIED)
    assert errors == [] and result["migration"]["step"] == "finish_revert" and result["migration"]["revert_zookeeper"]
    assert all(b["mode"] == "zookeeper" for b in result["brokers"])


def test_the_plan_given_is_not_changed():
    plan = make_plan(kafka_metadata_mode="kraft")
    before = copy.deepcopy(plan)
    migration.apply_to_plan(plan, evidence(["zookeeper"] * 3))
    assert plan == before


def test_only_a_migration_or_its_traces_make_zookeeper_be_asked():
    plan = make_plan()
    assert not migration.needs_evidence(plan, [deployment(0, "zookeeper")], [])
    assert migration.needs_evidence(plan, [deployment(0, "migrating")], [])
    assert migration.needs_evidence(plan, [deployment(0, "zookeeper")], [controllers()])
    assert migration.needs_evidence(make_plan(kafka_metadata_mode="kraft"), [], [])


# -- plan checks ----------------------------------------------------------------------------------------------


def plan_errors(**overrides):
    with pytest.raises(PlanError) as info:
        make_plan(**overrides)
    return info.value.errors


def test_an_even_controller_quorum_is_refused():
    errors = plan_errors(kafka_controller_replicas=2)
    assert errors[0].startswith("kafka_controller_replicas:") and "odd" in errors[0]


def test_controller_node_ids_that_collide_with_broker_ids_are_refused():
    errors = plan_errors(kafka_metadata_mode="kraft", kafka_broker_ids=[0, 1, 3001],
                         kafka_broker_extra_config={"reserved.broker.max.id": 5000})
    assert any(e.startswith("kafka_controller_node_id_offset:") and "3001" in e for e in errors)
    errors = plan_errors(kafka_metadata_mode="kraft", kafka_controller_node_id_offset=500)
    assert any("reserved.broker.max.id" in e for e in errors)
    # In ZooKeeper mode the controllers do not exist, so their ids do not refuse anything.
    make_plan(kafka_controller_node_id_offset=500)


@pytest.mark.parametrize("key", ["process.roles", "node.id", " Controller_Quorum_Voters ",
                                 "zookeeper.metadata.migration.enable", "controller.listener.names"])
def test_the_migration_properties_cannot_be_set_by_hand(key):
    errors = plan_errors(kafka_broker_extra_config={key: "x"})
    assert errors[0].startswith("kafka_broker_extra_config:")


def test_a_controller_heap_above_its_limit_is_refused():
    errors = plan_errors(kafka_controller_heap_opts="-Xmx2g", kafka_controller_resources={"limits": {"memory": "1Gi"}})
    assert errors[0].startswith("kafka_controller_heap_opts:")


# -- the KRaft tools' answers -----------------------------------------------------------------------------------

STATUS_3_9 = """ClusterId:              abc
LeaderId:               3001
LeaderEpoch:            4
HighWatermark:          120
MaxFollowerLag:         0
MaxFollowerLagTimeMs:   0
CurrentVoters:          [{"id": 3000, "directoryId": null, "endpoints": ["CONTROLLER://c-0:9093"]}, {"id": 3001}, {"id": 3002}]
CurrentObservers:       [{"id": 0, "directoryId": "x"}, {"id": 1, "directoryId": "y"}]
"""
STATUS_OLD = """ClusterId:              abc
LeaderId:               3000
LeaderEpoch:            1
HighWatermark:          7
CurrentVoters:          [3000,3001,3002]
CurrentObservers:       []
"""


def test_the_quorum_status_is_read_in_both_formats():
    status = kraft.parse_quorum_status(STATUS_3_9)
    assert status["leader_id"] == 3001 and status["voters"] == [3000, 3001, 3002] and status["observers"] == [0, 1]
    assert status["cluster_id"] == "abc" and status["leader_epoch"] == 4
    status = kraft.parse_quorum_status(STATUS_OLD)
    assert status["leader_id"] == 3000 and status["voters"] == [3000, 3001, 3002]


def test_a_quorum_without_a_leader_or_an_error_text_is_not_a_status():
    assert kraft.parse_quorum_status(STATUS_OLD.replace("3000\n", "-1\n", 1))["leader_id"] is None
    with pytest.raises(kraft.KRaftError):
        kraft.parse_quorum_status("Exception in thread main: org.apache.kafka.common.errors.TimeoutException")


API_VERSIONS = """kafka-service-1:9092 (id: 1 rack: null) -> (
\tProduce(0): 0 to 11 [usable: 11],
)
kafka-service-0:9092 (id: 0 rack: eu-west-1a) -> (
\tProduce(0): 0 to 11 [usable: 11],
)
somewhere-else:9092 (id: 2 rack: null) -> (
)
"""


def test_brokers_count_only_with_their_own_endpoint():
    endpoints = kraft.parse_broker_endpoints(API_VERSIONS)
    assert endpoints == {1: "kafka-service-1:9092", 0: "kafka-service-0:9092", 2: "somewhere-else:9092"}
    split = kraft.own_registrations(endpoints, {0: "kafka-service-0:9092", 1: "kafka-service-1:9092",
                                                2: "kafka-service-2:9092", 3: "kafka-service-3:9092"})
    assert split["joined"] == [0, 1] and split["missing"] == [3]
    assert split["foreign"] == [{"broker": 2, "found": "somewhere-else:9092", "expected": "kafka-service-2:9092"}]


class FakePods:
    """Pods and exec answers; a pod may fail its exec, answer garbage, or be terminating."""

    def __init__(self, pods, answers):
        self.pods = pods
        self.answers = answers
        self.calls = []

    def list_pods(self, namespace, selector):
        return self.pods

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.calls.append((name, container, argv))
        answer = self.answers[name]
        if isinstance(answer, Exception):
            raise answer
        return answer


def pod(name, container="controller", running=True, deleting=False):
    meta = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T10:00:00Z"
    state = {"running": {}} if running else {"waiting": {"reason": "CrashLoopBackOff"}}
    return {"metadata": meta, "status": {"phase": "Running", "containerStatuses": [
        {"name": "sidecar", "state": {"running": {}}}, {"name": container, "state": state}]}}


def test_the_quorum_is_asked_of_a_running_controller_and_the_next_one_on_failure():
    pods = FakePods([pod("c-2"), pod("c-0", deleting=True), pod("c-1", running=False), pod("c-3")],
                    {"c-2": RuntimeError("stream lost"), "c-3": (0, STATUS_OLD, "")})
    status = kraft.KRaftAccess(pods, "kafka").quorum_status("sel", 9093)
    assert status["leader_id"] == 3000 and status["asked"] == "c-3"
    assert [c[0] for c in pods.calls] == ["c-2", "c-3"]
    assert pods.calls[1][2] == ["kafka-metadata-quorum", "--bootstrap-controller", "localhost:9093", "describe",
                                "--status"]
    assert pods.calls[1][1] == "controller"


def test_no_answer_names_every_pod_tried():
    pods = FakePods([pod("c-0"), pod("c-1")], {"c-0": (1, "", "Connection refused"), "c-1": (0, "garbage", "")})
    with pytest.raises(kraft.KRaftError) as info:
        kraft.KRaftAccess(pods, "kafka").quorum_status("sel", 9093)
    assert "c-0" in str(info.value) and "Connection refused" in str(info.value) and "c-1" in str(info.value)
    with pytest.raises(kraft.KRaftError):
        kraft.KRaftAccess(FakePods([pod("c-0", running=False)], {}), "kafka").quorum_status("sel", 9093)


def test_waiting_keeps_reading_through_errors_until_done_or_the_deadline():
    now = [0.0]
    answers = [kraft.KRaftError("starting"), {"n": 1}, {"n": 2}]

    def read():
        item = answers.pop(0) if answers else {"n": 2}
        if isinstance(item, Exception):
            raise item
        return item

    def sleep(seconds):
        now[0] += seconds

    result, waited, ok = kraft.wait_until(read, lambda r: r["n"] == 2, 60, 5, clock=lambda: now[0], sleep=sleep)
    assert ok and result == {"n": 2} and waited == 10.0
    result, waited, ok = kraft.wait_until(lambda: {"n": 0}, lambda r: r["n"] == 2, 12, 5, clock=lambda: now[0],
                                          sleep=sleep)
    assert not ok and waited <= 12


DESCRIBE = """Topic: e2e\tTopicId: abc\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2
\tTopic: e2e\tPartition: 0\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0
\tTopic: e2e\tPartition: 1\tLeader: 2\tReplicas: 2,0,1\tIsr: 2,1
Topic: only-kraft\tTopicId: def\tPartitionCount: 1\tReplicationFactor: 1\tConfigs:
\tTopic: only-kraft\tPartition: 0\tLeader: 0\tReplicas: 0\tIsr: 0
"""


def test_topics_are_compared_between_zookeeper_and_kraft():
    topics = kraft.parse_topics(DESCRIBE)
    assert topics["e2e"]["partitions"] == 2 and topics["e2e"]["replicas"][1] == [0, 1, 2]
    assert topics["e2e"]["isr"][1] == [1, 2]
    problems = kraft.compare_topics({"e2e": {0: [1, 2, 0], 1: [2, 0, 1]}, "only-zk": {0: [0]}}, topics)
    assert "topic only-zk is in ZooKeeper but not in the KRaft metadata" in problems
    assert "topic only-kraft is in the KRaft metadata but not in ZooKeeper" in problems
    assert "partition e2e-1 is under-replicated (ISR [1, 2] of replicas [0, 1, 2])" in problems
    assert not [p for p in problems if "e2e-0" in p]
    two = {"e2e": {"partitions": 2, "replication_factor": 3, "replicas": {0: [0, 1, 2]}, "isr": {0: [0, 1, 2]}}}
    assert kraft.compare_topics({"e2e": {0: [1, 2, 0]}}, two) == ["topic e2e has 1 partitions in ZooKeeper and 2 in KRaft"]
    in_sync = DESCRIBE.replace("Isr: 2,1", "Isr: 2,1,0").split("Topic: only-kraft", maxsplit=1)[0]
    assert kraft.compare_topics({"e2e": {0: [1, 2, 0], 1: [2, 0, 1]}}, kraft.parse_topics(in_sync)) == []


def test_a_second_pass_in_the_same_run_starts_from_the_zookeeper_mode_properties():
    plan = make_plan()
    first, _errors = migration.apply_to_plan(plan, evidence(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER))
    assert first["migration"]["broker_mode"] == "migrating"
    # The rollback's second pass: controllers gone, brokers in migration mode; rendered without any migration
    # setting, from the plan the first pass left.
    second, errors = migration.apply_to_plan(first, evidence(["migrating"] * 3, controllers(), COPIED, KRAFT_CONTROLLER))
    assert errors == [] and second["migration"]["step"] == "remove_controllers"
    for broker in second["brokers"]:
        assert broker["properties"] == plan["brokers"][broker["index"]]["properties"]
        assert broker["env"] == plan["brokers"][broker["index"]]["env"]


def test_a_zookeeper_broker_writing_the_new_controller_format_is_not_kraft():
    assert not migration.kraft_holds_controller(json.dumps(dict(ZK_CONTROLLER, version=2, kraftControllerEpoch=-1)))
    assert migration.kraft_holds_controller(json.dumps(KRAFT_CONTROLLER))
    assert not migration.kraft_holds_controller(json.dumps(dict(KRAFT_CONTROLLER, kraftControllerEpoch="1")))


# -- after finalizing: ZooKeeper's removal, Kafka 4, nothing read from ZooKeeper ---------------------------------

KAFKA_4 = "confluentinc/cp-kafka:8.0.0"


def finalized_controllers(image=IMAGE, cluster_id="abc"):
    sts = controllers(migration_flag=False)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["image"] = image
    container["env"].append({"name": "CLUSTER_ID", "value": cluster_id})
    return sts


def decide_finalized(sts=None, zookeeper_runs=True, facts=None, **settings):
    plan = make_plan(kafka_metadata_mode="kraft", kafka_migration_finalize=True, **settings)
    found = migration.evidence_from([deployment(b, "kraft") for b in range(3)], [sts or finalized_controllers()],
                                    LABEL, facts, zookeeper_runs)
    return migration.apply_to_plan(plan, found)


def test_once_finalized_zookeeper_is_not_asked_and_the_cluster_id_is_the_controllers():
    plan = make_plan(kafka_metadata_mode="kraft")
    assert not migration.needs_evidence(plan, [deployment(0, "kraft")], [finalized_controllers()])
    result, errors = decide_finalized(facts=None)
    assert errors == [] and result["migration"]["cluster_id"] == "abc"
    assert result["migration"]["read_zookeeper"] is False and result["migration"]["partitions"] == "kraft"
    assert result["migration"]["registrations"] == "kraft"
    # The KRaft brokers keep the cluster id they were formatted with: nothing to roll.
    env = dict((e["name"], e["value"]) for e in result["brokers"][0]["env"])
    assert env["CLUSTER_ID"] == "abc"


def test_before_finalizing_zookeeper_is_read_and_partitions_come_from_it():
    result, _errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft")
    assert result["migration"]["read_zookeeper"] is True and result["migration"]["partitions"] == "zookeeper"
    result, _errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft",
                             kafka_migration_finalize=True)
    # Finalizing restarts the controllers without the flag: from then on ZooKeeper's partition states are stale.
    assert result["migration"]["step"] == "finalize" and result["migration"]["partitions"] == "kraft"


def test_zookeeper_is_removed_only_after_finalizing_and_backed_up_first():
    result, errors = decide_finalized(kafka_zookeeper_remove=True)
    assert errors == [] and result["migration"]["step"] == "remove_zookeeper"
    assert result["migration"]["remove_zookeeper"] and result["migration"]["backup"]
    # Gone already: steady, nothing more to remove.
    result, errors = decide_finalized(zookeeper_runs=False, kafka_zookeeper_remove=True)
    assert errors == [] and result["migration"]["step"] == "steady"
    # Without the variable ZooKeeper stays.
    result, errors = decide_finalized()
    assert result["migration"]["step"] == "steady" and not result["migration"]["remove_zookeeper"]
    # Finalizing with the removal asked continues to the next pass, which removes it.
    result, _errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft",
                             kafka_migration_finalize=True, kafka_zookeeper_remove=True)
    assert result["migration"]["step"] == "finalize" and result["migration"]["continue_after_roll"]


@pytest.mark.parametrize("settings, variable", [
    ({"kafka_zookeeper_remove": True}, "kafka_zookeeper_remove"),
    ({"kafka_zookeeper_remove": True, "kafka_metadata_mode": "kraft"}, "kafka_zookeeper_remove"),
    ({"kafka_zookeeper_remove": True, "kafka_migration_finalize": True}, "kafka_zookeeper_remove"),
    ({"kafka_zookeeper_remove_volumes": True, "kafka_metadata_mode": "kraft", "kafka_migration_finalize": True},
     "kafka_zookeeper_remove_volumes"),
])
def test_removing_zookeeper_without_a_finalized_migration_is_refused_in_the_plan(settings, variable):
    errors = plan_errors(**settings)
    assert any(e.startswith(variable + ":") and "Fix:" in e for e in errors), errors


def test_kafka_4_after_finalizing_rolls_the_controllers_then_the_brokers():
    result, errors = decide_finalized(kafka_broker_image=KAFKA_4)
    assert errors == [] and result["migration"]["step"] == "roll_image"
    assert result["migration"]["running_controller_image"] == IMAGE and result["migration"]["controllers"] == "final"
    # Once the controllers run it, steady (the brokers' roll is the rolling change's).
    result, errors = decide_finalized(sts=finalized_controllers(image=KAFKA_4), kafka_broker_image=KAFKA_4)
    assert errors == [] and result["migration"]["step"] == "steady"


@pytest.mark.parametrize("modes, sts, mz, cz, finalize", [
    (["kraft"] * 3, "migration", COPIED, KRAFT_CONTROLLER, False),   # the soak point
    (["kraft"] * 3, "migration", COPIED, KRAFT_CONTROLLER, True),    # finalize and Kafka 4 in one run
    (["migrating"] * 3, "migration", COPIED, KRAFT_CONTROLLER, False),
    (["kraft", "migrating", "migrating"], "migration", COPIED, KRAFT_CONTROLLER, False),
])
def test_kafka_4_before_the_migration_is_finalized_is_refused(modes, sts, mz, cz, finalize):
    result, errors = decide(modes, controllers(), mz, cz, kafka_metadata_mode="kraft",
                            kafka_migration_finalize=finalize, kafka_broker_image=KAFKA_4)
    assert result["migration"]["step"] == "refused"
    assert errors and errors[0].startswith("kafka_broker_image:") and "finalize" in errors[0], errors


def test_the_preflights_read_of_zookeeper_decides_whether_it_runs():
    found = migration.evidence_from([], [], LABEL, None, False)
    assert found["zookeeper_runs"] is False
    assert migration.evidence_from([], [], LABEL, None, None)["zookeeper_runs"] is True


# -- partitions from the KRaft metadata ------------------------------------------------------------------------

ORDERS_DESCRIBED = (
    "Topic: orders\tTopicId: x\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"
    "\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2,0\tIsr: 1,2,0\tElr: \tLastKnownElr: \n"
    "\tTopic: orders\tPartition: 1\tLeader: -1\tReplicas: 2,0,1\tIsr: 2\tElr: \tLastKnownElr: \n")


class FakeKRaft:
    """kraft.KRaftAccess' topics(): answers in turn, a KRaftError where an answer is an exception."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def topics(self, selector, port, container="broker"):
        self.calls += 1
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return {"topics": kraft.parse_topics(answer)}

    def topic_configs(self, selector, port, container="broker"):
        return {"configs": kraft.parse_topic_configs(
            "Dynamic configs for topic orders are:\n  min.insync.replicas=2 sensitive=false synonyms="
            "{DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2, STATIC_BROKER_CONFIG:min.insync.replicas=1}\n")}


def test_kraft_partitions_read_as_zookeepers_with_leaders_and_isr():
    source = kraft.KRaftPartitions(FakeKRaft([ORDERS_DESCRIBED]), "sel", 9092)
    assignments, overrides = source.topics()
    assert overrides == {"orders": 2}
    assert assignments == {"orders": {0: [0, 1, 2], 1: [0, 1, 2]}} or \
        assignments == {"orders": {0: [1, 2, 0], 1: [2, 0, 1]}}
    states = source.states(assignments)
    assert states[("orders", 0)] == {"leader": 1, "isr": [0, 1, 2]}
    assert states[("orders", 1)] == {"leader": -1, "isr": [2]}


def test_kraft_partitions_unanswered_block_every_restart():
    from ansible_collections.kafka_eks.cluster.plugins.module_utils import replication
    fake = FakeKRaft([ORDERS_DESCRIBED, kraft.KRaftError("no broker answered")])
    source = kraft.KRaftPartitions(fake, "sel", 9092)
    assignments, overrides = source.topics()
    states = source.states(assignments)
    assert states == {("orders", 0): None, ("orders", 1): None}
    # Nothing known in sync: broker 0 may not restart (its partitions count as below their min ISR).
    assert replication.restart_blockers(0, assignments, states, overrides, 2)


def test_waiting_for_partitions_reads_the_source_given_not_zookeeper():
    from ansible_collections.kafka_eks.cluster.plugins.module_utils import replication
    behind = ORDERS_DESCRIBED.replace("Isr: 1,2,0", "Isr: 1,2").replace("Leader: -1", "Leader: 2")
    caught = behind.replace("Isr: 1,2\t", "Isr: 1,2,0\t").replace("Isr: 2\t", "Isr: 2,0,1\t")
    fake = FakeKRaft([behind, behind, caught])
    sleeps = []
    clock = iter(range(0, 1000, 5))
    caught_up, _may = replication.wait_partitions(None, 2, 60, caught_up=[0], sleep_seconds=5,
                                                  clock=lambda: next(clock), sleep=sleeps.append,
                                                  source=kraft.KRaftPartitions(fake, "sel", 9092))
    assert caught_up["brokers"] == [0] and len(sleeps) == 1 and fake.calls == 3


@pytest.mark.parametrize("quorum, expected, whole", [
    ({"leader_id": 3000, "voters": [3000, 3001, 3002], "max_follower_lag": 0}, [3000, 3001, 3002], True),
    ({"leader_id": 3000, "voters": [3000, 3001, 3002], "max_follower_lag": 10}, [3000, 3001, 3002], True),
    # A restarted controller that answers but has not caught up yet: not whole, the next one must wait.
    ({"leader_id": 3000, "voters": [3000, 3001, 3002], "max_follower_lag": 5120}, [3000, 3001, 3002], False),
    ({"leader_id": 3000, "voters": [3000, 3001, 3002], "max_follower_lag": None}, [3000, 3001, 3002], False),
    ({"leader_id": None, "voters": [3000, 3001, 3002], "max_follower_lag": 0}, [3000, 3001, 3002], False),
    ({"leader_id": 3000, "voters": [3000, 3001], "max_follower_lag": 0}, [3000, 3001, 3002], False),
    # One controller has no follower to wait for.
    ({"leader_id": 3000, "voters": [3000], "max_follower_lag": None}, [3000], True),
])
def test_a_quorum_is_whole_with_its_voters_and_every_follower_caught_up(quorum, expected, whole):
    assert kraft.quorum_whole(quorum, expected) is whole


def test_the_follower_lag_is_read_from_the_status():
    text = ("ClusterId: abc\nLeaderId: 3001\nLeaderEpoch: 4\nHighWatermark: 120\nMaxFollowerLag: 7\n"
            "MaxFollowerLagTimeMs: 12\nCurrentVoters: [3000,3001,3002]\nCurrentObservers: [0,1,2]\n")
    status = kraft.parse_quorum_status(text)
    assert status["max_follower_lag"] == 7 and status["leader_id"] == 3001


def test_the_gates_sentences_keep_topic_names_as_they_are():
    """The gate capitalizes each sentence: a topic name must never be what is capitalized (canary, not Canary)."""
    kraft_topics = kraft.parse_topics(
        "Topic: canary\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 3\tConfigs: \n"
        "\tTopic: canary\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1\tElr: \tLastKnownElr: \n")
    problems = kraft.compare_topics({"canary": {0: [0, 1, 2]}}, kraft_topics)
    assert problems == ["partition canary-0 is under-replicated (ISR [0, 1] of replicas [0, 1, 2])"]
    problems = kraft.compare_topics({"canary": {0: [0, 1, 3]}}, kraft_topics)
    assert problems[0].startswith("partition canary-0 has replicas")


def test_acls_in_zookeeper_mean_the_standard_authorizer_in_kraft_mode():
    extra = {"authorizer.class.name": "kafka.security.authorizer.AclAuthorizer", "super.users": "User:ANONYMOUS",
             "allow.everyone.if.no.acl.found": "false"}
    result, errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft",
                            kafka_broker_extra_config=extra)
    assert errors == []
    broker = result["brokers"][0]["properties"]
    assert broker["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    controller = result["controller"]["properties"]
    assert controller["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert controller["super.users"] == "User:ANONYMOUS" and controller["allow.everyone.if.no.acl.found"] == "false"
    # While the brokers are ZooKeeper-mode brokers (migration settings), they keep AclAuthorizer.
    result, errors = decide(["migrating"] * 3, controllers(), NOT_COPIED, KRAFT_CONTROLLER,
                            kafka_metadata_mode="kraft", kafka_broker_extra_config=extra)
    assert result["brokers"][0]["properties"]["authorizer.class.name"] == "kafka.security.authorizer.AclAuthorizer"
    # Without an authorizer, none appears.
    result, errors = decide(["kraft"] * 3, controllers(), COPIED, KRAFT_CONTROLLER, kafka_metadata_mode="kraft")
    assert "authorizer.class.name" not in result["brokers"][0]["properties"]
    assert "authorizer.class.name" not in result["controller"]["properties"]
