"""cluster_status with a real AnsibleModule against an in-memory cluster (tests/unit/status_fakes.py): healthy, then
each awkward case - a registration with a foreign endpoint, a broker missing, an offline partition, an
under-replicated one, a sidecar listed first in every broker pod, ZooKeeper unreachable, KRaft after finalizing
(ZooKeeper never asked), mid-migration - and that nothing is ever written or waited for."""
import json

import pytest

from conftest import ModuleExit
from status_fakes import (
    ADVERTISED,
    API_VERSIONS,
    FakeObjects,
    FakePods,
    FakeZooKeeper,
    broker_pod,
    client_config,
    controller_statefulset,
    deployment,
    finalized_cluster,
    healthy_zookeeper_cluster,
    registration,
    simple_pod,
    topic_nodes,
)
from ansible_collections.kafka_eks.cluster.plugins.modules import cluster_status


def run(make_module, zk, pods, objects, check_mode=False, **args):
    params = {"expected_broker_ids": [0, 1, 2, 3], "advertised_listeners": ADVERTISED, "zookeeper_servers": 3,
              "expected_controller_ids": [3000, 3001, 3002], "default_min_insync_replicas": 2}
    params.update(args)
    options = cluster_status.module_options()
    with pytest.raises(ModuleExit) as info:
        module = make_module(options.pop("argument_spec"), params, check_mode=check_mode, **options)
        cluster_status.run_module(module, pod_api=pods, zk=zk, objects=objects)
    return info.value.result


def broker(result, broker_id):
    return [b for b in result["status"]["brokers"] if b["id"] == broker_id][0]


