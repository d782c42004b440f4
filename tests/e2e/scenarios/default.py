"""Scenario default (molecule/default): the seed's cluster as it runs on EKS, over 3 availability zones with
external access, checked as a user would (side_effect: the faults, run by molecule's side_effect; verify: the
checks, run by molecule/default/verify.yml after its --check --diff).

The bed has 3 nodes in zones za, zb and zc, and StorageClasses as EBS CSI's would be: `standard` (the default,
WaitForFirstConsumer, a volume made in its pod's zone) and `immediate` (made at once, in some zone). site.yml
(converge, idempotence, check) rolls out 3 ZooKeeper servers and 4 brokers with
kafka_broker_external_access=loadbalancer and zone awareness left at auto; then:
  1. a Kafka client on the host, given only `bootstrap.servers.external` (the LoadBalancer addresses the bed's
     load balancer gave the external Services), creates an RF-3 topic, produces with acks=all and consumes;
     the cluster's metadata it sees names each broker by its load balancer and its rack;
  2. playbooks/status.yml says healthy (exit 0) and writes nothing;
  3. site.yml with kafka_broker_storage_class=immediate into a new namespace: refused before anything is written
     (no namespace);
  4. broker 2 stopped (its Deployment scaled to 0): status.yml says unhealthy (exit 2), naming broker 2, and
     writes nothing;
  5. the only node of broker 2's zone cordoned, broker 2 started again: its pod stays Pending (its volume is in
     that zone); site.yml fails at once, naming the zone and the volume, and deletes nothing;
  6. the node uncordoned: site.yml converges, status.yml says healthy, and the host client reads every message.
The checks: each broker pod in the zone it is pinned to (za, zb, zc, za) with broker.rack = that zone, every
partition of the RF-3 topic with replicas in 3 zones, the ZooKeeper servers in 3 zones, each volume in its pod's
zone.
"""
import json
import time

from lib import BROKER_SELECTOR, ZK_SELECTOR, wait_for
from scenarios import (EXTERNAL_TOPIC, check_bootstrap, check_endpoints, check_membership, check_quorum, check_volumes,
                       external_bootstrap, external_clients, external_consume, load, load_balancer_ips, namespace_exists,
                       resource_versions, round_trip, run_playbook, run_site, save, settled_versions)

ZONE_LABEL = "topology.kubernetes.io/zone"
ZONES = ["za", "zb", "zc"]
# What molecule/default passes to site.yml besides the test bed's heaps: every run of this story passes the same.
SCENARIO_VARS = {"kafka_broker_external_access": "loadbalancer"}
TOPIC = EXTERNAL_TOPIC  # the topic the host client writes through the load balancers


def site_vars(**extra):
    return ["-e", json.dumps(dict(SCENARIO_VARS, **extra))]


