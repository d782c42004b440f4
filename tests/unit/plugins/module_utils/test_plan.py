"""The plan: derived names and ids, and every input check (pure, no I/O)."""
import copy
import json
import os

import pytest
import yaml

from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import (
    PlanError,
    build_plan,
    property_to_env,
    schedulable_node_names,
)
from role_defaults import role_defaults

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture
def cfg():
    return copy.deepcopy(role_defaults())


def node(name, ready=True, unschedulable=False, taints=None, labels=None):
    return {
        "metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def errors_of(cfg, schedulable=None, nodes=None):
    with pytest.raises(PlanError) as info:
        build_plan(cfg, schedulable, nodes=nodes, argument_spec=SPEC)
    return info.value.errors


def test_defaults_are_the_seed_cluster_with_unique_ids(cfg):
    plan = build_plan(cfg)
    assert plan["broker_ids"] == [0, 1, 2, 3]
    assert [b["service"] for b in plan["brokers"]] == ["kafka-service-%d" % i for i in range(4)]
    assert [b["deployment"] for b in plan["brokers"]] == ["kafka-broker-%d" % i for i in range(4)]
    assert [b["pvc"] for b in plan["brokers"]] == ["kafka-data-%d" % i for i in range(4)]
    assert plan["bootstrap_servers"] == ",".join("kafka-service-%d:9092" % i for i in range(4))
    assert plan["zookeeper"]["replicas"] == 3
    assert plan["zookeeper"]["connect"] == "zk-cs:2181"
    assert plan["warnings"] == []


def test_listeners_are_advertised_under_the_brokers_own_service(cfg):
    broker = build_plan(cfg)["brokers"][2]
    props = broker["properties"]
    assert props["broker.id"] == "2"
    assert props["advertised.listeners"] == "PLAINTEXT://kafka-service-2:9092,INTERNAL://kafka-service-2:9093"
    assert props["listeners"] == "PLAINTEXT://:9092,INTERNAL://:9093"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert props["zookeeper.connect"] == "zk-cs:2181"
    assert props["auto.create.topics.enable"] == "false"
    assert props["log.dirs"] == "/var/lib/kafka/data"
    env = {e["name"]: e["value"] for e in broker["env"]}
    assert env["KAFKA_BROKER_ID"] == "2"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"


@pytest.mark.parametrize("prop, env", [
    ("broker.id", "KAFKA_BROKER_ID"),
    ("log.dirs", "KAFKA_LOG_DIRS"),
    ("confluent.support_metrics", "KAFKA_CONFLUENT_SUPPORT__METRICS"),
    ("listener.name.internal.ssl-key", "KAFKA_LISTENER_NAME_INTERNAL_SSL___KEY"),
])
def test_property_to_env_is_the_inverse_of_the_cp_kafka_rule(prop, env):
    assert property_to_env(prop) == env


def test_zookeeper_servers_use_the_headless_service_names(cfg):
    zk = build_plan(cfg)["zookeeper"]
    assert [s["host"] for s in zk["servers"]] == [
        "zookeeper-%d.zk-hs.kafka.svc.cluster.local" % i for i in range(3)]
    assert zk["zoo_servers"].split()[0] == "server.1=zookeeper-0.zk-hs.kafka.svc.cluster.local:2888:3888;2181"


def test_offset_and_seed_prefix(cfg):
    cfg.update(kafka_broker_id_offset=100, kafka_broker_service_prefix="kafka-service-test-")
    plan = build_plan(cfg)
    assert plan["broker_ids"] == [100, 101, 102, 103]
    assert plan["bootstrap_servers"].split(",")[3] == "kafka-service-test-3:9092"


@pytest.mark.parametrize("replicas", [0, 2, 4, 6])
def test_even_or_zero_zookeeper_is_refused(cfg, replicas):
    cfg["zookeeper_replicas"] = replicas
    errors = errors_of(cfg)
    assert len(errors) == 1 and errors[0].startswith("zookeeper_replicas:")
    assert "Fix:" in errors[0]


def test_even_message_explains_and_suggests_odd_numbers(cfg):
    cfg["zookeeper_replicas"] = 4
    (error,) = errors_of(cfg)
    assert "even" in error and "3 or 5" in error


def test_duplicate_broker_ids_are_refused(cfg):
    cfg["kafka_broker_ids"] = [0, 0, 0, 0]
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_broker_ids:") and "0 appear more than once" in error


def test_explicit_ids_must_match_the_count(cfg):
    cfg["kafka_broker_ids"] = [1, 2, 3]
    (error,) = errors_of(cfg)
    assert "lists 3 ids but kafka_broker_count is 4" in error


def test_explicit_unique_ids_are_kept(cfg):
    cfg["kafka_broker_ids"] = [7, 3, 5, 1]
    assert build_plan(cfg)["broker_ids"] == [7, 3, 5, 1]


def test_zero_brokers_refused(cfg):
    cfg["kafka_broker_count"] = 0
    errors = errors_of(cfg)
    assert any(e.startswith("kafka_broker_count:") for e in errors)


def test_replication_factor_above_broker_count_refused(cfg):
    cfg["kafka_broker_count"] = 2
    errors = errors_of(cfg)
    named = sorted(e.split(":")[0] for e in errors)
    assert named == ["kafka_broker_default_replication_factor", "kafka_broker_offsets_topic_replication_factor",
                     "kafka_broker_transaction_state_log_replication_factor"]
    assert all("only 2 brokers" in e for e in errors)


@pytest.mark.parametrize("isr_var, factor_var", [
    ("kafka_broker_transaction_state_log_min_isr", "kafka_broker_transaction_state_log_replication_factor"),
    ("kafka_broker_min_insync_replicas", "kafka_broker_default_replication_factor"),
])
def test_min_isr_not_below_replication_factor_refused(cfg, isr_var, factor_var):
    cfg[isr_var] = 3
    (error,) = errors_of(cfg)
    assert error.startswith(isr_var + ":") and factor_var in error


@pytest.mark.parametrize("variable, value", [
    ("kafka_namespace", "Kafka_NS"),
    ("kafka_broker_service_prefix", "Kafka.Service-"),
    ("kafka_broker_service_prefix", "9kafka-"),
    ("zookeeper_client_service_name", "zk_cs"),
    ("kafka_broker_deployment_prefix", "x" * 63 + "-"),
])
def test_invalid_names_refused(cfg, variable, value):
    cfg[variable] = value
    (error,) = errors_of(cfg)
    assert error.startswith(variable + ":") and "not a valid DNS label" in error


def test_derived_properties_cannot_be_overridden(cfg):
    cfg["kafka_broker_extra_config"] = {"broker.id": 0, "log.retention.hours": 168}
    (error,) = errors_of(cfg)
    assert "broker.id" in error and "kafka_broker_id_offset" in error


def test_extra_config_reaches_every_broker(cfg):
    cfg["kafka_broker_extra_config"] = {"log.retention.hours": 168, "delete.topic.enable": True}
    for broker in build_plan(cfg)["brokers"]:
        assert broker["properties"]["log.retention.hours"] == "168"
        assert broker["properties"]["delete.topic.enable"] == "true"


def test_all_errors_are_reported_at_once(cfg):
    cfg.update(zookeeper_replicas=2, kafka_broker_ids=[1, 1, 2, 3], kafka_namespace="Bad")
    assert len(errors_of(cfg)) == 3


def test_required_anti_affinity_on_two_nodes_is_refused_before_anything_is_created(cfg):
    cfg["zookeeper_anti_affinity"] = "required"
    (error,) = errors_of(cfg, ["node-a", "node-b"])
    assert error.startswith("zookeeper_anti_affinity:")
    assert "2 schedulable node(s) (node-a, node-b) for 3 ZooKeeper pods" in error
    assert "pod 3 would stay Pending" in error
    assert "zookeeper_anti_affinity=preferred" in error


def test_required_anti_affinity_on_three_nodes_passes(cfg):
    cfg["zookeeper_anti_affinity"] = "required"
    assert build_plan(cfg, ["a", "b", "c"])["warnings"] == []


def test_preferred_on_two_nodes_warns(cfg):
    (warning,) = build_plan(cfg, ["a", "b"])["warnings"]
    assert "share a node" in warning


def test_node_count_is_skipped_without_nodes(cfg):
    cfg["zookeeper_anti_affinity"] = "required"
    assert build_plan(cfg, None)["warnings"] == []


def test_schedulable_nodes_skip_unready_cordoned_and_tainted():
    nodes = [
        node("ok"),
        node("not-ready", ready=False),
        node("cordoned", unschedulable=True),
        node("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
        node("soft-taint", taints=[{"key": "x", "effect": "PreferNoSchedule"}]),
        node("other-pool", labels={"pool": "b"}),
    ]
    assert schedulable_node_names(nodes) == ["ok", "other-pool", "soft-taint"]
    assert schedulable_node_names(nodes, {"pool": "b"}) == ["other-pool"]
    tolerations = [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]
    assert "tainted" in schedulable_node_names(nodes, None, tolerations)
    assert "tainted" in schedulable_node_names(nodes, None, [{"operator": "Exists"}])
    assert "tainted" not in schedulable_node_names(nodes, None, [{"key": "dedicated", "value": "cpu"}])


def test_direct_access_needs_hosts(cfg):
    cfg["kafka_zookeeper_access"] = "direct"
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_zookeeper_hosts:")


# --- Trust no input (issue #9): every value is checked before it can reach a manifest ----------------------

def argument_spec_options():
    options = {}
    for role in ("preflight", "zookeeper", "kafka_broker"):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            options.update(yaml.safe_load(handle)["argument_specs"]["main"]["options"])
    return options


SPEC = argument_spec_options()


def plan_of(cfg, **kwargs):
    """The plan as the preflight builds it: with the roles' argument specs."""
    return build_plan(cfg, argument_spec=SPEC, **kwargs)


HOSTILE_YAML = "x\n  hostPath: /"
DIGEST = "sha256:" + "a" * 64

# (variable, value, words in its message). Each one alone makes the plan fail, naming the variable.
BAD_INPUTS = [
    # names: anchored with \Z, so a trailing newline is refused
    ("kafka_namespace", "kafka\n", "not a valid DNS label"),
    ("kafka_namespace", HOSTILE_YAML, "not a valid DNS label"),
    ("kafka_cluster_name", "kafka\n", "not a valid label value"),
    ("zookeeper_headless_service_name", "zk-hs\n", "not a valid DNS label"),
    ("kafka_broker_client_config_name", "kafka-client-config\n", "not a valid DNS label"),
    ("zookeeper_statefulset_name", "z" * 53, "longer than 52"),
    ("kafka_cluster_domain", "cluster.local\n", "not a valid DNS name"),
    ("kafka_cluster_domain", "cluster..local", "not a valid DNS name"),
    ("kafka_cluster_domain", "Cluster.Local", "not a valid DNS name"),
    # images
    ("kafka_broker_image", "confluentinc/cp-kafka:7.9.0\n  hostPath: /", "control character"),
    ("kafka_broker_image", "confluentinc/cp-kafka:7.9.0 --privileged", "not an image reference"),
    ("kafka_broker_image", "confluentinc/CP-Kafka:7.9.0", "not an image reference"),
    ("kafka_broker_image", "confluentinc/cp-kafka", "no tag or digest"),
    ("kafka_broker_image", "confluentinc/cp-kafka@sha256:abc", "not an image reference"),
    ("zookeeper_image", "zookeeper:3.9.3\t", "control character"),
    ("zookeeper_image", "", "empty"),
    ("zookeeper_image", "registry.k8s.io//zookeeper:1", "not an image reference"),
    ("zookeeper_image_pull_policy", "always", "must be one of"),
    # storage
    ("kafka_broker_storage_class", "gp3\n", "not a valid DNS name"),
    ("kafka_broker_storage_class", "GP3", "not a valid DNS name"),
    ("zookeeper_storage_class", "gp3 fast", "not a valid DNS name"),
    ("kafka_broker_storage_size", "0Gi", "larger than zero"),
    ("kafka_broker_storage_size", "10", "with a unit"),
    ("kafka_broker_storage_size", "10Gi\n", "with a unit"),
    ("zookeeper_storage_size", "-1Gi", "with a unit"),
    ("zookeeper_storage_size", "1m", "with a unit"),
    # paths
    ("kafka_broker_data_mount_path", "var/lib/kafka", "not absolute"),
    ("kafka_broker_data_mount_path", "/var/lib/../../etc", "'..' component"),
    ("kafka_broker_data_mount_path", "/var/lib/kafka\n  hostPath: /", "control character"),
    ("kafka_broker_data_mount_path", "   ", "non-empty"),
    ("kafka_broker_log_dirs", "/tmp/kafka", "not a subdirectory of kafka_broker_data_mount_path"),
    ("kafka_broker_log_dirs", "/var/lib/kafka", "not a subdirectory of kafka_broker_data_mount_path"),
    ("kafka_broker_log_dirs", "/var/lib/kafka/a,/tmp/b", "'/tmp/b' is not a subdirectory"),
    ("kafka_broker_log_dirs", "/var/lib/kafka/data/../../../tmp", "'..' component"),
    ("kafka_broker_log_dirs", "/var/lib/kafka/data\n", "one line"),
    # ids and counts
    ("kafka_broker_id_offset", 998, "reserved.broker.max.id (1000)"),
    ("kafka_broker_ids", [0, 1, 2, 1001], "1001 above Kafka's reserved.broker.max.id"),
    ("kafka_broker_ids", [0, 1, 2, 2 ** 31], "above Kafka's reserved.broker.max.id"),
    ("kafka_broker_ids", [0, 1, True, 3], "not an integer"),
    ("kafka_broker_count", 257, "kafka_broker_count_allow_large=true"),
    ("kafka_broker_count", True, "must be an integer"),
    ("kafka_broker_count", "4.5", "must be an integer"),
    ("kafka_broker_count_allow_large", "maybe", "must be a boolean"),
    ("kafka_broker_auto_create_topics_enable", "nope", "must be a boolean"),
    ("zookeeper_replicas", "three", "must be an integer"),
    ("zookeeper_client_port", "2181; id", "must be an integer"),
    ("zookeeper_snap_retain_count", 1, "at least 3"),
    ("kafka_broker_run_as_user", -1, "at least 0"),
    # heap against the memory limit
    ("kafka_broker_heap_opts", "-Xms2g -Xmx2g", "not below the container's memory limit"),
    ("kafka_broker_heap_opts", "-Xmx1g -Xmx4096m", "not below the container's memory limit"),
    ("kafka_broker_heap_opts", "-Xmx1g\n  hostPath: /", "control character"),
    ("zookeeper_heap_mb", 1024, "not below the container's memory limit"),
    # the free-form broker properties
    ("kafka_broker_extra_config", {" Broker_ID ": 5}, "derives for every broker"),
    ("kafka_broker_extra_config", {"LISTENERS": "PLAINTEXT://:1"}, "derives for every broker"),
    ("kafka_broker_extra_config", {"zookeeper_connect": "evil:2181"}, "derives for every broker"),
    ("kafka_broker_extra_config", {"log.dir": "/tmp"}, "derives for every broker"),
    ("kafka_broker_extra_config", {"opts": "-javaagent:/x.jar"}, "JVM or start-script setting"),
    ("kafka_broker_extra_config", {"KAFKA.HEAP.OPTS".lower()[6:]: "-Xmx9g"}, "JVM or start-script setting"),
    ("kafka_broker_extra_config", {"log.retention.hours": "1\n  hostPath: /"}, "one line of text"),
    ("kafka_broker_extra_config", {"log.retention.hours": {"a": 1}}, "one line of text"),
    ("kafka_broker_extra_config", {"log.retention.hours": None}, "one line of text"),
    ("kafka_broker_extra_config", {"log retention": 1}, "not a broker property name"),
    ("kafka_broker_extra_config", {"a.b\n": 1}, "not a broker property name"),
    ("kafka_broker_extra_config", {"Log.Retention.Hours": 1, "log.retention.hours": 2}, "the same property"),
    ("kafka_broker_extra_config", {"reserved.broker.max.id": "lots"}, "not an integer from 0 to"),
    ("kafka_broker_extra_config", {"reserved.broker.max.id": 2 ** 31}, "not an integer from 0 to"),
    ("kafka_broker_extra_config", "log.retention.hours", "must be a mapping"),
    # maps and lists that land in the pod spec
    ("kafka_broker_node_selector", {"pool": "a\n  hostPath: /"}, "not a node label"),
    ("kafka_broker_node_selector", {"pool": 1}, "not a node label"),
    ("kafka_broker_node_selector", {"pool": {"x": "y"}}, "not a node label"),
    ("zookeeper_node_selector", {"bad key": "x"}, "not a node label"),
    ("zookeeper_node_selector", ["pool=a"], "must be a mapping"),
    ("kafka_broker_tolerations", [{"key": "a", "operator": "Exists", "hostPath": "/"}], "unknown fields hostPath"),
    ("kafka_broker_tolerations", [{"key": "a", "operator": "Equal", "value": "x\ny"}], "not a label value"),
    ("kafka_broker_tolerations", [{"key": "a", "operator": "Sometimes"}], "operator"),
    ("zookeeper_tolerations", [{"operator": "Equal", "value": "x"}], "needs operator Exists"),
    ("zookeeper_tolerations", [{"key": "a", "effect": "Always"}], "effect"),
    ("zookeeper_tolerations", ["dedicated"], "not a mapping"),
    ("kafka_broker_resources", {"requests": {"cpu": "1"}, "volumes": [{"hostPath": "/"}]}, "only requests and limits"),
    ("kafka_broker_resources", {"limits": {"memory": "2Gi\n  hostPath: /"}}, "non-negative Kubernetes quantity"),
    ("kafka_broker_resources", {"limits": {"memory": "-2Gi"}}, "non-negative Kubernetes quantity"),
    ("zookeeper_resources", {"limits": "1Gi"}, "must be a mapping of resource name"),
    ("zookeeper_resources", {"limits": {"bad name!": "1"}}, "non-negative Kubernetes quantity"),
    ("kafka_zookeeper_hosts", ["zk-0:2181\nx"], "not host:port"),
]


@pytest.mark.parametrize("variable, value, words", BAD_INPUTS, ids=["%s-%d" % (b[0], i) for i, b in enumerate(BAD_INPUTS)])
def test_bad_input_is_refused_naming_the_variable_and_the_fix(cfg, variable, value, words):
    cfg[variable] = value
    errors = errors_of(cfg)
    named = [e for e in errors if e.startswith(variable + ":")]
    assert named, errors
    assert any(words in e for e in named), named
    assert all("Fix:" in e for e in errors)


# Checked against another variable, which is itself bad in the run below (the mount path, the memory limits,
# the override, the broker count): they cannot be judged then, and are not reported.
DEPENDENT = {"kafka_broker_log_dirs", "kafka_broker_heap_opts", "zookeeper_heap_mb", "kafka_broker_count",
             "kafka_broker_id_offset"}


def test_every_bad_input_is_reported_in_one_run(cfg):
    """build_plan collects every error: one render run can show them all."""
    expected = {}
    for variable, value, _words in BAD_INPUTS:
        if variable not in expected and variable not in DEPENDENT:
            expected[variable] = value
    cfg.update(expected)
    named = {e.split(":", 1)[0] for e in errors_of(cfg)}
    assert set(expected) <= named


def test_the_unit_matters_not_the_spelling_of_the_limit(cfg):
    cfg["kafka_broker_resources"] = {"limits": {"memory": "2147483648"}}
    cfg["kafka_broker_heap_opts"] = "-Xmx2g"
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_broker_heap_opts:")
    cfg["kafka_broker_heap_opts"] = "-Xmx2047m"
    plan_of(cfg)


def test_reserved_broker_max_id_can_be_raised(cfg):
    cfg["kafka_broker_id_offset"] = 5000
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_broker_id_offset:")
    cfg["kafka_broker_extra_config"] = {"Reserved_Broker_Max_Id": 10000}
    assert plan_of(cfg)["broker_ids"] == [5000, 5001, 5002, 5003]


def test_a_large_cluster_needs_the_explicit_override(cfg):
    cfg.update(kafka_broker_count=300, kafka_broker_count_allow_large=True)
    assert len(plan_of(cfg)["brokers"]) == 300
    cfg["kafka_broker_count_allow_large"] = "false"
    assert errors_of(cfg)[0].startswith("kafka_broker_count:")


@pytest.mark.parametrize("image", [
    "zookeeper:3.9.3", "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "localhost:5000/team/kafka:7.9.0",
    "confluentinc/cp-kafka:7.9.0@" + DIGEST, "confluentinc/cp-kafka@" + DIGEST, "my_org/zk__x:v1.2_rc-3",
])
def test_valid_image_references_are_kept(cfg, image):
    cfg["zookeeper_image"] = image
    assert plan_of(cfg)["settings"]["zookeeper_image"] == image


def test_valid_maps_and_paths_pass_and_reach_the_settings(cfg):
    cfg.update(
        kafka_broker_node_selector={"kubernetes.io/os": "linux", "pool": "kafka"},
        kafka_broker_tolerations=[{"key": "dedicated", "operator": "Equal", "value": "kafka", "effect": "NoSchedule"},
                                  {"operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        kafka_broker_resources={"requests": {"cpu": 0.5, "memory": "2Gi"}, "limits": {"memory": "3Gi", "cpu": 2}},
        kafka_broker_data_mount_path="/kafka/", kafka_broker_log_dirs="/kafka/a, /kafka/b",
        kafka_broker_storage_class="ebs.csi.aws.com-gp3", kafka_cluster_domain="cluster.example.com",
        kafka_broker_extra_config={" Log.Retention.Hours ": 168, "confluent.support_metrics": "false"},
    )
    plan = plan_of(cfg)
    assert plan["settings"]["kafka_broker_node_selector"] == {"kubernetes.io/os": "linux", "pool": "kafka"}
    props = plan["brokers"][0]["properties"]
    assert props["log.retention.hours"] == "168" and props["confluent.support_metrics"] == "false"
    assert plan["zookeeper"]["servers"][0]["host"].endswith(".svc.cluster.example.com")


# AWX survey answers and -e key=value arrive as strings: accepted where Ansible's conversion accepts them.
AWX_STRINGS = [
    ("kafka_broker_count", "5", 5),
    ("zookeeper_replicas", " 5 ", 5),
    ("kafka_broker_client_port", "19092", 19092),
    ("zookeeper_heap_mb", "256", 256),
    ("kafka_broker_auto_create_topics_enable", "yes", True),
    ("kafka_broker_auto_create_topics_enable", "false", False),
    ("kafka_broker_auto_create_topics_enable", "0", False),
    ("kafka_broker_count_allow_large", "on", True),
    ("kafka_broker_ids", "3,1,2,0", [3, 1, 2, 0]),
    ("kafka_broker_ids", ["3", "1", "2", "0"], [3, 1, 2, 0]),
    ("kafka_broker_node_selector", '{"pool": "kafka"}', {"pool": "kafka"}),
    ("kafka_broker_node_selector", "pool=kafka", {"pool": "kafka"}),
    ("zookeeper_tolerations", '[{"operator": "Exists"}]', None),
    ("kafka_broker_extra_config", '{"log.retention.hours": "100"}', {"log.retention.hours": "100"}),
]


@pytest.mark.parametrize("variable, answer, converted", AWX_STRINGS)
def test_survey_strings_are_converted_like_ansible_does(cfg, variable, answer, converted):
    cfg[variable] = answer
    if variable == "zookeeper_tolerations":  # a JSON list is not one of Ansible's list forms
        assert errors_of(cfg)[0].startswith(variable + ":")
        return
    plan = plan_of(cfg)
    if variable in plan["settings"]:
        assert plan["settings"][variable] == converted
    ported = {
        "kafka_broker_count": lambda: len(plan["brokers"]),
        "zookeeper_replicas": lambda: plan["zookeeper"]["replicas"],
        "kafka_broker_client_port": lambda: plan["brokers"][0]["address"].rsplit(":", 1)[1] and int(
            plan["brokers"][0]["address"].rsplit(":", 1)[1]),
        "kafka_broker_auto_create_topics_enable": lambda: plan["brokers"][0]["properties"][
            "auto.create.topics.enable"] == "true",
        "kafka_broker_count_allow_large": lambda: True,
        "kafka_broker_ids": lambda: plan["broker_ids"],
        "kafka_broker_extra_config": lambda: {"log.retention.hours": plan["brokers"][0]["properties"][
            "log.retention.hours"]},
    }
    if variable in ported:
        assert ported[variable]() == converted


def test_a_survey_string_false_is_false_not_a_truthy_string(cfg):
    """Before the plan converted strings, "false" was a non-empty string and turned the property on."""
    cfg["kafka_broker_auto_create_topics_enable"] = "false"
    assert plan_of(cfg)["brokers"][0]["properties"]["auto.create.topics.enable"] == "false"


def test_the_settings_hold_no_credential(cfg):
    cfg["kafka_k8s_api_key"] = "sentinel-token"
    assert "sentinel-token" not in repr(plan_of(cfg))


def test_nodes_are_matched_with_the_converted_node_selector(cfg):
    cfg.update(zookeeper_anti_affinity="required", zookeeper_node_selector="pool=zk")
    nodes = [node("a", labels={"pool": "zk"}), node("b", labels={"pool": "zk"}), node("c", labels={"pool": "x"})]
    (error,) = errors_of(cfg, nodes=nodes)
    assert "2 schedulable node(s) (a, b)" in error
    nodes.append(node("d", labels={"pool": "zk"}))
    assert plan_of(cfg, nodes=nodes)["schedulable_nodes"] == ["a", "b", "d"]


# --- Zones (issue 14): broker N in zone N mod Z with broker.rack, ZooKeeper and the controllers spread ----------

ZONE = "topology.kubernetes.io/zone"


def zoned(name, zone, **kwargs):
    labels = dict(kwargs.pop("labels", {}), **{"kubernetes.io/hostname": name})
    if zone is not None:
        labels[ZONE] = zone
    return node(name, labels=labels, **kwargs)


def three_zones():
    return [zoned("n1", "zb"), zoned("n2", "za"), zoned("n3", "zc"), zoned("n4", "za"), zoned("bare", None)]


def zones_of(plan):
    return [b["zone"] for b in plan["brokers"]]


def test_zones_come_from_the_schedulable_nodes_sorted_and_brokers_take_them_in_turn(cfg):
    plan = plan_of(cfg, nodes=three_zones())
    assert plan["zones"]["enabled"] and plan["zones"]["source"] == "nodes"
    assert plan["zones"]["names"] == ["za", "zb", "zc"]
    assert zones_of(plan) == ["za", "zb", "zc", "za"]
    for broker in plan["brokers"]:
        assert broker["properties"]["broker.rack"] == broker["zone"]
        assert {"name": "KAFKA_BROKER_RACK", "value": broker["zone"]} in broker["env"]
    assert plan["zones"]["when_unsatisfiable"] == "ScheduleAnyway" and plan["zones"]["max_skew"] == 1


def test_nodes_the_brokers_do_not_belong_on_do_not_bring_their_zone_cordoned_ones_keep_it(cfg):
    cordoned_taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    unreachable_taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    nodes = [zoned("a", "za"), zoned("b", "zb"),
             zoned("cordoned", "zc", unschedulable=True, taints=[cordoned_taint]),
             zoned("down", "zd", ready=False, taints=[unreachable_taint]),
             zoned("gpu", "ze", taints=[{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]),
             zoned("soft", "zf", taints=[{"key": "x", "effect": "PreferNoSchedule"}])]
    plan = plan_of(cfg, nodes=nodes)
    # A cordoned or failing node is one of the brokers' nodes for the moment it is out (a node group upgrade): its
    # zone stays, so running brokers keep their zones; that no broker can be scheduled there now is said.
    assert plan["zones"]["names"] == ["za", "zb", "zc", "zd", "zf"]
    assert [w.split(" has ")[0] for w in plan["warnings"] if "no node a broker can be scheduled on now" in w] == [
        "zone zc", "zone zd"]
    # The brokers' own tolerations and node selector decide which nodes (and zones) count for them.
    cfg["kafka_broker_tolerations"] = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert plan_of(cfg, nodes=nodes)["zones"]["names"] == ["za", "zb", "zc", "zd", "ze", "zf"]
    cfg["kafka_broker_node_selector"] = {"pool": "kafka"}
    nodes = [zoned("a", "za", labels={"pool": "kafka"}), zoned("b", "zb", labels={"pool": "kafka"}),
             zoned("c", "zc", labels={"pool": "other"})]
    assert plan_of(cfg, nodes=nodes)["zones"]["names"] == ["za", "zb"]


@pytest.mark.parametrize("nodes", [
    [zoned("a", "za"), zoned("b", "za"), zoned("c", "za")],
    [zoned("a", None), zoned("b", None), zoned("c", None)],
], ids=["one-zone", "no-labels"])
def test_one_zone_or_none_leaves_zone_awareness_off(cfg, nodes):
    plan = plan_of(cfg, nodes=nodes)
    assert not plan["zones"]["enabled"]
    assert zones_of(plan) == [None] * 4
    assert all("broker.rack" not in b["properties"] for b in plan["brokers"])


def test_kafka_zones_win_over_the_nodes_and_keep_their_order(cfg):
    cfg["kafka_zones"] = ["zc", "za"]
    plan = plan_of(cfg, nodes=three_zones())
    assert plan["zones"]["source"] == "kafka_zones" and plan["zones"]["names"] == ["zc", "za"]
    assert zones_of(plan) == ["zc", "za", "zc", "za"]


def test_without_nodes_the_zones_come_from_kafka_zones_only(cfg):
    assert not plan_of(cfg)["zones"]["enabled"]
    cfg["kafka_zones"] = "za,zb,zc"  # a survey answer
    plan = plan_of(cfg)
    assert plan["zones"]["enabled"] and zones_of(plan) == ["za", "zb", "zc", "za"]


@pytest.mark.parametrize("value", ["off", False, "False"])
def test_zone_awareness_off_turns_everything_off(cfg, value):
    cfg.update(kafka_zone_awareness=value, kafka_zones=["za", "zb", "zc"],
               kafka_broker_extra_config={"broker.rack": "mine"})
    plan = plan_of(cfg, nodes=three_zones())
    assert not plan["zones"]["enabled"] and plan["zones"]["awareness"] == "off"
    # Off: broker.rack is the user's to set, as before.
    assert [b["properties"]["broker.rack"] for b in plan["brokers"]] == ["mine"] * 4


def test_an_unknown_zone_awareness_is_refused(cfg):
    cfg["kafka_zone_awareness"] = "on"
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_zone_awareness:") and "auto, off" in error


def test_a_listed_zone_no_node_of_the_brokers_has_is_refused(cfg):
    cfg["kafka_zones"] = ["za", "zq", "zb"]
    nodes = three_zones() + [zoned("gpu", "zq", taints=[{"key": "gpu", "effect": "NoSchedule"}])]
    (error,) = errors_of(cfg, nodes=nodes)
    assert error.startswith("kafka_zones:") and "'zq'" in error and "their zones: za, zb, zc" in error
    assert "stay Pending" in error and "Fix: list only zones with nodes the brokers can use" in error
    # Without the nodes (render.yml) nothing can be checked against them.
    assert zones_of(plan_of(cfg)) == ["za", "zq", "zb", "za"]


def test_a_listed_zone_whose_nodes_are_all_cordoned_is_kept_and_said(cfg):
    cfg["kafka_zones"] = ["za", "zq", "zb"]
    plan = plan_of(cfg, nodes=three_zones() + [zoned("cordoned", "zq", unschedulable=True)])
    assert zones_of(plan) == ["za", "zq", "zb", "za"]
    assert any(w.startswith("zone zq has no node a broker can be scheduled on now") for w in plan["warnings"])


def test_a_single_listed_zone_warns_that_zone_awareness_stays_off(cfg):
    cfg["kafka_zones"] = ["za"]
    plan = plan_of(cfg)
    assert not plan["zones"]["enabled"]
    assert any("one zone (za)" in w for w in plan["warnings"])


@pytest.mark.parametrize("zones, words", [
    (["za", "eu west 1"], "'eu west 1' is not a zone name"),
    (["za", ""], "'' is not a zone name"),
    (["-za", "zb"], "'-za' is not a zone name"),
    (["z" * 64, "zb"], "is not a zone name"),
    (["za\n", "zb"], "is not a zone name"),
    (["za", "zb", "za"], "lists 'za' more than once"),
])
def test_kafka_zones_must_be_distinct_label_values(cfg, zones, words):
    cfg["kafka_zones"] = zones
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_zones:") and words in error and "Fix:" in error


@pytest.mark.parametrize("key", ["broker.rack", " Broker_Rack "])
def test_broker_rack_by_hand_is_refused_while_zones_are_on(cfg, key):
    cfg.update(kafka_zones=["za", "zb"], kafka_broker_extra_config={key: "r1"})
    (error,) = errors_of(cfg)
    assert error.startswith("kafka_broker_extra_config:") and "zone awareness is on" in error
    assert "kafka_zone_awareness=off" in error


def per_zone(**counts):
    return [zoned("%s-%d" % (zone, i), zone) for zone, count in sorted(counts.items()) for i in range(count)]


@pytest.mark.parametrize("replicas, counts", [
    (3, {"za": 2, "zb": 1}),            # 2 + 1: maxSkew 1 holds
    (3, {"za": 1, "zb": 1, "zc": 1}),
    (3, {"za": 1, "zb": 1, "zc": 1, "zd": 1}),
    (3, {"za": 1, "zb": 5}),            # 1 + 2
    (5, {"za": 2, "zb": 2, "zc": 1}),
    (5, {"za": 3, "zb": 2}),
])
def test_a_required_zookeeper_spread_that_can_be_scheduled_passes(cfg, replicas, counts):
    cfg.update(zookeeper_anti_affinity="required", zookeeper_replicas=replicas)
    plan = plan_of(cfg, nodes=per_zone(**counts))
    assert plan["zones"]["enabled"] and plan["zones"]["when_unsatisfiable"] == "DoNotSchedule"


@pytest.mark.parametrize("replicas, counts, words", [
    (3, {"za": 2, "zb": 0, "zc": 1}, None),  # zb has no node: not a domain, 2 + 1 holds
    (5, {"za": 4, "zb": 1}, "need 2 node(s) in every zone and 3 in 1 of them"),
    (5, {"za": 1, "zb": 1, "zc": 3}, "need 1 node(s) in every zone and 2 in 2 of them"),
    (7, {"za": 3, "zb": 3, "zc": 1}, "need 2 node(s) in every zone and 3 in 1 of them"),
])
def test_a_required_zookeeper_spread_that_cannot_be_scheduled_is_refused(cfg, replicas, counts, words):
    cfg.update(zookeeper_anti_affinity="required", zookeeper_replicas=replicas)
    nodes = per_zone(**counts)
    if words is None:
        assert plan_of(cfg, nodes=nodes)["zones"]["enabled"]
        return
    (error,) = errors_of(cfg, nodes=nodes)
    assert error.startswith("zookeeper_anti_affinity:") and words in error and "stay Pending" in error
    assert "zookeeper_anti_affinity=preferred" in error and "kafka_zone_awareness=off" in error
    # preferred spreads with ScheduleAnyway: nothing to refuse.
    cfg["zookeeper_anti_affinity"] = "preferred"
    assert plan_of(cfg, nodes=nodes)["zones"]["when_unsatisfiable"] == "ScheduleAnyway"


def test_the_refusal_names_the_zone_short_of_nodes(cfg):
    cfg.update(zookeeper_anti_affinity="required", zookeeper_replicas=5)
    (error,) = errors_of(cfg, nodes=per_zone(za=4, zb=1))
    assert "per zone are: za 4, zb 1" in error and "add nodes in zone(s) zb" in error


def test_zookeeper_nodes_without_a_zone_label_cannot_hold_a_required_spread(cfg):
    cfg.update(zookeeper_anti_affinity="required", zookeeper_node_selector={"pool": "zk"})
    nodes = per_zone(za=2, zb=2) + [zoned("zk-%d" % i, None, labels={"pool": "zk"}) for i in range(3)]
    (error,) = errors_of(cfg, nodes=nodes)
    assert error.startswith("zookeeper_anti_affinity:") and "has a topology.kubernetes.io/zone label" in error


def test_too_few_nodes_is_one_refusal_not_two(cfg):
    cfg.update(zookeeper_anti_affinity="required")
    (error,) = errors_of(cfg, nodes=per_zone(za=1, zb=1))
    assert "2 schedulable node(s)" in error


# External access (kafka_broker_external_access): one Service per broker and an EXTERNAL listener.

def lb_service(name, ip=None, hostname=None, kind="LoadBalancer"):
    ingress = [dict((k, v) for k, v in (("ip", ip), ("hostname", hostname)) if v)] if (ip or hostname) else []
    return {"metadata": {"name": name}, "spec": {"type": kind}, "status": {"loadBalancer": {"ingress": ingress}}}


def test_without_external_access_nothing_external_is_planned(cfg):
    plan = build_plan(cfg)
    assert plan["external"] == {"mode": "none", "services": [], "pending": [], "bootstrap_servers": None}
    for broker in plan["brokers"]:
        assert broker["external"] is None and broker["field_env"] == []
        assert "EXTERNAL" not in broker["properties"]["listeners"]


def test_loadbalancer_without_addresses_plans_the_services_and_advertises_nothing_external_yet(cfg):
    cfg["kafka_broker_external_access"] = "loadbalancer"
    plan = build_plan(cfg)
    assert plan["external"]["services"] == ["kafka-external-%d" % i for i in range(4)]
    assert plan["external"]["pending"] == plan["external"]["services"]
    assert plan["external"]["bootstrap_servers"] is None
    broker = plan["brokers"][1]
    assert broker["external"]["type"] == "LoadBalancer" and broker["external"]["advertised"] is None
    assert broker["properties"]["advertised.listeners"] == "PLAINTEXT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093"


def test_loadbalancer_addresses_are_advertised_per_broker_and_published_for_clients(cfg):
    cfg["kafka_broker_external_access"] = "loadbalancer"
    addresses = {"kafka-external-0": "10.1.0.5", "kafka-external-1": "nlb-1.elb.amazonaws.com",
                 "kafka-external-2": "10.1.0.7", "kafka-external-3": "10.1.0.8"}
    plan = build_plan(cfg, external_addresses=addresses)
    props = plan["brokers"][1]["properties"]
    assert props["listeners"] == "PLAINTEXT://:9092,INTERNAL://:9093,EXTERNAL://:9094"
    assert props["advertised.listeners"] == ("PLAINTEXT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093,"
                                             "EXTERNAL://nlb-1.elb.amazonaws.com:9094")
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT"
    assert props["inter.broker.listener.name"] == "INTERNAL"
    assert plan["external"]["pending"] == []
    assert plan["external"]["bootstrap_servers"] == ("10.1.0.5:9094,nlb-1.elb.amazonaws.com:9094,10.1.0.7:9094,"
                                                     "10.1.0.8:9094")


def test_one_missing_address_keeps_only_that_broker_unadvertised_and_publishes_no_bootstrap(cfg):
    cfg["kafka_broker_external_access"] = "loadbalancer"
    plan = build_plan(cfg, external_addresses={"kafka-external-0": "10.1.0.5", "kafka-external-2": "10.1.0.7",
                                               "kafka-external-3": "10.1.0.8"})
    assert plan["external"]["pending"] == ["kafka-external-1"]
    assert plan["external"]["bootstrap_servers"] is None
    assert "EXTERNAL://10.1.0.5:9094" in plan["brokers"][0]["properties"]["advertised.listeners"]
    assert "EXTERNAL" not in plan["brokers"][1]["properties"]["advertised.listeners"]


@pytest.mark.parametrize("service, address", [
    (lb_service("s", ip="10.0.0.1"), "10.0.0.1"),
    (lb_service("s", hostname="a.elb.amazonaws.com", ip="10.0.0.1"), "a.elb.amazonaws.com"),
    (lb_service("s"), None),
    (lb_service("s", ip="10.0.0.1", kind="ClusterIP"), None),  # a same-named Service of another type
    ({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}}, None),  # no status at all
    ({"metadata": {"name": "s"}, "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {"ingress": [{}]}}},
     None),
])
def test_load_balancer_address_reads_the_ingress_of_a_load_balancer_only(service, address):
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import load_balancer_address
    assert load_balancer_address(service) == address


def test_nodeport_advertises_the_nodes_address_through_the_downward_api(cfg):
    cfg["kafka_broker_external_access"] = "nodeport"
    plan = build_plan(cfg)
    broker = plan["brokers"][2]
    assert broker["field_env"] == [{"name": "KAFKA_EXTERNAL_HOST", "field_path": "status.hostIP"}]
    assert broker["external"]["node_port"] == 31092 and broker["external"]["type"] == "NodePort"
    assert broker["properties"]["advertised.listeners"].endswith(",EXTERNAL://$(KAFKA_EXTERNAL_HOST):31092")
    assert plan["external"]["pending"] == [] and plan["external"]["bootstrap_servers"] is None


@pytest.mark.parametrize("changes, variable, words", [
    ({"kafka_broker_external_access": "ingress"}, "kafka_broker_external_access", "must be one of"),
    ({"kafka_broker_external_access": "loadbalancer", "kafka_broker_external_port": 9093},
     "kafka_broker_external_port", "also used by kafka_broker_internal_port"),
    ({"kafka_broker_external_access": "loadbalancer", "kafka_broker_external_service_prefix": "kafka-service-"},
     "kafka_broker_external_service_prefix", "would replace the brokers' own"),
    ({"kafka_broker_external_access": "loadbalancer", "kafka_broker_external_service_prefix": "Ext_"},
     "kafka_broker_external_service_prefix", "not a valid DNS label"),
    ({"kafka_broker_external_access": "loadbalancer",
      "kafka_broker_external_service_annotations": {"bad key!": "x"}},
     "kafka_broker_external_service_annotations", "not an annotation key"),
    ({"kafka_broker_external_access": "loadbalancer",
      "kafka_broker_external_service_annotations": {"a.b/c": "x\ny"}},
     "kafka_broker_external_service_annotations", "without control characters"),
    ({"kafka_broker_external_access": "loadbalancer",
      "kafka_broker_external_service_annotations": {"a.b/c": True}},
     "kafka_broker_external_service_annotations", "quote"),
    ({"kafka_broker_external_access": "nodeport", "kafka_broker_external_node_port_base": 32766},
     "kafka_broker_external_node_port_base", "past 32767"),
    ({"kafka_broker_external_access": "nodeport", "kafka_broker_external_node_port_base": 8080},
     "kafka_broker_external_node_port_base", "30000"),
])
def test_bad_external_access_input_names_the_variable_and_the_fix(cfg, changes, variable, words):
    cfg.update(changes)
    errors = errors_of(cfg)
    assert any(variable in e and words in e and "Fix:" in e for e in errors), errors


def test_external_settings_are_ignored_without_external_access(cfg):
    cfg.update(kafka_broker_external_port=9093, kafka_broker_external_service_prefix="kafka-service-")
    assert build_plan(cfg)["external"]["mode"] == "none"


def test_cordoning_the_only_node_of_a_zone_keeps_every_broker_in_its_zone(cfg):
    nodes = [zoned("a", "za"), zoned("b", "zb"), zoned("c", "zc")]
    before = [b["zone"] for b in plan_of(cfg, nodes=nodes)["brokers"]]
    nodes[2] = zoned("c", "zc", unschedulable=True)
    plan = plan_of(cfg, nodes=nodes)
    assert [b["zone"] for b in plan["brokers"]] == before == ["za", "zb", "zc", "za"]
    assert any(w.startswith("zone zc has no node a broker can be scheduled on now") for w in plan["warnings"])


def test_tls_listeners_read_the_secret_files_with_kafkas_pem_support(cfg):
    cfg.update(kafka_broker_listener_security={"client": "ssl", "internal": "ssl", "external": "ssl"},
               kafka_broker_tls_secret="kafka-tls")
    plan = plan_of(cfg)
    props = plan["brokers"][1]["properties"]
    # The client listener is named CLIENT once it is not plaintext; no name says SSL:// (the image would then ask
    # for Java key stores).
    assert props["listeners"] == "CLIENT://:9092,INTERNAL://:9093"
    assert props["advertised.listeners"] == "CLIENT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093"
    assert props["listener.security.protocol.map"] == "CLIENT:SSL,INTERNAL:SSL"
    assert "SSL://" not in props["advertised.listeners"]
    assert props["ssl.keystore.type"] == "PEM" and props["ssl.keystore.location"] == "/etc/kafka/tls/tls-combined.pem"
    assert props["ssl.truststore.type"] == "PEM" and props["ssl.truststore.location"] == "/etc/kafka/tls/ca.crt"
    assert not any("password" in k for k in props)
    # No external access: nothing to secure there.
    assert plan["tls"]["listeners"] == {"client": "ssl", "internal": "ssl", "external": "plaintext"}
    assert plan["tls"]["names"][:4] == ["kafka-service-0", "kafka-service-0.kafka.svc.cluster.local",
                                        "kafka-service-1", "kafka-service-1.kafka.svc.cluster.local"]
    assert plan["tls"]["secret"] == "kafka-tls" and plan["tls"]["fingerprint"] is None


def test_plaintext_stays_the_seeds_listeners_and_mounts_nothing(cfg):
    plan = plan_of(cfg)
    assert plan["tls"]["enabled"] is False and plan["tls"]["names"] == [] and plan["tls"]["secret"] is None
    assert plan["brokers"][0]["properties"]["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"
    assert not any(k.startswith("ssl.") for k in plan["brokers"][0]["properties"])


def test_an_external_tls_listener_needs_its_load_balancer_names_covered(cfg):
    cfg.update(kafka_broker_listener_security={"client": "plaintext", "internal": "plaintext", "external": "ssl"},
               kafka_broker_tls_secret="kafka-tls", kafka_broker_external_access="loadbalancer")
    plan = plan_of(cfg, external_addresses={"kafka-external-0": "a.elb.example", "kafka-external-1": "127.20.255.2"})
    assert plan["tls"]["names"] == ["a.elb.example", "127.20.255.2"]
    props = plan["brokers"][0]["properties"]
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:SSL"
    assert props["ssl.keystore.type"] == "PEM"


@pytest.mark.parametrize("update, variable, words", [
    ({"kafka_broker_listener_security": {"client": "ssl"}}, "kafka_broker_tls_secret", "is empty"),
    ({"kafka_broker_listener_security": {"client": "ssl"}, "kafka_broker_tls_secret": "tls\n  hostPath: /"},
     "kafka_broker_tls_secret", "not a valid DNS name"),
    ({"kafka_broker_listener_security": {"client": "tls"}}, "kafka_broker_listener_security", "client: must be one of"),
    ({"kafka_broker_listener_security": {"client": "ssl", "replication": "ssl"}, "kafka_broker_tls_secret": "t"},
     "kafka_broker_listener_security", "has no listener replication"),
    ({"kafka_broker_listener_security": ["ssl"]}, "kafka_broker_listener_security", "must be a mapping"),
    ({"kafka_broker_listener_security": {"internal": "ssl"}, "kafka_broker_tls_secret": "t",
      "kafka_metadata_mode": "kraft"}, "kafka_broker_listener_security", "controllers do not take"),
])
def test_bad_listener_security_is_refused_naming_the_variable(cfg, update, variable, words):
    cfg.update(update)
    errors = errors_of(cfg)
    named = [e for e in errors if e.startswith(variable + ":")]
    assert named and any(words in e for e in named), errors


GENERATE = {"kafka_broker_listener_security": {"client": "ssl", "internal": "ssl"},
            "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_tls_generate": True}


def test_generated_certificates_are_planned_with_exactly_the_names_the_preflight_checks(cfg):
    cfg.update(GENERATE)
    plan = plan_of(cfg)
    generate = plan["tls"]["generate"]
    assert generate["enabled"] and generate["ca_secret"] == "kafka-tls-ca"
    # One source of facts: the SANs are the names the preflight checks a certificate against.
    assert generate["subject_alt_names"] == ["DNS:" + n for n in plan["tls"]["names"]]
    assert len(plan["tls"]["names"]) == 8
    assert generate["validity_days"] == 365 and generate["renew_days"] == 30 and generate["ca_validity_days"] == 3650
    # Decided by the preflight from what the Secrets hold, not by the plan.
    assert generate["ca"] is None and generate["certificate"] is None
    assert len(generate["common_name"]) <= 64 and len(generate["ca_common_name"]) <= 64
    # Survey strings take the spec's types.
    cfg.update(kafka_broker_tls_generate="yes", kafka_broker_tls_renew_days="10")
    assert plan_of(cfg)["tls"]["generate"]["renew_days"] == 10 and plan_of(cfg)["tls"]["generate"]["enabled"]


def test_generated_certificates_name_the_load_balancer_addresses_as_ip_sans(cfg):
    cfg.update(GENERATE, kafka_broker_listener_security={"external": "ssl"}, kafka_broker_external_access="loadbalancer")
    plan = plan_of(cfg, external_addresses={"kafka-external-0": "a.elb.example", "kafka-external-1": "127.20.255.2"})
    assert plan["tls"]["generate"]["subject_alt_names"] == ["DNS:a.elb.example", "IP:127.20.255.2"]


def test_without_generation_nothing_is_planned_to_be_made(cfg):
    cfg.update(GENERATE, kafka_broker_tls_generate=False)
    assert plan_of(cfg)["tls"]["generate"]["enabled"] is False
    assert plan_of(cfg)["tls"]["generate"]["ca_secret"] is None


@pytest.mark.parametrize("update, variable, words", [
    ({"kafka_broker_listener_security": {"client": "plaintext", "internal": "plaintext"}},
     "kafka_broker_tls_generate", "every listener of kafka_broker_listener_security is without TLS"),
    ({"kafka_broker_listener_security": {"client": "sasl_plaintext", "internal": "plaintext"},
      "kafka_broker_allow_sasl_plaintext": True, "kafka_users": [{"name": "a", "secret": "a"}]},
     "kafka_broker_tls_generate", "is without TLS"),
    ({"kafka_broker_listener_security": {"external": "ssl"}, "kafka_broker_external_access": "nodeport"},
     "kafka_broker_tls_generate", "cannot know"),
    ({"kafka_broker_tls_secret": ""}, "kafka_broker_tls_secret", "the collection creates and keeps"),
    ({"kafka_broker_tls_secret": "x" * 252}, "kafka_broker_tls_secret", "its CA Secret"),
    ({"kafka_broker_tls_renew_days": 365}, "kafka_broker_tls_renew_days", "not less than kafka_broker_tls_validity_days"),
    ({"kafka_broker_tls_renew_days": 0}, "kafka_broker_tls_renew_days", "at least 1"),
    ({"kafka_broker_tls_validity_days": 5000}, "kafka_broker_tls_validity_days", "3650"),
])
def test_generation_that_contradicts_the_rest_is_refused_naming_the_variable_and_the_fix(cfg, update, variable, words):
    cfg.update(GENERATE)
    cfg.update(update)
    errors = errors_of(cfg)
    named = [e for e in errors if e.startswith(variable + ":")]
    assert named and any(words in e for e in named) and all("Fix:" in e for e in named), errors


def test_an_empty_secret_without_generation_says_generation_is_the_other_way(cfg):
    cfg.update(kafka_broker_listener_security={"client": "ssl"})
    (error,) = [e for e in errors_of(cfg) if e.startswith("kafka_broker_tls_secret:")]
    assert "kafka_broker_tls_generate=true" in error


SASL = {"kafka_broker_listener_security": {"client": "sasl_ssl", "internal": "sasl_ssl"},
        "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_admin_secret": "kafka-admin",
        "kafka_users": [{"name": "alice", "secret": "alice-password"}]}


def test_sasl_ssl_listeners_use_scram_with_the_password_only_as_a_reference(cfg):
    cfg.update(copy.deepcopy(SASL))
    plan = plan_of(cfg)
    broker = plan["brokers"][1]
    props = broker["properties"]
    assert props["listeners"] == "CLIENT://:9092,INTERNAL://:9093"
    assert props["advertised.listeners"] == "CLIENT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093"
    assert "SASL_" not in props["advertised.listeners"] and "SSL://" not in props["advertised.listeners"]
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,INTERNAL:SASL_SSL"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["sasl.mechanism.inter.broker.protocol"] == "SCRAM-SHA-512"
    assert props["listener.name.internal.scram-sha-512.sasl.jaas.config"] == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="kafka-admin" '
        'password="$(SCRAM_INTER_BROKER_PASSWORD)";')
    assert props["listener.name.client.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;")
    assert props["ssl.keystore.type"] == "PEM"
    assert broker["secret_env"] == [{"name": "SCRAM_INTER_BROKER_PASSWORD", "secret": "kafka-admin", "key": "password"}]
    env = dict((e["name"], e["value"]) for e in broker["env"])
    assert env["KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG"].endswith(
        'password="$(SCRAM_INTER_BROKER_PASSWORD)";')
    sasl = plan["sasl"]
    assert sasl["enabled"] and sasl["client"] and sasl["listeners"] == ["client", "internal"]
    assert sasl["credentials"] == [{"name": "kafka-admin", "secret": "kafka-admin", "key": "password"},
                                   {"name": "alice", "secret": "alice-password", "key": "password"}]
    assert plan["tls"]["enabled"] and plan["tls"]["client_protocol"] == "SASL_SSL"


def test_sasl_on_clients_only_needs_no_inter_broker_user(cfg):
    cfg.update(kafka_broker_listener_security={"client": "sasl_ssl", "internal": "ssl"}, kafka_broker_tls_secret="t")
    plan = plan_of(cfg)
    props = plan["brokers"][0]["properties"]
    assert "sasl.mechanism.inter.broker.protocol" not in props and plan["brokers"][0]["secret_env"] == []
    assert not any("listener.name.internal" in k for k in props) and plan["sasl"]["admin"] is None
    assert props["listener.security.protocol.map"] == "CLIENT:SASL_SSL,INTERNAL:SSL"


def test_external_sasl_listener_gets_its_own_jaas_entry(cfg):
    cfg.update(copy.deepcopy(SASL), kafka_broker_external_access="loadbalancer",
               kafka_broker_listener_security={"client": "sasl_ssl", "internal": "sasl_ssl", "external": "sasl_ssl"})
    plan = plan_of(cfg, external_addresses={"kafka-external-0": "127.0.0.9"})
    assert "listener.name.external.scram-sha-512.sasl.jaas.config" in plan["brokers"][0]["properties"]
    # Broker 1's load balancer has no address yet: no EXTERNAL listener, so no entry for it.
    assert "listener.name.external.scram-sha-512.sasl.jaas.config" not in plan["brokers"][1]["properties"]
    assert "127.0.0.9" in plan["tls"]["names"]


def test_sasl_plaintext_only_with_the_explicit_opt_in(cfg):
    cfg.update(kafka_broker_listener_security={"client": "sasl_plaintext", "internal": "sasl_plaintext"},
               kafka_broker_admin_secret="kafka-admin")
    errors = errors_of(cfg)
    assert any(e.startswith("kafka_broker_listener_security: client, internal: sasl_plaintext") and
               "kafka_broker_allow_sasl_plaintext=true" in e for e in errors), errors
    cfg["kafka_broker_allow_sasl_plaintext"] = True
    plan = plan_of(cfg)
    assert plan["brokers"][0]["properties"]["listener.security.protocol.map"] == (
        "CLIENT:SASL_PLAINTEXT,INTERNAL:SASL_PLAINTEXT")
    assert not plan["tls"]["enabled"] and "ssl.keystore.type" not in plan["brokers"][0]["properties"]


def test_sasl_plaintext_on_the_external_listener_says_so(cfg):
    cfg.update(kafka_broker_external_access="nodeport",
               kafka_broker_listener_security={"external": "sasl_plaintext"})
    errors = errors_of(cfg)
    assert any("external: sasl_plaintext" in e and "outside the cluster" in e for e in errors), errors


@pytest.mark.parametrize("update, variable, words", [
    ({"kafka_broker_admin_secret": ""}, "kafka_broker_admin_secret", "is empty"),
    ({"kafka_broker_admin_secret": "a\n  b: c"}, "kafka_broker_admin_secret", "not a valid DNS name"),
    ({"kafka_broker_admin_user": 'admin" password="x'}, "kafka_broker_admin_user", "is not a user name"),
    ({"kafka_broker_admin_user": "User:admin"}, "kafka_broker_admin_user", "is not a user name"),
    ({"kafka_broker_tls_secret": ""}, "kafka_broker_tls_secret", "is empty"),
    ({"kafka_users": [{"name": "alice", "secret": "a"}, {"name": "alice", "secret": "b"}]}, "kafka_users",
     "are both user alice"),
    ({"kafka_users": [{"name": "bob smith", "secret": "a"}]}, "kafka_users", "is not a user name"),
    ({"kafka_users": [{"name": "bob", "secret": "a", "acls": [{"resource_type": "topic", "name": "t",
                                                              "operations": ["read"]}]}]},
     "kafka_users", "kafka_broker_authorizer is off"),
    ({"kafka_users": [{"name": "bob", "secret": "a", "hosts": []}]}, "kafka_users", "a user has only"),
    ({"kafka_broker_authorizer": True, "kafka_users": [{"name": "bob", "secret": "a", "acls": [
        {"resource_type": "topic", "name": "t", "operations": ["idempotent_write"]},
        {"resource_type": "table", "name": "t", "operations": ["read"]},
        {"resource_type": "cluster", "name": "other", "operations": ["alter"]},
        {"resource_type": "topic", "name": "*", "pattern_type": "prefixed", "operations": ["read"]},
        {"resource_type": "group", "name": "g", "operations": ["read"], "host": "example.com"}]}]},
     "kafka_users", "'idempotent_write' are not topic operations"),
    ({"kafka_broker_authorizer": True, "kafka_broker_extra_config": {"super.users": "User:ANONYMOUS"}},
     "kafka_broker_extra_config", "which kafka_broker_authorizer sets"),
    ({"kafka_broker_authorizer": True, "kafka_broker_listener_security": {"client": "sasl_ssl", "internal": "ssl"}},
     "kafka_broker_authorizer", "User:ANONYMOUS"),
    ({"kafka_users": [{"name": "bob", "secret": "A_B"}]}, "kafka_users", "not a valid DNS name"),
    ({"kafka_users": [{"name": "bob", "secret": "b", "secret_key": "pass word"}]}, "kafka_users", "not a Secret key"),
    ({"kafka_users": [{"name": "kafka-admin", "secret": "b"}]}, "kafka_users", "the inter-broker user"),
    ({"kafka_users": ["bob"]}, "kafka_users", "not a mapping"),
    ({"kafka_metadata_mode": "kraft"}, "kafka_broker_listener_security", "controllers do not take"),
    ({"kafka_broker_extra_config": {"listener.name.client.scram-sha-512.sasl.jaas.config": "x"}},
     "kafka_broker_extra_config", "derives for every broker"),
    ({"kafka_broker_extra_config": {"sasl.enabled.mechanisms": "PLAIN"}}, "kafka_broker_extra_config",
     "derives for every broker"),
    ({"kafka_broker_extra_config": {"ssl.cipher.suites": "$(SCRAM_INTER_BROKER_PASSWORD)"}},
     "kafka_broker_extra_config", "the inter-broker password"),
])
def test_bad_sasl_input_is_refused_naming_the_variable_and_the_fix(cfg, update, variable, words):
    cfg.update(copy.deepcopy(SASL))
    cfg.update(update)
    errors = errors_of(cfg)
    named = [e for e in errors if e.startswith(variable + ":")]
    assert named and any(words in e and "Fix:" in e for e in named), errors


def test_users_without_a_sasl_listener_are_refused(cfg):
    cfg.update(kafka_users=[{"name": "alice", "secret": "alice-password"}])
    errors = errors_of(cfg)
    assert any(e.startswith("kafka_users: lists 1 users, but no listener uses SASL") for e in errors), errors


def test_no_sasl_leaves_the_seeds_properties(cfg):
    plan = plan_of(cfg)
    assert not plan["sasl"]["enabled"] and plan["sasl"]["credentials"] == []
    assert not any("sasl" in k for k in plan["brokers"][0]["properties"]) and plan["brokers"][0]["secret_env"] == []


def test_the_authorizer_enforces_the_users_acls_with_the_inter_broker_user_as_super_user(cfg):
    cfg.update(copy.deepcopy(SASL), kafka_broker_authorizer=True, kafka_users=[
        {"name": "alice", "secret": "alice-password", "acls": [
            {"resource_type": "topic", "name": "orders", "pattern_type": "prefixed", "operations": ["read", "describe"]},
            {"resource_type": "cluster", "operations": ["idempotent_write"], "permission": "allow"}]},
        {"name": "bob", "secret": "bob-password"}])
    plan = plan_of(cfg)
    props = plan["brokers"][0]["properties"]
    assert props["authorizer.class.name"] == "kafka.security.authorizer.AclAuthorizer"
    assert props["super.users"] == "User:kafka-admin"
    assert plan["sasl"]["authorizer"] and plan["sasl"]["acl_record"] == "kafka-managed-acls"
    assert [(e["resource_type"], e["pattern_type"], e["name"], e["operation"]) for e in plan["sasl"]["acls"]] == [
        ("Cluster", "LITERAL", "kafka-cluster", "IdempotentWrite"), ("Topic", "PREFIXED", "orders", "Describe"),
        ("Topic", "PREFIXED", "orders", "Read")]
    assert all(e["principal"] == "User:alice" and e["permission"] == "Allow" and e["host"] == "*"
               for e in plan["sasl"]["acls"])
    assert plan["sasl"]["credentials"][1] == {"name": "alice", "secret": "alice-password", "key": "password"}


def test_without_the_authorizer_no_acl_and_the_extra_config_may_set_one(cfg):
    cfg.update(copy.deepcopy(SASL), kafka_broker_extra_config={"authorizer.class.name": "x.Y"})
    plan = plan_of(cfg)
    assert not plan["sasl"]["authorizer"] and plan["sasl"]["acls"] == []
    assert plan["brokers"][0]["properties"]["authorizer.class.name"] == "x.Y"


@pytest.mark.parametrize("update, variable, words", [
    ({"zookeeper_auth_secret": ""}, "zookeeper_auth_secret", "is empty"),
    ({"zookeeper_auth_secret": "a\n  b: c"}, "zookeeper_auth_secret", "not a valid DNS name"),
    ({"zookeeper_auth_user": 'kafka" user_admin="x'}, "zookeeper_auth_user", "JAAS option name"),
    ({"zookeeper_auth": "digest"}, "zookeeper_auth", "one of"),
    ({"zookeeper_image_flavor": "kubernetes-zookeeper",
      "zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10"}, "zookeeper_auth", "start script"),
    ({"zookeeper_image": "zookeeper:3.6.4"}, "zookeeper_auth", "older than 3.7"),
    ({"kafka_broker_extra_config": {"zookeeper.set.acl": "true"}}, "kafka_broker_extra_config", "zookeeper_auth sets"),
    ({"kafka_metadata_mode": "migration"}, "zookeeper_auth", "KRaft controllers"),
])
def test_zookeeper_auth_refusals_name_the_variable(cfg, update, variable, words):
    cfg.update(zookeeper_auth="sasl", zookeeper_auth_secret="zk-auth")
    cfg.update(update)
    errors = errors_of(cfg)
    assert any(e.startswith(variable + ":") and words in e for e in errors), errors


def test_zookeeper_auth_plans_the_jaas_secret_and_every_step_for_a_new_cluster(cfg):
    assert plan_of(cfg)["zookeeper"]["auth"]["enabled"] is False
    cfg.update(zookeeper_auth="sasl", zookeeper_auth_secret="zk-auth", zookeeper_statefulset_name="zk")
    auth = plan_of(cfg)["zookeeper"]["auth"]
    assert auth["jaas_secret"] == "zk-jaas" and auth["secret"] == "zk-auth" and auth["user"] == "kafka"
    assert auth["server"] and auth["login"] and auth["set_acl"] and auth["enforce"]
    assert "password" not in json.dumps(auth).replace('"key": "password"', "")
