"""Storage that follows its pods (module_utils/storage.py, pure): the StorageClasses the plan uses, each volume's
zone against the nodes its pod can be scheduled on, and which Pending pod is blamed on its volume. The fakes are
API objects as kubernetes.core.k8s_info returns them."""
import copy

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import storage
from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import build_plan
from role_defaults import role_defaults

ZONE = "topology.kubernetes.io/zone"
EBS_ZONE = "topology.ebs.csi.aws.com/zone"


def plan_of(nodes=None, **settings):
    return build_plan(dict(copy.deepcopy(role_defaults()), **settings), nodes=nodes)


def node(name, zone, ready=True, cordoned=False, taints=None, labels=None):
    all_labels = {"kubernetes.io/hostname": name}
    if zone:
        all_labels[ZONE] = zone
    all_labels.update(labels or {})
    return {"metadata": {"name": name, "labels": all_labels},
            "spec": {"unschedulable": cordoned, "taints": taints or []},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def storage_class(name, mode="WaitForFirstConsumer", default=False, beta=False):
    annotations = {}
    if default:
        annotations["storageclass.%skubernetes.io/is-default-class" % ("beta." if beta else "")] = "true"
    sc = {"metadata": {"name": name, "annotations": annotations}, "provisioner": "ebs.csi.aws.com"}
    if mode:
        sc["volumeBindingMode"] = mode
    return sc


def claim(name, volume=None):
    return {"metadata": {"name": name}, "spec": {"volumeName": volume} if volume else {},
            "status": {"phase": "Bound" if volume else "Pending"}}


def volume(name, zone=None, key=ZONE, operator="In"):
    pv = {"metadata": {"name": name}, "spec": {"claimRef": {"namespace": "kafka"}}}
    if zone:
        pv["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": key, "operator": operator, "values": [zone]}]}]}}
    return pv


def pod(name, broker_id=None, phase="Running", scheduled=True):
    labels = {"kafka-eks.cluster/broker-id": str(broker_id)} if broker_id is not None else {}
    conditions = [{"type": "PodScheduled", "status": "True" if scheduled else "False",
                   "reason": None if scheduled else "Unschedulable"}]
    return {"metadata": {"name": name, "labels": labels}, "status": {"phase": phase, "conditions": conditions}}


THREE_ZONES = [node("n1", "za"), node("n2", "zb"), node("n3", "zc")]


def bound_cluster(plan, zones=("za", "zb", "zc", "za"), key=ZONE):
    """Every broker's and ZooKeeper server's claim bound to a volume in a zone; ``{claims}``, ``{volumes}``."""
    claims, volumes = {}, {}
    names = [b["pvc"] for b in plan["brokers"]] + plan["zookeeper"]["claims"]
    zone_of = list(zones) + ["za", "zb", "zc"]
    for index, name in enumerate(names):
        claims[name] = claim(name, "pvc-%s" % name)
        volumes["pvc-%s" % name] = volume("pvc-%s" % name, zone_of[index], key=key)
    return claims, volumes


# StorageClasses


def check(plan, classes, claims=None, nodes=None, groups=("brokers", "zookeeper")):
    return storage.storage_class_check(plan, classes, claims or {}, THREE_ZONES if nodes is None else nodes,
                                       list(groups))


def test_a_default_wait_for_first_consumer_class_passes_on_three_zones():
    plan = plan_of()
    assert check(plan, [storage_class("gp3", default=True), storage_class("gp2", mode="Immediate")]) == ([], [])


def test_no_default_class_names_the_variable_to_set():
    errors = check(plan_of(), [storage_class("gp3")])[0]
    assert len(errors) == 2
    assert errors[0].startswith("kafka_broker_storage_class: is empty, so the broker claims get the cluster's default"
                                " StorageClass, and the cluster has none")
    assert "Fix: set kafka_broker_storage_class to the class to use" in errors[0]
    assert errors[1].startswith("zookeeper_storage_class: is empty")