def placement(cluster):
    """Where everything runs: each broker's and ZooKeeper server's node and zone, each claim's volume zone."""
    nodes = dict((n["metadata"]["name"], {"zone": n["metadata"].get("labels", {}).get(ZONE_LABEL),
                                          "unschedulable": bool(n["spec"].get("unschedulable"))})
                 for n in cluster.get("nodes"))
    volumes = {}
    for pv in cluster.get("pv"):
        claim = (pv["spec"].get("claimRef") or {})
        terms = (((pv["spec"].get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or [])
        zones = [v for t in terms for e in t.get("matchExpressions") or [] if e.get("key") == ZONE_LABEL
                 for v in e.get("values") or []]
        if claim.get("namespace") == cluster.namespace:
            volumes[claim.get("name")] = {"pv": pv["metadata"]["name"], "zones": zones}
    pods = {}
    for pod in cluster.pods(BROKER_SELECTOR) + cluster.pods(ZK_SELECTOR):
        labels = pod["metadata"]["labels"]
        broker = labels.get("kafka-eks.cluster/broker-id")
        claim = [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes") or []
                 if v.get("persistentVolumeClaim")]
        env = dict((e["name"], e.get("value")) for e in pod["spec"]["containers"][0].get("env") or [])
        node = pod["spec"].get("nodeName")
        pods[("broker-" + broker) if broker is not None else pod["metadata"]["name"]] = {
            "node": node, "zone": (nodes.get(node) or {}).get("zone"), "claims": claim,
            "rack": env.get("KAFKA_BROKER_RACK")}
    return {"nodes": nodes, "volumes": volumes, "pods": pods}


def registered(cluster):
    try:
        return sorted(cluster.registered_broker_ids())
    except Exception:  # pylint: disable=broad-except  (ZooKeeper busy: asked again)
        return None


def quietly(predicate):
    """A wait's predicate that counts a failed read (kubectl or ZooKeeper answering an error under load, seen once
    on 2 cores) as "not yet" instead of ending the wait."""
    def attempt():
        try:
            return predicate()
        except AssertionError as exc:
            print("not yet (%s)" % str(exc).splitlines()[0][:200])
            return None
    return attempt


def status(cluster):
    """playbooks/status.yml (read-only): its exit code, its report, and whether any object changed."""
    before = settled_versions(cluster)
    proc = run_playbook(cluster, "playbooks/status.yml", *site_vars())
    return {"rc": proc.returncode, "output": proc.stdout[-12000:] + proc.stderr[-4000:],
            "unchanged": resource_versions(cluster) == before}


def uids(cluster):
    """Uids of what a failed run must leave alone: Deployments, StatefulSets, claims, pods."""
    return dict(("%s/%s" % (kind, o["metadata"]["name"]), o["metadata"]["uid"])
                for kind in ("deployments", "statefulsets", "pvc", "pods") for o in cluster.get(kind))


def side_effect(cluster, state_file):
    state = {"placement": placement(cluster), "load_balancers": load_balancer_ips(cluster)}
    messages = ["%s-%d" % (TOPIC, i) for i in range(20)]
    # 1. Through the load balancers from the host.
    state["external"] = external_clients(cluster, messages)
    state["messages"] = messages
    # 2. Healthy, read-only.
    state["status_healthy"] = status(cluster)
    # 3. A StorageClass that binds at once, on a cluster of 3 zones: refused before anything exists.
    proc = run_site(cluster, *site_vars(kafka_namespace="kafka-immediate", kafka_broker_storage_class="immediate",
                                        zookeeper_storage_class="immediate"), check=False)
    state["immediate"] = {"rc": proc.returncode, "output": proc.stdout[-8000:] + proc.stderr[-4000:],
                          "namespace_created": namespace_exists(cluster, "kafka-immediate")}
    # 4. Broker 2 stopped: unhealthy, read-only.
    cluster.kubectl("scale", "deployment", "kafka-broker-2", "--replicas=0")
    wait_for(quietly(lambda: not cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=2")
                     and registered(cluster) == [0, 1, 3]), 180, "broker 2's pod gone and its registration with it")
    state["status_broker_down"] = status(cluster)
    # 5. The only node of broker 2's zone cordoned, broker 2 started: Pending on its volume's zone.
    zone = state["placement"]["pods"]["broker-2"]["zone"]
    (node,) = [n for n, v in state["placement"]["nodes"].items() if v["zone"] == zone]
    cluster.kubectl("cordon", node)
    cluster.kubectl("scale", "deployment", "kafka-broker-2", "--replicas=1")
    wait_for(quietly(lambda: [p for p in cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=2")
                              if any(c["type"] == "PodScheduled" and c["status"] == "False"
                                     for c in p["status"].get("conditions") or [])]),
             60, "broker 2's new pod Pending (unschedulable)")
    before = uids(cluster)
    began = time.monotonic()
    proc = run_site(cluster, *site_vars(), check=False)
    state["volume_zone"] = {"rc": proc.returncode, "output": proc.stdout[-8000:] + proc.stderr[-4000:],
                            "seconds": round(time.monotonic() - began, 1), "zone": zone, "node": node,
                            "claim": "kafka-data-2",
                            "pv": state["placement"]["volumes"].get("kafka-data-2", {}).get("pv"),
                            "uids_kept": uids(cluster) == before}
    # 6. Uncordoned: the pod starts in its zone, site.yml converges, healthy again, nothing lost.
    cluster.kubectl("uncordon", node)
    wait_for(lambda: registered(cluster) == [0, 1, 2, 3], 300, "broker 2 registered again")
    proc = run_site(cluster, *site_vars(), check=False)
    state["reconverged"] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-2000:]}
    state["status_after"] = status(cluster)
    state["received_after"] = external_consume(external_bootstrap(cluster), len(messages))
    state["placement_after"] = placement(cluster)
    save(state, state_file)


def folded(output):
    """A playbook's output with its whitespace folded (Ansible wraps long messages)."""
    return " ".join(output.split())


