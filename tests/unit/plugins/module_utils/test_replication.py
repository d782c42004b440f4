"""Pure parts of module_utils/replication.py: parsing Kafka's ZooKeeper nodes and finding lagging replicas."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import (
    describe_partitions,
    parse_assignment,
    parse_state,
    under_replicated,
)

# As Kafka 3.9 writes them (topic node version 3, partition state version 1).
TOPIC = '{"partitions":{"0":[1,2,3],"1":[2,3,0]},"topic_id":"Qm3x8hZ9Q2aFv1zq7lW0Kw","adding_replicas":{},' \
        '"removing_replicas":{},"version":3}'
STATE = '{"controller_epoch":4,"leader":2,"version":1,"leader_epoch":7,"isr":[2,1]}'


def test_parse_assignment_and_state_of_real_nodes():
    assert parse_assignment(TOPIC) == {0: [1, 2, 3], 1: [2, 3, 0]}
    assert parse_state(STATE) == {"leader": 2, "isr": [2, 1]}


@pytest.mark.parametrize("data", [None, "", "not json", "[]", '{"partitions": []}', '{"version": 3}'])
def test_unreadable_topic_nodes_give_no_partitions(data):
    assert parse_assignment(data) == {}


@pytest.mark.parametrize("data", [None, "", "not json", "[1]", '{"isr": "x"}'])
def test_unreadable_state_nodes_give_none(data):
    assert parse_state(data) is None


def test_a_partition_missing_an_expected_replica_is_out_of_sync():
    assignments = {"orders": {0: [1, 2, 3], 1: [2, 3, 0]}}
    states = {("orders", 0): {"leader": 2, "isr": [2, 1]}, ("orders", 1): {"leader": 2, "isr": [2, 3, 0]}}
    out_of_sync, ignored = under_replicated(assignments, states, [0, 1, 2, 3])
    assert out_of_sync == [{"topic": "orders", "partition": 0, "replicas": [1, 2, 3], "isr": [2, 1],
                            "leader": 2, "out_of_sync": [3]}]
    assert ignored == []


def test_a_partition_without_a_state_node_counts_as_out_of_sync_with_no_leader():
    out_of_sync = under_replicated({"t": {0: [0, 1]}}, {("t", 0): None}, [0, 1])[0]
    assert out_of_sync[0]["out_of_sync"] == [0, 1] and out_of_sync[0]["leader"] == -1
    assert describe_partitions(out_of_sync) == "t-0 (replicas 0,1; in sync none; no leader)"


def test_replicas_on_brokers_not_deployed_are_ignored_not_waited_for():
    assignments = {"a": {0: [0, 9]}, "b": {0: [0, 1, 9]}}
    states = {("a", 0): {"leader": 0, "isr": [0]}, ("b", 0): {"leader": 0, "isr": [0]}}
    out_of_sync, ignored = under_replicated(assignments, states, [0, 1])
    assert [(p["topic"], p["out_of_sync"]) for p in out_of_sync] == [("b", [1, 9])]
    assert [(p["topic"], p["out_of_sync"]) for p in ignored] == [("a", [9])]


def test_all_in_sync_gives_nothing():
    assert under_replicated({"t": {0: [0, 1, 2]}}, {("t", 0): {"leader": 1, "isr": [1, 2, 0]}}, [0, 1, 2]) == ([], [])


def test_description_is_bounded():
    many = [{"topic": "t", "partition": i, "replicas": [0, 1], "isr": [0], "leader": 0, "out_of_sync": [1]}
            for i in range(13)]
    text = describe_partitions(many)
    assert text.startswith("t-0 (replicas 0,1; in sync 0)") and text.endswith("and 3 more")
