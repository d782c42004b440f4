"""scram_credentials against a fake ZooKeeper that runs the zkCli script it is sent (as zkCli would, one command a
line) and fake Secrets: first run writes, second run writes nothing, a new password is written anew, the running
brokers' user is not changed under them, foreign data is left, and no password or credential leaves the module."""
import base64
import json
import shlex

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram
from ansible_collections.kafka_eks.cluster.plugins.modules import scram_credentials as module

import zookeeper_fakes

PASSWORDS = {"kafka-admin": "Admin-Pw-1", "alice": "Alice-Pw-1"}


class ApiError(Exception):
    def __init__(self, status):
        super(ApiError, self).__init__("HTTP %d" % status)
        self.status = status


class FakeCore:
    def __init__(self, secrets):
        self.secrets = secrets

    def read_namespaced_secret(self, name, namespace, _request_timeout=None):
        if name not in self.secrets:
            raise ApiError(404)
        return {"metadata": {"name": name, "namespace": namespace},
                "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in self.secrets[name].items())}


class FakeApiClient:
    @staticmethod
    def sanitize_for_serialization(obj):
        return obj


class FakePodApi:
    request_timeout = 5

    def __init__(self, secrets):
        self.core = FakeCore(secrets)
        self.api_client = FakeApiClient()


class FakeZooKeeper:
    """A znode tree; run_cli_script executes create/set -v/create -s as zkCli does."""

    def __init__(self, nodes=None):
        self.nodes = dict(nodes or {})  # path -> [data, version]
        self.sequence = 0
        self.scripts = []

    def list_and_get(self, parent, paths):
        children = None
        if parent:
            prefix = parent + "/"
            children = sorted(p[len(prefix):] for p in self.nodes if p.startswith(prefix) and "/" not in p[len(prefix):])
        found = dict((p, (self.nodes[p][0], {"version": self.nodes[p][1]}) if p in self.nodes else None) for p in paths)
        return children, found

    def run_cli_script(self, script):
        self.scripts.append(script)
        for line in script.splitlines():
            words = shlex.split(line)
            if words[0] == "quit":
                break
            if words[0] == "create" and words[1] == "-s":
                self.sequence += 1
                self.nodes["%s%010d" % (words[2], self.sequence)] = [words[3], 0]
            elif words[0] == "create":
                self.nodes.setdefault(words[1], [words[2] if len(words) > 2 else "", 0])
            elif words[0] == "set":
                assert words[1] == "-v"
                node = self.nodes[words[3]]
                if node[1] == int(words[2]):
                    self.nodes[words[3]] = [words[4], node[1] + 1]
            else:
                raise AssertionError(line)
        return "zookeeper-0", 0, "", ""

    def close(self):
        pass


def params(users=("kafka-admin", "alice"), locked=(), check_mode=False):
    return {"namespace": "kafka", "users": [{"name": u, "secret": "%s-pw" % u, "key": "password"} for u in users],
            "locked_users": list(locked), "iterations": 4096, "_check_mode": check_mode}


def secrets(passwords=None):
    return dict(("%s-pw" % u, {"password": p}) for u, p in (passwords or PASSWORDS).items())


def stored(zk, user):
    return json.loads(zk.nodes["/config/users/%s" % user][0])["config"][scram.MECHANISM]


def test_first_run_writes_each_credential_and_a_notification_second_run_nothing():
    zk = FakeZooKeeper()
    first = module.run(params(), FakePodApi(secrets()), zk)
    assert first["changed"] and first["created"] == ["kafka-admin", "alice"] and first["updated"] == []
    for user, password in PASSWORDS.items():
        assert scram.credential_matches(stored(zk, user), password)
    notes = sorted((json.loads(d) for p, (d, v) in zk.nodes.items() if p.startswith("/config/changes/config_change_")),
                   key=lambda n: n["entity_path"])
    assert notes == [{"entity_path": "users/alice", "version": 2}, {"entity_path": "users/kafka-admin", "version": 2}]
    versions = dict((p, v) for p, (d, v) in zk.nodes.items())
    second = module.run(params(), FakePodApi(secrets()), zk)
    assert not second["changed"] and second["unchanged"] == ["kafka-admin", "alice"]
    assert len(zk.scripts) == 1 and dict((p, v) for p, (d, v) in zk.nodes.items()) == versions


def test_no_password_and_no_credential_leave_the_module_or_reach_a_command_line():
    zk = FakeZooKeeper()
    result = module.run(params(), FakePodApi(secrets()), zk)
    text = json.dumps(result)
    for password in PASSWORDS.values():
        assert password not in text and password not in zk.scripts[0]
    assert "stored_key" not in text and "salt=" not in text


def test_a_changed_password_is_written_anew_keeping_the_users_other_settings():
    zk = FakeZooKeeper()
    module.run(params(), FakePodApi(secrets()), zk)
    node = zk.nodes["/config/users/alice"]
    config = json.loads(node[0])["config"]
    config["producer_byte_rate"] = "1024"
    zk.nodes["/config/users/alice"] = [json.dumps({"version": 1, "config": config}), node[1] + 1]
    changed = module.run(params(), FakePodApi(secrets(dict(PASSWORDS, alice="Alice-Pw-2"))), zk)
    assert changed["updated"] == ["alice"] and changed["unchanged"] == ["kafka-admin"]
    assert scram.credential_matches(stored(zk, "alice"), "Alice-Pw-2")
    assert json.loads(zk.nodes["/config/users/alice"][0])["config"]["producer_byte_rate"] == "1024"


def test_check_mode_says_what_it_would_write_and_writes_nothing():
    zk = FakeZooKeeper()
    result = module.run(params(check_mode=True), FakePodApi(secrets()), zk)
    assert result["changed"] and result["created"] == ["kafka-admin", "alice"] and zk.scripts == [] and not zk.nodes
    assert "alice: no credential" in result["diff"]["before"]


def test_the_running_brokers_user_is_not_changed_and_nothing_is_written():
    zk = FakeZooKeeper()
    module.run(params(), FakePodApi(secrets()), zk)
    before = dict(zk.nodes)
    with pytest.raises(module.Refused) as refused:
        module.run(params(locked=["kafka-admin"]), FakePodApi(secrets(dict(PASSWORDS, **{"kafka-admin": "Admin-Pw-2"}))),
                   zk)
    assert "kafka-admin" in str(refused.value) and "Nothing was written" in str(refused.value)
    assert "Admin-Pw" not in str(refused.value) and zk.nodes == before and len(zk.scripts) == 1


def test_foreign_znode_data_is_left_and_refused():
    zk = FakeZooKeeper({"/config/users/alice": ["not kafka's", 3]})
    with pytest.raises(module.Refused) as refused:
        module.run(params(), FakePodApi(secrets()), zk)
    assert "/config/users/alice" in str(refused.value) and zk.nodes["/config/users/alice"] == ["not kafka's", 3]
    assert zk.scripts == []


def test_a_missing_secret_or_key_is_refused_before_zookeeper_is_read():
    class Untouchable(FakeZooKeeper):
        def list_and_get(self, parent, paths):
            raise AssertionError("ZooKeeper read")
    with pytest.raises(module.Refused) as refused:
        module.run(params(), FakePodApi({"alice-pw": {"pw": "x"}}), Untouchable())
    message = str(refused.value)
    assert "Secret kafka-admin-pw (user kafka-admin): does not exist" in message
    assert "Secret alice-pw (user alice) has no key password" in message


def test_users_not_listed_are_named_never_deleted():
    zk = FakeZooKeeper()
    module.run(params(users=("kafka-admin", "alice")), FakePodApi(secrets()), zk)
    zk.nodes["/config/users/quota-only"] = [json.dumps({"version": 1, "config": {"producer_byte_rate": "1"}}), 0]
    result = module.run(params(users=("kafka-admin",)), FakePodApi(secrets()), zk)
    assert result["unlisted"] == ["alice"] and "/config/users/alice" in zk.nodes


def test_a_write_that_does_not_read_back_fails_without_showing_zkclis_output():
    class Lost(FakeZooKeeper):
        def run_cli_script(self, script):
            self.scripts.append(script)
            return "zookeeper-0", 0, "echoed " + script, ""
    with pytest.raises(module.Refused) as refused:
        module.run(params(), FakePodApi(secrets()), Lost())
    assert "did not read back" in str(refused.value) and "salt=" not in str(refused.value)


def test_direct_access_writes_through_kazoo_and_a_second_run_changes_nothing():
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import DirectAccess
    tree = zookeeper_fakes.FakeZooKeeper()
    zk = DirectAccess(["zk:2181"], kazoo_factory=zookeeper_fakes.FakeKazoo(tree))
    first = module.run(params(), FakePodApi(secrets()), zk)
    assert first["created"] == ["kafka-admin", "alice"]
    assert scram.credential_matches(json.loads(tree.nodes["/config/users/alice"].data)["config"][scram.MECHANISM],
                                    PASSWORDS["alice"])
    second = module.run(params(), FakePodApi(secrets(dict(PASSWORDS, alice="Alice-Pw-2"))), zk)
    assert second["updated"] == ["alice"] and tree.nodes["/config/users/alice"].version == 1
    assert not module.run(params(), FakePodApi(secrets(dict(PASSWORDS, alice="Alice-Pw-2"))), zk)["changed"]
