"""kraft_migration with a real AnsibleModule, a fake ZooKeeper (znodes that change while it waits, a /controller
held by a ZooKeeper broker), fake pods (a controller that does not answer at first, a broker listed under a
foreign endpoint) and a fake clock."""
import json

import pytest

from conftest import ModuleExit
from ansible_collections.kafka_eks.cluster.plugins.modules import kraft_migration

COPIED = json.dumps({"version": 0, "kraft_controller_id": 3000, "kraft_controller_epoch": 1,
                     "kraft_metadata_offset": 50, "kraft_metadata_epoch": 1})
NOT_COPIED = json.dumps({"version": 0, "kraft_controller_id": 3000, "kraft_controller_epoch": 1,
                         "kraft_metadata_offset": -1, "kraft_metadata_epoch": -1})
KRAFT_CONTROLLER = json.dumps({"version": 2, "brokerid": 3000, "timestamp": "1", "kraftControllerEpoch": 1})
ZK_CONTROLLER = json.dumps({"version": 1, "brokerid": 1, "timestamp": "1"})
CLUSTER = json.dumps({"version": "1", "id": "Xy3-cluster"})
STATUS = "ClusterId: Xy3-cluster\nLeaderId: 3000\nLeaderEpoch: 1\nHighWatermark: 9\nCurrentVoters: [3000]\n"
BROKERS = "kafka-service-0:9092 (id: 0 rack: null) -> (\n)\nkafka-service-1:9092 (id: 1 rack: null) -> (\n)\n"
DESCRIBE = ("Topic: t\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 2\tConfigs:\n"
            "\tTopic: t\tPartition: 0\tLeader: 0\tReplicas: 0,1\tIsr: 0,1\n")


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class FakeZooKeeper:
    """Znodes by path; ``later`` replaces them after that many reads of /migration (the copy finishing)."""

    def __init__(self, nodes, later=None, after=0):
        self.nodes = dict(nodes)
        self.later = later
        self.after = after
        self.reads = 0
        self.deleted = []

    def get_many(self, paths):
        if "/migration" in paths:
            self.reads += 1
            if self.later and self.reads > self.after:
                self.nodes.update(self.later)
        return dict((p, (self.nodes[p], {"version": 7}) if p in self.nodes else None) for p in paths)

    def list_and_get(self, parent, paths):
        return ["t"], {}

    def delete(self, path, version):
        self.deleted.append((path, version))
        del self.nodes[path]

    def close(self):
        pass


def running(name, container):
    return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [
        {"name": container, "state": {"running": {"startedAt": "2026-12-02T10:00:00Z"}}}]}}


class FakePods:
    def __init__(self, answers):
        self.answers = answers

    def list_pods(self, namespace, selector):
        if "controller" in selector:
            return [running("kafka-controller-0", "controller")]
        return [running("kafka-broker-0-x", "broker")]

    def exec(self, namespace, name, argv, container=None, timeout=60):
        answer = self.answers[argv[0]]
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return answer


def run(make_module, args, zk, pods=None, check_mode=False, clock=None):
    clock = clock or Clock()
    options = kraft_migration.module_options()
    with pytest.raises(ModuleExit) as info:
        module = make_module(options.pop("argument_spec"), args, check_mode=check_mode, **options)
        kraft_migration.run_module(module, pod_api=pods or FakePods({}), zk=zk, clock=clock, sleep=clock.sleep)
    return info.value.result


def test_it_reads_what_zookeeper_says(make_module):
    zk = FakeZooKeeper({"/cluster/id": CLUSTER, "/controller": ZK_CONTROLLER})
    result = run(make_module, {}, zk)
    assert result["cluster_id"] == "Xy3-cluster" and result["migration_znode"] is None
    assert not result["migration_completed"] and not result["kraft_holds_controller"] and not result["changed"]