def test_two_defaults_are_refused_naming_both():
    errors = check(plan_of(), [storage_class("gp3", default=True), storage_class("gp2", default=True, beta=True)])[0]
    assert "the cluster has 2: gp2, gp3" in errors[0] and "keep the default annotation on one class only" in errors[0]


def test_the_beta_annotation_marks_a_default():
    assert storage.is_default_class(storage_class("gp2", default=True, beta=True))
    assert check(plan_of(), [storage_class("gp2", default=True, beta=True)]) == ([], [])


def test_a_named_class_must_exist_and_the_default_does_not_matter_then():
    plan = plan_of(kafka_broker_storage_class="fast", zookeeper_storage_class="gp3")
    errors = check(plan, [storage_class("gp3")])[0]
    assert errors == ["kafka_broker_storage_class: the StorageClass fast does not exist (the cluster has: gp3), so"
                      " the broker claims would stay Pending. Fix: create it (for EBS, %s) or set"
                      " kafka_broker_storage_class to one of the cluster's classes." % storage.CLASS_FIX]


def test_immediate_binding_is_refused_on_a_multi_zone_cluster_naming_class_variable_and_fix():
    errors = check(plan_of(kafka_broker_storage_class="gp2"),
                   [storage_class("gp2", mode=None), storage_class("gp3", default=True)])[0]
    (error,) = errors
    assert error.startswith("kafka_broker_storage_class: the StorageClass gp2 (kafka_broker_storage_class) binds"
                            " volumes as soon as a claim is made (volumeBindingMode Immediate)")
    assert "zones za, zb, zc" in error and "WaitForFirstConsumer" in error and "gp3 class" in error
    assert "kafka_storage_allow_immediate_binding=true" in error


def test_an_immediate_default_is_named_as_the_default():
    errors = check(plan_of(), [storage_class("gp2", mode="Immediate", default=True)])[0]
    assert "the cluster's default StorageClass gp2 (kafka_broker_storage_class is empty)" in errors[0]


def test_immediate_binding_is_fine_on_one_zone_and_when_allowed():
    classes = [storage_class("gp2", mode="Immediate", default=True)]
    assert check(plan_of(), classes, nodes=[node("n1", "za"), node("n2", "za")]) == ([], [])
    assert check(plan_of(), classes, nodes=[node("n1", None), node("n2", None)]) == ([], [])
    assert check(plan_of(kafka_storage_allow_immediate_binding=True), classes) == ([], [])


def test_zone_awareness_makes_a_cluster_multi_zone_even_without_node_zones():
    plan = plan_of(kafka_zones=["za", "zb"])
    errors = check(plan, [storage_class("gp2", mode="Immediate", default=True)], nodes=[])[0]
    assert len(errors) == 2 and "zones za, zb" in errors[0]


def test_only_nodes_a_pod_may_use_make_zones():
    # The second zone has a node only ZooKeeper tolerates: the brokers still see one zone, ZooKeeper two.
    nodes = [node("n1", "za"), node("n2", "za"),
             node("zk", "zb", taints=[{"key": "dedicated", "value": "zookeeper", "effect": "NoSchedule"}])]
    plan = plan_of(zookeeper_tolerations=[{"key": "dedicated", "value": "zookeeper", "effect": "NoSchedule"}])
    classes = [storage_class("gp2", mode="Immediate", default=True)]
    assert check(plan, classes, nodes=nodes, groups=["brokers"]) == ([], [])
    assert len(check(plan, classes, nodes=nodes)[0]) == 2


def test_existing_bound_claims_turn_an_immediate_refusal_into_a_warning():
    plan = plan_of()
    claims = bound_cluster(plan)[0]
    errors, warnings = check(plan, [storage_class("gp2", mode="Immediate", default=True)], claims)
    assert errors == [] and len(warnings) == 2
    assert "Every one of the broker claims exists and is bound, and a claim's class cannot change" in warnings[0]
    # One claim missing (a fifth broker): the class would serve it, so it is refused again.
    del claims["kafka-data-3"]
    errors, warnings = check(plan, [storage_class("gp2", mode="Immediate", default=True)], claims)
    assert len(errors) == 1 and errors[0].startswith("kafka_broker_storage_class") and len(warnings) == 1


