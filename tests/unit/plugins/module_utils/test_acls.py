"""Kafka ACLs as ZooKeeper-mode Kafka stores them (formats of Kafka 3.9's ZkData.scala and AclEntry, written out here
by hand), and the rule that only ACLs the collection added are ever removed."""
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import acls

TOPIC_READ = {"resource_type": "topic", "name": "orders", "operations": ["read", "describe"]}


def entry(user="alice", kind="Topic", pattern="LITERAL", name="orders", operation="Read", permission="Allow", host="*"):
    return {"principal": "User:%s" % user, "resource_type": kind, "pattern_type": pattern, "name": name,
            "operation": operation, "permission": permission, "host": host}


def test_entries_are_one_per_operation_in_kafkas_names():
    found = acls.entries("alice", [TOPIC_READ, {"resource_type": "cluster", "operations": ["idempotent_write"]},
                                   {"resource_type": "transactional_id", "name": "tx-", "pattern_type": "prefixed",
                                    "operations": ["write"], "permission": "deny", "host": "10.0.0.1"}])
    assert found == sorted([entry(kind="Cluster", name="kafka-cluster", operation="IdempotentWrite"),
                            entry(operation="Describe"), entry(operation="Read"),
                            entry(kind="TransactionalId", pattern="PREFIXED", name="tx-", operation="Write",
                                  permission="Deny", host="10.0.0.1")], key=acls.entry_key)


@pytest.mark.parametrize("acl, words", [
    ({"resource_type": "table", "name": "x", "operations": ["read"]}, "resource_type 'table'"),
    ({"resource_type": "topic", "name": "x", "operations": ["idempotent_write"]}, "not topic operations"),
    ({"resource_type": "group", "name": "x", "operations": []}, "non-empty list"),
    ({"resource_type": "topic", "name": "a b", "operations": ["read"]}, "not a resource name"),
    ({"resource_type": "topic", "name": "x'; delete /", "operations": ["read"]}, "not a resource name"),
    ({"resource_type": "topic", "name": "*", "pattern_type": "prefixed", "operations": ["read"]}, "not a resource name"),
    ({"resource_type": "topic", "name": "x", "pattern_type": "match", "operations": ["read"]}, "pattern_type"),
    ({"resource_type": "cluster", "name": "c", "operations": ["alter"]}, "kafka-cluster"),
    ({"resource_type": "topic", "name": "x", "operations": ["read"], "permission": "maybe"}, "permission"),
    ({"resource_type": "topic", "name": "x", "operations": ["read"], "host": "example.com"}, "not * or an IP"),
    ({"resource_type": "topic", "name": "x", "operations": ["read"], "principal": "User:root"}, "has principal"),
    ("topic", "not a mapping"),
])
def test_bad_acls_are_said(acl, words):
    problems = acls.acl_problems(acl)
    assert any(words in p for p in problems), problems


def test_good_acls_pass():
    for acl in (TOPIC_READ, {"resource_type": "topic", "name": "*", "operations": ["all"]},
                {"resource_type": "group", "name": "app-", "pattern_type": "prefixed", "operations": ["read"]},
                {"resource_type": "cluster", "operations": ["describe"]},
                {"resource_type": "topic", "name": "x", "operations": ["write"], "host": "::1", "permission": "deny"}):
        assert acls.acl_problems(acl) == [], acl


def test_znode_paths_and_change_events_are_kafkas():
    literal = ("Topic", "LITERAL", "orders")
    prefixed = ("Group", "PREFIXED", "app-")
    assert acls.resource_path(literal) == "/kafka-acl/Topic/orders"
    assert acls.resource_path(prefixed) == "/kafka-acl-extended/prefixed/Group/app-"
    assert acls.change_notification(literal) == ("/kafka-acl-changes/acl_changes_", "TOPIC:orders")
    path, data = acls.change_notification(prefixed)
    assert path == "/kafka-acl-extended-changes/acl_changes_"
    assert json.loads(data) == {"version": 1, "resourceType": "GROUP", "name": "app-", "patternType": "PREFIXED"}
    assert acls.change_notification(("TransactionalId", "LITERAL", "t"))[1] == "TRANSACTIONAL_ID:t"
    # Parents before children (zkCli creates one level at a time).
    assert acls.parent_paths([literal, prefixed]) == [
        "/kafka-acl", "/kafka-acl-changes", "/kafka-acl-extended", "/kafka-acl-extended-changes",
        "/kafka-acl-extended/prefixed", "/kafka-acl/Topic", "/kafka-acl-extended/prefixed/Group"]


