"""Tests of the test bed's production shape (issue 14): zones, EBS-like storage, LoadBalancer and NodePort
Services, the kubelet's env rules.

  * units: address pool and release, the pod IP allocator leaving the LoadBalancer range alone, target ports,
    backends, the listeners wanted, real forwarding on loopback (half-close, many connections at once, a
    taken port, nothing left open), env expansion and fieldRefs, the provisioning decisions (WaitForFirstConsumer
    and zones), the zoned node manifests;
  * test_e2e_zones_storage_and_services: one zoned bed (`testbed.py up --name tb-lb --index 13 --zones
    za,zb,zc`), a ZooKeeper pod on a WaitForFirstConsumer claim behind a LoadBalancer and a NodePort Service,
    and an Immediate claim that pins a pod of another zone Pending.

    PATH=.cache/venv/bin:$PATH .cache/venv/bin/python -m pytest -m testbed tests/testbed/test_services_zones.py
"""

import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "podrunner"))
sys.path.insert(0, HERE)

import kubeenv  # noqa: E402
import podrunner  # noqa: E402
import storage  # noqa: E402
import testbed  # noqa: E402

pytestmark = pytest.mark.testbed

CIDR = "127.201.0.0/16"  # the units' own range (no bed uses index 181)


# ----------------------------------------------------------------------------------------------------------
# Env: what the kubelet does

def test_env_field_refs_and_expansion():
    pod = {"metadata": {"name": "kafka-0", "namespace": "kafka", "uid": "u1"},
           "spec": {"nodeName": "tb-node-2", "enableServiceLinks": False}}
    container = {"env": [
        {"name": "KAFKA_EXTERNAL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "KAFKA_ADVERTISED_LISTENERS",
         "value": "INTERNAL://$(NAME).kafka-hs.$(NS):9092,EXTERNAL://$(KAFKA_EXTERNAL_HOST):31090"},
        {"name": "EARLY", "value": "$(LATER)-x"},  # defined later: not expanded
        {"name": "LATER", "value": "late"},
        {"name": "ESCAPED", "value": "$$(POD_IP) $$$(POD_IP) $(MISSING) $(POD_IP"},
        {"name": "DOLLAR", "value": "a$b $ c"},
    ]}
    env = kubeenv.container_env(pod, container, "127.33.0.12", "127.0.0.1", [], None, None)
    assert env["KAFKA_EXTERNAL_HOST"] == "127.0.0.1"
    assert (env["POD_IP"], env["NODE"], env["NAME"], env["NS"]) == ("127.33.0.12", "tb-node-2", "kafka-0", "kafka")
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "INTERNAL://kafka-0.kafka-hs.kafka:9092,EXTERNAL://127.0.0.1:31090"
    assert env["EARLY"] == "$(LATER)-x"
    assert env["ESCAPED"] == "$(POD_IP) $127.33.0.12 $(MISSING) $(POD_IP"
    assert env["DOLLAR"] == "a$b $ c"
    cmd = kubeenv.expand_command({"command": ["sh", "-c", "echo $(POD_IP) $$(POD_IP)"]}, env)
    assert cmd["command"][2] == "echo 127.33.0.12 $(POD_IP)"


# ----------------------------------------------------------------------------------------------------------
# Storage decisions

def _node(name, zone):
    return {"metadata": {"name": name, "labels": {storage.ZONE_LABEL: zone}}}


def _pvc(name, cls, ann=None, phase="Pending", volume=None):
    return {"metadata": {"name": name, "namespace": "kafka", "uid": "uid-" + name, "annotations": ann or {}},
            "spec": {"storageClassName": cls, "accessModes": ["ReadWriteOnce"], "volumeName": volume,
                     "resources": {"requests": {"storage": "2Gi"}}},
            "status": {"phase": phase}}


ZONES = ["za", "zb", "zc"]
NODES = {"n0": _node("n0", "za"), "n1": _node("n1", "zb"), "n2": _node("n2", "zc")}
HANDED = {storage.ANN_STORAGE_PROVISIONER: storage.PROVISIONER}


def test_storage_classes_with_and_without_zones():
    plain = storage.storage_classes([])
    assert list(plain) == ["standard"] and plain["standard"]["volumeBindingMode"] == "Immediate"
    assert plain["standard"]["metadata"]["annotations"] == {storage.ANN_DEFAULT_CLASS: "true"}
    zoned = storage.storage_classes(ZONES)
    assert zoned["standard"]["volumeBindingMode"] == "WaitForFirstConsumer"
    assert zoned["standard"]["metadata"]["annotations"] == {storage.ANN_DEFAULT_CLASS: "true"}
    assert zoned["immediate"]["volumeBindingMode"] == "Immediate" and "annotations" not in zoned["immediate"]["metadata"]
    assert {c["provisioner"] for c in zoned.values()} == {"testbed.kafka-eks/local"}
    assert storage.class_action(zoned["standard"], None) == "create"
    assert storage.class_action(zoned["standard"], plain["standard"]) == "replace"
    assert storage.class_action(zoned["standard"], zoned["standard"]) is None
    assert storage.class_action(zoned["standard"], {"provisioner": "ebs.csi.aws.com"}) == "foreign"