def test_a_claim_not_bound_yet_still_needs_the_class():
    plan = plan_of()
    claims = bound_cluster(plan)[0]
    claims["kafka-data-1"] = claim("kafka-data-1")
    errors = check(plan, [storage_class("gp3")], claims)[0]
    assert len(errors) == 1 and errors[0].startswith("kafka_broker_storage_class: is empty")


def test_the_controllers_class_is_checked_in_kraft_mode_and_zookeeper_s_not_once_removed():
    plan = plan_of(kafka_metadata_mode="kraft", kafka_controller_storage_class="io2")
    assert storage.groups_in_use(plan) == ["brokers", "zookeeper", "controllers"]
    plan["zookeeper"]["remove"] = True
    assert storage.groups_in_use(plan) == ["brokers", "controllers"]
    errors = check(plan, [storage_class("gp3", default=True)], groups=storage.groups_in_use(plan))[0]
    assert len(errors) == 1 and errors[0].startswith("kafka_controller_storage_class: the StorageClass io2 does not")
    assert storage.groups_in_use(plan_of()) == ["brokers", "zookeeper"]
    assert storage.groups_in_use(plan_of(), controllers_running=True)[-1] == "controllers"


def test_claim_names_come_from_the_plan():
    plan = plan_of(kafka_metadata_mode="kraft")
    users = storage.storage_users(plan)
    assert [u["claim"] for u in users["brokers"]] == ["kafka-data-%d" % i for i in range(4)]
    assert [u["claim"] for u in users["zookeeper"]] == ["data-zookeeper-%d" % i for i in range(3)]
    assert [u["claim"] for u in users["controllers"]] == ["data-kafka-controller-%d" % i for i in range(3)]
    assert [u["key"] for u in users["brokers"]] == ["0", "1", "2", "3"]


# Volume zones


@pytest.mark.parametrize("key", [ZONE, "failure-domain.beta.kubernetes.io/zone", EBS_ZONE])
def test_a_volume_s_zone_from_each_key(key):
    assert storage.volume_zones(volume("v", "zc", key=key)) == ["zc"]


def test_a_volume_without_node_affinity_or_zone_is_not_zonal():
    assert storage.volume_zones(volume("v")) is None
    assert storage.volume_zones(volume("v", "zc", key="kubernetes.io/hostname")) is None
    assert storage.volume_zones(volume("v", "zc", operator="NotIn")) is None


def volumes_of(plan, nodes, zones=("za", "zb", "zc", "za"), key=ZONE, claims=None):
    bound_claims, pvs = bound_cluster(plan, zones, key=key)
    return storage.volumes(plan, claims if claims is not None else bound_claims, pvs, nodes)


def test_every_volume_has_a_zone_and_a_schedulable_node():
    plan = plan_of(THREE_ZONES)
    result = volumes_of(plan, THREE_ZONES)
    assert sorted(result) == ["brokers", "controllers", "zookeeper"]
    entry = result["brokers"]["2"]
    assert entry["zone"] == "zc" and entry["schedulable"] is True and entry["nodes"] == ["n3"]
    assert entry["volume"] == "pvc-kafka-data-2" and entry["claim"] == "kafka-data-2"
    assert result["zookeeper"]["zookeeper-1"]["zone"] == "zb"
    assert result["controllers"]["kafka-controller-0"]["schedulable"] is None


