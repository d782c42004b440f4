"""cluster_read: several reads in one module run, against a fake K8sService that can fail, lack an API or find
nothing."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.modules.cluster_read import ReadFailed, read_all
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException


class FakeService:
    """``find`` as K8sService's: objects by kind, filtered by name and namespace; ``fail`` kinds raise, ``missing``
    kinds have no API."""

    def __init__(self, objects, fail=(), missing=()):
        self.objects, self.fail, self.missing, self.calls = objects, fail, missing, []

    def find(self, kind, api_version, name=None, namespace=None, label_selectors=None):
        self.calls.append((kind, api_version, name, namespace, tuple(label_selectors or ())))
        if kind in self.fail:
            raise CoreException("Unauthorized (403): cannot list %s" % kind)
        if kind in self.missing:
            return {"resources": [], "api_found": False, "msg": "Failed to find API for resource %s" % kind}
        found = [o for o in self.objects.get(kind, []) if (name is None or o["metadata"]["name"] == name)
                 and (namespace is None or o["metadata"].get("namespace") == namespace)]
        return {"resources": found, "api_found": True}


def obj(name, namespace=None):
    return {"metadata": dict({"name": name}, **({"namespace": namespace} if namespace else {}))}


def test_reads_in_order_each_with_its_own_query():
    svc = FakeService({"Node": [obj("n1"), obj("n2")], "Deployment": [obj("d", "kafka"), obj("x", "other")]})
    results, skipped = read_all(svc, [
        {"key": "nodes", "kind": "Node"},
        {"key": "deployments", "kind": "Deployment", "api_version": "apps/v1", "namespace": "kafka",
         "label_selectors": ["app=kafka"]}])
    assert results == {"nodes": [obj("n1"), obj("n2")], "deployments": [obj("d", "kafka")]} and skipped == []
    assert svc.calls == [("Node", "v1", None, None, ()), ("Deployment", "apps/v1", None, "kafka", ("app=kafka",))]


def test_a_read_that_depends_on_one_that_found_nothing_is_skipped_and_not_made():
    svc = FakeService({"Deployment": [obj("d", "kafka")]})
    results, skipped = read_all(svc, [
        {"key": "namespace", "kind": "Namespace", "name": "kafka"},
        {"key": "deployments", "kind": "Deployment", "namespace": "kafka", "only_if_found": "namespace"}])
    assert results == {"namespace": []} and skipped == ["deployments"]
    assert [c[0] for c in svc.calls] == ["Namespace"]


@pytest.mark.parametrize("service, words", [
    (FakeService({}, fail=("StorageClass",)), "could not read the StorageClasses: Unauthorized (403)"),
    (FakeService({}, missing=("StorageClass",)), "could not read the StorageClasses: Failed to find API"),
])
def test_a_failed_read_stops_naming_what_was_read(service, words):
    with pytest.raises(ReadFailed) as info:
        read_all(service, [{"key": "nodes", "kind": "Node"},
                           {"key": "classes", "kind": "StorageClass", "what": "the StorageClasses"},
                           {"key": "pods", "kind": "Pod"}])
    assert info.value.key == "classes" and words in str(info.value)
    assert [c[0] for c in service.calls] == ["Node", "StorageClass"]


def test_a_key_used_twice_is_refused():
    with pytest.raises(ReadFailed) as info:
        read_all(FakeService({}), [{"key": "a", "kind": "Node"}, {"key": "a", "kind": "Pod"}])
    assert "used by two reads" in str(info.value)


def test_a_tls_secret_is_returned_as_facts_only_and_a_missing_one_as_not_found():
    from testbed_lib import tls_material  # pylint: disable=import-outside-toplevel
    authority = tls_material.Authority()
    cert, key = authority.issue(dns_names=["kafka-service-0"])
    data = tls_material.secret_data(cert, key, authority)
    secret = tls_material.secret("kafka-tls", "kafka", data)
    svc = FakeService({"Secret": [secret]})
    read = {"key": "tls", "kind": "Secret", "namespace": "kafka", "name": "kafka-tls", "summary": "tls_secret"}
    results = read_all(svc, [read, dict(read, key="other", name="absent")])[0]
    (summary,) = results["tls"]
    assert summary["found"] and summary["certificate"]["dns_names"] == ["kafka-service-0"]
    assert "data" not in summary and "BEGIN" not in repr(results) and secret["data"]["tls.key"] not in repr(results)
    assert results["other"] == [{"found": False, "missing_keys": [], "problems": [], "certificate": None,
                                 "keystore": None, "ca": None, "fingerprint": None,
                                 "generated": None}]
