"""The bed's KWOK nodes: their zones, their manifests, applied and Ready."""
import json
import re

from testbed_lib.api import kubectl
from testbed_lib.bed import NODE_IP, Fail

NODE_ANNOTATION = "kwok.x-k8s.io/node"
NODE_RESOURCES = {"cpu": "32", "memory": "256Gi", "pods": "110"}
ZONE_LABEL = "topology.kubernetes.io/zone"
REGION_LABEL = "topology.kubernetes.io/region"
REGION = "testbed"


def node_zone(zones, i):
    """The zone of node i: round-robin over the bed's zones (None without zones)."""
    return zones[i % len(zones)] if zones else None


def parse_zones(text):
    """--zones "za,zb,zc" -> ["za", "zb", "zc"] (label values; empty -> [])."""
    zones = [z.strip() for z in (text or "").split(",") if z.strip()]
    for z in zones:
        if not re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", z):
            raise Fail("--zones: %r is not a valid label value" % z)
    if len(set(zones)) != len(zones):
        raise Fail("--zones: %s names a zone twice" % ",".join(zones))
    return zones


def node_manifest(bed, i, zones=None):
    name = "%s-node-%d" % (bed.name, i)
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "type": "kwok", "kafka-eks.testbed/name": bed.name}
    if zones:
        labels[ZONE_LABEL] = node_zone(zones, i)
        labels[REGION_LABEL] = REGION
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {NODE_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": labels,
        },
        "spec": {},
        "status": {
            "allocatable": dict(NODE_RESOURCES), "capacity": dict(NODE_RESOURCES),
            "addresses": [{"type": "InternalIP", "address": NODE_IP}, {"type": "Hostname", "address": name}],
        },
    }


def apply_nodes(bed, count, zones):
    """Nodes NAME-node-0..count-1 created (or re-applied); this bed's nodes beyond them deleted. Their names."""
    nodes = [node_manifest(bed, i, zones) for i in range(count)]
    kubectl(bed, "apply", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes}))
    names = {n["metadata"]["name"] for n in nodes}
    # nodes of an earlier `up --nodes M` (data kept) beyond N go
    for extra in kubectl(bed, "get", "nodes", "-l", "kafka-eks.testbed/name=" + bed.name, "-o", "name").stdout.split():
        if extra.split("/", 1)[1] not in names:
            kubectl(bed, "delete", extra, "--wait=false")
    return names


def nodes_ready(bed, names):
    """True when each of names is Ready and without the node lifecycle's not-ready taint."""
    items = json.loads(kubectl(bed, "get", "nodes", "-o", "json").stdout)["items"]
    ready = {n["metadata"]["name"] for n in items
             if any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
             and not any(tt.get("key") == "node.kubernetes.io/not-ready" for tt in n["spec"].get("taints", []))}
    return names <= ready
