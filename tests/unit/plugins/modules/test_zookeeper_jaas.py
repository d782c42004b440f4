"""zookeeper_jaas against fake Secrets: the JAAS Secret is written once and then left, a changed password or a Secret
the collection did not write is refused with nothing written, and the password never leaves the module."""
import base64
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth as za
from ansible_collections.kafka_eks.cluster.plugins.modules import zookeeper_jaas as module

PASSWORD = "zk $(pw) ;'p4ss"


class ApiError(Exception):
    def __init__(self, status):
        super(ApiError, self).__init__("HTTP %d" % status)
        self.status = status


class FakeCore:
    def __init__(self, secrets, fail_read=None):
        self.secrets = secrets  # name -> Secret object (data in base64)
        self.fail_read = fail_read
        self.created = []

    def read_namespaced_secret(self, name, namespace, _request_timeout=None):
        if name == self.fail_read:
            raise ApiError(403)
        if name not in self.secrets:
            raise ApiError(404)
        return self.secrets[name]

    def create_namespaced_secret(self, namespace, body, _request_timeout=None):
        self.created.append(body)
        self.secrets[body["metadata"]["name"]] = body


class FakePodApi:
    request_timeout = 5

    def __init__(self, core):
        self.core = core
        self.api_client = type("C", (), {"sanitize_for_serialization": staticmethod(lambda obj: obj)})()


class FakeModule:
    def __init__(self, check_mode=False, **overrides):
        self.check_mode = check_mode
        self.params = dict({"namespace": "kafka", "user": "kafka", "secret": "zk-auth", "key": "password",
                            "jaas_secret": "zookeeper-jaas", "labels": {"app.kubernetes.io/part-of": "kafka"}},
                           **overrides)


def password_secret(password=PASSWORD, key="password"):
    return {"metadata": {"name": "zk-auth"}, "data": {key: base64.b64encode(password.encode()).decode()}}


def test_the_secret_is_written_once_then_left_and_the_password_leaves_nothing_but_the_secret():
    core = FakeCore({"zk-auth": password_secret()})
    first = module.run(FakeModule(), FakePodApi(core))
    assert first["changed"] and first["created"] and len(core.created) == 1
    written = core.created[0]
    assert written["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kafka_eks.cluster"
    files = dict((k, base64.b64decode(v).decode()) for k, v in written["data"].items())
    assert files == za.jaas_files("kafka", PASSWORD) and first["fingerprint"] == za.fingerprint(files)
    assert PASSWORD not in json.dumps(first)
    second = module.run(FakeModule(), FakePodApi(core))
    assert not second["changed"] and len(core.created) == 1 and second["fingerprint"] == first["fingerprint"]


def test_check_mode_says_it_would_write_and_writes_nothing():
    core = FakeCore({"zk-auth": password_secret()})
    result = module.run(FakeModule(check_mode=True), FakePodApi(core))
    assert result["changed"] and result["msg"].startswith("Would write") and core.created == []
    assert result["diff"]["before"] == "zookeeper-jaas: none\n" and PASSWORD not in json.dumps(result)


@pytest.mark.parametrize("case, secrets, fail_read, expected", [
    ("password Secret missing", {}, None, "does not exist in namespace kafka"),
    ("no key", {"zk-auth": password_secret(key="other")}, None, "has no key password"),
    ("quote in password", {"zk-auth": password_secret('pa"ss')}, None, "key password"),
    ("unreadable", {"zk-auth": password_secret()}, "zk-auth", "cannot be read (HTTP 403)"),
    ("foreign JAAS Secret", {"zk-auth": password_secret(), "zookeeper-jaas": {"metadata": {"labels": {}},
                                                                              "data": {}}},
     None, "was not written by kafka_eks.cluster"),
])
def test_unusable_secrets_are_refused_with_nothing_written_and_no_password_shown(case, secrets, fail_read, expected):
    core = FakeCore(secrets, fail_read=fail_read)
    with pytest.raises(module.Refused) as caught:
        module.run(FakeModule(), FakePodApi(core))
    message = str(caught.value)
    assert expected in message and ("Nothing was written" in message or "not overwritten" in message), case
    assert core.created == [] and PASSWORD not in str(caught.value) and 'pa"ss' not in str(caught.value), case


def test_a_new_password_for_a_running_cluster_is_refused():
    core = FakeCore({"zk-auth": password_secret()})
    module.run(FakeModule(), FakePodApi(core))
    core.secrets["zk-auth"] = password_secret("another password")
    with pytest.raises(module.Refused) as caught:
        module.run(FakeModule(), FakePodApi(core))
    assert "put the former password back" in str(caught.value) and len(core.created) == 1
    assert "another password" not in str(caught.value)
    # So is another user name: the servers accept one user.
    core.secrets["zk-auth"] = password_secret()
    with pytest.raises(module.Refused):
        module.run(FakeModule(user="admin"), FakePodApi(core))