def test_the_wait_for_the_copy_ends_when_zookeeper_shows_it(make_module):
    zk = FakeZooKeeper({"/cluster/id": CLUSTER, "/controller": ZK_CONTROLLER, "/migration": NOT_COPIED},
                       later={"/controller": KRAFT_CONTROLLER, "/migration": COPIED}, after=3)
    result = run(make_module, {"wait_for": "migration", "timeout": 120, "wait_sleep": 5}, zk)
    assert not result.get("failed") and result["migration_completed"] and result["waited"] == 10.0


def test_the_wait_for_the_copy_fails_naming_what_zookeeper_shows(make_module):
    zk = FakeZooKeeper({"/cluster/id": CLUSTER, "/controller": ZK_CONTROLLER, "/migration": NOT_COPIED})
    result = run(make_module, {"wait_for": "migration", "timeout": 20, "wait_sleep": 5}, zk)
    assert result["failed"] and "within 20s" in result["msg"] and "kraft_metadata_offset" in result["msg"]
    assert "No brokers are known to KRaft" in result["msg"]


def test_revert_deletes_only_a_controller_znode_kraft_holds(make_module):
    zk = FakeZooKeeper({"/cluster/id": CLUSTER, "/controller": ZK_CONTROLLER, "/migration": COPIED})
    result = run(make_module, {"revert_zookeeper": True}, zk)
    assert result["changed"] and zk.deleted == [("/migration", 7)]
    assert [r["path"] for r in result["removed"]] == ["/migration"] and "kraft_metadata_offset" in result["removed"][0]["data"]
    zk = FakeZooKeeper({"/cluster/id": CLUSTER, "/controller": KRAFT_CONTROLLER, "/migration": COPIED})
    result = run(make_module, {"revert_zookeeper": True}, zk)
    assert zk.deleted == [("/controller", 7), ("/migration", 7)]
    zk = FakeZooKeeper({"/controller": json.dumps({"version": 2, "brokerid": 1, "kraftControllerEpoch": -1})})
    result = run(make_module, {"revert_zookeeper": True}, zk)
    assert not result["changed"] and zk.deleted == []
    result = run(make_module, {"revert_zookeeper": True}, FakeZooKeeper({"/cluster/id": CLUSTER}))
    assert not result["changed"] and result["removed"] == []


def test_revert_in_check_mode_says_what_it_would_delete_and_deletes_nothing(make_module):
    zk = FakeZooKeeper({"/controller": KRAFT_CONTROLLER, "/migration": COPIED})
    result = run(make_module, {"revert_zookeeper": True}, zk, check_mode=True)
    assert result["changed"] and len(result["removed"]) == 2 and zk.deleted == []


def test_the_quorum_wait_goes_on_through_a_controller_that_does_not_answer_yet(make_module):
    pods = FakePods({"kafka-metadata-quorum": [(1, "", "TimeoutException"), (0, STATUS, "")]})
    result = run(make_module, {"wait_for": "quorum", "expected_controller_ids": [3000], "timeout": 60}, FakeZooKeeper({}),
                 pods)
    assert not result.get("failed") and result["quorum"]["leader_id"] == 3000 and result["waited"] == 5.0
    result = run(make_module, {"wait_for": "quorum", "expected_controller_ids": [3000, 3001, 3002], "timeout": 10},
                 FakeZooKeeper({}), FakePods({"kafka-metadata-quorum": [(0, STATUS, "")]}))
    assert result["failed"] and "[3000, 3001, 3002]" in result["msg"]


def test_brokers_count_with_their_own_endpoint_in_the_shape_the_role_reads(make_module):
    pods = FakePods({"kafka-broker-api-versions": [(0, BROKERS.replace("kafka-service-1", "elsewhere"), "")]})
    args = {"read_brokers": True, "expected_brokers": {"0": "kafka-service-0:9092", "1": "kafka-service-1:9092"}}
    result = run(make_module, args, FakeZooKeeper({}), pods)
    assert result["joined"] == [0] and not result["all_joined"] and result["expected"] == [0, 1]
    assert result["brokers"]["foreign"] == [{"broker": 1, "found": "elsewhere:9092", "expected": "kafka-service-1:9092"}]
    result = run(make_module, dict(args, wait_for="brokers", timeout=10), FakeZooKeeper({}), pods)
    assert result["failed"] and "Broker(s) 1" not in result["msg"] and "foreign" in result["msg"]


