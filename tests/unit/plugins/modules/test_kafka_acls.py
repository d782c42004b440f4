"""kafka_acls against a fake ZooKeeper that runs the zkCli script it is sent and a fake ConfigMap API: listed ACLs
added with their change notification, a second run writes nothing, only ACLs the collection added are removed, a
ConfigMap that is not the collection's is refused."""
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import acls
from ansible_collections.kafka_eks.cluster.plugins.modules import kafka_acls as module
from test_scram_credentials import ApiError, FakeApiClient, FakeZooKeeper

LABELS = {"app.kubernetes.io/managed-by": "kafka_eks.cluster"}


class FakeCore:
    def __init__(self, maps=None):
        self.maps = dict(maps or {})
        self.writes = []

    def read_namespaced_config_map(self, name, namespace, _request_timeout=None):
        if name not in self.maps:
            raise ApiError(404)
        return json.loads(json.dumps(self.maps[name]))

    def create_namespaced_config_map(self, namespace, body, _request_timeout=None):
        assert body["metadata"]["name"] not in self.maps
        self.maps[body["metadata"]["name"]] = body
        self.writes.append("create")

    def patch_namespaced_config_map(self, name, namespace, body, _request_timeout=None):
        self.maps[name] = dict(self.maps[name], data=body["data"])
        self.writes.append("patch")


class FakePodApi:
    request_timeout = 5

    def __init__(self, core):
        self.core = core
        self.api_client = FakeApiClient()


def entry(user="alice", name="orders", operation="Read", pattern="LITERAL"):
    return {"principal": "User:%s" % user, "resource_type": "Topic", "pattern_type": pattern, "name": name,
            "operation": operation, "permission": "Allow", "host": "*"}


def params(entries, check_mode=False):
    return {"namespace": "kafka", "acls": entries, "record": "kafka-managed-acls", "record_labels": LABELS,
            "_check_mode": check_mode}


def aces(zk, path):
    return acls.parse_acls(zk.nodes[path][0])


def test_listed_acls_are_written_recorded_and_a_second_run_writes_nothing():
    zk, core = FakeZooKeeper(), FakeCore()
    wanted = [entry(), entry(operation="Describe"), entry(name="app-", pattern="PREFIXED")]
    first = module.run(params(wanted), FakePodApi(core), zk)
    assert first["changed"] and len(first["added"]) == 3 and first["removed"] == []
    assert aces(zk, "/kafka-acl/Topic/orders") == {
        ("User:alice", "Allow", "Read", "*"), ("User:alice", "Allow", "Describe", "*")}
    assert aces(zk, "/kafka-acl-extended/prefixed/Topic/app-") == {("User:alice", "Allow", "Read", "*")}
    changes = sorted(d for p, (d, v) in zk.nodes.items() if "acl_changes_" in p)
    assert "TOPIC:orders" in changes and any('"patternType":"PREFIXED"' in c for c in changes)
    recorded = acls.parse_record(core.maps["kafka-managed-acls"]["data"]["acls.json"])
    assert recorded == sorted(wanted, key=acls.entry_key)
    second = module.run(params(wanted), FakePodApi(core), zk)
    assert not second["changed"] and len(zk.scripts) == 1 and core.writes == ["create"]


def test_only_the_acls_the_collection_added_are_removed():
    theirs = json.dumps({"version": 1, "acls": [
        {"principal": "User:ops", "permissionType": "Allow", "operation": "Write", "host": "*"},
        {"principal": "User:alice", "permissionType": "Allow", "operation": "Describe", "host": "*"}]})
    zk, core = FakeZooKeeper({"/kafka-acl/Topic/orders": [theirs, 4]}), FakeCore()
    # alice's Describe was there before the collection: listed now, not recorded as the collection's.
    module.run(params([entry(), entry(operation="Describe")]), FakePodApi(core), zk)
    assert acls.parse_record(core.maps["kafka-managed-acls"]["data"]["acls.json"]) == [entry()]
    result = module.run(params([]), FakePodApi(core), zk)
    assert result["removed"] == ["User:alice Allow Read on Topic:LITERAL:orders from *"]
    assert aces(zk, "/kafka-acl/Topic/orders") == {
        ("User:ops", "Allow", "Write", "*"), ("User:alice", "Allow", "Describe", "*")}
    assert acls.parse_record(core.maps["kafka-managed-acls"]["data"]["acls.json"]) == []


def test_check_mode_writes_nothing():
    zk, core = FakeZooKeeper(), FakeCore()
    result = module.run(params([entry()], check_mode=True), FakePodApi(core), zk)
    assert result["changed"] and result["added"] and zk.scripts == [] and core.maps == {}


def test_a_configmap_that_is_not_the_collections_is_refused_and_nothing_written():
    zk = FakeZooKeeper()
    core = FakeCore({"kafka-managed-acls": {"metadata": {"name": "kafka-managed-acls", "labels": {}}, "data": {}}})
    with pytest.raises(module.Refused) as refused:
        module.run(params([entry()]), FakePodApi(core), zk)
    assert "without the collection's labels" in str(refused.value) and zk.scripts == []


def test_foreign_znode_data_is_refused_and_left():
    zk, core = FakeZooKeeper({"/kafka-acl/Topic/orders": ["junk", 0]}), FakeCore()
    with pytest.raises(module.Refused) as refused:
        module.run(params([entry()]), FakePodApi(core), zk)
    assert "/kafka-acl/Topic/orders" in str(refused.value) and zk.nodes["/kafka-acl/Topic/orders"] == ["junk", 0]


def test_the_zkcli_script_creates_parents_then_sets_with_the_version():
    zk = FakeZooKeeper({"/kafka-acl/Topic/orders": [acls.encode_acls({("User:ops", "Allow", "Read", "*")}), 3]})
    module.run(params([entry()]), FakePodApi(FakeCore()), zk)
    lines = zk.scripts[0].splitlines()
    assert lines[0] == "create /kafka-acl ''" and "create /kafka-acl/Topic ''" in lines
    assert lines[-3].startswith("set -v 3 /kafka-acl/Topic/orders '{")
    assert lines[-2] == "create -s /kafka-acl-changes/acl_changes_ 'TOPIC:orders'" and lines[-1] == "quit"
