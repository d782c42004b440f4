"""module_utils/kraft.py: what the evidence gate compares beyond the topics - topic config overrides, ACLs and
SCRAM users - read from the real outputs of Kafka 3.9.2's tools and the real znodes Kafka 3.9.2 writes.

The fixtures kafka-3.9.2-* were captured from a throwaway single-node Kafka 3.9.2 in KRaft mode (the test bed's
jars, .cache/java/kafka-3.9.2) on a loopback address: a topic ``with-overrides`` created with
``--config cleanup.policy=compact --config max.message.bytes=2000000 --config
follower.replication.throttled.replicas=0:1,1:1``, a topic ``plain`` without, ``__consumer_offsets``; the
broker's own server.properties set ``min.insync.replicas=1`` and ``log.segment.bytes=536870912`` (which
``kafka-topics --describe`` lists as ``Configs:`` of every topic); SCRAM users added with ``kafka-configs --alter
--add-config 'SCRAM-SHA-512=[password=x]' --entity-type users --entity-name alice`` (and CN=bob,O=acme, dave),
quotas for carol (only a quota) and dave; ACLs added with ``kafka-acls --add`` under the StandardAuthorizer; the
``kafka-acls --list`` of a broker without an authorizer (exit 1, its error on stdout, stderr empty).
kafka-3.9.2-zookeeper-acls-users.json: the same ACLs and users written by Kafka 3.9.2's tools into a ZooKeeper,
read back with zkCli.
"""
import json
import os

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import kraft

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as f:
        return f.read()


ZNODES = json.loads(fixture("kafka-3.9.2-zookeeper-acls-users.json"))["znodes"]


# ------------------------------------------------------------------------------------------- topic configs

def test_topic_overrides_are_read_from_kafka_configs_one_line_each():
    configs = kraft.parse_topic_configs(fixture("kafka-3.9.2-configs-topics.stdout"))
    assert configs["with-overrides"] == {"cleanup.policy": "compact", "max.message.bytes": "2000000",
                                         "follower.replication.throttled.replicas": "0:1,1:1"}
    assert configs["plain"] == {}
    assert configs["__consumer_offsets"] == {"cleanup.policy": "compact", "compression.type": "producer",
                                             "segment.bytes": "104857600"}


def test_the_configs_of_kafka_topics_are_not_the_overrides():
    """Why the gate asks kafka-configs: kafka-topics lists every non-default config, so the broker's static
    min.insync.replicas and log.segment.bytes show on a topic without any override of its own."""
    describe = fixture("kafka-3.9.2-topics-describe.stdout")
    assert "Topic: plain\tTopicId: fcDsdUejR3iRiJNXCtsTdg\tPartitionCount: 1\tReplicationFactor: 1\t" \
           "Configs: min.insync.replicas=1,segment.bytes=536870912" in describe
    assert kraft.parse_topic_configs(fixture("kafka-3.9.2-configs-topics.stdout"))["plain"] == {}
    # The Elr/LastKnownElr columns of 3.9 do not disturb the partition lines.
    topics = kraft.parse_topics(describe)
    assert topics["with-overrides"]["partitions"] == 2 and topics["with-overrides"]["isr"] == {0: [1], 1: [1]}


def test_a_sensitive_value_and_an_answer_that_is_no_describe():
    text = ("Dynamic configs for topic t are:\n"
            "  secret.thing=null sensitive=true synonyms={DYNAMIC_TOPIC_CONFIG:secret.thing=null}\n"
            "  retention.ms=1 sensitive=false synonyms={}\n")
    assert kraft.parse_topic_configs(text) == {"t": {"secret.thing": None, "retention.ms": "1"}}
    assert kraft.parse_topic_configs("") == {}
    with pytest.raises(kraft.KRaftError):
        kraft.parse_topic_configs("Error while executing config command with args ... TimeoutException")


def test_zookeeper_config_znodes_are_read_as_text():
    assert kraft.zookeeper_config('{"version":1,"config":{"retention.ms":"1","max.message.bytes":2}}') == {
        "retention.ms": "1", "max.message.bytes": "2"}
    for data in (None, "", "null", "[]", '{"version":1}', "not json"):
        assert kraft.zookeeper_config(data) == {}