@pytest.mark.parametrize("bad_node, reason", [
    (node("n3", "zc", cordoned=True), "node n3 is cordoned"),
    (node("n3", "zc", ready=False), "node n3 is NotReady"),
    (node("n3", "zc", taints=[{"key": "spot", "effect": "NoExecute"}]),
     "node n3 is tainted spot:NoExecute, not tolerated by kafka_broker_tolerations"),
])
def test_a_zone_whose_only_node_cannot_take_the_pod(bad_node, reason):
    nodes = THREE_ZONES[:2] + [bad_node]
    plan = plan_of(THREE_ZONES)
    entry = volumes_of(plan, nodes)["brokers"]["2"]
    assert entry["schedulable"] is False and entry["nodes"] == []
    assert entry["problem"] == ("its volume pvc-kafka-data-2 (claim kafka-data-2) is in zone zc, where no node is"
                                " schedulable for it (%s)" % reason)
    if "cordoned" in reason:
        assert entry["fix"] == "uncordon a node in zone zc or add one"
    else:
        assert entry["fix"] == "make a node in zone zc schedulable for broker 2 (as named above) or add one"
    assert entry["restart_refusal"].startswith("broker 2 is not restarted: its volume pvc-kafka-data-2")
    assert "its new pod could never start" in entry["restart_refusal"]


def test_the_ebs_csi_key_matches_nodes_labelled_by_the_driver():
    nodes = [node("n1", None, labels={EBS_ZONE: "za"}), node("n2", "zb"), node("n3", "zc", cordoned=True)]
    result = volumes_of(plan_of(), nodes, key=EBS_ZONE)
    assert result["brokers"]["0"]["schedulable"] is True and result["brokers"]["0"]["nodes"] == ["n1"]
    assert result["brokers"]["2"]["schedulable"] is False


def test_a_zone_with_a_node_only_zookeeper_may_use():
    taint = {"key": "dedicated", "value": "zookeeper", "effect": "NoSchedule"}
    nodes = THREE_ZONES[:2] + [node("zk3", "zc", taints=[taint])]
    plan = plan_of(zookeeper_tolerations=[taint])
    result = volumes_of(plan, nodes, zones=("za", "zb", "zc", "za", "za", "zb", "zc"))
    assert result["zookeeper"]["zookeeper-2"]["schedulable"] is True
    broker = result["brokers"]["2"]
    assert broker["schedulable"] is False
    assert "node zk3 is tainted dedicated=zookeeper:NoSchedule, not tolerated by kafka_broker_tolerations" \
        in broker["problem"]
    # A node selector that only ZooKeeper's nodes carry: named with its variable.
    nodes = THREE_ZONES[:2] + [node("zk3", "zc", labels={"pool": "zk"})]
    plan = plan_of(kafka_broker_node_selector={"pool": "kafka"})
    broker = volumes_of(plan, [dict(n, metadata=dict(n["metadata"], labels=dict(n["metadata"]["labels"], pool="kafka")))
                               for n in THREE_ZONES[:2]] + nodes[2:])["brokers"]["2"]
    assert "node zk3 is without the label pool=kafka of the node selector (kafka_broker_node_selector)" \
        in broker["problem"]


def test_a_zone_without_any_node():
    entry = volumes_of(plan_of(), THREE_ZONES[:2])["brokers"]["2"]
    assert entry["schedulable"] is False and "(the cluster has no node there)" in entry["problem"]


def test_a_volume_that_is_not_zonal_never_blocks():
    plan = plan_of()
    claims = {"kafka-data-2": claim("kafka-data-2", "pvc-2")}
    entry = storage.volumes(plan, claims, {"pvc-2": volume("pvc-2")}, THREE_ZONES[:2])["brokers"]["2"]
    assert entry["bound"] is True and entry["zone"] is None and entry["schedulable"] is None


def test_a_claim_not_bound_yet_or_missing_never_blocks():
    plan = plan_of()
    claims = {"kafka-data-2": claim("kafka-data-2")}
    result = storage.volumes(plan, claims, {}, [])
    assert result["brokers"]["2"]["bound"] is False and result["brokers"]["2"]["schedulable"] is None
    assert result["brokers"]["3"]["schedulable"] is None
    # Nodes not read: nothing is known to block.
    assert volumes_of(plan, None)["brokers"]["2"]["schedulable"] is None


