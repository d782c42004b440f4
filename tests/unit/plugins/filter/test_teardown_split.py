"""The teardown deletes only the objects carrying the collection's managed-by label."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.filter.teardown_split import teardown_split

MANAGED = {"app.kubernetes.io/managed-by": "kafka_eks.cluster"}


def obj(kind, name, labels=None):
    return {"kind": kind, "apiVersion": "v1", "metadata": {"name": name, "namespace": "kafka", "labels": labels or {}}}


RENDERED = [obj("Deployment", "kafka-broker-0", MANAGED), obj("ConfigMap", "kafka-client-config", MANAGED),
            obj("Service", "zk-hs", MANAGED)]


def results(kind, *items):
    # A k8s_info loop result: list items carry no kind of their own.
    return {"item": {"key": kind, "value": "v1"},
            "resources": [{"metadata": {"name": n, "labels": labels}} for n, labels in items]}


def test_only_labelled_objects_are_deleted_and_others_reported():
    existing = [results("Deployment", ("kafka-broker-0", MANAGED)),
                results("ConfigMap", ("kafka-client-config", {"owner": "someone-else"}), ("kube-root-ca.crt", None)),
                results("Service")]
    split = teardown_split(RENDERED, existing)
    assert split["delete"] == [RENDERED[0]]
    assert split["foreign"] == ["ConfigMap kafka/kafka-client-config"]
    assert split["absent"] == ["Service kafka/zk-hs"]


def test_same_name_other_kind_does_not_count():
    split = teardown_split(RENDERED, [results("Service", ("kafka-broker-0", MANAGED))])
    assert split["delete"] == [] and len(split["absent"]) == 3


def test_wrong_label_value_is_foreign():
    split = teardown_split(RENDERED[:1], [results("Deployment", ("kafka-broker-0", {MANAGED_KEY: "helm"}))])
    assert split["delete"] == [] and split["foreign"] == ["Deployment kafka/kafka-broker-0"]


MANAGED_KEY = "app.kubernetes.io/managed-by"


def test_plain_objects_with_kind_are_accepted():
    split = teardown_split(RENDERED[:1], [dict(RENDERED[0])])
    assert split["delete"] == [RENDERED[0]]


def test_not_a_list_is_refused():
    with pytest.raises(AnsibleFilterError):
        teardown_split({"kind": "Deployment"}, [])