def test_topic_configs_that_differ_or_are_on_one_side_are_named_with_their_values():
    kraft_configs = kraft.parse_topic_configs(fixture("kafka-3.9.2-configs-topics.stdout"))
    same = {"with-overrides": {"cleanup.policy": "compact", "max.message.bytes": "2000000",
                               "follower.replication.throttled.replicas": "0:1,1:1"},
            "plain": {}, "__consumer_offsets": dict(kraft_configs["__consumer_offsets"])}
    assert kraft.compare_topic_configs(same, kraft_configs) == []
    zk = dict(same, **{"with-overrides": {"cleanup.policy": "delete", "max.message.bytes": "2000000",
                                          "follower.replication.throttled.replicas": "0:1,1:1"},
                       "plain": {"retention.ms": "86400000"}})
    del zk["__consumer_offsets"]["compression.type"]
    assert kraft.compare_topic_configs(zk, kraft_configs) == [
        "topic __consumer_offsets has compression.type=producer in the KRaft metadata but not in ZooKeeper",
        "topic plain has retention.ms=86400000 in ZooKeeper but not in the KRaft metadata",
        "topic with-overrides has cleanup.policy=delete in ZooKeeper and cleanup.policy=compact in KRaft"]
    # A topic on one side only is compare_topics' to name; a sensitive value counts by its key.
    assert kraft.compare_topic_configs({"gone": {"a": "1"}}, {"t": {}}) == []
    assert kraft.compare_topic_configs({"t": {"s": "x"}}, {"t": {"s": None}}) == []
    many = kraft.compare_topic_configs({"t": dict(("k%02d" % i, "1") for i in range(25))}, {"t": {}}, limit=20)
    assert len(many) == 21 and many[-1] == "and 5 more"


# ------------------------------------------------------------------------------------------------------ ACLs

def zookeeper_acls():
    acls = []
    for path, data in ZNODES.items():
        parts = path.split("/")
        if path.startswith("/kafka-acl-extended/prefixed/"):
            acls += kraft.parse_zookeeper_acls(data, parts[3], parts[4], "PREFIXED")
        elif path.startswith("/kafka-acl/"):
            acls += kraft.parse_zookeeper_acls(data, parts[2], parts[3])
    return sorted(acls)


def test_acls_read_from_kafka_acls_list():
    acls = kraft.parse_acls(fixture("kafka-3.9.2-acls-list.stdout"))
    assert len(acls) == 8
    assert ("GROUP", "LITERAL", "app", "User:CN=bob,O=acme", "10.0.0.7", "READ", "ALLOW") in acls
    assert ("TOPIC", "PREFIXED", "orders-", "User:alice", "*", "WRITE", "ALLOW") in acls
    assert ("CLUSTER", "LITERAL", "kafka-cluster", "User:alice", "*", "IDEMPOTENT_WRITE", "ALLOW") in acls
    assert ("TOPIC", "LITERAL", "*", "User:mallory", "*", "ALL", "DENY") in acls
    assert ("TRANSACTIONAL_ID", "LITERAL", "tx-1", "User:alice", "*", "WRITE", "ALLOW") in acls
    assert kraft.parse_acls("") == []
    with pytest.raises(kraft.KRaftError):
        kraft.parse_acls(fixture("kafka-3.9.2-acls-no-authorizer.stdout"))


def test_the_acls_zookeeper_holds_are_the_same_as_kafka_acls_lists():
    """Kafka 3.9.2 wrote the same ACLs into ZooKeeper (PascalCase) and KRaft (enum names): they compare equal."""
    zk = zookeeper_acls()
    assert zk == kraft.parse_acls(fixture("kafka-3.9.2-acls-list.stdout"))
    assert kraft.compare_acls(zk, kraft.parse_acls(fixture("kafka-3.9.2-acls-list.stdout"))) == []


def test_an_acl_missing_in_kraft_is_named_with_its_resource():
    listed = fixture("kafka-3.9.2-acls-list.stdout")
    without = listed.replace(" \t(principal=User:CN=bob,O=acme, host=10.0.0.7, operation=READ, permissionType=ALLOW) \n",
                             "")
    assert without != listed
    problems = kraft.compare_acls(zookeeper_acls(), kraft.parse_acls(without))
    assert problems == ["ACL ALLOW User:CN=bob,O=acme READ from 10.0.0.7 on GROUP app (LITERAL) is in ZooKeeper but not"
                        " in the KRaft metadata"]
    extra = kraft.compare_acls([], kraft.parse_acls(listed))
    assert len(extra) == 8 and all("in the KRaft metadata but not in ZooKeeper" in p for p in extra)