def test_a_broker_pinned_to_another_zone_than_its_volume():
    plan = plan_of(THREE_ZONES)
    assert plan["brokers"][2]["zone"] == "zc"
    entry = volumes_of(plan, THREE_ZONES, zones=("za", "zb", "zb", "za"))["brokers"]["2"]
    assert entry["schedulable"] is False
    assert "node n2 is outside zone zc, which broker 2 is pinned to" in entry["problem"]
    assert entry["fix"].startswith("zone awareness pins broker 2 to zone zc, but its data is in zone zb")


# Pending pods


def test_a_pending_pod_whose_volume_zone_has_no_node_is_named_with_zone_and_volume():
    nodes = THREE_ZONES[:2] + [node("n3", "zc", cordoned=True)]
    plan = plan_of(THREE_ZONES)
    result = volumes_of(plan, nodes)
    pods = [pod("kafka-broker-2-abc", 2, phase="Pending", scheduled=False), pod("kafka-broker-0-x", 0)]
    assert storage.pending_errors(plan, result, pods) == [
        "broker 2's pod kafka-broker-2-abc is Pending: its volume pvc-kafka-data-2 (claim kafka-data-2) is in zone zc,"
        " where no node is schedulable for it (node n3 is cordoned); uncordon a node in zone zc or add one."]


def test_a_pending_zookeeper_pod_is_named_too():
    nodes = [node("n1", "za"), node("n2", "zb", ready=False), node("n3", "zc")]
    plan = plan_of()
    result = volumes_of(plan, nodes, zones=("za", "za", "za", "za", "za", "zb", "zc"))
    errors = storage.pending_errors(plan, result, [pod("zookeeper-1", phase="Pending", scheduled=False)])
    assert errors == ["ZooKeeper server 2's pod zookeeper-1 is Pending: its volume pvc-data-zookeeper-1 (claim"
                      " data-zookeeper-1) is in zone zb, where no node is schedulable for it (node n2 is NotReady);"
                      " make a node in zone zb schedulable for ZooKeeper server 2 (as named above) or add one."]


def test_a_pod_pending_with_its_zone_fine_is_not_blamed_on_its_volume():
    plan = plan_of(THREE_ZONES)
    result = volumes_of(plan, THREE_ZONES)
    assert storage.pending_errors(plan, result, [pod("kafka-broker-2-abc", 2, phase="Pending", scheduled=False)]) == []


def test_a_pod_pending_for_another_reason_is_not_blamed():
    nodes = THREE_ZONES[:2] + [node("n3", "zc", cordoned=True)]
    plan = plan_of(THREE_ZONES)
    result = volumes_of(plan, nodes)
    # Scheduled, its image being pulled: Pending but not for its volume; and a pod not tried by the scheduler yet.
    fresh = pod("kafka-broker-2-new", 2, phase="Pending")
    fresh["status"]["conditions"] = []
    pods = [pod("kafka-broker-2-abc", 2, phase="Pending", scheduled=True), fresh]
    assert storage.pending_errors(plan, result, pods) == []
    # A running pod on a node that was cordoned since: not Pending, so not refused here (the roll refuses to
    # restart it: restart_refusal).
    assert storage.pending_errors(plan, result, [pod("kafka-broker-2-abc", 2)]) == []
    assert result["brokers"]["2"]["restart_refusal"]


def test_a_pending_pod_with_a_claim_not_bound_is_not_blamed_on_a_zone():
    plan = plan_of()
    result = storage.volumes(plan, {"kafka-data-2": claim("kafka-data-2")}, {}, THREE_ZONES[:2])
    assert storage.pending_errors(plan, result, [pod("kafka-broker-2-abc", 2, phase="Pending", scheduled=False)]) == []


def test_the_union_selector():
    plan = plan_of()
    assert storage.union_selector(plan["zookeeper"]["selector"], plan["controller"]["selector"]) == \
        "app.kubernetes.io/component in (controller,zookeeper),app.kubernetes.io/instance=kafka"
    assert storage.union_selector({"a": "1"}) == "a=1"
