"""module_utils/versions.py and upgrade.py: which version an image runs, and which upgrade step a run takes from
what runs (Deployments, their pods, the ZooKeeper StatefulSet), including the awkward states a roll leaves behind:
interrupted halfway, a pod that still runs the old image, a sidecar listed first, a pin in the Deployment."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils.upgrade import (
    IBP_ENV, apply_to_plan, broker_step, inter_broker_security_errors, running_brokers, zookeeper_step)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.versions import (
    at_least, kafka_version, zookeeper_version)

LABEL = "kafka-eks.cluster/broker-id"
OLD = "confluentinc/cp-kafka:5.5.11"
NEW = "confluentinc/cp-kafka:7.9.1"


@pytest.mark.parametrize("image, version", [
    ("confluentinc/cp-kafka:5.5.11", (2, 5, None)),
    ("confluentinc/cp-kafka:7.9.1", (3, 9, None)),
    ("docker.io/confluentinc/cp-server:7.4.0-1-ubi8", (3, 4, None)),
    ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/confluentinc/cp-kafka:7.9.2", (3, 9, None)),
    ("localhost:5000/mirror/cp-kafka:7.9.1@sha256:" + "a" * 64, (3, 9, None)),
    ("apache/kafka:3.9.1", (3, 9, 1)),
    ("confluentinc/cp-kafka:8.0.0", (4, 0, None)),
    ("confluentinc/cp-kafka:latest", None),
    ("confluentinc/cp-kafka@sha256:" + "a" * 64, None),
    ("confluentinc/cp-kafka:9.9.0", None),
    ("bitnami/kafka:3.9.0", (3, 9, 0)),  # tagged with the Kafka release, as apache/kafka
    ("example.com/kafka-custom:3.9.0", None),
])
def test_kafka_version_of_an_image(image, version):
    assert kafka_version(image) == version


@pytest.mark.parametrize("image, version", [
    ("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", (3, 4, 10)),
    ("zookeeper:3.9.3", (3, 9, 3)),
    ("docker.io/library/zookeeper:3.8.4-jre-17", (3, 8, 4)),
    ("zookeeper:latest", None),
    ("registry.k8s.io/kubernetes-zookeeper:latest", None),
])
def test_zookeeper_version_of_an_image(image, version):
    assert zookeeper_version(image) == version


def test_versions_compare_with_a_missing_patch_as_zero():
    assert at_least((3, 9, 3), (3, 8, 3)) and not at_least((3, 8, None), (3, 8, 3)) and at_least((3, 9, None), (3, 9))


def deployment(broker, image, protocol=None, sidecar=False):
    env = [{"name": "KAFKA_BROKER_ID", "value": str(broker)}]
    if protocol is not None:
        env.append({"name": IBP_ENV, "value": protocol})
    containers = [{"name": "broker", "image": image, "env": env}]
    if sidecar:
        containers.insert(0, {"name": "log-shipper", "image": "fluent/fluent-bit:3.0", "env": []})
    return {"metadata": {"name": "kafka-broker-%d" % broker, "labels": {LABEL: str(broker)}},
            "spec": {"template": {"spec": {"containers": containers}}}}


def pod(broker, image, ready=True, created="2026-12-02T10:00:00Z", deleting=False, sidecar=False):
    containers = [{"name": "broker", "image": image}]
    statuses = [{"name": "broker", "ready": ready, "image": image}]
    if sidecar:
        containers.insert(0, {"name": "log-shipper", "image": "fluent/fluent-bit:3.0"})
        statuses.insert(0, {"name": "log-shipper", "ready": True})
    meta = {"name": "kafka-broker-%d-abc" % broker, "labels": {LABEL: str(broker)}, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-02T10:05:00Z"
    return {"metadata": meta, "spec": {"containers": containers}, "status": {"containerStatuses": statuses}}


def state(images, protocols=None, pods=None):
    """Deployments with these images (and pins), and by default pods that run them and are ready."""
    protocols = protocols or {}
    deployments = [deployment(b, image, protocols.get(b)) for b, image in enumerate(images)]
    pods = pods if pods is not None else [pod(b, image) for b, image in enumerate(images)]
    return running_brokers(deployments, pods, LABEL)


def step(target, running, **kwargs):
    decision, errors = broker_step(target, running, **kwargs)
    return decision, ["%s: %s Fix: %s" % e for e in errors]


def test_a_new_cluster_speaks_its_image_protocol():
    decision, errors = step(NEW, {})
    assert errors == [] and decision["step"] == "new" and decision["inter_broker_protocol_version"] == "3.9"


def test_a_new_image_is_rolled_with_the_protocol_pinned_to_what_runs():
    decision, errors = step(NEW, state([OLD] * 4))
    assert errors == []
    assert decision["step"] == "binaries" and decision["inter_broker_protocol_version"] == "2.5"
    assert decision["bump_after_roll"] is True and decision["running_protocol"] == "2.5"


def test_an_interrupted_first_roll_continues_with_the_same_pin():
    # Brokers 0 and 1 got the new image with the pin written into their Deployment; 2 and 3 did not yet.
    decision, errors = step(NEW, state([NEW, NEW, OLD, OLD], protocols={0: "2.5", 1: "2.5"}))
    assert errors == [] and decision["step"] == "binaries" and decision["inter_broker_protocol_version"] == "2.5"


def test_the_protocol_is_raised_only_when_every_pod_runs_the_new_image_and_is_ready():
    images = [NEW] * 4
    pins = dict((b, "2.5") for b in range(4))
    decision = step(NEW, state(images, pins))[0]
    assert decision["step"] == "protocol" and decision["inter_broker_protocol_version"] == "3.9"
    # The Deployment says NEW but its pod still runs the old image (the roll stopped before the pod changed).
    pods = [pod(b, NEW) for b in range(3)] + [pod(3, OLD)]
    decision = step(NEW, state(images, pins, pods))[0]
    assert decision["step"] == "binaries" and decision["inter_broker_protocol_version"] == "2.5"
    # ... or runs it but is not ready.
    pods = [pod(b, NEW) for b in range(3)] + [pod(3, NEW, ready=False)]
    decision = step(NEW, state(images, pins, pods))[0]
    assert decision["step"] == "binaries"
    # ... or has no pod at all.
    decision = step(NEW, state(images, pins, [pod(b, NEW) for b in range(3)]))[0]
    assert decision["step"] == "binaries"


def test_the_newest_pod_that_is_not_being_deleted_counts():
    pods = [pod(0, OLD, created="2026-12-02T09:00:00Z"), pod(0, NEW, created="2026-12-02T10:00:00Z"),
            pod(0, OLD, created="2026-12-02T11:00:00Z", deleting=True)]
    running = running_brokers([deployment(0, NEW, "2.5")], pods, LABEL)
    assert running["0"]["pod_image"] == NEW and running["0"]["ready"] is True


def test_a_sidecar_listed_first_is_not_the_broker():
    running = running_brokers([deployment(0, OLD, sidecar=True)], [pod(0, NEW, sidecar=True)], LABEL)
    assert running["0"]["image"] == OLD and running["0"]["pod_image"] == NEW


def test_without_the_bump_the_run_holds_the_old_protocol():
    decision, errors = step(NEW, state([OLD] * 4), bump=False)
    assert errors == [] and decision["step"] == "binaries" and decision["bump_after_roll"] is False
    decision, errors = step(NEW, state([NEW] * 4, dict((b, "2.5") for b in range(4))), bump=False)
    assert errors == [] and decision["step"] == "held" and decision["inter_broker_protocol_version"] == "2.5"


def test_after_the_end_the_plan_renders_what_runs():
    decision, errors = step(NEW, state([NEW] * 4, dict((b, "3.9") for b in range(4))))
    assert errors == [] and decision["step"] == "steady" and decision["inter_broker_protocol_version"] == "3.9"
    # Deployments written before the collection pinned the protocol: the image's own.
    decision, errors = step(NEW, state(["confluentinc/cp-kafka:7.9.0"] * 4))
    assert errors == [] and decision["step"] == "steady" and decision["inter_broker_protocol_version"] == "3.9"


def test_an_image_downgrade_before_the_bump_is_a_roll_and_after_it_is_refused():
    decision, errors = step(OLD, state([NEW] * 4, dict((b, "2.5") for b in range(4))))
    assert errors == [] and decision["inter_broker_protocol_version"] == "2.5" and decision["step"] == "steady"
    decision, errors = step(OLD, state([NEW, NEW, NEW, NEW], {0: "3.9", 1: "2.5", 2: "2.5", 3: "2.5"}))
    assert decision.get("step") is None
    assert errors and errors[0].startswith("kafka_broker_image: ") and "broker(s) 0" in errors[0]
    assert "3.9" in errors[0] and "Fix:" in errors[0]


def test_kafka_4_is_refused_in_zookeeper_mode():
    decision, errors = step("confluentinc/cp-kafka:8.0.0", state([NEW] * 4))
    assert errors and errors[0].startswith("kafka_broker_image: ") and "KRaft" in errors[0]


def test_an_image_whose_version_cannot_be_read_needs_the_pin():
    errors = step("confluentinc/cp-kafka:latest", state([OLD] * 4))[1]
    assert errors and errors[0].startswith("kafka_broker_inter_broker_protocol_version: ")
    errors = step("mirror.example.com/kafka-custom:2024", {})[1]
    assert errors and errors[0].startswith("kafka_broker_image: ")
    decision, errors = step("mirror.example.com/kafka-custom:2024", state([OLD] * 4), pinned_protocol="2.5")
    assert errors == [] and decision["step"] == "pinned" and decision["inter_broker_protocol_version"] == "2.5"


@pytest.mark.parametrize("pin, problem", [
    ("4.0", "newer than Kafka 3.9"),
    ("2.4", "lower than 2.5"),
    ("three", "not a Kafka version"),
])
def test_a_pin_that_cannot_hold_is_refused(pin, problem):
    errors = step(NEW, state([OLD] * 4), pinned_protocol=pin)[1]
    assert errors and errors[0].startswith("kafka_broker_inter_broker_protocol_version: ") and problem in errors[0]


def statefulset(image, mount):
    return {"spec": {"template": {"spec": {"containers": [
        {"name": "exporter", "image": "zk-exporter:1", "volumeMounts": [{"name": "data", "mountPath": "/x"}]},
        {"name": "zookeeper", "image": image, "volumeMounts": [{"name": "data", "mountPath": mount}]}]}}}}


def test_the_zookeeper_data_layout_follows_the_volume_not_the_image():
    seed = statefulset("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "/var/lib/zookeeper")
    decision, errors = zookeeper_step("zookeeper:3.9.3", "apache", seed, NEW)
    assert errors == []
    assert decision["layout"] == "kubernetes-zookeeper" and decision["data_dir"] == "/var/lib/zookeeper/data"
    assert decision["mount"] == "/var/lib/zookeeper" and decision["snapshot_trust_empty"] is True
    assert decision["running_version"] == "3.4.10"
    decision, errors = zookeeper_step("zookeeper:3.9.3", "apache", None, NEW)
    assert errors == [] and decision["layout"] == "apache" and decision["mount"] == "/data"
    assert decision["snapshot_trust_empty"] is False


def test_a_zookeeper_downgrade_is_refused():
    errors = zookeeper_step("zookeeper:3.8.4", "apache", statefulset("zookeeper:3.9.3", "/data"), NEW)[1]
    assert errors and errors[0][0] == "zookeeper_image" and "3.9.3" in errors[0][1]


def test_kafka_3_5_or_later_needs_zookeeper_3_8_3():
    seed = statefulset("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "/var/lib/zookeeper")
    errors = zookeeper_step("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "kubernetes-zookeeper", seed, NEW)[1]
    assert errors and errors[0][0] == "zookeeper_image" and "KIP-902" in errors[0][1]
    errors = zookeeper_step("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "kubernetes-zookeeper", seed, OLD)[1]
    assert errors == []


def test_apply_to_plan_pins_every_broker_and_keeps_the_plan_given():
    brokers = [{"id": b, "properties": {"broker.id": str(b)}, "env": []} for b in range(2)]
    plan = {"settings": {"kafka_broker_image": NEW, "zookeeper_image": "zookeeper:3.9.3",
                         "zookeeper_image_flavor": "apache", "kafka_broker_inter_broker_protocol_version": "",
                         "kafka_broker_upgrade_bump_protocol": True},
            "broker_id_label": LABEL, "broker_ids": [0, 1], "brokers": brokers, "zookeeper": {"replicas": 3},
            "tls": {"listeners": {"client": "plaintext", "internal": "plaintext", "external": "plaintext"}}}
    result, errors = apply_to_plan(plan, [deployment(0, OLD), deployment(1, OLD)], [pod(0, OLD), pod(1, OLD)], None)
    assert errors == []
    assert [b["properties"]["inter.broker.protocol.version"] for b in result["brokers"]] == ["2.5", "2.5"]
    assert {"name": IBP_ENV, "value": "2.5"} in result["brokers"][0]["env"]
    assert result["zookeeper"]["replicas"] == 3 and result["zookeeper"]["mount"] == "/data"
    assert "inter.broker.protocol.version" not in plan["brokers"][0]["properties"] and "upgrade" not in plan


def with_protocol_map(found, protocol_map, listener=None):
    env = found["spec"]["template"]["spec"]["containers"][-1]["env"]
    env.append({"name": "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "value": protocol_map})
    if listener:
        env.append({"name": "KAFKA_INTER_BROKER_LISTENER_NAME", "value": listener})
    return found


def test_an_inter_broker_protocol_change_on_running_brokers_is_refused_naming_them():
    plan = {"tls": {"listeners": {"client": "ssl", "internal": "ssl", "external": "plaintext"}}}
    running = [with_protocol_map(deployment(0, NEW), "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"),
               with_protocol_map(deployment(1, NEW), "CLIENT:SSL,INTERNAL:SSL")]
    errors = inter_broker_security_errors(plan, running)
    assert len(errors) == 1 and errors[0][0] == "kafka_broker_listener_security"
    assert "kafka-broker-0 (PLAINTEXT)" in errors[0][1] and "kafka-broker-1" not in errors[0][1]
    # The client listener may change (it rolls safely); a new cluster has nothing running.
    assert inter_broker_security_errors(plan, [running[1]]) == []
    assert inter_broker_security_errors(plan, []) == []
    # The listener the brokers name as inter-broker one is the one compared.
    other = with_protocol_map(deployment(2, NEW), "REPL:PLAINTEXT,INTERNAL:SSL", listener="REPL")
    assert "kafka-broker-2 (PLAINTEXT)" in inter_broker_security_errors(plan, [other])[0][1]


def running_brokers_in_kraft_mode(count):
    deployments = []
    for broker in range(count):
        found = deployment(broker, NEW)
        found["spec"]["template"]["spec"]["containers"][-1]["env"].append(
            {"name": "KAFKA_PROCESS_ROLES", "value": "broker"})
        deployments.append(found)
    return running_brokers(deployments, [pod(b, NEW) for b in range(count)], LABEL)


def test_kafka_4_for_brokers_that_all_run_in_kraft_mode_pins_no_protocol():
    running = running_brokers_in_kraft_mode(3)
    decision, errors = broker_step("confluentinc/cp-kafka:8.0.0", running)
    assert errors == [] and decision["step"] == "kraft" and decision["inter_broker_protocol_version"] is None
    # One broker still in ZooKeeper mode: Kafka 4 cannot run it.
    running["1"]["kraft"] = False
    decision, errors = broker_step("confluentinc/cp-kafka:8.0.0", running)
    assert errors and "KRaft" in errors[0][1]