def test_a_zookeeper_acl_znode_that_is_not_json_has_no_acls():
    assert kraft.parse_zookeeper_acls("null", "Topic", "t") == []
    assert kraft.parse_zookeeper_acls('{"version":1,"acls":"x"}', "Topic", "t") == []


# ----------------------------------------------------------------------------------------------- SCRAM users

def test_scram_users_are_read_by_name_and_mechanism():
    users = kraft.parse_scram_users(fixture("kafka-3.9.2-configs-users.stdout"))
    assert users == {"CN=bob,O=acme": ["SCRAM-SHA-256", "SCRAM-SHA-512"], "dave": ["SCRAM-SHA-256"],
                     "alice": ["SCRAM-SHA-512"]}
    assert kraft.parse_scram_users("") == {}
    assert kraft.parse_scram_users("Quota configs for user-principal 'carol' are producer_byte_rate=1024.0\n") == {}
    with pytest.raises(kraft.KRaftError):
        kraft.parse_scram_users("Error while executing config command with args ...")


def test_zookeeper_users_are_url_decoded_and_only_their_mechanisms_kept():
    zk = {}
    for path, data in ZNODES.items():
        if path.startswith("/config/users/"):
            user = kraft.zookeeper_user_name(path.rsplit("/", 1)[1])
            zk[user] = kraft.zookeeper_scram_mechanisms(kraft.zookeeper_config(data))
    assert zk == {"CN=bob,O=acme": ["SCRAM-SHA-256", "SCRAM-SHA-512"], "alice": ["SCRAM-SHA-512"]}
    assert kraft.zookeeper_scram_mechanisms({"producer_byte_rate": "1024"}) == []
    problems = kraft.compare_scram_users(zk, kraft.parse_scram_users(fixture("kafka-3.9.2-configs-users.stdout")))
    assert problems == ["SCRAM user dave (SCRAM-SHA-256) is in the KRaft metadata but not in ZooKeeper"]
    assert "salt" not in repr(zk) and "stored_key" not in repr(problems)


def test_a_scram_user_missing_or_with_another_mechanism_is_named():
    zk = {"alice": ["SCRAM-SHA-512"], "bob": ["SCRAM-SHA-256", "SCRAM-SHA-512"]}
    assert kraft.compare_scram_users(zk, {"bob": ["SCRAM-SHA-512"]}) == [
        "SCRAM user alice (SCRAM-SHA-512) is in ZooKeeper but not in the KRaft metadata",
        "SCRAM user bob has SCRAM-SHA-256, SCRAM-SHA-512 in ZooKeeper and SCRAM-SHA-512 in KRaft"]


# ------------------------------------------------------------------------------------------ the tool calls

class Pods:
    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def list_pods(self, namespace, selector):
        return [{"metadata": {"name": "kafka-broker-0-x"}, "status": {"phase": "Running", "containerStatuses": [
            {"name": "broker", "state": {"running": {}}}]}}]

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.calls.append(argv)
        return self.answer


def test_each_read_is_one_tool_call_in_a_broker_pod():
    pods = Pods((0, fixture("kafka-3.9.2-configs-topics.stdout"), ""))
    assert kraft.KRaftAccess(pods, "kafka").topic_configs("sel", 9092)["configs"]["plain"] == {}
    pods.answer = (0, fixture("kafka-3.9.2-acls-list.stdout"), "")
    assert len(kraft.KRaftAccess(pods, "kafka").acls("sel", 9092)["acls"]) == 8
    pods.answer = (0, fixture("kafka-3.9.2-configs-users.stdout"), "")
    assert "alice" in kraft.KRaftAccess(pods, "kafka").scram_users("sel", 9092)["users"]
    assert pods.calls == [
        ["kafka-configs", "--bootstrap-server", "localhost:9092", "--describe", "--entity-type", "topics"],
        ["kafka-acls", "--bootstrap-server", "localhost:9092", "--list"],
        ["kafka-configs", "--bootstrap-server", "localhost:9092", "--describe", "--entity-type", "users"]]


def test_a_broker_without_an_authorizer_says_so_in_the_error():
    pods = Pods((1, fixture("kafka-3.9.2-acls-no-authorizer.stdout"), ""))  # AclCommand prints its error on stdout
    with pytest.raises(kraft.KRaftError) as info:
        kraft.KRaftAccess(pods, "kafka").acls("sel", 9092)
    assert "SecurityDisabledException: No Authorizer is configured on the broker" in str(info.value)