def test_the_gate_holds_only_on_every_piece_of_evidence(make_module):
    nodes = {"/cluster/id": CLUSTER, "/controller": KRAFT_CONTROLLER, "/migration": COPIED}
    answers = {"kafka-metadata-quorum": [(0, STATUS, "")], "kafka-broker-api-versions": [(0, BROKERS, "")],
               "kafka-topics": [(0, DESCRIBE, "")], "kafka-configs": [(0, "Dynamic configs for topic t are:\n", "")]}
    args = {"gate": True, "expected_controller_ids": [3000],
            "expected_brokers": {"0": "kafka-service-0:9092", "1": "kafka-service-1:9092"}}

    class Topics(FakeZooKeeper):
        def list_and_get(self, parent, paths):
            return ["t"], {}

        def get_many(self, paths):
            if paths and paths[0].startswith("/brokers/topics"):
                return {"/brokers/topics/t": (json.dumps({"partitions": {"0": [0, 1]}}), {}),
                        "/config/topics/t": None}
            return super().get_many(paths)

    result = run(make_module, args, Topics(nodes), FakePods(dict(answers)))
    assert not result.get("failed") and result["gate"]["holds"], result
    # One broker missing from the metadata: refused, naming it.
    missing = dict(answers, **{"kafka-broker-api-versions": [(0, BROKERS.split("kafka-service-1", maxsplit=1)[0], "")]})
    result = run(make_module, args, Topics(nodes), FakePods(missing))
    assert result["failed"] and "Not finalized" in result["msg"] and "Broker(s) 1 are not registered" in result["msg"]
    # An ISR short of its replicas in KRaft: refused.
    lagging = dict(answers, **{"kafka-topics": [(0, DESCRIBE.replace("Isr: 0,1", "Isr: 0"), "")]})
    result = run(make_module, args, Topics(nodes), FakePods(lagging))
    assert result["failed"] and "under-replicated" in result["msg"]
    # No completed copy in ZooKeeper: refused.
    result = run(make_module, args, Topics(dict(nodes, **{"/migration": NOT_COPIED})), FakePods(dict(answers)))
    assert result["failed"] and "completed copy" in result["msg"]


class UnreachableZooKeeper(FakeZooKeeper):
    """A ZooKeeper that is gone (removed after finalizing): any read fails the test."""

    def get_many(self, paths):
        raise AssertionError("ZooKeeper was asked for %s" % (paths,))

    def list_and_get(self, parent, paths):
        raise AssertionError("ZooKeeper was asked for %s" % parent)


def test_once_finalized_nothing_is_asked_of_zookeeper_and_partitions_come_from_kraft(make_module):
    described = ("Topic: t\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 2\tConfigs: \n"
                 "\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 0,1\tIsr: 1\tElr: \tLastKnownElr: \n")
    caught = described.replace("Isr: 1\t", "Isr: 1,0\t")
    pods = FakePods({"kafka-broker-api-versions": [(0, BROKERS, "")],
                     "kafka-topics": [(0, described, ""), (0, described, ""), (0, caught, "")],
                     "kafka-configs": [(0, "Dynamic configs for topic t are:\n", "")]})
    args = {"zookeeper": False, "partitions_from": "kraft", "read_brokers": True, "wait_caught_up": [0],
            "expected_brokers": {"0": "kafka-service-0:9092", "1": "kafka-service-1:9092"}}
    result = run(make_module, args, UnreachableZooKeeper({}), pods)
    assert not result.get("failed"), result
    assert result["joined"] == [0, 1] and result["caught_up"]["brokers"] == [0] and result["caught_up"]["waited"] > 0
    assert "cluster_id" not in result


