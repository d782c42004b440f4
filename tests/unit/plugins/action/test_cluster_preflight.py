"""The preflight action (plugins/action/cluster_preflight.py) with the roles' real argument specs and a fake
kubernetes.core.k8s_info: what it gathers, refuses, reads (and with which connection) and returns."""
import copy
import re
import types

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.kafka_eks.cluster.plugins.action import cluster_preflight
from ansible_collections.kafka_eks.cluster.plugins.action.cluster_preflight import ActionModule
from ansible_collections.kafka_eks.cluster.plugins.modules.cluster_read import summarized
from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth

TOKEN = "sentinel-token-4f1c"
AUTH = {"host": "https://127.0.0.1:6443", "api_key": TOKEN, "validate_certs": False}


def role_defaults():
    loader = DataLoader()
    values = {}
    for role in cluster_preflight.DEFAULT_ROLES:
        values.update(loader.load_from_file("%s/%s/defaults/main.yml" % (cluster_preflight.ROLES_DIR, role)) or {})
    return values


GP3 = {"metadata": {"name": "gp3", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
       "provisioner": "ebs.csi.aws.com", "volumeBindingMode": "WaitForFirstConsumer"}


def deployment(broker_id, image="confluentinc/cp-kafka:7.9.0"):
    return {"kind": "Deployment", "metadata": {"name": "kafka-broker-%d" % broker_id,
                                               "labels": {"kafka-eks.cluster/broker-id": str(broker_id),
                                                          "app.kubernetes.io/component": "broker",
                                                          "app.kubernetes.io/instance": "kafka"}},
            "spec": {"template": {"spec": {"containers": [{"name": "kafka", "image": image, "env": []}]}}}}


def selected(obj, selectors):
    """Whether an object's labels match label selectors of the forms k=v and k in (a,b), as the API server would."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for part in re.split(r",(?![^(]*\))", ",".join(selectors)):
        if " in (" in part:
            key, values = part.split(" in (")
            if labels.get(key) not in values.rstrip(")").split(","):
                return False
        else:
            key, value = part.split("=")
            if labels.get(key) != value:
                return False
    return True


class Run:
    """One run of the action: ``reads`` is every k8s_info call it made (module args), in order."""

    def __init__(self, variables=None, check_mode=False, cluster=None, args=None, failing=None):
        self.reads = []
        self.calls = []
        self.cluster = dict(cluster or {})
        # A cluster has a default StorageClass unless a test says otherwise.
        self.cluster.setdefault("StorageClass", [GP3])
        task_vars = dict(role_defaults(), **(variables or {}))
        task_vars.setdefault("ansible_check_mode", check_mode)
        task = types.SimpleNamespace(args=dict(AUTH, **(args or {})), check_mode=check_mode, async_val=0,
                                     action="kafka_eks.cluster.cluster_preflight")
        connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir="/nonexistent"))
        loader = DataLoader()
        action = ActionModule(task, connection, types.SimpleNamespace(check_mode=check_mode), loader,
                              Templar(loader=loader, variables=task_vars), None)

        def execute_module(module_name=None, module_args=None, task_vars=None, **_):
            # Every read of a run goes through kafka_eks.cluster.cluster_read (several reads, one module run); each
            # read is recorded with the connection options of its module run, as k8s_info's would have been.
            assert module_name == "kafka_eks.cluster.cluster_read"
            self.calls.append([r["key"] for r in module_args["reads"]])
            auth = dict((k, v) for k, v in module_args.items() if k != "reads")
            results, skipped = {}, []
            for read in module_args["reads"]:
                if read.get("only_if_found") and not results.get(read["only_if_found"]):
                    skipped.append(read["key"])
                    continue
                self.reads.append(dict(auth, **copy.deepcopy(read)))
                if failing and read["kind"] == failing:
                    return {"failed": True, "msg": "could not read %s: connection refused (Bearer %s)"
                                                   % (read.get("what"), TOKEN), "reading": read["key"]}
                found = self.cluster.get(read["kind"], [])
                if read.get("name"):
                    found = [o for o in found if (o.get("metadata") or {}).get("name") == read["name"]]
                if read.get("label_selectors"):
                    found = [o for o in found if selected(o, read["label_selectors"])]
                results[read["key"]] = summarized(read, copy.deepcopy(found))
            return {"objects": results, "skipped": skipped}

        action._execute_module = execute_module
        self.result = action.run(task_vars=task_vars)

    def kinds(self):
        return [r["kind"] for r in self.reads]


def test_a_new_cluster_is_read_with_the_connection_options_and_planned():
    run = Run()
    assert not run.result.get("failed"), run.result
    # Two module runs: what the plan needs, then what runs in its namespace. No claim yet: no PersistentVolumes read.
    assert run.calls == [["nodes", "classes"],
                         ["statefulsets", "deployments", "pods", "claims", "volumes", "other_pods"]]
    assert run.kinds() == ["Node", "StorageClass", "StatefulSet", "Deployment", "Pod", "PersistentVolumeClaim", "Pod"]
    for read in run.reads:
        assert read["api_key"] == TOKEN and read["host"] == AUTH["host"] and read["validate_certs"] is False
    # One read of the namespace's StatefulSets: ZooKeeper's and the controllers' are picked by name.
    assert "name" not in run.reads[2] and run.reads[2]["namespace"] == "kafka"
    assert run.reads[3]["label_selectors"] == [run.result["plan"]["broker_selector_string"]]
    plan = run.result["plan"]
    assert plan["broker_ids"] == [0, 1, 2, 3] and plan["upgrade"]["step"] == "new"
    assert run.result["preview_new_namespace"] is False and run.result["broker_deployments"] == []
    assert run.result["upgrade_message"] is None and run.result["changed"] is False
    # The token reaches the reads only: nothing returned holds it, nor any kafka_k8s_* variable.
    assert TOKEN not in repr(run.result)
    assert not [k for k in run.result["config"] if k.startswith("kafka_k8s_")]


def test_the_connection_variables_are_never_gathered():
    run = Run({"kafka_k8s_api_key": TOKEN, "kafka_k8s_host": "https://127.0.0.1:6443"})
    assert "kafka_k8s_api_key" not in run.result["config"] and TOKEN not in repr(run.result)


def test_the_broker_deployments_read_is_returned_for_the_kafka_broker_role():
    running = [deployment(n) for n in range(4)]
    run = Run(cluster={"Deployment": running})
    assert [d["metadata"]["name"] for d in run.result["broker_deployments"]] == \
        ["kafka-broker-%d" % n for n in range(4)]


def test_render_mode_reads_nothing():
    run = Run({"kafka_render_dir": "/tmp/out"})
    assert run.reads == [] and not run.result.get("failed")


def test_survey_strings_are_converted_and_the_node_read_follows_a_string_false():
    run = Run({"kafka_broker_count": "5", "kafka_preflight_check_nodes": "no"})
    assert run.kinds() == ["StatefulSet", "Deployment", "Pod"]
    assert run.result["config"]["kafka_broker_count"] == "5"
    assert run.result["plan"]["settings"]["kafka_broker_count"] == 5


def test_check_mode_on_a_missing_namespace_previews_and_reads_nothing_inside_it():
    run = Run(check_mode=True)
    # The StorageClasses are cluster-scoped: read, and checked, in the preview of a new namespace too.
    assert run.kinds() == ["Node", "StorageClass", "Namespace"]
    assert run.result["preview_new_namespace"] is True and run.result["broker_deployments"] == []


def test_check_mode_on_an_existing_namespace_reads_what_runs():
    run = Run(check_mode=True, cluster={"Namespace": [{"metadata": {"name": "kafka"}}]})
    assert run.kinds() == ["Node", "StorageClass", "Namespace", "StatefulSet", "Deployment", "Pod",
                           "PersistentVolumeClaim", "Pod"]
    assert run.result["preview_new_namespace"] is False


@pytest.mark.parametrize("variable, value, words", [
    ("kafka_broker_count", "4; rm -rf /", "unable to convert to int"),
    ("kafka_broker_membership_heal", "maybe", "not a valid boolean"),
    ("zookeeper_image_flavor", "apache\n", "must be one of: apache, kubernetes-zookeeper, got: apache\\n"),
])
def test_a_wrong_type_is_refused_in_one_line_with_the_fix_before_any_read(variable, value, words):
    run = Run({variable: value})
    assert run.result["failed"] and run.reads == []
    message = run.result["msg"]
    assert message.startswith("The cluster variables are not valid; nothing was created. ")
    assert variable in message and words in message and "Fix:" in message and "\n" not in message, message


def test_a_plan_error_names_the_variable_before_any_read_of_what_runs():
    run = Run({"zookeeper_replicas": 2})
    assert run.result["failed"] and run.kinds() == ["Node", "StorageClass"]
    assert "zookeeper_replicas" in run.result["msg"] and "nothing was created" in run.result["msg"]


def test_a_running_ensemble_is_not_resized():
    statefulset = {"metadata": {"name": "zookeeper", "annotations": {"kafka-eks.cluster/zookeeper-ensemble": "3"}},
                   "spec": {"replicas": 3, "template": {"spec": {"containers": [
                       {"name": "zookeeper", "image": "zookeeper:3.9.3"}]}}}}
    run = Run({"zookeeper_replicas": 1}, cluster={"StatefulSet": [statefulset]})
    assert run.result["failed"]
    assert run.result["msg"].startswith("zookeeper_replicas: the running ensemble kafka/zookeeper has 3 servers")
    assert "Fix: set zookeeper_replicas=3" in run.result["msg"]


def test_a_failed_read_says_what_was_read_and_masks_the_token():
    with pytest.raises(AnsibleActionFail) as failure:
        Run(failing="StatefulSet")
    message = str(failure.value)
    assert "could not read the StatefulSets of namespace kafka" in message and "nothing was written" in message
    assert TOKEN not in message and "********" in message


def test_unknown_options_are_refused():
    with pytest.raises(AnsibleActionFail, match="unsupported options no_such_option"):
        Run(args={"no_such_option": 1})


def test_the_upgrade_messages():
    plan = {"settings": {"kafka_broker_image": "confluentinc/cp-kafka:7.9.0"},
            "upgrade": {"step": "binaries", "target_version": "3.9.0", "inter_broker_protocol_version": "2.5",
                        "target_protocol": "3.9", "bump_after_roll": True}}
    assert cluster_preflight.upgrade_message(plan) == (
        "Upgrade: roll the brokers to confluentinc/cp-kafka:7.9.0 (Kafka 3.9.0) one at a time with "
        "inter.broker.protocol.version pinned to 2.5, the protocol they speak now; then raise it to 3.9 and roll "
        "again.")
    plan["upgrade"].update(step="protocol", running_protocol="2.5")
    assert "After this, the older image cannot rejoin." in cluster_preflight.upgrade_message(plan)
    plan["upgrade"]["step"] = "steady"
    assert cluster_preflight.upgrade_message(plan) is None


def finalized_controllers(flag=False):
    env = [{"name": "KAFKA_PROCESS_ROLES", "value": "controller"}, {"name": "CLUSTER_ID", "value": "abc"}]
    if flag:
        env.append({"name": "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE", "value": "true"})
    return {"metadata": {"name": "kafka-controller"},
            "spec": {"template": {"spec": {"containers": [{"name": "controller", "image": "x", "env": env}]}}}}


ZOOKEEPER = {"metadata": {"name": "zookeeper"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [
    {"name": "zookeeper", "image": "zookeeper:3.9.3"}]}}}}


def test_after_finalizing_the_way_back_is_refused_before_anything_is_written():
    run = Run({}, cluster={"StatefulSet": [finalized_controllers(), ZOOKEEPER]})
    assert run.result["failed"] and "finalized" in run.result["msg"] and "kafka_metadata_mode" in run.result["msg"]
    # In migration mode the way back is open.
    run = Run({}, cluster={"StatefulSet": [finalized_controllers(flag=True), ZOOKEEPER]})
    assert not run.result.get("failed"), run.result.get("msg")


@pytest.mark.parametrize("settings, statefulsets, remove", [
    ({"kafka_metadata_mode": "kraft", "kafka_migration_finalize": True, "kafka_zookeeper_remove": True},
     [finalized_controllers(), ZOOKEEPER], True),
    # Not finalized yet: ZooKeeper is deployed as ever, and removed once the migration is finalized.
    ({"kafka_metadata_mode": "kraft", "kafka_migration_finalize": True, "kafka_zookeeper_remove": True},
     [finalized_controllers(flag=True), ZOOKEEPER], False),
    # Finalized and ZooKeeper gone already: not deployed again, asked or not.
    ({"kafka_metadata_mode": "kraft"}, [finalized_controllers()], True),
    ({"kafka_metadata_mode": "kraft"}, [finalized_controllers(), ZOOKEEPER], False),
])
def test_zookeeper_is_not_deployed_again_once_finalized_and_removed(settings, statefulsets, remove):
    run = Run(settings, cluster={"StatefulSet": statefulsets})
    assert not run.result.get("failed"), run.result.get("msg")
    assert run.result["plan"]["zookeeper"]["remove"] is remove


# --- Zones (issue 14): a running broker is never pinned to another zone than the one its volume is in ----------

def zone_node(name, zone):
    return {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "topology.kubernetes.io/zone": zone}},
            "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}


BROKER_LABELS = {"app.kubernetes.io/component": "broker", "app.kubernetes.io/instance": "kafka"}


def broker_pod(broker_id, node_name):
    return {"metadata": {"name": "kafka-broker-%d-abc" % broker_id,
                         "labels": dict(BROKER_LABELS, **{"kafka-eks.cluster/broker-id": str(broker_id)})},
            "spec": {"nodeName": node_name}}


ZONE_NODES = [zone_node("n-a", "za"), zone_node("n-b", "zb"), zone_node("n-c", "zc")]


def test_zones_from_the_nodes_reach_the_plan_and_the_message():
    run = Run(cluster={"Node": ZONE_NODES})
    assert not run.result.get("failed"), run.result
    assert [b["zone"] for b in run.result["plan"]["brokers"]] == ["za", "zb", "zc", "za"]
    assert run.result["msg"].endswith("in namespace kafka, over zones za, zb, zc.")


def test_running_brokers_in_their_planned_zones_pass():
    pods = [broker_pod(0, "n-a"), broker_pod(1, "n-b"), broker_pod(2, "n-c"), broker_pod(3, "n-a")]
    run = Run(cluster={"Node": ZONE_NODES, "Pod": pods})
    assert not run.result.get("failed"), run.result


def test_a_running_broker_in_another_zone_is_refused_with_an_order_that_keeps_it():
    # Placed by the scheduler before zone awareness: 0 in zb, 1 in za, 2 in zc, 3 in zb.
    pods = [broker_pod(0, "n-b"), broker_pod(1, "n-a"), broker_pod(2, "n-c"), broker_pod(3, "n-b")]
    run = Run(cluster={"Node": ZONE_NODES, "Pod": pods})
    assert run.result["failed"]
    message = run.result["msg"]
    assert message.startswith("kafka_zone_awareness: zone awareness (zones za, zb, zc, from the nodes' labels)")
    assert "broker 0 from zb to za (pod kafka-broker-0-abc on node n-b; volume kafka-data-0)" in message
    assert "broker 3 from zb to za" in message and "broker 2 from" not in message
    assert "Nothing was written" in message
    assert "set kafka_zones=[zb, za, zc]" in message and "kafka_zone_awareness=off" in message
    # With that order, nothing moves.
    run = Run({"kafka_zones": ["zb", "za", "zc"]}, cluster={"Node": ZONE_NODES, "Pod": pods})
    assert not run.result.get("failed"), run.result


def test_a_placement_no_order_keeps_has_only_the_way_off():
    # Brokers 0 and 3 (same slot of 3 zones) in different zones: no kafka_zones order keeps both.
    pods = [broker_pod(0, "n-a"), broker_pod(3, "n-b")]
    run = Run(cluster={"Node": ZONE_NODES, "Pod": pods})
    assert run.result["failed"] and "kafka_zones=[" not in run.result["msg"]
    assert "Fix: set kafka_zone_awareness=off" in run.result["msg"]
    assert not Run({"kafka_zone_awareness": "off"}, cluster={"Node": ZONE_NODES, "Pod": pods}).result.get("failed")


# --- Storage that follows its pods (issue 14): the StorageClasses, and a pod stuck on its volume's zone --------

GP2_IMMEDIATE = {"metadata": {"name": "gp2", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                 "provisioner": "kubernetes.io/aws-ebs"}


def bound_claim(name):
    return {"metadata": {"name": name}, "spec": {"volumeName": "pvc-%s" % name}, "status": {"phase": "Bound"}}


def zonal_volume(claim_name, zone):
    return {"metadata": {"name": "pvc-%s" % claim_name},
            "spec": {"claimRef": {"namespace": "kafka", "name": claim_name}, "nodeAffinity": {"required": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": [zone]}]}]}}}}


BROKER_ZONES = ["za", "zb", "zc", "za"]
CLAIMS = ["kafka-data-%d" % i for i in range(4)] + ["data-zookeeper-%d" % i for i in range(3)]
CLAIM_ZONES = BROKER_ZONES + ["za", "zb", "zc"]


def stored(cordoned_zone=None):
    """A running three-zone cluster whose every claim is bound to a volume in its zone."""
    nodes = [dict(n, spec={"unschedulable": n["metadata"]["labels"]["topology.kubernetes.io/zone"] == cordoned_zone})
             for n in ZONE_NODES]
    return {"Node": nodes, "PersistentVolumeClaim": [bound_claim(c) for c in CLAIMS],
            "PersistentVolume": [zonal_volume(c, z) for c, z in zip(CLAIMS, CLAIM_ZONES)]
            + [zonal_volume("someone-else", "za")]}


def test_a_running_cluster_s_volumes_reach_the_plan_in_one_read_of_each_kind():
    run = Run(cluster=stored())
    assert not run.result.get("failed"), run.result
    assert run.kinds().count("PersistentVolume") == 1 and run.kinds().count("StorageClass") == 1
    volumes = run.result["plan"]["volumes"]
    assert volumes["brokers"]["2"]["zone"] == "zc" and volumes["brokers"]["2"]["schedulable"] is True
    assert volumes["zookeeper"]["zookeeper-1"]["volume"] == "pvc-data-zookeeper-1"
    # The ZooKeeper and controller pods in one read, by the plan's selectors.
    assert run.reads[-1]["label_selectors"] == [
        "app.kubernetes.io/component in (controller,zookeeper),app.kubernetes.io/instance=kafka"]


def test_a_pending_broker_whose_zone_has_no_schedulable_node_fails_naming_zone_and_volume():
    pending = broker_pod(2, None)
    pending["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}
    cluster = dict(stored(cordoned_zone="zc"), Pod=[pending])
    # Zone awareness off: no pin, the scheduler placed the brokers (and the volumes) before.
    run = Run({"kafka_zone_awareness": "off"}, cluster=cluster)
    assert run.result["failed"], run.result
    message = run.result["msg"]
    assert message.startswith("The storage of the cluster would leave pods Pending; nothing was written. ")
    assert ("broker 2's pod kafka-broker-2-abc is Pending: its volume pvc-kafka-data-2 (claim kafka-data-2) is in"
            " zone zc, where no node is schedulable for it (node n-c is cordoned); uncordon a node in zone zc or add"
            " one.") in message
    assert run.result["errors"] == [message.split("nothing was written. ", 1)[1]]


def test_no_default_storage_class_is_refused_before_any_write():
    run = Run(cluster={"StorageClass": []})
    assert run.result["failed"]
    assert "kafka_broker_storage_class: is empty" in run.result["msg"]
    assert "zookeeper_storage_class: is empty" in run.result["msg"]


def test_check_mode_on_a_new_namespace_refuses_an_immediate_class_on_several_zones():
    run = Run(check_mode=True, cluster={"Node": ZONE_NODES, "StorageClass": [GP2_IMMEDIATE]})
    assert run.result["failed"] and run.kinds() == ["Node", "StorageClass", "Namespace"]
    assert "the cluster's default StorageClass gp2 (kafka_broker_storage_class is empty)" in run.result["msg"]
    assert "kafka_storage_allow_immediate_binding=true" in run.result["msg"]
    run = Run({"kafka_storage_allow_immediate_binding": "true"}, check_mode=True,
              cluster={"Node": ZONE_NODES, "StorageClass": [GP2_IMMEDIATE]})
    assert not run.result.get("failed"), run.result


def test_an_existing_cluster_on_an_immediate_class_is_warned_not_refused():
    run = Run(cluster=dict(stored(), StorageClass=[GP2_IMMEDIATE]))
    assert not run.result.get("failed"), run.result
    assert [w for w in run.result["warnings"] if w.startswith("kafka_broker_storage_class: the cluster's default")]


def test_render_mode_plans_volumes_that_block_nothing():
    run = Run({"kafka_render_dir": "/tmp/out"})
    assert run.reads == []
    assert run.result["plan"]["volumes"]["brokers"]["0"]["schedulable"] is None


def external_service(index, ip=None, kind="LoadBalancer"):
    return {"metadata": {"name": "kafka-external-%d" % index, "labels": {
        "app.kubernetes.io/component": "broker", "app.kubernetes.io/instance": "kafka",
        "kafka-eks.cluster/broker-id": str(index)}},
        "spec": {"type": kind}, "status": {"loadBalancer": {"ingress": [{"ip": ip}] if ip else []}}}


def test_loadbalancer_addresses_are_read_with_the_rest_and_advertised():
    services = [external_service(0, "10.0.0.10"), external_service(1, "10.0.0.11"), external_service(2),
                external_service(3, "10.0.0.13", kind="ClusterIP")]
    run = Run({"kafka_broker_external_access": "loadbalancer"}, cluster={"Service": services})
    assert not run.result.get("failed"), run.result
    assert "services" in run.calls[1] and len(run.calls) == 2
    external = run.result["plan"]["external"]
    # Broker 2's Service has no address yet, broker 3's is not a LoadBalancer (its ClusterIP is no address for it).
    assert external["pending"] == ["kafka-external-2", "kafka-external-3"] and external["bootstrap_servers"] is None
    advertised = [b["properties"]["advertised.listeners"] for b in run.result["plan"]["brokers"]]
    assert advertised[0].endswith(",EXTERNAL://10.0.0.10:9094") and "EXTERNAL" not in advertised[2]


def test_without_external_access_no_service_is_read():
    run = Run(cluster={"Service": [external_service(0, "10.0.0.10")]})
    assert "Service" not in run.kinds()
    assert run.result["plan"]["external"]["mode"] == "none"


def test_the_volumes_are_read_only_when_the_namespace_has_claims():
    claim = {"metadata": {"name": "kafka-data-0"}, "spec": {"volumeName": "pv-a"}, "status": {"phase": "Bound"}}
    run = Run(cluster={"PersistentVolumeClaim": [claim], "PersistentVolume": [
        {"metadata": {"name": "pv-a"}, "spec": {}}, {"metadata": {"name": "pv-other"}, "spec": {}}]})
    assert not run.result.get("failed"), run.result
    assert "PersistentVolume" in run.kinds()
    assert run.result["plan"]["volumes"]["brokers"]["0"]["volume"] == "pv-a"


# --- TLS: the Secret read as facts, checked before any write ------------------------------------------------------

TLS = {"kafka_broker_listener_security": {"client": "ssl", "internal": "ssl"}, "kafka_broker_tls_secret": "kafka-tls"}


def tls_secret(dns_names=None, days=90):
    import datetime  # pylint: disable=import-outside-toplevel
    from testbed_lib import tls_material  # pylint: disable=import-outside-toplevel
    now = datetime.datetime.now(datetime.timezone.utc)
    authority = tls_material.Authority(not_before=now - datetime.timedelta(days=1))
    cert, key = authority.issue(dns_names=tls_material.broker_names() if dns_names is None else dns_names,
                                not_before=now - datetime.timedelta(days=1), days=days)
    data = tls_material.secret_data(cert, key, authority)
    return tls_material.secret("kafka-tls", "kafka", data), data


def test_a_tls_secret_is_read_as_facts_and_its_fingerprint_reaches_the_plan():
    secret, data = tls_secret()
    run = Run(TLS, cluster={"Secret": [secret]})
    assert not run.result.get("failed"), run.result
    (read,) = [r for r in run.reads if r["kind"] == "Secret"]
    assert read["name"] == "kafka-tls" and read["namespace"] == "kafka" and read["summary"] == "tls_secret"
    assert len(run.result["plan"]["tls"]["fingerprint"]) == 32
    # Nothing of the Secret's content in what the preflight returns (the plan is printed, registered, cached).
    text = repr(run.result)
    for value in list(data.values()) + list(secret["data"].values()):
        for line in value.splitlines():
            if len(line) > 20:
                assert line not in text


def test_a_tls_secret_that_misses_a_name_or_does_not_exist_is_refused_before_any_write():
    secret = tls_secret(dns_names=["kafka-service-0"])[0]
    run = Run(TLS, cluster={"Secret": [secret]})
    assert run.result["failed"] and "do not cover kafka-service-0.kafka.svc.cluster.local" in run.result["msg"]
    run = Run(TLS)
    assert run.result["failed"] and "Secret kafka-tls in namespace kafka (kafka_broker_tls_secret) does not exist" \
        in run.result["msg"]
    # Check mode on a cluster without the namespace: the Secret cannot exist there either.
    run = Run(TLS, check_mode=True)
    assert run.result["failed"] and "does not exist" in run.result["msg"]


def test_status_and_teardown_hear_of_a_broken_tls_secret_without_being_stopped():
    secret = tls_secret(days=1)[0]  # valid from a day ago for a day: expired now
    run = Run(dict(TLS, kafka_preflight_check_tls=False), cluster={"Secret": [secret]})
    assert not run.result.get("failed"), run.result
    assert any("expired at" in w for w in run.result["warnings"]), run.result.get("warnings")
    assert Run(TLS, cluster={"Secret": [secret]}).result["failed"]


GENERATE = dict(TLS, kafka_broker_tls_generate=True)


def generated_pair(authority_annotations=None, secret_annotations=None, days=365):
    """The two Secrets kafka_broker_tls_generate keeps (the CA's and the brokers'), valid from a day ago."""
    import datetime  # pylint: disable=import-outside-toplevel
    from testbed_lib import tls_material  # pylint: disable=import-outside-toplevel
    now = datetime.datetime.now(datetime.timezone.utc)
    authority = tls_material.Authority(not_before=now - datetime.timedelta(days=1))
    cert, key = authority.issue(dns_names=tls_material.broker_names(), not_before=now - datetime.timedelta(days=1),
                                days=days)
    ca = tls_material.secret("kafka-tls-ca", "kafka", tls_material.ca_secret_data(authority),
                             authority_annotations or {"kafka-eks.cluster/generated": "certificate-authority"})
    tls_secret = tls_material.secret("kafka-tls", "kafka", tls_material.secret_data(cert, key, authority),
                                     secret_annotations or {"kafka-eks.cluster/generated": "broker-certificate"})
    return [ca, tls_secret]


def test_generation_on_an_empty_namespace_plans_both_secrets_and_reads_them_as_facts():
    run = Run(GENERATE)
    assert not run.result.get("failed"), run.result
    reads = dict((r["key"], r) for r in run.reads if r["kind"] == "Secret")
    assert reads["tls"]["summary"] == "tls_secret" and reads["tls_ca"]["summary"] == "ca_secret"
    assert reads["tls_ca"]["name"] == "kafka-tls-ca" and reads["tls_ca"]["namespace"] == "kafka"
    generate = run.result["plan"]["tls"]["generate"]
    assert (generate["ca"], generate["certificate"]) == ("create", "create")
    # Known once issued (the kafka_broker role renders the brokers again with it).
    assert run.result["plan"]["tls"]["fingerprint"] is None


def test_check_mode_on_a_new_namespace_previews_a_new_certificate_and_reads_nothing_inside_it():
    run = Run(GENERATE, check_mode=True)
    assert not run.result.get("failed"), run.result
    assert [r for r in run.reads if r["kind"] == "Secret"] == []
    generate = run.result["plan"]["tls"]["generate"]
    assert (generate["ca"], generate["certificate"]) == ("create", "create")
    assert run.result["plan"]["tls"]["fingerprint"] == "to-be-issued"


def test_the_pair_the_collection_made_is_kept_with_its_fingerprint_and_no_key_text():
    secrets = generated_pair()
    run = Run(GENERATE, cluster={"Secret": secrets})
    assert not run.result.get("failed"), run.result
    generate = run.result["plan"]["tls"]["generate"]
    assert (generate["ca"], generate["certificate"], generate["reasons"]) == ("keep", "keep", [])
    assert len(run.result["plan"]["tls"]["fingerprint"]) == 32
    text = repr(run.result)
    for obj in secrets:
        for value in obj["data"].values():
            assert value[:40] not in text and value[-60:-20] not in text


def test_a_certificate_near_its_end_is_reissued_and_its_digest_left_to_the_role():
    run = Run(GENERATE, cluster={"Secret": generated_pair(days=20)})
    assert not run.result.get("failed"), run.result
    generate = run.result["plan"]["tls"]["generate"]
    assert (generate["ca"], generate["certificate"]) == ("keep", "reissue")
    assert "within kafka_broker_tls_renew_days (30)" in generate["reasons"][0]
    assert run.result["plan"]["tls"]["fingerprint"] is None


def test_a_foreign_secret_of_that_name_is_refused_before_any_write():
    # cert-manager's Secret, or one made by hand: the same name, no mark of the collection's.
    foreign = tls_secret()[0]
    run = Run(GENERATE, cluster={"Secret": [foreign]})
    assert run.result["failed"] and "nothing was written" in run.result["msg"]
    assert "kafka_broker_tls_secret: Secret kafka-tls in namespace kafka exists, and the collection did not create it" \
        in run.result["msg"] and "kafka_broker_tls_generate=false" in run.result["msg"]
    assert "plan" not in run.result
    # status.yml and teardown.yml hear of it without being stopped.
    run = Run(dict(GENERATE, kafka_preflight_check_tls=False), cluster={"Secret": [foreign]})
    assert not run.result.get("failed") and any("did not create it" in w for w in run.result["warnings"])


def test_running_brokers_keep_their_inter_broker_protocol():
    running = [deployment(n) for n in range(4)]
    for item in running:
        item["spec"]["template"]["spec"]["containers"][0]["name"] = "broker"
        item["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "value": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"}]
    run = Run(TLS, cluster={"Secret": [tls_secret()[0]], "Deployment": running})
    assert run.result["failed"] and "kafka-broker-0 (PLAINTEXT)" in run.result["msg"], run.result
    # The client listener alone may change: it rolls.
    client_only = dict(TLS, kafka_broker_listener_security={"client": "ssl"})
    run = Run(client_only, cluster={"Secret": [tls_secret()[0]], "Deployment": running})
    assert not run.result.get("failed"), run.result


def test_the_controllers_statefulset_read_is_returned_for_the_migration_step():
    sets = [{"kind": "StatefulSet", "metadata": {"name": name, "labels": {}}, "spec": {"replicas": 3}}
            for name in ("zookeeper", "kafka-controller")]
    run = Run(cluster={"StatefulSet": sets})
    assert [s["metadata"]["name"] for s in run.result["controller_statefulsets"]] == ["kafka-controller"]
    assert Run().result["controller_statefulsets"] == []


SASL = {"kafka_broker_listener_security": {"client": "sasl_ssl", "internal": "sasl_ssl"},
        "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_admin_secret": "kafka-admin",
        "kafka_users": [{"name": "alice", "secret": "alice-password"}, {"name": "bob", "secret": "alice-password"}]}


def password_secret(name, data):
    import base64  # pylint: disable=import-outside-toplevel
    return {"kind": "Secret", "metadata": {"name": name, "namespace": "kafka"},
            "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def test_password_secrets_are_read_as_facts_once_each_and_no_password_leaves():
    secrets = [tls_secret()[0], password_secret("kafka-admin", {"password": "Admin-Pw-1"}),
               password_secret("alice-password", {"password": "Alice-Pw-1"})]
    running = [deployment(n) for n in range(2)]
    for item in running:
        item["spec"]["template"]["spec"]["containers"][0]["env"] = [
            {"name": "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "value": "CLIENT:SASL_SSL,INTERNAL:SASL_SSL"},
            {"name": "KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG",
             "value": 'x required username="kafka-admin" password="$(SCRAM_INTER_BROKER_PASSWORD)";'}]
    run = Run(SASL, cluster={"Secret": secrets, "Deployment": running})
    assert not run.result.get("failed"), run.result
    reads = [r for r in run.reads if r.get("summary") == "password_secret"]
    # alice and bob share a Secret: read once.
    assert [(r["name"], r["secret_key"]) for r in reads] == [("kafka-admin", "password"), ("alice-password", "password")]
    assert run.result["plan"]["sasl"]["running_users"] == ["kafka-admin"]
    text = repr(run.result)
    assert "Pw-1" not in text and "UHctMQ" not in text


def test_a_missing_password_secret_or_key_is_refused_before_any_write_naming_the_variable():
    run = Run(SASL, cluster={"Secret": [tls_secret()[0], password_secret("alice-password", {"pw": "x"})]})
    assert run.result["failed"], run.result
    assert "kafka_broker_admin_secret: Secret kafka-admin in namespace kafka does not exist" in run.result["msg"]
    assert "kafka_users (alice): Secret alice-password in namespace kafka has no key password" in run.result["msg"]
    bad = password_secret("kafka-admin", {"password": 'with "quote"'})
    run = Run(SASL, cluster={"Secret": [tls_secret()[0], bad, password_secret("alice-password", {"password": "a"})]})
    assert run.result["failed"] and "double quote" in run.result["msg"] and "quote\"" not in run.result["msg"]
    # status.yml and teardown.yml: said, not refused.
    run = Run(dict(SASL, kafka_preflight_check_tls=False), cluster={"Secret": [tls_secret()[0]]})
    assert not run.result.get("failed") and any("does not exist" in w for w in run.result["warnings"])


def test_a_missing_tls_secret_and_missing_password_secrets_are_said_in_one_run():
    run = Run(SASL)
    assert run.result["failed"]
    assert "The brokers' TLS Secret would not work; nothing was written. Secret kafka-tls" in run.result["msg"]
    assert "A password Secret would not work; nothing was written. kafka_broker_admin_secret: Secret kafka-admin" \
        in run.result["msg"]
    assert len(run.result["errors"]) == 3


def zookeeper_statefulset(sasl=False):
    env = [{"name": "ZOO_CFG_EXTRA", "value": zookeeper_auth.SASL_PROVIDER}] if sasl else []
    return {"metadata": {"name": "zookeeper", "generation": 1,
                         "annotations": {"kafka-eks.cluster/zookeeper-ensemble": "3"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "zookeeper", "image": "zookeeper:3.9.3", "env": env}]}}},
            "status": {"observedGeneration": 1, "replicas": 3, "readyReplicas": 3, "updatedReplicas": 3}}


AUTH_VARS = {"zookeeper_auth": "sasl", "zookeeper_auth_secret": "zk-auth"}
ZK_SECRET = {"metadata": {"name": "zk-auth"}, "data": {"password": "cHc="}}


def test_zookeeper_auth_on_an_open_running_cluster_is_staged_and_its_secret_checked_before_any_write():
    open_cluster = {"StatefulSet": [zookeeper_statefulset()], "Deployment": [deployment(n) for n in range(4)]}
    run = Run(AUTH_VARS, cluster=open_cluster)
    assert run.result["failed"] and "zookeeper_auth_secret: Secret zk-auth in namespace kafka does not exist" in (
        run.result["msg"]), run.result["msg"]
    run = Run(AUTH_VARS, cluster=dict(open_cluster, Secret=[ZK_SECRET]))
    auth = run.result["plan"]["zookeeper"]["auth"]
    assert (auth["step"], auth["server"], auth["login"], auth["set_acl"], auth["enforce"]) == (
        "server", True, True, False, False)
    assert "cHc=" not in repr(run.result) and "pw" not in repr(auth)
    # kazoo cannot log in before the servers accept SASL: the first step is refused with direct access.
    run = Run(dict(AUTH_VARS, kafka_zookeeper_access="direct", kafka_zookeeper_hosts=["zk:2181"]),
              cluster=dict(open_cluster, Secret=[ZK_SECRET]))
    assert run.result["failed"] and "kafka_zookeeper_access=exec" in run.result["msg"]


def test_turning_zookeeper_auth_off_is_refused_by_site_yml_and_said_by_status_and_teardown():
    secured = {"StatefulSet": [zookeeper_statefulset(sasl=True)], "Deployment": [deployment(n) for n in range(4)]}
    run = Run(cluster=secured)
    assert run.result["failed"] and "zookeeper_auth is 'none'" in run.result["msg"]
    run = Run({"kafka_preflight_check_tls": False}, cluster=secured)
    assert not run.result.get("failed") and any("zookeeper_auth is 'none'" in w for w in run.result["warnings"])