def test_a_healthy_cluster_is_reported_whole_and_nothing_changes(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    objects.config_maps = client_config(external="lb-0.example:9094,lb-1.example:9094")
    result = run(make_module, zk, pods, objects)
    assert not result.get("failed") and result["healthy"] and not result["changed"] and result["problems"] == []
    status = result["status"]
    assert status["metadata"]["mode"] == "zookeeper" and status["zookeeper"]["leader"] == "zookeeper-1"
    # The sidecar is listed first in every broker pod and started after the registrations: the broker container is
    # found by name, so every registration is its broker's own.
    assert [b["state"] for b in status["brokers"]] == ["joined"] * 4
    assert broker(result, 0)["endpoints"] == ["PLAINTEXT://kafka-service-0:9092", "INTERNAL://kafka-service-0:9093"]
    assert broker(result, 3)["rack"] == "za" and broker(result, 3)["zone"] == "za"
    assert broker(result, 1)["image"] == "confluentinc/cp-kafka:7.9.11"
    assert status["controller"] == {"id": 1, "kind": "broker", "source": "zookeeper /controller"}
    assert status["partitions"]["total"] == 2 and status["partitions"]["offline"] == []
    assert status["placement"]["za"] == {"brokers": [0, 3], "zookeeper": ["zookeeper-0"], "controllers": []}
    assert status["bootstrap_servers"]["external"] == "lb-0.example:9094,lb-1.example:9094"
    assert status["versions"]["zookeeper"] == {"image": "zookeeper:3.9.3", "version": "3.9.3"}
    assert status["versions"]["brokers"][0]["kafka"].startswith("3.9")
    assert result["lines"][-1] == "Healthy." and any(line.startswith("Placement per zone: za:") for line in result["lines"])
    assert zk.closed and pods.execs == []
    # Nothing waits: one read of each kind.
    assert zk.calls.count("servers") == 1


def test_check_mode_reads_the_same(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    result = run(make_module, zk, pods, objects, check_mode=True)
    assert result["healthy"] and not result["changed"]


def test_a_foreign_registration_fails_the_report_naming_both_endpoints(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.nodes["/brokers/ids/2"] = registration(2, endpoints=["PLAINTEXT://imposter:1"])
    result = run(make_module, zk, pods, objects)
    assert result["failed"] and not result["healthy"] and not result["changed"]
    assert broker(result, 2)["state"] == "foreign" and broker(result, 2)["own"] is False
    assert "Broker 2 is not registered under its own endpoint (foreign)" in result["msg"]
    assert "PLAINTEXT://imposter:1" in result["msg"] and "kafka-service-2:9092" in result["msg"]
    # The report comes with the failure, so a playbook can still print it.
    assert any(line.startswith("Problem: Broker 2") for line in result["lines"])


def test_a_missing_broker_is_a_problem(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    del zk.nodes["/brokers/ids/3"]
    pods.pods["broker"] = [p for p in pods.pods["broker"] if not p["metadata"]["name"].startswith("kafka-broker-3")]
    result = run(make_module, zk, pods, objects, fail_when_unhealthy=False)
    assert not result.get("failed") and not result["healthy"]
    assert broker(result, 3)["state"] == "missing" and broker(result, 3)["pod"] is None
    assert result["problems"] == ["Broker 3 is not registered under its own endpoint (missing): no /brokers/ids/3; it "
                                  "is not registered and no pod of broker 3 exists (is its Deployment missing or "
                                  "scaled to 0?)."]
    assert "Broker 3: NOT registered under its own endpoint (missing); rack za; no pod; ZooKeeper mode." in result["lines"]


def test_an_offline_and_an_under_replicated_partition_are_each_named(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.nodes.update(topic_nodes("payments", {0: ([2, 3], -1, [3]), 1: ([0, 1, 3], 0, [0, 1]), 2: ([0, 1], 0, [0, 1])}))
    result = run(make_module, zk, pods, objects)
    assert result["failed"] and len(result["problems"]) == 2
    offline, under = result["problems"]
    assert offline.startswith("1 partition(s) offline (no leader): payments-0 (replicas 2,3; in sync 3; no leader)")
    assert under.startswith("1 partition(s) under-replicated") and "payments-1 (replicas 0,1,3; in sync 0,1)" in under
    partitions = result["status"]["partitions"]
    assert [(p["topic"], p["partition"]) for p in partitions["offline"]] == [("payments", 0)]
    assert [(p["topic"], p["partition"]) for p in partitions["under_replicated"]] == [("payments", 1)]
    assert partitions["total"] == 5 and partitions["topics"] == 2


def test_zookeeper_unreachable_is_a_problem_not_a_crash(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.error = "no ZooKeeper pod matches app.kubernetes.io/component=zookeeper in namespace kafka"
    result = run(make_module, zk, pods, objects, fail_when_unhealthy=False)
    assert not result.get("failed") and not result["healthy"]
    assert result["problems"] == ["ZooKeeper could not be asked for its state, so no quorum is known: no ZooKeeper pod "
                                  "matches app.kubernetes.io/component=zookeeper in namespace kafka."]
    # Nothing else of ZooKeeper is asked (it would only wait out a timeout); the rest is still reported.
    assert zk.calls == ["servers"]
    assert [b["state"] for b in result["status"]["brokers"]] == ["unknown"] * 4
    assert result["status"]["bootstrap_servers"]["internal"].startswith("kafka-service-0:9092")
    assert any("could not be read" in note for note in result["notes"])


def test_zookeeper_without_quorum_is_not_asked_for_znodes(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.modes = {"zookeeper-0": {"serving": False, "mode": None, "error": "not currently serving requests"},
                "zookeeper-1": {"serving": False, "mode": None, "error": "not currently serving requests"},
                "zookeeper-2": "pod is Pending"}
    result = run(make_module, zk, pods, objects)
    assert result["failed"] and result["problems"][0].startswith("ZooKeeper has no quorum (zookeeper-0=not serving")
    assert zk.calls == ["servers"] and "NO QUORUM" in result["lines"][1]


def test_a_server_down_is_reported_as_an_ensemble_that_is_not_whole(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.modes["zookeeper-2"] = "pod is Pending"
    result = run(make_module, zk, pods, objects, fail_when_unhealthy=False)
    assert not result["healthy"] and result["problems"][0].startswith("ZooKeeper serves, but its ensemble is not whole")
    # With a majority, the rest is read and found fine.
    assert [b["state"] for b in result["status"]["brokers"]] == ["joined"] * 4


def test_after_finalizing_zookeeper_is_never_asked_and_kraft_answers(make_module):
    zk, pods, objects = finalized_cluster()
    result = run(make_module, zk, pods, objects)
    assert not result.get("failed") and result["healthy"], result["problems"]
    status = result["status"]
    assert status["metadata"]["mode"] == "kraft" and status["metadata"]["finalized"]
    assert status["zookeeper"]["asked"] is False and zk.calls == []
    assert status["kraft"]["quorum"]["leader_id"] == 3001
    assert status["controller"]["id"] == 3001 and status["controller"]["kind"] == "kraft_controller"
    assert [b["state"] for b in status["brokers"]] == ["joined"] * 4
    assert broker(result, 0)["endpoints"] == ["kafka-service-0:9092"] and broker(result, 0)["rack"] == "za"
    assert status["partitions"]["source"] == "kraft" and status["partitions"]["total"] == 2
    assert status["placement"]["zb"]["controllers"] == ["kafka-controller-1"]
    assert "Metadata: KRaft mode (the migration was finalized); ZooKeeper is not asked." in result["lines"]
    # The tools ran in the named containers only.
    assert set((c, tool) for _n, c, tool in pods.execs) == {
        ("controller", "kafka-metadata-quorum"), ("broker", "kafka-broker-api-versions"), ("broker", "kafka-topics"),
        ("broker", "kafka-configs")}


def test_after_finalizing_a_broker_listed_elsewhere_and_a_quorum_short_of_a_voter_fail(make_module):
    zk, pods, objects = finalized_cluster({
        "kafka-broker-api-versions": (0, API_VERSIONS.replace("kafka-service-1:9092", "elsewhere:9092"), ""),
        "kafka-metadata-quorum": (0, "LeaderId: 3001\nLeaderEpoch: 4\nCurrentVoters: [3000,3001]\n", "")})
    result = run(make_module, zk, pods, objects)
    assert result["failed"]
    assert "The KRaft controller quorum is not whole: voters 3000, 3001, expected 3000, 3001, 3002." in result["problems"]
    assert broker(result, 1)["state"] == "foreign" and "elsewhere:9092" in broker(result, 1)["reason"]


def test_after_finalizing_controllers_that_do_not_answer_are_a_problem(make_module):
    zk, pods, objects = finalized_cluster({"kafka-metadata-quorum": (1, "", "TimeoutException")})
    result = run(make_module, zk, pods, objects, fail_when_unhealthy=False)
    assert not result["healthy"] and result["problems"][0].startswith("The KRaft controllers did not answer")
    assert result["status"]["controller"] is None


def test_mid_migration_registrations_come_from_kraft_and_partitions_from_zookeeper(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    # Brokers 0 and 1 run in KRaft mode (no longer in /brokers/ids), 2 and 3 still migrating; the controllers
    # hold /controller and copied the metadata.
    for i in (0, 1):
        del zk.nodes["/brokers/ids/%d" % i]
    zk.nodes["/controller"] = json.dumps({"version": 2, "brokerid": 3001, "timestamp": "1", "kraftControllerEpoch": 4})
    zk.nodes["/migration"] = json.dumps({"version": 0, "kraft_controller_id": 3001, "kraft_controller_epoch": 4,
                                         "kraft_metadata_offset": 50, "kraft_metadata_epoch": 4})
    objects.deployments = [deployment(i, mode="kraft" if i < 2 else "migrating") for i in range(4)]
    objects.statefulsets["kafka-controller"] = controller_statefulset(migration=True)
    from status_fakes import QUORUM
    pods.answers = {"kafka-metadata-quorum": (0, QUORUM, ""), "kafka-broker-api-versions": (0, API_VERSIONS, "")}
    pods.pods["controller"] = [simple_pod("kafka-controller-0", "controller", "node-za", "controller")]
    result = run(make_module, zk, pods, objects)
    assert not result.get("failed"), result["problems"]
    metadata = result["status"]["metadata"]
    assert metadata["mode"] == "migrating" and metadata["phase"] == "brokers_kraft"
    assert metadata["registrations"] == "kraft" and metadata["partitions"] == "zookeeper"
    assert result["status"]["zookeeper"]["quorum"] and result["status"]["kraft"]["quorum"]["leader_id"] == 3001
    assert result["status"]["controller"] == {"id": 3001, "kind": "kraft_controller", "source": "zookeeper /controller"}
    assert [b["mode"] for b in result["status"]["brokers"]] == ["kraft", "kraft", "migrating", "migrating"]
    assert "phase brokers_kraft (brokers in migration mode 2, 3; KRaft mode 0, 1)" in result["lines"][0]


def test_reads_that_only_inform_do_not_make_it_unhealthy(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    objects.errors = {"nodes": "listing the nodes failed: HTTP 403 Forbidden"}
    objects.config_maps = {}
    result = run(make_module, zk, pods, objects)
    assert result["healthy"]
    assert broker(result, 0)["zone"] == "(zone unknown)"
    assert any("The nodes could not be read" in note for note in result["notes"])
    assert any("ConfigMap kafka-client-config" in note and "does not exist" in note for note in result["notes"])


def test_broker_pods_that_cannot_be_listed_are_a_problem(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    pods.list_error = ("broker",)
    result = run(make_module, zk, pods, objects, fail_when_unhealthy=False)
    assert not result["healthy"] and any("broker pods could not be read" in p for p in result["problems"])


def test_an_unexpected_registration_is_a_note(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    zk.nodes["/brokers/ids/7"] = registration(7)
    result = run(make_module, zk, pods, objects)
    assert result["healthy"] and result["status"]["unexpected_brokers"] == [7]
    assert "Registered but not expected: broker(s) 7." in result["notes"]


def test_a_broker_key_that_is_not_an_id_is_refused(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    result = run(make_module, zk, pods, objects, advertised_listeners={"zero": "PLAINTEXT://a:9092"})
    assert result["failed"] and "advertised_listeners: key 'zero'" in result["msg"] and zk.calls == []


def test_a_sidecar_listed_first_is_never_taken_for_the_broker(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    pods.pods["broker"] = [broker_pod(i, sidecar_first=True) for i in range(4)]
    assert pods.pods["broker"][0]["spec"]["containers"][0]["name"] == "log-shipper"
    result = run(make_module, zk, pods, objects)
    assert result["healthy"]
    assert all(v["image"] == "confluentinc/cp-kafka:7.9.11" for v in result["status"]["versions"]["brokers"])


def test_objects_are_read_with_the_plan_names(make_module):
    zk, pods, objects = healthy_zookeeper_cluster()
    objects.config_maps = {"other-config": {"data": {"bootstrap.servers": "x:9092"}}}
    result = run(make_module, zk, pods, objects, client_config_name="other-config")
    assert result["status"]["bootstrap_servers"] == {"config_map": "other-config", "found": True,
                                                     "internal": "x:9092", "external": None}
    assert FakeObjects and FakePods and FakeZooKeeper  # the fakes are the ones status_fakes.py documents