@pytest.mark.parametrize("args, named", [
    ({"gate": True}, "gate"),
    ({"revert_zookeeper": True}, "revert_zookeeper"),
    ({"wait_for": "migration"}, "wait_for=migration"),
    ({"wait_restartable": 0}, "partitions_from=zookeeper"),
])
def test_without_zookeeper_what_needs_it_is_refused_before_anything(make_module, args, named):
    result = run(make_module, dict(args, zookeeper=False), UnreachableZooKeeper({}))
    assert result["failed"] and named in result["msg"] and "needs ZooKeeper" in result["msg"]


# ------------------------------------------------ the gate's topic configs, ACLs and SCRAM users (issue 13)

TOPIC_CONFIGS = ("Dynamic configs for topic t are:\n"
                 "  cleanup.policy=compact sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:cleanup.policy=compact,"
                 " DEFAULT_CONFIG:log.cleanup.policy=delete}\n"
                 "  retention.ms=86400000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=86400000}\n")
ACLS = ("Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t, patternType=LITERAL)`: \n"
        " \t(principal=User:alice, host=*, operation=READ, permissionType=ALLOW) \n\n"
        "Current ACLs for resource `ResourcePattern(resourceType=GROUP, name=app-, patternType=PREFIXED)`: \n"
        " \t(principal=User:CN=bob,O=acme, host=*, operation=READ, permissionType=ALLOW) \n\n")
USERS = ("Quota configs for user-principal 'carol' are producer_byte_rate=1024.0\n"
         "SCRAM credential configs for user-principal 'CN=bob,O=acme' are SCRAM-SHA-512=iterations=4096\n"
         "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096\n")
NO_AUTHORIZER = ("Error while executing ACL command: org.apache.kafka.common.errors.SecurityDisabledException: No"
                 " Authorizer is configured on the broker\njava.util.concurrent.ExecutionException: ...\nCaused by:"
                 " org.apache.kafka.common.errors.SecurityDisabledException: No Authorizer is configured on the broker\n")
SCRAM_512 = "salt=c2FsdA==,stored_key=c3RvcmVk,server_key=c2VydmVy,iterations=4096"


def zk_config(config):
    return json.dumps({"version": 1, "config": config})


def zk_acls(*acls):
    keys = ("principal", "permissionType", "operation", "host")
    return json.dumps({"version": 1, "acls": [dict(zip(keys, a)) for a in acls]})


ACL_TYPES = ("Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User")


def gate_znodes(configs=True, acls=True, users=True, authorizer=True):
    """A ZooKeeper-mode cluster's znodes: one topic t (with overrides), ACLs and SCRAM users as Kafka writes them
    (the AclAuthorizer creates every resource type's znode, empty or not; a quota-only user has no SCRAM)."""
    nodes = {"/cluster/id": CLUSTER, "/controller": KRAFT_CONTROLLER, "/migration": COPIED,
             "/brokers/topics": None, "/brokers/topics/t": json.dumps({"version": 3, "partitions": {"0": [0, 1]}}),
             "/config/topics": None, "/config/users": None,
             "/config/topics/t": zk_config({"cleanup.policy": "compact", "retention.ms": "86400000"} if configs else {})}
    if authorizer:
        for store in ("/kafka-acl", "/kafka-acl-extended/prefixed"):
            nodes[store] = None
            nodes.update(("%s/%s" % (store, kind), None) for kind in ACL_TYPES)
    if acls:
        nodes["/kafka-acl/Topic/t"] = zk_acls(("User:alice", "Allow", "Read", "*"))
        nodes["/kafka-acl-extended/prefixed/Group/app-"] = zk_acls(("User:CN=bob,O=acme", "Allow", "Read", "*"))
    nodes["/config/users/carol"] = zk_config({"producer_byte_rate": "1024"})
    if users:
        nodes["/config/users/alice"] = zk_config({"SCRAM-SHA-512": SCRAM_512})
        nodes["/config/users/CN%3Dbob%2CO%3Dacme"] = zk_config({"SCRAM-SHA-512": SCRAM_512})
    return nodes


