"""Pure parts of module_utils/replication.py: parsing Kafka's ZooKeeper nodes, which partitions block a broker's
restart (Strimzi KafkaRoller's rule) and which replicas a restarted broker still has to catch up."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import (
    describe_partitions,
    lagging,
    parse_assignment,
    parse_min_isr,
    parse_state,
    restart_blockers,
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


def state(leader, isr):
    return {"leader": leader, "isr": list(isr)}


def test_a_broker_may_restart_while_every_partition_on_it_keeps_min_isr():
    assignments = {"orders": {0: [0, 1, 2], 1: [1, 2, 3]}}
    states = {("orders", 0): state(0, [0, 1, 2]), ("orders", 1): state(1, [1, 2])}
    # broker 0: orders-0 has 3 in sync > min ISR 2; orders-1 is at min ISR but broker 0 is not on it
    assert restart_blockers(0, assignments, states, {}, 2) == []
    # broker 2 is in orders-1's ISR, which is at min ISR: restarting it would stop acks=all writes there
    (blocker,) = restart_blockers(2, assignments, states, {}, 2)
    assert (blocker["topic"], blocker["partition"], blocker["min_isr"]) == ("orders", 1, 2)
    assert "in sync 2 = min ISR 2 with broker 2" in blocker["why"]


def test_below_min_isr_blocks_even_when_the_broker_is_not_in_the_isr():
    (blocker,) = restart_blockers(3, {"t": {0: [1, 2, 3]}}, {("t", 0): state(1, [1])}, {}, 2)
    assert blocker["why"] == "in sync 1 < min ISR 2"


def test_topic_level_min_isr_wins_over_the_broker_default():
    assignments = {"strict": {0: [0, 1, 2, 3]}, "lax": {0: [0, 1, 2]}}
    states = {("strict", 0): state(1, [0, 1, 2]), ("lax", 0): state(1, [0, 1])}
    blockers = restart_blockers(0, assignments, states, {"strict": 3, "lax": 1}, 2)
    assert [(b["topic"], b["min_isr"]) for b in blockers] == [("strict", 3)]


@pytest.mark.parametrize("replicas, isr, min_isr", [([0], [], 2), ([0, 1], [1], 2), ([0], [0], 1)])
def test_topics_with_replication_factor_at_or_below_min_isr_never_block(replicas, isr, min_isr):
    assert restart_blockers(0, {"rf-low": {0: replicas}}, {("rf-low", 0): state(-1, isr)}, {}, min_isr) == []


def test_a_stuck_partition_elsewhere_does_not_block_this_broker():
    assignments = {"stuck": {0: [2, 3, 4]}, "mine": {0: [0, 1, 2]}}
    states = {("stuck", 0): state(-1, []), ("mine", 0): state(0, [0, 1, 2])}
    assert restart_blockers(0, assignments, states, {}, 2) == []
    assert [b["topic"] for b in restart_blockers(3, assignments, states, {}, 2)] == ["stuck"]


def test_a_partition_without_a_state_node_blocks_its_brokers():
    (blocker,) = restart_blockers(1, {"t": {0: [0, 1, 2]}}, {("t", 0): None}, {}, 2)
    assert blocker["isr"] == [] and blocker["leader"] == -1


def test_lagging_lists_what_a_restarted_broker_has_to_catch_up_where_a_leader_exists():
    assignments = {"a": {0: [0, 1, 2], 1: [1, 2, 3]}, "b": {0: [0, 3]}}
    states = {("a", 0): state(1, [1, 2]), ("a", 1): state(1, [1, 2]), ("b", 0): state(-1, [3])}
    behind = lagging([0], assignments, states)
    assert [(p["topic"], p["partition"], p["out_of_sync"]) for p in behind] == [("a", 0, [0])]
    assert describe_partitions(behind) == "a-0 (replicas 0,1,2; in sync 1,2)"


@pytest.mark.parametrize("data, expected", [
    ('{"version":1,"config":{"min.insync.replicas":"3","retention.ms":"1"}}', 3),
    ('{"version":1,"config":{}}', None), ("", None), (None, None), ("nope", None),
    ('{"version":1,"config":{"min.insync.replicas":"x"}}', None),
])
def test_parse_min_isr(data, expected):
    assert parse_min_isr(data) == expected


def test_description_is_bounded():
    many = [{"topic": "t", "partition": i, "replicas": [0, 1], "isr": [0], "leader": 0, "out_of_sync": [1]}
            for i in range(13)]
    text = describe_partitions(many)
    assert text.startswith("t-0 (replicas 0,1; in sync 0)") and text.endswith("and 3 more")