def assert_placed(where):
    """Brokers 0..3 in za, zb, zc, za with broker.rack the same; ZooKeeper in 3 zones; volumes in their pods'
    zones."""
    pods = where["pods"]
    assert [pods["broker-%d" % b]["zone"] for b in range(4)] == ["za", "zb", "zc", "za"], pods
    assert [pods["broker-%d" % b]["rack"] for b in range(4)] == ["za", "zb", "zc", "za"], pods
    zookeeper = [v["zone"] for name, v in pods.items() if name.startswith("zookeeper-")]
    assert sorted(zookeeper) == ZONES, pods
    for name, pod in pods.items():
        for claim in pod["claims"]:
            assert where["volumes"][claim]["zones"] == [pod["zone"]], (name, claim, where["volumes"].get(claim))


def verify(cluster, state_file):
    state = load(state_file)
    assert_placed(state["placement"])
    print("placement: brokers 0-3 in za, zb, zc, za with broker.rack the same, ZooKeeper in 3 zones, every volume "
          "in its pod's zone")
    # 1. The host client saw the brokers at their load balancers, with their racks; replicas over 3 zones.
    external = state["external"]
    lb_ips = state["load_balancers"]
    assert sorted(lb_ips) == ["kafka-external-%d" % b for b in range(4)] and all(lb_ips.values()), lb_ips
    assert external["bootstrap"] == ["%s:9094" % lb_ips["kafka-external-%d" % b] for b in range(4)], external
    brokers = dict((int(k), v) for k, v in external["brokers"].items())
    assert brokers == dict((b, {"address": "%s:9094" % lb_ips["kafka-external-%d" % b], "rack": ["za", "zb", "zc", "za"][b]})
                           for b in range(4)), brokers
    for partition, replicas in external["partitions"].items():
        racks = sorted(brokers[r]["rack"] for r in replicas)
        assert racks == ZONES, "partition %s of %s: replicas %s in zones %s" % (partition, TOPIC, replicas, racks)
    assert sorted(external["received"]) == sorted(state["messages"]), external["received"]
    print("external: a host client through %s only; %d messages round-tripped; every partition's 3 replicas in "
          "3 zones" % (",".join(external["bootstrap"]), len(state["messages"])))
    # 2. Healthy, read-only.
    healthy = state["status_healthy"]
    assert healthy["rc"] == 0 and "Healthy" in healthy["output"] and healthy["unchanged"], healthy["output"][-3000:]
    # 3. Immediate binding on 3 zones refused before anything was written.
    immediate = state["immediate"]
    assert immediate["rc"] != 0 and not immediate["namespace_created"], immediate["output"][-3000:]
    assert "immediate" in immediate["output"] and "WaitForFirstConsumer" in folded(immediate["output"]), (
        immediate["output"][-3000:])
    print("StorageClass immediate (Immediate binding) refused on 3 zones, nothing created")
    # 4. Broker 2 stopped: unhealthy, named, read-only.
    down = state["status_broker_down"]
    assert down["rc"] != 0 and "UNHEALTHY" in down["output"] and "broker 2" in down["output"], down["output"][-3000:]
    assert down["unchanged"], "status.yml changed an object"
    # 5. Pending on its volume's zone: the run failed at once, naming zone and volume, and deleted nothing.
    stuck = state["volume_zone"]
    assert stuck["rc"] != 0 and stuck["uids_kept"], stuck["output"][-3000:]
    assert stuck["zone"] in folded(stuck["output"]) and stuck["claim"] in folded(stuck["output"]), stuck["output"][-3000:]
    assert stuck["seconds"] < 120, "the run took %s s: it waited instead of failing at once" % stuck["seconds"]
    print("broker 2 Pending with its zone's node cordoned: site.yml failed in %s s naming zone %s and %s, deleting "
          "nothing" % (stuck["seconds"], stuck["zone"], stuck["claim"]))
    # 6. Back: converged, healthy, every message there, placement unchanged.
    assert state["reconverged"]["rc"] == 0, state["reconverged"]["output"]
    after = state["status_after"]
    assert after["rc"] == 0 and "Healthy" in after["output"] and after["unchanged"], after["output"][-3000:]
    assert sorted(state["received_after"]) == sorted(state["messages"]), state["received_after"]
    assert_placed(state["placement_after"])
    # The seed's checks on the cluster as it runs now.
    check_quorum(cluster)
    check_membership(cluster, 4)
    check_bootstrap(cluster, 4)
    check_endpoints(cluster, 4)
    check_volumes(cluster, 4)
    round_trip(cluster, "e2e-default")