class TreeZooKeeper:
    """Znodes as a tree: children from the paths, a stat with num_children; every call is one zkCli run,
    recorded."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.runs = []

    def _read(self, path):
        if path not in self.nodes:
            return None
        children = [p for p in self.nodes if p.rsplit("/", 1)[0] == path]
        return self.nodes[path], {"version": 0, "num_children": len(children)}

    def get_many(self, paths):
        self.runs.append(("get", tuple(paths)))
        return dict((p, self._read(p)) for p in paths)

    def list_and_get(self, parent, paths):
        self.runs.append(("ls", parent, tuple(paths)))
        children = sorted(p.rsplit("/", 1)[1] for p in self.nodes if p.rsplit("/", 1)[0] == parent)
        return children, dict((p, self._read(p)) for p in paths)

    def close(self):
        pass


class GatePods(FakePods):
    """Answers by tool and entity type (kafka-configs answers for topics and users); records every call."""

    def __init__(self, answers):
        FakePods.__init__(self, answers)
        self.calls = []

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.calls.append(argv)
        key = argv[0] + (" " + argv[argv.index("--entity-type") + 1] if "--entity-type" in argv else "")
        return self.answers[key]


def gate_answers(**changes):
    answers = {"kafka-metadata-quorum": (0, STATUS, ""), "kafka-broker-api-versions": (0, BROKERS, ""),
               "kafka-topics": (0, DESCRIBE, ""), "kafka-configs topics": (0, TOPIC_CONFIGS, ""),
               "kafka-acls": (0, ACLS, ""), "kafka-configs users": (0, USERS, "")}
    answers.update((k.replace("_", "-").replace("-topics", " topics").replace("-users", " users"), v)
                   for k, v in changes.items())
    return answers


GATE_ARGS = {"gate": True, "expected_controller_ids": [3000],
             "expected_brokers": {"0": "kafka-service-0:9092", "1": "kafka-service-1:9092"}}


def gate(make_module, nodes, answers):
    pods = GatePods(answers)
    zk = TreeZooKeeper(nodes)
    return run(make_module, GATE_ARGS, zk, pods), pods, zk


def test_the_gate_compares_topic_configs_acls_and_scram_users(make_module):
    result, pods, _zk = gate(make_module, gate_znodes(), gate_answers())
    assert not result.get("failed") and result["gate"]["holds"], result["gate"]
    checks = result["gate"]["checks"]
    assert checks["topic_configs"] == "1 topic(s) with overrides in ZooKeeper, 1 in KRaft, 0 difference(s)"
    assert checks["acls"] == "2 in ZooKeeper, 2 in KRaft, 0 difference(s)"
    assert checks["scram_users"] == "2 in ZooKeeper (CN=bob,O=acme, alice), 2 in KRaft, 0 difference(s)"
    assert [c[0] for c in pods.calls].count("kafka-configs") == 2 and ["kafka-acls", "--bootstrap-server",
                                                                       "localhost:9092", "--list"] in pods.calls
    assert "c2FsdA" not in json.dumps(result) and "stored_key" not in json.dumps(result)


def test_a_config_that_differs_or_is_on_one_side_only_refuses_naming_it(make_module):
    nodes = gate_znodes()
    nodes["/config/topics/t"] = zk_config({"cleanup.policy": "delete", "max.message.bytes": "2000000"})
    result, _pods, _zk = gate(make_module, nodes, gate_answers())
    assert result["failed"] and "Not finalized" in result["msg"]
    problems = result["gate"]["problems"]
    assert "Topic t has cleanup.policy=delete in ZooKeeper and cleanup.policy=compact in KRaft." in problems
    assert "Topic t has max.message.bytes=2000000 in ZooKeeper but not in the KRaft metadata." in problems
    assert "Topic t has retention.ms=86400000 in the KRaft metadata but not in ZooKeeper." in problems
    assert result["gate"]["checks"]["topic_configs"].endswith("3 difference(s)")


def test_an_acl_missing_in_kraft_refuses_naming_the_resource_and_the_acl(make_module):
    without_group = ACLS.split("Current ACLs for resource `ResourcePattern(resourceType=GROUP", maxsplit=1)[0]
    answers = gate_answers(kafka_acls=(0, without_group, ""))
    result, _pods, _zk = gate(make_module, gate_znodes(), answers)
    assert result["failed"]
    assert ("ACL ALLOW User:CN=bob,O=acme READ from * on GROUP app- (PREFIXED) is in ZooKeeper but not in the KRaft"
            " metadata.") in result["gate"]["problems"]
    assert result["gate"]["checks"]["acls"] == "2 in ZooKeeper, 1 in KRaft, 1 difference(s)"


def test_a_scram_user_missing_in_kraft_refuses_naming_the_user_and_never_its_keys(make_module):
    answers = gate_answers(kafka_configs_users=(0, USERS.replace("'alice'", "'alicia'"), ""))
    result, _pods, _zk = gate(make_module, gate_znodes(), answers)
    assert result["failed"]
    problems = result["gate"]["problems"]
    assert "SCRAM user alice (SCRAM-SHA-512) is in ZooKeeper but not in the KRaft metadata." in problems
    assert "SCRAM user alicia (SCRAM-SHA-512) is in the KRaft metadata but not in ZooKeeper." in problems
    assert "c2FsdA" not in json.dumps(result) and "server_key" not in result["msg"]


def test_a_tool_that_fails_is_a_problem_of_its_check(make_module):
    answers = gate_answers(kafka_acls=(1, NO_AUTHORIZER, ""), kafka_configs_topics=(1, "", "TimeoutException"),
                           kafka_configs_users=(0, "Error while executing config command", ""))
    result, _pods, _zk = gate(make_module, gate_znodes(), answers)
    assert result["failed"]
    problems = " ".join(result["gate"]["problems"])
    assert "ZooKeeper has 2 ACL(s) and no broker listed the KRaft metadata's" in problems
    assert "SecurityDisabledException: No Authorizer is configured on the broker" in problems
    assert "No broker described the topic configs" in problems and "TimeoutException" in problems
    assert "ZooKeeper has 2 SCRAM user(s) and no broker described the KRaft metadata's" in problems
    assert result["gate"]["checks"]["acls"] == "2 in ZooKeeper, not read from KRaft"


@pytest.mark.parametrize("authorizer", [True, False])
def test_without_acls_or_users_in_zookeeper_their_tools_are_not_run(make_module, authorizer):
    nodes = gate_znodes(configs=False, acls=False, users=False, authorizer=authorizer)
    answers = gate_answers(kafka_acls=(1, NO_AUTHORIZER, ""), kafka_configs_topics=(0, "Dynamic configs for topic t are:\n", ""))
    result, pods, zk = gate(make_module, nodes, answers)
    assert not result.get("failed") and result["gate"]["holds"], result["gate"]
    checks = result["gate"]["checks"]
    assert checks["acls"] == "none in ZooKeeper" and checks["scram_users"] == "none in ZooKeeper"
    assert checks["topic_configs"] == "0 topic(s) with overrides in ZooKeeper, 0 in KRaft, 0 difference(s)"
    assert [c[0] for c in pods.calls if c[0] in ("kafka-acls", "kafka-configs")] == ["kafka-configs"]
    assert "topics" in pods.calls[-1] or any("topics" in c for c in pods.calls if c[0] == "kafka-configs")
    # ZooKeeper: the migration's znodes, read_topics' two runs, and one run for configs, users and ACL types (the
    # quota-only user's znode is read to see it has no SCRAM credentials).
    gate_runs = zk.runs[3:]
    assert gate_runs[0][:2] == ("ls", "/config/users") and "/config/topics/t" in gate_runs[0][2]
    assert not [r for r in gate_runs if r[0] == "ls" and r[1].startswith("/kafka-acl")]
    assert gate_runs[1:] == [("get", ("/config/users/carol",))], zk.runs
