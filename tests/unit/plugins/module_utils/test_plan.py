"""The plan: derived names and ids, and every input check (pure, no I/O)."""
import copy
import os

import pytest
import yaml

from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import (
    PlanError,
    build_plan,
    property_to_env,
    schedulable_node_names,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def role_defaults():
    cfg = {}
    for role in ("preflight", "zookeeper", "kafka_broker"):
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            cfg.update(yaml.safe_load(handle))
    return cfg


@pytest.fixture
def cfg():
    return copy.deepcopy(role_defaults())


def node(name, ready=True, unschedulable=False, taints=None, labels=None):
    return {
        "metadata": {"name": name, "labels": labels or {"kubernetes.io/hostname": name}},
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def errors_of(cfg, nodes=None):
    with pytest.raises(PlanError) as info:
        build_plan(cfg, nodes)
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
