"""Tests of the test bed's production shape (issue 14): zones, EBS-like storage, LoadBalancer and NodePort
Services, the kubelet's env rules.

  * units: address pool and release, the pod IP allocator (the pod network only), target ports,
    backends, the listeners wanted, real forwarding on loopback (half-close, many connections at once, a
    taken port, nothing left open), env expansion and fieldRefs, the provisioning decisions (WaitForFirstConsumer
    and zones), the zoned node manifests;
  * test_e2e_zones_storage_and_services: one zoned bed (`testbed.py up --name tb-lb --index 13 --zones
    za,zb,zc`), a ZooKeeper pod on a WaitForFirstConsumer claim behind a LoadBalancer and a NodePort Service,
    and an Immediate claim that pins a pod of another zone Pending; a second ZooKeeper pod on the same port
    (each pod its own network namespace), both ready endpoints of the Services' EndpointSlices, and `down`
    leaving no namespace, link or listener of the pod network.

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
import loadbalancer  # noqa: E402
import podrunner  # noqa: E402
import storage  # noqa: E402
from testbed_lib import podnet  # noqa: E402
from testbed_lib.bed import Bed, Fail, lb_range  # noqa: E402
from testbed_lib.down import node_ports_listening  # noqa: E402
from testbed_lib.nodes import node_manifest, parse_zones  # noqa: E402
from testbed_lib.procfs import listening  # noqa: E402

pytestmark = pytest.mark.testbed

CIDR = "127.201.255.0/24"  # the units' own LoadBalancer range (no bed uses index 181)
POD_CIDR = "10.244.201.0/24"  # and pod network (bed indexes stop at 120)


# ----------------------------------------------------------------------------------------------------------
# Addresses

def test_lb_range_is_a_loopback_24_of_its_own():
    assert str(loadbalancer.lb_network("127.33.255.0/24")) == "127.33.255.0/24"
    assert lb_range("127.33.255.0/24") == "127.33.255.1-127.33.255.254"
    with pytest.raises(ValueError, match="inside 127.0.0.0/8"):
        loadbalancer.lb_network("10.244.3.0/24")  # the pods' network is not the host's loopback


def test_address_pool_allocation_and_release():
    pool = loadbalancer.AddressPool(CIDR)
    a, b = pool.get("svc-a"), pool.get("svc-b")
    assert (a, b) == ("127.201.255.1", "127.201.255.2")
    assert pool.get("svc-a") == a  # stable per Service
    assert pool.release("svc-a") == a and pool.release("svc-a") is None
    assert pool.get("svc-c") == a  # the lowest free one
    # a restarted runner keeps what the Service shows, if it is in the range and free
    assert pool.get("svc-d", hint="127.201.255.77") == "127.201.255.77"
    assert pool.get("svc-e", hint="127.201.255.77") == "127.201.255.3"  # taken
    assert pool.get("svc-f", hint="10.244.201.10") == "127.201.255.4"  # a pod address: not ours
    assert pool.get("svc-g", hint="127.201.255.255") == "127.201.255.5"  # broadcast
    for i in range(254 - 6):  # svc-b..svc-g hold 6
        pool.get("fill-%d" % i)
    with pytest.raises(loadbalancer.Exhausted):
        pool.get("one-too-many")
    assert len(set(pool.by_key.values())) == 254


def test_pod_ips_come_from_the_pod_network_only(tmp_path):
    a = podrunner.IPAllocator(POD_CIDR, str(tmp_path / "ips.json"))
    a.cursor = int(__import__("ipaddress").ip_address("10.244.201.250"))
    got = [a.get("u%d" % i) for i in range(12)]
    # .250-.254, then round to .10: never the bridge's .1, the network or the broadcast address
    assert got[:6] == ["10.244.201.%d" % h for h in (250, 251, 252, 253, 254, 10)], got
    assert not {"10.244.201.0", "10.244.201.1", "10.244.201.255"} & set(got)
    assert a.get("hinted", hint="10.244.201.1") != "10.244.201.1"  # the gateway
    assert a.get("hinted2", hint="10.244.201.99") == "10.244.201.99"
    assert a.get("hinted3", hint="127.201.0.10") != "127.201.0.10"  # an old loopback address: a new one
    with pytest.raises(SystemExit, match="inside 10.244.0.0/16"):
        podrunner.IPAllocator("127.201.0.0/16", str(tmp_path / "other.json"))


# ----------------------------------------------------------------------------------------------------------
# Ports and endpoints

ZK_CONTAINERS = [{"name": "zk", "ports": [{"name": "client", "containerPort": 2181},
                                         {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]


def test_target_port_resolution():
    tp = loadbalancer.target_port
    assert tp({"port": 80}, ZK_CONTAINERS) == 80  # unset: the port
    assert tp({"port": 80, "targetPort": 2181}, ZK_CONTAINERS) == 2181
    assert tp({"port": 80, "targetPort": "2181"}, ZK_CONTAINERS) == 2181
    assert tp({"port": 80, "targetPort": "client"}, ZK_CONTAINERS) == 2181
    assert tp({"port": 80, "targetPort": "nope"}, ZK_CONTAINERS) is None  # not an endpoint for that port
    assert tp({"port": 80, "targetPort": "dns"}, ZK_CONTAINERS) is None  # a UDP port for a TCP Service port
    assert tp({"port": 80, "targetPort": "dns", "protocol": "UDP"}, ZK_CONTAINERS) == 53


def _pod(ip, ready=True, ns="kafka", labels=None, terminating=False, containers=ZK_CONTAINERS, phase="Running"):
    return {"namespace": ns, "ip": ip, "ready": ready, "terminating": terminating, "phase": phase,
            "labels": {"app": "zk"} if labels is None else labels, "containers": containers}


def _svc(name, type_="LoadBalancer", ports=None, uid=None, ns="kafka", **spec):
    s = {"type": type_, "selector": {"app": "zk"}, "ports": ports or [{"port": 2181, "targetPort": "client"}]}
    s.update(spec)
    return {"metadata": {"name": name, "namespace": ns, "uid": uid or "uid-" + name}, "spec": s, "status": {}}


def test_backends_follow_readiness_and_selector():
    pods = [_pod("127.201.0.12"), _pod("127.201.0.11"), _pod("127.201.0.13", ready=False),
            _pod("127.201.0.14", terminating=True), _pod("127.201.0.15", ns="other"),
            _pod("127.201.0.16", labels={"app": "kafka"}), _pod("", ready=True),
            _pod("127.201.0.17", containers=[{"name": "zk", "ports": [{"name": "client", "containerPort": 2182}]}]),
            _pod("127.201.0.18", containers=[{"name": "other"}]), _pod("127.201.0.19", phase="Succeeded")]
    svc = _svc("zk-lb")
    port = svc["spec"]["ports"][0]
    assert loadbalancer.backends(svc, port, pods) == [("127.201.0.11", 2181), ("127.201.0.12", 2181),
                                                      ("127.201.0.17", 2182)]
    svc["spec"]["publishNotReadyAddresses"] = True
    assert [b[0] for b in loadbalancer.backends(svc, port, pods)] == [
        "127.201.0.11", "127.201.0.12", "127.201.0.13", "127.201.0.14", "127.201.0.17"]
    assert loadbalancer.backends(_svc("x", selector={}), port, pods) == []  # no selector: no endpoints here


def test_wanted_listeners():
    pods = [_pod("127.201.0.11")]
    lb = _svc("zk-lb", ports=[{"port": 2181, "targetPort": "client", "nodePort": 31181},
                              {"port": 53, "protocol": "UDP", "nodePort": 31053}])
    np_ = _svc("zk-np", type_="NodePort", ports=[{"port": 2181, "targetPort": 2181, "nodePort": 31090}])
    cip = _svc("zk-cs", type_="ClusterIP")
    other = _svc("zk-other", loadBalancerClass="example.com/other", ports=[{"port": 2181, "nodePort": 31999}])
    want = loadbalancer.wanted([lb, np_, cip, other], pods, {"uid-zk-lb": "127.201.255.1"}, ["127.0.0.1"])
    assert want == {
        ("127.201.255.1", 2181): {"service": "kafka/zk-lb", "kind": "LoadBalancer", "backends": [("127.201.0.11", 2181)]},
        ("127.0.0.1", 31181): {"service": "kafka/zk-lb", "kind": "NodePort", "backends": [("127.201.0.11", 2181)]},
        ("127.0.0.1", 31090): {"service": "kafka/zk-np", "kind": "NodePort", "backends": [("127.201.0.11", 2181)]},
        # another class's LoadBalancer: no address from us, but its node port is kube-proxy's, served
        ("127.0.0.1", 31999): {"service": "kafka/zk-other", "kind": "NodePort", "backends": [("127.201.0.11", 2181)]},
    }


# ----------------------------------------------------------------------------------------------------------
# Forwarding on loopback, for real

class EchoServer:
    """A backend on a pod-like address: echoes, and half-closes after the client did."""

    def __init__(self, ip):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(64)
        self.ip, self.port = ip, self.sock.getsockname()[1]
        self.conns = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns += 1
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                data = c.recv(65536)
                if not data:
                    c.shutdown(socket.SHUT_WR)
                    return
                c.sendall(data)

    def close(self):
        self.sock.close()


def free_port(ip="127.0.0.1", lo=30000, hi=32767):
    for _ in range(200):
        port = random.randint(lo, hi)
        s = socket.socket()
        try:
            s.bind((ip, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def roundtrip(addr, port, payload, timeout=20):
    with socket.create_connection((addr, port), timeout=timeout) as s:
        def send():
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)  # half-close: the answer must still come back
        th = threading.Thread(target=send)
        th.start()
        got = bytearray()
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
        th.join()
    return bytes(got)


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def wait(cond, timeout=10, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(interval)
    return cond()


def test_forwarding_lb_and_nodeport_for_real(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="podrunner.lb")
    backend = EchoServer("127.201.0.11")
    patched = []
    mgr = loadbalancer.Manager(CIDR, str(tmp_path), lambda ns, n, body: patched.append((ns, n, body)))
    node_port = free_port()
    containers = [{"name": "echo", "ports": [{"name": "echo", "containerPort": backend.port}]}]
    pods = [_pod(backend.ip, containers=containers), _pod("127.201.0.12", ready=False, containers=containers)]
    lb = _svc("echo-lb", ports=[{"port": 9092, "targetPort": "echo"}])
    np_ = _svc("echo-np", type_="NodePort", ports=[{"port": 9092, "targetPort": backend.port, "nodePort": node_port}])
    fds0 = open_fds()
    try:
        mgr.reconcile([lb, np_], pods, ["127.0.0.1"])
        assert patched == [("kafka", "echo-lb", {"status": {"loadBalancer": {"ingress": [{"ip": "127.201.255.1"}]}}})]
        lb["status"] = {"loadBalancer": {"ingress": [{"ip": "127.201.255.1"}]}}
        mgr.reconcile([lb, np_], pods, ["127.0.0.1"])
        assert len(patched) == 1  # status already says so
        assert roundtrip("127.201.255.1", 9092, b"srvr") == b"srvr"
        assert roundtrip("127.0.0.1", node_port, b"x" * 3_000_000) == b"x" * 3_000_000
        # many clients at once, both directions busy (Kafka-like load)
        results = {}

        def client(i):
            payload = os.urandom(200_000)
            results[i] = roundtrip("127.201.255.1" if i % 2 else "127.0.0.1", 9092 if i % 2 else node_port,
                                   payload) == payload
        threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        assert sorted(results.values()) == [True] * 40
        # nothing outlives the connections
        assert wait(lambda: sum(l.active() for l in mgr.listeners.values()) == 0)
        assert wait(lambda: open_fds() <= fds0 + 2), (open_fds(), fds0)  # the two listeners
        # the backend closes first: the client sees EOF
        with socket.create_connection(("127.201.255.1", 9092), timeout=5) as s:
            s.sendall(b"a")
            assert s.recv(10) == b"a"
        state = json.load(open(tmp_path / "podrunner" / "listeners.json"))
        assert "127.0.0.1:%d" % node_port in state["node_ports_opened"]
        assert state["lb_addresses"] == {"uid-echo-lb": "127.201.255.1"}
        # no ready endpoint: connections are closed at once
        mgr.reconcile([lb, np_], [_pod(backend.ip, ready=False, containers=containers)], ["127.0.0.1"])
        with socket.create_connection(("127.201.255.1", 9092), timeout=5) as s:
            assert s.recv(10) == b""
        # the LoadBalancer Service becomes ClusterIP: address freed, status cleared, listener gone
        cip = dict(lb, spec=dict(lb["spec"], type="ClusterIP"))
        mgr.reconcile([cip, np_], pods, ["127.0.0.1"])
        assert patched[-1] == ("kafka", "echo-lb", {"status": {"loadBalancer": {"ingress": None}}})
        assert mgr.pool.by_key == {}
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.201.255.1", 9092), timeout=5)
        assert not listening(net=__import__("ipaddress").ip_network("127.201.255.0/24"))
        # deleted: the node port closes too
        mgr.reconcile([], pods, ["127.0.0.1"])
        assert ("127.0.0.1", node_port) not in listening(ports={node_port})
        assert wait(lambda: open_fds() <= fds0), (open_fds(), fds0)
    finally:
        mgr.close()
        backend.close()


def test_node_port_taken_is_an_error_naming_the_service(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="podrunner.lb")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    mgr = loadbalancer.Manager(CIDR, str(tmp_path))
    try:
        np_ = _svc("kafka-external", type_="NodePort", ports=[{"port": 9094, "nodePort": port}])
        mgr.reconcile([np_], [], ["127.0.0.1"])
        mgr.reconcile([np_], [], ["127.0.0.1"])  # retried later, logged once
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1 and "Service kafka/kafka-external (NodePort): cannot listen on 127.0.0.1:%d" % port \
            in errors[0] and "Address already in use" in errors[0], errors
        assert mgr.listeners == {}
        state = json.load(open(tmp_path / "podrunner" / "listeners.json"))
        assert state["failed"] and state["node_ports_opened"] == []
        taken.close()
        mgr.failed[("127.0.0.1", port)] = (0.0, mgr.failed[("127.0.0.1", port)][1])  # retry now
        mgr.reconcile([np_], [], ["127.0.0.1"])
        assert ("127.0.0.1", port) in mgr.listeners
    finally:
        mgr.close()
        taken.close()


def test_lb_range_exhausted_is_one_error_per_service(tmp_path, caplog):
    patched = []
    mgr = loadbalancer.Manager(CIDR, str(tmp_path), lambda ns, n, body: patched.append(n))
    services = [_svc("s%03d" % i, ports=[]) for i in range(255)]
    mgr.reconcile(services, [], ["127.0.0.1"])
    mgr.reconcile(services, [], ["127.0.0.1"])
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == ["Service kafka/s254 (LoadBalancer): no address: all 254 LoadBalancer addresses of "
                      "127.201.255.0/24 are taken"]
    assert len(set(patched)) == 254 and "s254" not in patched
    mgr.reconcile(services[1:], [], ["127.0.0.1"])  # one goes: the waiting one gets its address at once
    assert mgr.pool.by_key["uid-s254"] == "127.201.255.1"


def test_restarted_runner_keeps_the_addresses(tmp_path):
    """A new Manager (a restarted pod runner) gives each Service the address its status shows, even when a
    Service without one comes first in the list."""
    fresh = _svc("fresh", ports=[])
    old = _svc("old", ports=[])
    old["status"] = {"loadBalancer": {"ingress": [{"ip": "127.201.255.1"}]}}
    mgr = loadbalancer.Manager(CIDR, str(tmp_path))
    mgr.reconcile([fresh, old], [], [])
    assert mgr.pool.by_key == {"uid-old": "127.201.255.1", "uid-fresh": "127.201.255.2"}


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
    bed = Bed("tb-unit", 13)
    zones = parse_zones("za, zb,zc")
    labels = [node_manifest(bed, i, zones)["metadata"]["labels"] for i in range(4)]
    assert [l["topology.kubernetes.io/zone"] for l in labels] == ["za", "zb", "zc", "za"]
    assert {l["topology.kubernetes.io/region"] for l in labels} == {"testbed"}
    assert "topology.kubernetes.io/zone" not in node_manifest(bed, 0)["metadata"]["labels"]
    assert parse_zones("") == []
    for bad in ("za,za", "z a", "-za"):
        with pytest.raises(Fail):
            parse_zones(bad)


def test_down_checks_the_node_ports_the_runner_opened(tmp_path):
    bed = Bed("tb-unit", 13)
    bed.dir = str(tmp_path)
    assert node_ports_listening(bed) == []  # no pod runner state
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    os.makedirs(tmp_path / "podrunner")
    (tmp_path / "podrunner" / "listeners.json").write_text(json.dumps({"node_ports_opened": ["127.0.0.1:%d" % port]}))
    try:
        assert node_ports_listening(bed) == [("127.0.0.1", port)]
    finally:
        s.close()
    assert node_ports_listening(bed) == []


# ----------------------------------------------------------------------------------------------------------
# On a zoned bed

BED = os.environ.get("TB_LB_BED", "tb-lb")
BED_INDEX = os.environ.get("TB_LB_INDEX", "13")
KUBECTL = os.path.join(REPO, ".cache", "bin", "kubectl")
E2E_NS = "lb-e2e"


def _kubectl(kubeconfig, *args, stdin=None, check=True):
    r = subprocess.run([KUBECTL, "--kubeconfig", kubeconfig] + list(args), input=stdin, capture_output=True,
                       text=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("kubectl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def _get(kubeconfig, *args):
    return json.loads(_kubectl(kubeconfig, "get", "-o", "json", *args).stdout)


def _srvr(addr, port):
    with socket.create_connection((addr, port), timeout=10) as s:
        s.sendall(b"srvr")
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            data = s.recv(4096)
            if not data:
                return out.decode()
            out += data


def test_e2e_zones_storage_and_services():
    """One zoned bed: WaitForFirstConsumer claim provisioned in its pod's zone, an Immediate claim pinning a
    pod of another zone Pending (the scheduler's own refusal), a ZooKeeper pod behind a LoadBalancer and a
    NodePort Service answering srvr through both, the kubelet's env rules, and nothing left listening."""
    if not os.path.exists(KUBECTL):
        pytest.skip("no control plane binaries: tests/testbed/build.sh")
    t0 = time.time()
    up = [sys.executable, os.path.join(HERE, "testbed.py"), "up", "--name", BED, "--index", BED_INDEX, "--nodes", "3"]
    subprocess.run(up + ["--zones", "za,zb,zc"], check=True)
    state = os.path.join(REPO, ".cache", "testbeds", BED)
    kc = os.path.join(state, "kubeconfig")
    meta = json.load(open(os.path.join(state, "testbed.json")))
    assert meta["zones"] == ["za", "zb", "zc"]
    lb_net = loadbalancer.lb_network(meta["lb_cidr"])
    t_up = time.time() - t0
    try:
        again = subprocess.run(up + ["--zones", "za,zb"], capture_output=True, text=True, check=True)
        assert "already up (with zones za,zb,zc, not za,zb)" in again.stdout, again.stdout
        nodes = {n["metadata"]["name"]: n["metadata"]["labels"] for n in _get(kc, "nodes")["items"]}
        zone_of = {n: l["topology.kubernetes.io/zone"] for n, l in nodes.items()}
        assert sorted(zone_of.values()) == ["za", "zb", "zc"]
        assert {l["topology.kubernetes.io/region"] for l in nodes.values()} == {"testbed"}
        classes = {c["metadata"]["name"]: c for c in _get(kc, "storageclass")["items"]}
        assert classes["standard"]["volumeBindingMode"] == "WaitForFirstConsumer"
        assert classes["standard"]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
        assert classes["immediate"]["volumeBindingMode"] == "Immediate"

        _kubectl(kc, "delete", "namespace", E2E_NS, "--ignore-not-found", "--wait=true")
        _kubectl(kc, "create", "namespace", E2E_NS)
        claim = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
        node_port = free_port()
        docs = [
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": E2E_NS},
             "spec": claim},
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "imm", "namespace": E2E_NS},
             "spec": dict(claim, storageClassName="immediate")},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-lb", "namespace": E2E_NS},
             "spec": {"type": "LoadBalancer", "selector": {"app": "zk"},
                      "ports": [{"name": "client", "port": 2181, "targetPort": "client"}]}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-np", "namespace": E2E_NS},
             "spec": {"type": "NodePort", "selector": {"app": "zk"},
                      "ports": [{"name": "client", "port": 2181, "targetPort": 2181, "nodePort": node_port}]}},
        ]
        _kubectl(kc, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": docs}))

        def pv_of(name):
            pvc = _get(kc, "-n", E2E_NS, "pvc", name)
            if pvc["status"].get("phase") != "Bound":
                return None
            return _get(kc, "pv", pvc["spec"]["volumeName"])

        def pv_zone(pv):
            return pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"]

        imm_pv = wait(lambda: pv_of("imm"), 30, 0.3)
        assert imm_pv, "the Immediate claim was not provisioned"
        (imm_zone,) = pv_zone(imm_pv)
        # no consumer yet: the WaitForFirstConsumer claim is left alone
        data = _get(kc, "-n", E2E_NS, "pvc", "data")
        assert data["status"]["phase"] == "Pending" and not data["spec"].get("volumeName")
        assert storage.ANN_SELECTED_NODE not in (data["metadata"].get("annotations") or {})

        other = sorted(n for n, z in zone_of.items() if z != imm_zone)[0]
        pods = [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "zk", "namespace": E2E_NS, "labels": {"app": "zk"}},
             "spec": {"containers": [{
                 "name": "zk", "image": "zookeeper:3.9.3",
                 "ports": [{"name": "client", "containerPort": 2181}],
                 "env": [{"name": "ZK_SERVER_HEAP", "value": "64"},
                         {"name": "ZOO_4LW_COMMANDS_WHITELIST", "value": "srvr,ruok"},
                         {"name": "KAFKA_EXTERNAL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
                         {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                         {"name": "EXTERNAL", "value": "EXTERNAL://$(KAFKA_EXTERNAL_HOST):31090 $$(NODE)"}],
                 "readinessProbe": {"tcpSocket": {"port": "client"}, "periodSeconds": 1},
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]}},
            # A second server on the same port: each pod has its own network namespace.
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "zk2", "namespace": E2E_NS, "labels": {"app": "zk"}},
             "spec": {"containers": [{
                 "name": "zk", "image": "zookeeper:3.9.3", "ports": [{"name": "client", "containerPort": 2181}],
                 "env": [{"name": "ZK_SERVER_HEAP", "value": "64"},
                         {"name": "ZOO_4LW_COMMANDS_WHITELIST", "value": "srvr,ruok"}],
                 "readinessProbe": {"exec": {"command": ["sh", "-c", "zookeeper-ready 2181"]}, "periodSeconds": 1}}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pinned", "namespace": E2E_NS},
             "spec": {"nodeSelector": {"kubernetes.io/hostname": other},
                      "containers": [{"name": "zk", "image": "zookeeper:3.9.3",
                                      "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                      "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "imm"}}]}},
        ]
        t1 = time.time()
        _kubectl(kc, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}))

        def zk_ready(name="zk"):
            p = _get(kc, "-n", E2E_NS, "pod", name)
            ok = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])
            return p if ok else None
        zk = wait(zk_ready, 120, 0.5)
        assert zk, "pod zk not Ready"
        t_ready = time.time() - t1
        zk2 = wait(lambda: zk_ready("zk2"), 120, 0.5)
        assert zk2, "pod zk2 not Ready"

        # Pod networking: two pods, each listening on 2181 of its own address in the pod network
        pod_net = __import__("ipaddress").ip_network(meta["pod_cidr"])
        ips = [zk["status"]["podIP"], zk2["status"]["podIP"]]
        assert len(set(ips)) == 2 and all(__import__("ipaddress").ip_address(i) in pod_net for i in ips), ips
        for pod_ip in ips:
            assert "Mode: standalone" in _srvr(pod_ip, 2181), pod_ip
            assert podnet.netns_name(pod_ip) in podnet.namespaces(pod_net)
        # ... whose localhost is the pod's own (kubectl exec runs in the pod's network namespace)
        own = _kubectl(kc, "-n", E2E_NS, "exec", "zk2", "--", "bash", "-c",
                       "exec 3<>/dev/tcp/127.0.0.1/2181; printf srvr >&3; cat <&3").stdout
        assert "Mode: standalone" in own, own
        assert "Client port found: 2181" in _kubectl(kc, "-n", E2E_NS, "exec", "zk", "--", "zkServer.sh", "status").stdout

        # EndpointSlices: the endpoints controller takes the pods' addresses (it refuses loopback ones)
        def ready_endpoints(service):
            slices = _get(kc, "-n", E2E_NS, "endpointslices", "-l", "kubernetes.io/service-name=" + service)["items"]
            return sorted(a for sl in slices for ep in sl.get("endpoints") or []
                          if (ep.get("conditions") or {}).get("ready") for a in ep["addresses"])
        got = wait(lambda: ready_endpoints("zk-np") == sorted(ips) and ready_endpoints("zk-np"), 30, 0.5)
        assert got == sorted(ips), ready_endpoints("zk-np")
        assert ready_endpoints("zk-lb") == sorted(ips)
        node = zk["spec"]["nodeName"]
        data = _get(kc, "-n", E2E_NS, "pvc", "data")
        assert data["metadata"]["annotations"][storage.ANN_SELECTED_NODE] == node
        assert data["metadata"]["annotations"][storage.ANN_STORAGE_PROVISIONER] == storage.PROVISIONER
        assert pv_zone(pv_of("data")) == [zone_of[node]]

        # the pod of another zone stays Pending: the scheduler's VolumeBinding refuses its node
        def refused():
            evs = _get(kc, "-n", E2E_NS, "events", "--field-selector", "involvedObject.name=pinned")["items"]
            return [e["message"] for e in evs if e["reason"] == "FailedScheduling"]
        msgs = wait(refused, 60, 0.5)
        t_refused = time.time() - t1
        # v1.33+ wording (kubernetes#129887); before: "node(s) had volume node affinity conflict"
        assert msgs and "1 node(s) didn't match PersistentVolume's node affinity" in msgs[-1], msgs
        pinned = _get(kc, "-n", E2E_NS, "pod", "pinned")
        assert pinned["status"]["phase"] == "Pending" and not pinned["spec"].get("nodeName")

        # the kubelet's env: fieldRefs and $(VAR) expansion, as kubectl exec sees it
        execs = _get(kc, "-n", E2E_NS, "execs.kwok.x-k8s.io", "zk")["spec"]["execs"][0]["local"]["envs"]
        env = {e["name"]: e["value"] for e in execs}
        assert env["EXTERNAL"] == "EXTERNAL://127.0.0.1:31090 $(NODE)" and env["NODE"] == node

        # LoadBalancer: an address of the bed's range in the status, srvr through it
        t2 = time.time()
        ip = wait(lambda: loadbalancer.status_ips(_get(kc, "-n", E2E_NS, "svc", "zk-lb")), 30, 0.3)
        assert ip and __import__("ipaddress").ip_address(ip[0]) in lb_net, ip
        assert "Mode: standalone" in wait(lambda: _try(_srvr, ip[0], 2181), 30, 0.3)
        assert "Mode: standalone" in wait(lambda: _try(_srvr, "127.0.0.1", node_port), 30, 0.3)
        t_lb = time.time() - t2
        # the LoadBalancer Service goes: its address stops answering, the NodePort one stays
        _kubectl(kc, "-n", E2E_NS, "delete", "svc", "zk-lb")
        assert wait(lambda: not listening(net=lb_net), 30, 0.3)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((ip[0], 2181), timeout=5)
        assert "Mode: standalone" in _srvr("127.0.0.1", node_port)
        print("zoned bed: up %.1fs, zk Ready on a WFFC claim %.1fs, FailedScheduling of the pinned pod %.1fs, "
              "LB+NodePort srvr %.1fs" % (t_up, t_ready, t_refused, t_lb))
    finally:
        if os.environ.get("TB_LB_KEEP") != "1":
            # Straight down, with the ZooKeeper pod and the NodePort listener still there: down stops the pod
            # runner (its pods' JVMs, its listeners) and fails when anything still listens in the bed's range
            # (pods, LoadBalancer addresses) or on a node port the pod runner opened.
            t3 = time.time()
            down = subprocess.run([sys.executable, os.path.join(HERE, "testbed.py"), "down", "--name", BED],
                                  capture_output=True, text=True)
            assert down.returncode == 0, down.stdout + down.stderr
            print("down in %.1fs" % (time.time() - t3))
            # nothing of the pod network is left: no namespace, no bridge or veth, no listener
            assert podnet.leftovers(meta["pod_cidr"]) == []
            assert not [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
                        if n.startswith(podnet.netns_prefix(meta["pod_cidr"]))]
            assert not listening(net=__import__("ipaddress").ip_network(meta["pod_cidr"]))
    print("test_e2e_zones_storage_and_services: %.1fs" % (time.time() - t0))


def _try(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None