def test_the_znode_data_round_trips_in_aclentrys_json():
    aces = {("User:alice", "Allow", "Read", "*"), ("User:bob", "Deny", "Write", "10.0.0.1")}
    data = acls.encode_acls(aces)
    assert json.loads(data) == {"version": 1, "acls": [
        {"principal": "User:alice", "permissionType": "Allow", "operation": "Read", "host": "*"},
        {"principal": "User:bob", "permissionType": "Deny", "operation": "Write", "host": "10.0.0.1"}]}
    assert acls.parse_acls(data) == aces and acls.parse_acls(None) == set() and acls.parse_acls("") == set()
    assert "'" not in data and " " not in data


@pytest.mark.parametrize("data", ["nope", json.dumps({"version": 2, "acls": []}), json.dumps({"version": 1}),
                                  json.dumps({"version": 1, "acls": [{"principal": "User:a"}]}), json.dumps([])])
def test_foreign_data_is_refused(data):
    with pytest.raises(acls.ForeignData):
        acls.parse_acls(data)


def ace(e):
    return acls.ace_of(e)


ORDERS = ("Topic", "LITERAL", "orders")


def test_listed_acls_are_added_and_recorded_a_second_run_writes_nothing():
    wanted = [entry(), entry(operation="Describe")]
    writes, record, removed = acls.decide(wanted, [], {ORDERS: set()})
    assert writes == {ORDERS: {ace(e) for e in wanted}} and record == sorted(wanted, key=acls.entry_key)
    assert removed == []
    assert acls.decide(wanted, record, {ORDERS: writes[ORDERS]}) == ({}, record, [])


def test_an_acl_that_was_there_before_is_not_recorded_so_never_removed():
    theirs = entry(user="ops")
    writes, record, dummy = acls.decide([theirs, entry()], [], {ORDERS: {ace(theirs)}})
    assert record == [entry()] and writes[ORDERS] == {ace(theirs), ace(entry())}
    # Unlisted later: only the collection's own goes.
    writes, record, removed = acls.decide([], record, {ORDERS: {ace(theirs), ace(entry())}})
    assert writes == {ORDERS: {ace(theirs)}} and record == [] and removed == [entry()]


def test_an_unlisted_acl_the_collection_added_goes_others_on_the_resource_stay():
    foreign = ("User:x", "Allow", "Write", "*")
    writes, record, removed = acls.decide([], [entry()], {ORDERS: {ace(entry()), foreign}})
    assert writes == {ORDERS: {foreign}} and removed == [entry()] and record == []


def test_a_recorded_acl_someone_deleted_is_added_again_if_listed_and_forgotten_if_not():
    writes, record, removed = acls.decide([entry()], [entry()], {ORDERS: set()})
    assert writes == {ORDERS: {ace(entry())}} and record == [entry()] and removed == []
    assert acls.decide([], [entry()], {ORDERS: set()}) == ({}, [], [])


def test_the_record_round_trips_and_refuses_what_is_not_one():
    text = acls.encode_record([entry(), entry(operation="Write")])
    assert acls.parse_record(text) == sorted([entry(), entry(operation="Write")], key=acls.entry_key)
    assert acls.parse_record(None) == [] and acls.parse_record("") == []
    for bad in ('{"a": 1}', '[{"principal": "User:a"}]', "[1]"):
        with pytest.raises(ValueError):
            acls.parse_record(bad)