def test_provisioning_without_zones_is_as_before():
    classes = storage.storage_classes([])
    picker = storage.ZonePicker(["unused"])
    p = storage.plan(_pvc("a", "standard"), classes, NODES, [], picker)
    assert p is not None and p.zone is None
    assert storage.plan(_pvc("b", "immediate"), classes, NODES, [], picker) is None
    assert storage.plan(_pvc("c", "standard", phase="Bound", volume="pv"), classes, NODES, [], picker) is None
    assert "nodeAffinity" not in storage.pv_body(_pvc("a", "standard"), "/v/a", p)["spec"]
    assert picker.next == 0


def test_provisioning_wait_for_first_consumer():
    classes = storage.storage_classes(ZONES)
    picker = storage.ZonePicker(ZONES)
    # created: the PV controller waits for a consumer, so do we
    assert storage.plan(_pvc("d", "standard"), classes, NODES, ZONES, picker) is None
    # the scheduler picked n1 but the PV controller has not handed it to us yet
    assert storage.plan(_pvc("d", "standard", {storage.ANN_SELECTED_NODE: "n1"}), classes, NODES, ZONES, picker) is None
    # handed over without a node (it cannot be, for this class): still waiting
    assert storage.plan(_pvc("d", "standard", dict(HANDED)), classes, NODES, ZONES, picker) is None
    # a node we do not know (yet): waiting
    assert storage.plan(_pvc("d", "standard", dict(HANDED, **{storage.ANN_SELECTED_NODE: "gone"})),
                        classes, NODES, ZONES, picker) is None
    claim = _pvc("d", "standard", dict(HANDED, **{storage.ANN_SELECTED_NODE: "n1"}))
    p = storage.plan(claim, classes, NODES, ZONES, picker)
    assert (p.zone, p.node) == ("zb", "n1") and picker.next == 0
    # the beta annotation is honoured as the provisioner library does
    beta = _pvc("e", "standard", {storage.ANN_BETA_STORAGE_PROVISIONER: storage.PROVISIONER,
                                  storage.ANN_SELECTED_NODE: "n2"})
    assert storage.plan(beta, classes, NODES, ZONES, picker).zone == "zc"
    # another provisioner's claim
    other = _pvc("f", "standard", {storage.ANN_STORAGE_PROVISIONER: "ebs.csi.aws.com", storage.ANN_SELECTED_NODE: "n1"})
    assert storage.plan(other, classes, NODES, ZONES, picker) is None
    body = storage.pv_body(claim, "/v/d", p)
    assert body["spec"]["nodeAffinity"] == {"required": {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zb"]}]}]}}
    assert body["metadata"]["labels"][storage.ZONE_LABEL] == "zb"
    assert body["spec"]["claimRef"]["uid"] == "uid-d" and body["spec"]["storageClassName"] == "standard"
    assert body["spec"]["capacity"] == {"storage": "2Gi"}


def test_provisioning_immediate_round_robin():
    classes = storage.storage_classes(ZONES)
    picker = storage.ZonePicker(ZONES)
    assert storage.plan(_pvc("g", "immediate"), classes, NODES, ZONES, picker) is None  # not handed over yet
    zones = [storage.plan(_pvc("h%d" % i, "immediate", dict(HANDED)), classes, NODES, ZONES, picker).zone
             for i in range(4)]
    assert zones == ["za", "zb", "zc", "za"]
    assert storage.plan(_pvc("i", "nosuchclass", dict(HANDED)), classes, NODES, ZONES, picker) is None


def test_zoned_nodes():
    bed = testbed.Bed("tb-unit", 13)
    zones = testbed.parse_zones("za, zb,zc")
    labels = [testbed.node_manifest(bed, i, zones)["metadata"]["labels"] for i in range(4)]
    assert [l["topology.kubernetes.io/zone"] for l in labels] == ["za", "zb", "zc", "za"]
    assert {l["topology.kubernetes.io/region"] for l in labels} == {"testbed"}
    assert "topology.kubernetes.io/zone" not in testbed.node_manifest(bed, 0)["metadata"]["labels"]
    assert testbed.parse_zones("") == []
    for bad in ("za,za", "z a", "-za"):
        with pytest.raises(testbed.Fail):
            testbed.parse_zones(bad)

