"""broker_rollout / changed_brokers: which broker objects go together and which running brokers roll alone."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.filter.broker_rollout import (
    FilterModule,
    advertised_listeners,
    broker_rollout,
    changed_brokers,
    controller_last,
    roll_order,
)

LABEL = "kafka-eks.cluster/broker-id"


def obj(kind, name, broker_id=None, namespace="kafka"):
    labels = {LABEL: str(broker_id)} if broker_id is not None else {}
    return {"apiVersion": "v1", "kind": kind, "metadata": {"name": name, "namespace": namespace, "labels": labels}}


def manifests(n=3):
    objs = [obj("PersistentVolumeClaim", "kafka-data-%d" % i, i) for i in range(n)]
    objs += [obj("Service", "kafka-service-%d" % i, i) for i in range(n)]
    objs += [obj("Deployment", "kafka-broker-%d" % i, i) for i in range(n)]
    return objs + [obj("ConfigMap", "kafka-client-config")]


def test_first_rollout_applies_everything_together():
    split = broker_rollout(manifests(), [], LABEL)
    assert split["running"] == [] and split["together"] == manifests()


def test_existing_deployments_are_taken_out_sorted_by_broker_id_the_rest_keeps_its_order():
    existing = [obj("Deployment", "kafka-broker-2"), obj("Deployment", "kafka-broker-0")]
    split = broker_rollout(manifests(), existing, LABEL)
    assert [(r["broker_id"], r["name"]) for r in split["running"]] == [(0, "kafka-broker-0"), (2, "kafka-broker-2")]
    assert split["running"][0]["definition"] == obj("Deployment", "kafka-broker-0", 0)
    assert [o["metadata"]["name"] for o in split["together"] if o["kind"] == "Deployment"] == ["kafka-broker-1"]
    assert len(split["together"]) == len(manifests()) - 2


def test_same_name_in_another_namespace_is_not_running():
    split = broker_rollout(manifests(1), [obj("Deployment", "kafka-broker-0", namespace="other")], LABEL)
    assert split["running"] == []


def test_running_deployment_without_an_id_label_is_an_error_that_names_it():
    defs = [obj("Deployment", "kafka-broker-9")]
    with pytest.raises(AnsibleFilterError, match="kafka/kafka-broker-9 has no integer label " + LABEL):
        broker_rollout(defs, [obj("Deployment", "kafka-broker-9")], LABEL)


def running(*ids):
    return [{"broker_id": i, "name": "kafka-broker-%d" % i, "definition": {}} for i in ids]


def test_changed_brokers_reads_the_results_of_several_definitions_in_order():
    dry_run = {"changed": False, "result": {"results": [{"changed": False}, {"changed": True}, {"changed": True}]}}
    assert [r["broker_id"] for r in changed_brokers(running(0, 1, 3), dry_run)] == [1, 3]


def test_changed_brokers_reads_a_single_definitions_result_at_the_top():
    # kubernetes.core.k8s returns one definition's result without the results list
    assert changed_brokers(running(2), {"changed": True, "result": {"kind": "Deployment"}}) == running(2)
    assert changed_brokers(running(2), {"changed": False, "result": {"kind": "Deployment"}}) == []


def test_nothing_running_needs_no_dry_run():
    assert changed_brokers([], {"skipped": True}) == []


def test_a_result_that_does_not_match_the_definitions_is_an_error():
    with pytest.raises(AnsibleFilterError, match="returned 1 results for 2 Deployments"):
        changed_brokers(running(0, 1), {"result": {"results": [{"changed": True}]}})
    with pytest.raises(AnsibleFilterError, match="needs the registered result"):
        changed_brokers(running(0), {"skipped": True})


def test_controller_goes_last_the_others_keep_their_order():
    assert [r["broker_id"] for r in controller_last(running(0, 1, 2, 3), 1)] == [0, 2, 3, 1]
    assert [r["broker_id"] for r in controller_last(running(0, 2), "2")] == [0, 2]


def test_no_controller_or_one_not_rolled_keeps_the_order():
    assert controller_last(running(0, 1), None) == running(0, 1)
    assert controller_last(running(0, 1), 7) == running(0, 1)


def test_roll_order_takes_brokers_not_in_the_cluster_first_ungated_and_the_controller_last():
    entries = [{"broker_id": i, "name": "kafka-broker-%d" % i} for i in range(5)]
    order = roll_order(entries, joined=[0, 1, 3, 4], controller=1)
    assert [(e["broker_id"], e["gate"]) for e in order] == [(2, False), (0, True), (3, True), (4, True), (1, True)]
    assert roll_order(entries[:2], joined=[], controller=None) == [dict(entries[0], gate=False),
                                                                   dict(entries[1], gate=False)]


def test_advertised_listeners_per_broker_id_from_the_plan():
    brokers = [{"id": 7, "properties": {"advertised.listeners": "PLAINTEXT://s-0:9092,INTERNAL://s-0:9093"}}]
    assert advertised_listeners(brokers) == {"7": "PLAINTEXT://s-0:9092,INTERNAL://s-0:9093"}


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {"broker_rollout", "changed_brokers", "controller_last", "roll_order",
                                             "advertised_listeners"}


def test_zookeeper_ensemble_is_read_from_the_annotation_then_the_servers_own_configuration():
    from ansible_collections.kafka_eks.cluster.plugins.filter.zookeeper_ensemble import zookeeper_ensemble

    def sts(replicas=1, annotations=None, env=None, command=None):
        container = {"name": "zookeeper", "env": env or [], "command": command or []}
        return {"metadata": {"annotations": annotations or {}},
                "spec": {"replicas": replicas, "template": {"spec": {"containers": [container]}}}}

    # scaled to 1 by hand: the servers still list 3
    assert zookeeper_ensemble(sts(1, {"kafka-eks.cluster/zookeeper-ensemble": "3"})) == 3
    servers = "server.1=zk-0.zk-hs:2888:3888;2181 server.2=zk-1.zk-hs:2888:3888;2181 server.3=zk-2.zk-hs:2888:3888;2181"
    assert zookeeper_ensemble(sts(1, env=[{"name": "ZOO_SERVERS", "value": servers}])) == 3
    assert zookeeper_ensemble(sts(1, command=["sh", "-c", "start-zookeeper --servers=5 --data_dir=/x"])) == 5
    assert zookeeper_ensemble(sts(3)) == 3
    assert zookeeper_ensemble(None) is None


def test_statefulset_roll_order_restarts_outdated_followers_first_and_the_leader_last():
    from ansible_collections.kafka_eks.cluster.plugins.filter.zookeeper_ensemble import statefulset_roll_order

    def pod(name, revision, deleting=False):
        meta = {"name": name, "labels": {"controller-revision-hash": revision}}
        if deleting:
            meta["deletionTimestamp"] = "2026-12-02T07:00:00Z"
        return {"metadata": meta}

    pods = [pod("zookeeper-0", "zk-old"), pod("zookeeper-1", "zk-old"), pod("zookeeper-2", "zk-old"),
            pod("zookeeper-10", "zk-new")]
    assert statefulset_roll_order(pods, "zk-new", "zookeeper-2") == ["zookeeper-1", "zookeeper-0", "zookeeper-2"]
    assert statefulset_roll_order(pods, "zk-new", "zookeeper-10") == ["zookeeper-2", "zookeeper-1", "zookeeper-0"]
    assert statefulset_roll_order([pod("zookeeper-0", "zk-new")], "zk-new", "zookeeper-0") == []
    assert statefulset_roll_order([pod("zookeeper-0", "zk-old", deleting=True)], "zk-new", None) == []
