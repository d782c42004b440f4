"""Tests of the test bed's pod runner (tests/testbed/podrunner, podbin, java).

Three layers, cheapest first:
  * translation units: pod spec -> config files, argv, env, hosts files (no process);
  * standalone processes: real ZooKeeper 3.9 / Kafka 3.9 JVMs started by the runner's own process layer
    on loopback addresses, without Kubernetes;
  * end to end on a test bed (tests/testbed/testbed.py): StatefulSet/Deployments through the real
    apiserver, scheduler and controllers, with the pod runner as the kubelet. Skipped while the control
    plane is not there.

    .cache/venv/bin/python -m pytest -m testbed tests/testbed/test_podrunner.py
"""

import errno
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "podrunner"))
sys.path.insert(0, os.path.join(REPO, "plugins", "module_utils"))
sys.path.insert(0, HERE)

import hosts  # noqa: E402
from testbed_lib import client  # noqa: E402
import images  # noqa: E402
import kubeenv  # noqa: E402
import procs  # noqa: E402
import podrunner  # noqa: E402
from testbed_lib import podnet  # noqa: E402
from testbed_lib.procfs import listening  # noqa: E402

pytestmark = pytest.mark.testbed

PODBIN = os.path.join(HERE, "podbin")
PYTHON = sys.executable
ZK_CMD = ["bash", "-c", "export ZOO_MY_ID=$((${HOSTNAME##*-} + 1)) && exec /docker-entrypoint.sh zkServer.sh start-foreground"]
# What roles/zookeeper renders (defaults), but a small heap.
ROLE_ZK_ENV = {
    "ZOO_SERVERS": " ".join("server.%d=zookeeper-%d.zk-hs.kafka.svc.cluster.local:2888:3888;2181" % (i + 1, i)
                            for i in range(3)),
    "ZOO_DATA_DIR": "/data", "ZOO_DATA_LOG_DIR": "/data/log", "ZOO_TICK_TIME": "2000", "ZOO_INIT_LIMIT": "10",
    "ZOO_SYNC_LIMIT": "5", "ZOO_MAX_CLIENT_CNXNS": "60", "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "3",
    "ZOO_AUTOPURGE_PURGEINTERVAL": "12", "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok,mntr",
    "ZOO_ADMINSERVER_ENABLED": "false", "ZK_SERVER_HEAP": "256",
}
SEED_CMD = ["sh", "-c", "start-zookeeper --servers=3 --data_dir=/var/lib/zookeeper/data "
            "--data_log_dir=/var/lib/zookeeper/data/log --conf_dir=/opt/zookeeper/conf --client_port=2181 "
            "--election_port=3888 --server_port=2888 --tick_time=2000 --init_limit=10 --sync_limit=5 "
            "--heap=512M --max_client_cnxns=60 --snap_retain_count=3 --purge_interval=12 "
            "--max_session_timeout=40000 --min_session_timeout=4000 --log_level=INFO"]


@pytest.fixture(scope="session")
def jars():
    """The JVM parts (idempotent: a stamp file makes the second call instant)."""
    subprocess.run([os.path.join(HERE, "java", "fetch.sh")], check=True)
    return images.DEFAULT_JAVA_DIR


# The standalone processes' own pod network (bed indexes stop at 120): each 'pod' gets its network namespace
# on this bridge, as the pod runner gives one to each pod of a bed.
STANDALONE_NET = "10.244.201.0/24"


@pytest.fixture(scope="session", autouse=True)
def standalone_network():
    """Whatever namespaces the standalone tests made are removed at the end, and proven gone."""
    yield STANDALONE_NET
    podnet.remove_all(STANDALONE_NET)
    assert podnet.leftovers(STANDALONE_NET) == []


def in_pod(launch, sb):
    """launch, to run in the network namespace of the 'pod' at sb.pod_ip (made when missing)."""
    podnet.attach(STANDALONE_NET, sb.pod_ip)
    launch.argv = podnet.enter_argv(sb.pod_ip, launch.argv)
    return launch


def sandbox(tmp_path, ip, pod, container="main", mounts=None, subdomain="zk-hs", ns="kafka"):
    return images.Sandbox(pod_ip=ip, state_dir=str(tmp_path), namespace=ns, pod_name=pod, hostname=pod,
                          subdomain=subdomain, mounts=mounts or {}, container=container)


def cfg_lines(launch, name):
    return [l for l in launch.files[[p for p in launch.files if p.endswith(name)][0]].splitlines()]


# ----------------------------------------------------------------------------------------------------------
# Translation units

def test_image_kinds():
    assert images.image_kind("zookeeper:3.9.3") == "zookeeper"
    assert images.image_kind("docker.io/library/zookeeper:3.9.3") == "zookeeper"
    assert images.image_kind("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10") == "kubernetes-zookeeper"
    assert images.image_kind("confluentinc/cp-kafka:7.9.0") == "cp-kafka"
    assert images.image_kind("docker.io/confluentinc/cp-kafka:5.5.11") == "cp-kafka"
    assert images.image_kind("busybox:1.36") is None
    # The bed "pulls" only the public names: a private registry (with a port, or a mirror) is an image it cannot
    # pull, which is how the scenarios make an ErrImagePull (registry.example.invalid/...).
    assert images.image_kind("localhost:5000/zookeeper") is None
    assert images.image_kind("registry.example.invalid/no-such/cp-kafka:7.9.0") is None


def test_unsupported_image_is_refused(tmp_path):
    with pytest.raises(images.UnsupportedImage, match="testbed has no runner for image busybox:1.36"):
        images.plan_container({}, {"name": "x", "image": "busybox:1.36"}, {}, sandbox(tmp_path, "127.0.0.2", "p"))


@pytest.mark.parametrize("image,runtime", [
    ("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "zookeeper-3.4.10"),
    ("gcr.io/google_samples/kubernetes-zookeeper:1.0-3.4.10", "zookeeper-3.4.10"),
    ("zookeeper:3.8", "zookeeper-3.8.4"),
    ("zookeeper:3.8.4", "zookeeper-3.8.4"),
    ("docker.io/library/zookeeper:3.8.4-jre-17", "zookeeper-3.8.4"),
    ("zookeeper:3.9.3", "zookeeper-3.9.3"),
    ("zookeeper:3.9.2", "zookeeper-3.9.3"),
    ("confluentinc/cp-kafka:5.5.11", "kafka-2.5.1"),
    ("docker.io/confluentinc/cp-kafka:5.5.0", "kafka-2.5.1"),
    ("confluentinc/cp-kafka:7.9.0", "kafka-3.9.2"),
    ("confluentinc/cp-kafka:7.9.1", "kafka-3.9.2"),
    ("confluentinc/cp-server:7.9.2-1-ubi8", "kafka-3.9.2"),
    ("confluentinc/cp-kafka:8.0.0", "kafka-4.0.2"),
    ("confluentinc/cp-kafka:8.0.1", "kafka-4.0.2"),
])
def test_image_tag_runs_its_version(image, runtime, tmp_path):
    """tag -> version -> class path directory, and the pod's exec env names it for the dispatchers."""
    rt = images.image_runtime(image)
    assert rt.name == runtime
    assert rt.lib_dir("/j") == "/j/%s/lib" % runtime
    assert rt in images.all_runtimes()
    # every runtime is a profile of the pom that fetch.sh fetches
    with open(os.path.join(HERE, "java", "pom.xml")) as f:
        assert "<id>%s</id>" % runtime in f.read()
    sb = sandbox(tmp_path, "127.0.0.2", "zk-0")
    if runtime.startswith("kafka-4"):  # KRaft only
        container, env = {"image": image}, {"KAFKA_PROCESS_ROLES": "controller", "CLUSTER_ID": "x",
                                            "KAFKA_NODE_ID": "1", "KAFKA_LISTENERS": "CONTROLLER://:9093"}
    elif "kafka" in runtime:
        container, env = {"image": image}, {"KAFKA_ZOOKEEPER_CONNECT": "z:2181", "KAFKA_ADVERTISED_LISTENERS": "P://b:9092"}
    elif "kubernetes-zookeeper" in image:
        container, env = {"image": image, "command": SEED_CMD}, {}
    else:
        container, env = {"image": image, "command": ZK_CMD}, ROLE_ZK_ENV
    launch = images.plan_container({}, container, env, sb)
    assert launch.runtime == rt
    server = launch.server_argv if "kafka" in runtime else launch.argv
    assert server[server.index("-cp") + 1] == os.path.join(sb.java_dir, runtime, "lib", "*")
    assert launch.exec_env["TESTBED_RUNTIME"] == runtime and launch.exec_env["TESTBED_JAVA_DIR"] == sb.java_dir
    assert rt.version in launch.description


@pytest.mark.parametrize("image,why", [
    ("confluentinc/cp-kafka:6.2.0", "cp-kafka tags it runs: 5.5.*, 7.9.*, 8.0.*"),
    ("confluentinc/cp-kafka:7.8.1", "cp-kafka tags it runs"),
    ("confluentinc/cp-kafka:latest", "version latest"),
    ("confluentinc/cp-kafka", "version latest"),
    ("confluentinc/cp-kafka:8.1.0", "which Kafka 4.x line cp-kafka 8.1.0 ships is not confirmed"),
    ("confluentinc/cp-kafka:8.2", "only 8.0.* (Kafka 4.0)"),
    ("zookeeper:3.7.2", "zookeeper tags it runs: 3.8.*, 3.9.*"),
    ("zookeeper:3.4.14", "version 3.4.14"),
    ("zookeeper:latest", "version latest"),
    ("registry.k8s.io/kubernetes-zookeeper:1.0-3.4.14", "kubernetes-zookeeper tags it runs: 1.0-3.4.10"),
])
def test_image_tag_without_a_version_mapping_is_unsupported(image, why, tmp_path):
    with pytest.raises(images.UnsupportedImage, match="testbed has no runner for image %s version" % image) as exc:
        images.image_runtime(image)
    assert why in str(exc.value)
    with pytest.raises(images.UnsupportedImage, match="testbed has no runner for image"):
        images.plan_container({}, {"image": image}, {"KAFKA_ZOOKEEPER_CONNECT": "z:2181",
                                                      "KAFKA_ADVERTISED_LISTENERS": "P://b:9092"},
                              sandbox(tmp_path, "127.0.0.2", "zk-0"))


def test_dispatchers_pick_the_tools_of_the_pods_version(monkeypatch):
    """kafka-topics in a cp-kafka 5.5 pod is Kafka 2.5's kafka.admin.TopicCommand, in 7.9 Kafka 3.9's."""
    sys.path.insert(0, PODBIN)
    try:
        import _podbin
    finally:
        sys.path.remove(PODBIN)
    monkeypatch.setenv("TESTBED_RUNTIME", "kafka-2.5.1")
    assert _podbin.runtime_for("kafka") == "kafka-2.5.1"
    assert _podbin.runtime_for("zookeeper") == "zookeeper-3.9.3"  # zkCli.sh in a broker pod: the default
    assert _podbin.kafka_main_class("kafka-topics", "kafka-2.5.1") == "kafka.admin.TopicCommand"
    assert _podbin.kafka_main_class("kafka-console-consumer", "kafka-2.5.1") == "kafka.tools.ConsoleConsumer"
    assert _podbin.kafka_main_class("kafka-topics", "kafka-3.9.2") == "org.apache.kafka.tools.TopicCommand"
    assert (_podbin.kafka_main_class("kafka-console-consumer", "kafka-3.9.2")
            == "org.apache.kafka.tools.consumer.ConsoleConsumer")
    assert _podbin.kafka_main_class("zookeeper-shell", "kafka-2.5.1") == \
        "org.apache.zookeeper.ZooKeeperMainWithTlsSupportForKafka"
    monkeypatch.setenv("TESTBED_RUNTIME", "zookeeper-3.4.10")
    assert _podbin.runtime_for("zookeeper") == "zookeeper-3.4.10"
    assert _podbin.runtime_for("kafka") == "kafka-3.9.2"
    monkeypatch.delenv("TESTBED_RUNTIME")
    assert _podbin.runtime_for("zookeeper") == "zookeeper-3.9.3"
    assert _podbin.DEFAULT_RUNTIMES == {p: r.name for p, r in images.DEFAULT_RUNTIMES.items()}
    for name in _podbin.KAFKA_TOOLS:
        assert os.path.realpath(os.path.join(PODBIN, name)) == os.path.join(PODBIN, "_podbin.py")


def test_apache_zookeeper_config(tmp_path):
    sb = sandbox(tmp_path, "127.201.0.12", "zookeeper-2", "zookeeper", {"/data": str(tmp_path / "pv2")})
    launch = images.plan_container({}, {"image": "zookeeper:3.9.3", "command": ZK_CMD}, ROLE_ZK_ENV, sb)
    assert not launch.error
    lines = cfg_lines(launch, "zoo.cfg")
    assert "dataDir=%s" % (tmp_path / "pv2") in lines
    assert "dataLogDir=%s" % (tmp_path / "pv2" / "log") in lines
    assert "initLimit=10" in lines and "syncLimit=5" in lines and "tickTime=2000" in lines
    assert "autopurge.purgeInterval=12" in lines and "maxClientCnxns=60" in lines
    assert "4lw.commands.whitelist=srvr,ruok,mntr" in lines
    assert "admin.enableServer=false" in lines
    # The id comes from the pod name's ordinal + 1, exactly as the container command computes it.
    assert launch.files_if_missing == {str(tmp_path / "pv2" / "myid"): "3\n"}
    # The image's own lines: the client port on the wildcard of the pod's network namespace.
    assert [l for l in lines if l.startswith("server.")] == ROLE_ZK_ENV["ZOO_SERVERS"].split()
    assert not [l for l in lines if l.startswith("clientPort")]
    argv = launch.argv
    assert argv[-2:] == ["org.apache.zookeeper.server.quorum.QuorumPeerMain", launch.argv[-1]]
    assert "-Xmx256m" in argv and "-XX:+UseSerialGC" in argv and "-Dsun.net.inetaddr.ttl=0" in argv
    assert "-Djdk.net.hosts.file=%s" % (tmp_path / "hosts" / "kafka") in argv
    assert launch.env["HOSTNAME"] == "zookeeper-2" and launch.env["ZOO_MY_ID"] == "3"


def test_myid_is_written_only_if_missing(tmp_path):
    sb = sandbox(tmp_path, "127.201.0.10", "zookeeper-0", "zookeeper", {"/data": str(tmp_path / "pv")})
    launch = images.plan_container({}, {"image": "zookeeper:3.9.3", "command": ZK_CMD}, ROLE_ZK_ENV, sb)
    procs.write_launch_files(launch)
    assert (tmp_path / "pv" / "myid").read_text() == "1\n"
    (tmp_path / "pv" / "myid").write_text("7\n")
    procs.write_launch_files(launch)
    assert (tmp_path / "pv" / "myid").read_text() == "7\n"
    assert (tmp_path / "pv" / "log").is_dir()


def test_apache_zookeeper_other_command_is_unsupported(tmp_path):
    with pytest.raises(images.UnsupportedImage):
        images.plan_container({}, {"image": "zookeeper:3.9.3", "command": ["sleep", "infinity"]}, {},
                              sandbox(tmp_path, "127.0.0.2", "zookeeper-0"))


def test_kubernetes_zookeeper_config(tmp_path):
    sb = sandbox(tmp_path, "127.201.0.11", "zk-1", "kubernetes-zookeeper", {"/var/lib/zookeeper": str(tmp_path / "pv")},
                 subdomain="zk-hs")
    launch = images.plan_container({}, {"image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "command": SEED_CMD},
                                   {}, sb)
    assert not launch.error
    lines = cfg_lines(launch, "zoo.cfg")
    assert [l for l in lines if l.startswith("server.")] == [
        "server.%d=zk-%d.zk-hs.kafka.svc.cluster.local:2888:3888" % (i + 1, i) for i in range(3)]
    assert "clientPort=2181" in lines and not [l for l in lines if l.startswith("clientPortAddress")]
    assert "minSessionTimeout=4000" in lines and "maxSessionTimeout=40000" in lines
    assert "dataDir=%s" % (tmp_path / "pv" / "data") in lines
    assert launch.files_if_missing == {str(tmp_path / "pv" / "data" / "myid"): "2\n"}
    assert "-Xmx512M" in launch.argv
    # ZooKeeper 3.4.10 as the image configures it: no 4lw whitelist and no AdminServer key (3.4 has neither),
    # the script's misspelt purge key, log4j 1.2 logging.
    assert not [l for l in lines if l.startswith(("4lw.", "admin."))]
    assert "autopurge.purgeInteval=12" in lines and not [l for l in lines if l.startswith("autopurge.purgeInterval")]
    assert any(a.startswith("-Dlog4j.configuration=file:") and a.endswith("log4j.properties") for a in launch.argv)
    assert "log4j.rootLogger=INFO, CONSOLE" in cfg_lines(launch, "log4j.properties")
    assert launch.runtime.name == "zookeeper-3.4.10"


def test_kubernetes_zookeeper_unknown_option_fails_like_the_script(tmp_path):
    cmd = ["sh", "-c", "start-zookeeper --servers=3 --bogus=1"]
    launch = images.plan_container({}, {"image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10", "command": cmd},
                                   {}, sandbox(tmp_path, "127.0.0.2", "zk-0"))
    assert "Unknown option --bogus=1" in launch.error


def test_confluent_env_to_property_is_the_inverse_of_the_plan():
    import plan  # the collection's own rule for property -> env
    for prop in ("zookeeper.connect", "log.dirs", "offsets.topic.replication.factor", "some_prop.with-dash",
                 "listener.name.internal.ssl.key_password", "a-b_c.d"):
        assert images.env_to_property(plan.property_to_env(prop)) == prop
    assert images.env_to_property("KAFKA_FOO___BAR__BAZ_QUX") == "foo-bar_baz.qux"


def test_cp_kafka_properties(tmp_path):
    env = {"KAFKA_BROKER_ID": "3", "KAFKA_ZOOKEEPER_CONNECT": "zk-cs:2181",
           "KAFKA_LISTENERS": "PLAINTEXT://:9092,INTERNAL://:9093",
           "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-3:9092,INTERNAL://kafka-service-3:9093",
           "KAFKA_LOG_DIRS": "/var/lib/kafka/data", "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
           "KAFKA_JMX_PORT": "9999", "KAFKA_LOG4J_ROOT_LOGLEVEL": "WARN", "KAFKA_OPTS": "-Dfoo=bar"}
    sb = sandbox(tmp_path, "127.201.0.30", "kafka-broker-3-abc", "broker", {"/var/lib/kafka": str(tmp_path / "pv")})
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env, sb)
    props = dict(l.split("=", 1) for l in cfg_lines(launch, "kafka.properties"))
    assert props == {
        "broker.id": "3", "zookeeper.connect": "zk-cs:2181",
        "listeners": "PLAINTEXT://:9092,INTERNAL://:9093",
        "advertised.listeners": "PLAINTEXT://kafka-service-3:9092,INTERNAL://kafka-service-3:9093",
        "log.dirs": str(tmp_path / "pv" / "data")}
    assert launch.argv[-2] == "kafka.Kafka"
    assert "-Xmx512m" in launch.argv and "-Xms256m" in launch.argv and "-Dfoo=bar" in launch.argv
    assert any("log4j.rootLogger=WARN" in c for c in launch.files.values())


def test_cp_kafka_listeners_default_from_advertised(tmp_path):
    env = {"KAFKA_ZOOKEEPER_CONNECT": "zk:2181", "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://b0:9092"}
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env,
                                   sandbox(tmp_path, "127.201.0.31", "b0"))
    props = dict(l.split("=", 1) for l in cfg_lines(launch, "kafka.properties"))
    assert props["listeners"] == "PLAINTEXT://0.0.0.0:9092"  # `cub listeners`: the advertised ones, any address
    assert props["log.dirs"].endswith("rootfs/var/lib/kafka/data")  # no volume: the container's own layer
    assert images.cub_listeners("A://b0:9092, X://[::1]:1") == "A://0.0.0.0:9092,X://0.0.0.0:1"


def test_cp_kafka_entrypoint_errors(tmp_path):
    sb = sandbox(tmp_path, "127.201.0.32", "b0")
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, {"KAFKA_ADVERTISED_LISTENERS": "P://x:1"}, sb)
    assert "KAFKA_ZOOKEEPER_CONNECT is required" in launch.error
    # Service links of a Service called "kafka" would inject KAFKA_PORT: the image refuses to start.
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"},
                                   {"KAFKA_ADVERTISED_LISTENERS": "P://x:1", "KAFKA_ZOOKEEPER_CONNECT": "z:1",
                                    "KAFKA_PORT": "tcp://10.0.0.1:9092"}, sb)
    assert "port is deprecated" in launch.error
    # KAFKA_PROCESS_ROLES: the image's KRaft branch (tests below), which needs CLUSTER_ID.
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"},
                                   {"KAFKA_PROCESS_ROLES": "broker", "KAFKA_ADVERTISED_LISTENERS": "P://x:1"}, sb)
    assert launch.error == "Running in KRaft mode...\nCLUSTER_ID is required."


def test_cp_kafka_tls_reads_the_pem_files_of_its_mounted_secret(tmp_path):
    env = {"KAFKA_BROKER_ID": "0", "KAFKA_ZOOKEEPER_CONNECT": "zk-cs:2181",
           "KAFKA_ADVERTISED_LISTENERS": "CLIENT://kafka-service-0:9092,INTERNAL://kafka-service-0:9093",
           "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "CLIENT:SSL,INTERNAL:SSL",
           "KAFKA_SSL_KEYSTORE_TYPE": "PEM", "KAFKA_SSL_KEYSTORE_LOCATION": "/etc/kafka/tls/tls-combined.pem",
           "KAFKA_SSL_TRUSTSTORE_TYPE": "PEM", "KAFKA_SSL_TRUSTSTORE_LOCATION": "/etc/kafka/tls/ca.crt"}
    sb = sandbox(tmp_path, "127.201.0.33", "kafka-broker-0-abc", "broker",
                 {"/var/lib/kafka": str(tmp_path / "pv"), "/etc/kafka/tls": str(tmp_path / "secret")})
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env, sb)
    assert launch.error == ""
    props = dict(l.split("=", 1) for l in cfg_lines(launch, "kafka.properties"))
    # A listener named CLIENT (mapped to SSL) skips the image's key store branch; the files are the Secret's.
    assert props["ssl.keystore.location"] == str(tmp_path / "secret" / "tls-combined.pem")
    assert props["ssl.truststore.location"] == str(tmp_path / "secret" / "ca.crt")
    assert props["listener.security.protocol.map"] == "CLIENT:SSL,INTERNAL:SSL"
    # A listener *named* SSL takes the image's own branch: Java key stores and their password files.
    named_ssl = {"KAFKA_ZOOKEEPER_CONNECT": "z:1", "KAFKA_ADVERTISED_LISTENERS": "SSL://x:1"}
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, named_ssl, sb)
    assert launch.error == "Running in Zookeeper mode...\nSSL is enabled.\nKAFKA_SSL_KEYSTORE_FILENAME is required."
    sasl = {"KAFKA_ZOOKEEPER_CONNECT": "z:1", "KAFKA_ADVERTISED_LISTENERS": "SASL_PLAINTEXT://x:1"}
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, sasl, sb)
    assert launch.error.endswith("SASL is enabled.\nKAFKA_OPTS is required.")


# KRaft (cp-kafka 7.9 with KAFKA_PROCESS_ROLES, cp-kafka 8.0): the entrypoint's rules and the format step.
KRAFT_CONTROLLER_CMD = ["bash", "-c", "export KAFKA_NODE_ID=$((3000 + ${HOSTNAME##*-})) && exec /etc/confluent/docker/run"]


def _controller_env(**extra):
    env = {"KAFKA_PROCESS_ROLES": "controller", "CLUSTER_ID": "MkU3OEVBNTcwNTJENDM2Qg",
           "KAFKA_LISTENERS": "CONTROLLER://:9093", "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
           "KAFKA_CONTROLLER_QUORUM_VOTERS": "3000@kafka-controller-0:9093", "KAFKA_LOG_DIRS": "/var/lib/kafka/data"}
    env.update(extra)
    return env


def _props(launch):
    return dict(l.split("=", 1) for l in cfg_lines(launch, "kafka.properties"))


def test_cp_kafka_kraft_controller_in_migration_mode(tmp_path):
    sb = sandbox(tmp_path, "127.208.0.10", "kafka-controller-0", "controller", {"/var/lib/kafka": str(tmp_path / "pv")})
    env = _controller_env(KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE="true", KAFKA_ZOOKEEPER_CONNECT="zk-cs:2181",
                          KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS="kafka-controller-0:9093")
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0", "command": KRAFT_CONTROLLER_CMD}, env, sb)
    assert not launch.error
    assert _props(launch) == {
        "process.roles": "controller", "node.id": "3000",  # exported by the command from the pod's ordinal
        "listeners": "CONTROLLER://:9093", "controller.listener.names": "CONTROLLER",
        "controller.quorum.voters": "3000@kafka-controller-0:9093",
        "controller.quorum.bootstrap.servers": "kafka-controller-0:9093",
        "zookeeper.metadata.migration.enable": "true", "zookeeper.connect": "zk-cs:2181",
        "log.dirs": str(tmp_path / "pv" / "data")}  # 7.9's configure unsets the image's empty advertised listeners
    # The entrypoint: format (the real StorageTool, its "already formatted" answer tolerated), then exec the server.
    assert launch.argv[:2] == ["/bin/bash", "-c"]
    script = launch.argv[2]
    assert script.index("kafka.tools.StorageTool format --cluster-id=$CLUSTER_ID -c ") < script.index("exec ")
    assert 'grep -i "already formatted"' in script and "{ echo $result && (exit 1) }" in script
    assert script.rstrip().endswith(" ".join(launch.server_argv[-2:]))
    assert launch.server_argv[-2] == "kafka.Kafka" and launch.format_argv[-5] == "kafka.tools.StorageTool"
    assert launch.env["CLUSTER_ID"] == "MkU3OEVBNTcwNTJENDM2Qg" and launch.env["KAFKA_NODE_ID"] == "3000"
    assert "KRaft controller 3000" in launch.description


def test_cp_kafka_kraft_broker_and_image_env(tmp_path):
    sb = sandbox(tmp_path, "127.208.0.11", "kafka-broker-0-x", "broker", {"/var/lib/kafka": str(tmp_path / "pv")})
    env = {"KAFKA_PROCESS_ROLES": "broker", "KAFKA_NODE_ID": "0", "CLUSTER_ID": "c1",
           "KAFKA_LISTENERS": "PLAINTEXT://:9092", "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-0:9092",
           "KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS": "kafka-controller-0:9093",
           "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER",
           "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"}
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env, sb)
    props = _props(launch)
    assert not launch.error and props["process.roles"] == "broker" and props["node.id"] == "0"
    assert props["listeners"] == "PLAINTEXT://:9092"
    # The 7.9 image has ENV KAFKA_ZOOKEEPER_CONNECT="" (Dockerfile.ubi8): a KRaft node that does not set it gets
    # an empty zookeeper.connect, as on the real image. cp-kafka 8.0 has no such ENV.
    assert props["zookeeper.connect"] == ""
    launch8 = images.plan_container({}, {"image": "confluentinc/cp-kafka:8.0.1"}, env, sb)
    assert "zookeeper.connect" not in _props(launch8) and launch8.runtime.version == "4.0.2"
    # 8.0's configure does not unset the image's empty KAFKA_ADVERTISED_LISTENERS on a controller.
    ctl8 = images.plan_container({}, {"image": "confluentinc/cp-kafka:8.0.1", "command": KRAFT_CONTROLLER_CMD},
                                 _controller_env(), sandbox(tmp_path, "127.208.0.12", "kafka-controller-1", "controller"))
    assert _props(ctl8)["advertised.listeners"] == "" and _props(ctl8)["node.id"] == "3001"
    log_conf = [p for p in ctl8.files if p.endswith("/log4j2.yaml")][0]
    assert "-Dlog4j2.configurationFile=" + log_conf in ctl8.server_argv  # Kafka 4: log4j2, as kafka-server-start.sh
    # A combined node (broker,controller) needs advertised listeners like a broker.
    combined = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"},
                                     _controller_env(KAFKA_PROCESS_ROLES="broker,controller"), sb)
    assert combined.error == "Running in KRaft mode...\nKAFKA_ADVERTISED_LISTENERS is required."


@pytest.mark.parametrize("image,env,error", [
    ("confluentinc/cp-kafka:7.9.0", _controller_env(CLUSTER_ID=""), "Running in KRaft mode...\nCLUSTER_ID is required."),
    ("confluentinc/cp-kafka:8.0.1", _controller_env(CLUSTER_ID=""), "CLUSTER_ID is required."),
    ("confluentinc/cp-kafka:7.9.0", _controller_env(KAFKA_ADVERTISED_LISTENERS="CONTROLLER://c:9093"),
     "Running in KRaft mode...\nKAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."),
    ("confluentinc/cp-kafka:8.0.1", _controller_env(KAFKA_ADVERTISED_LISTENERS="CONTROLLER://c:9093"),
     "KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."),
    ("confluentinc/cp-kafka:7.9.0", _controller_env(KAFKA_PROCESS_ROLES="broker"),
     "Running in KRaft mode...\nKAFKA_ADVERTISED_LISTENERS is required."),
    # cp-kafka 8 is Kafka 4: a ZooKeeper-mode pod spec stops at the image's first check.
    ("confluentinc/cp-kafka:8.0.1", {"KAFKA_ZOOKEEPER_CONNECT": "zk-cs:2181", "KAFKA_BROKER_ID": "0",
                                     "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://b:9092"},
     "KAFKA_PROCESS_ROLES is required."),
    ("confluentinc/cp-kafka:8.0.1", _controller_env(KAFKA_PORT="tcp://10.96.0.1:9092"),
     "port is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead."),
])
def test_cp_kafka_kraft_entrypoint_errors(image, env, error, tmp_path):
    launch = images.plan_container({}, {"image": image}, env, sandbox(tmp_path, "127.208.0.13", "p-0"))
    assert launch.error == error and not launch.argv


def test_cp_kafka_node_id_from_a_bad_hostname(tmp_path):
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0", "command": KRAFT_CONTROLLER_CMD},
                                   _controller_env(), sandbox(tmp_path, "127.208.0.14", "controller"))
    assert launch.error.startswith("bash: KAFKA_NODE_ID:")


def test_kafka4_logs_through_log4j2(tmp_path):
    env = _controller_env(KAFKA_NODE_ID="1", KAFKA_LOG4J_ROOT_LOGLEVEL="WARN",
                          KAFKA_LOG4J_LOGGERS="org.apache.kafka.metadata.migration=INFO,kafka.controller=DEBUG")
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:8.0.1"}, env,
                                   sandbox(tmp_path, "127.208.0.15", "c-0"))
    text = cfg_lines(launch, "/log4j2.yaml")
    assert '      level: "WARN"' in text
    assert '      - name: "org.apache.kafka.metadata.migration"' in text and '        level: "DEBUG"' in text
    assert not any(a.startswith("-Dlog4j.configuration=") for a in launch.server_argv)
    tools = cfg_lines(launch, "/tools-log4j2.yaml")
    assert "      target: SYSTEM_ERR" in tools and '      level: "WARN"' in tools
    # Kafka 3.9 keeps log4j 1 (reload4j) properties, with the same two variables.
    launch39 = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env,
                                     sandbox(tmp_path, "127.208.0.15", "c-0"))
    lines = cfg_lines(launch39, "/log4j.properties")
    assert "log4j.rootLogger=WARN, stdout" in lines and "log4j.logger.kafka.controller=DEBUG" in lines


def test_dispatchers_kraft_tools_per_version(monkeypatch, tmp_path):
    sys.path.insert(0, PODBIN)
    try:
        import _podbin
    finally:
        sys.path.remove(PODBIN)
    for version in ("kafka-3.9.2", "kafka-4.0.2"):
        assert _podbin.kafka_main_class("kafka-metadata-quorum", version) == "org.apache.kafka.tools.MetadataQuorumCommand"
        assert _podbin.kafka_main_class("kafka-storage", version) == "kafka.tools.StorageTool"
        assert _podbin.kafka_main_class("kafka-features", version) == "org.apache.kafka.tools.FeatureCommand"
        assert _podbin.kafka_main_class("kafka-cluster", version) == "org.apache.kafka.tools.ClusterTool"
    assert _podbin.kafka_main_class("kafka-console-producer", "kafka-4.0.2") == "org.apache.kafka.tools.ConsoleProducer"
    assert (_podbin.kafka_main_class("kafka-broker-api-versions", "kafka-4.0.2")
            == "org.apache.kafka.tools.BrokerApiVersionsCommand")
    assert _podbin.kafka_main_class("zookeeper-shell", "kafka-4.0.2") is None  # gone in Kafka 4
    assert _podbin.kafka_main_class("kafka-metadata-quorum", "kafka-2.5.1") is None
    # every class named for a version is in that version's jars (checked where fetch.sh put them)
    for name, entries in _podbin.KAFKA_TOOLS.items():
        for runtime in ("kafka-2.5.1", "kafka-3.9.2", "kafka-4.0.2"):
            main = _podbin.kafka_main_class(name, runtime)
            lib = os.path.join(images.DEFAULT_JAVA_DIR, runtime, "lib")
            if main and os.path.isdir(lib):
                entry = main.replace(".", "/") + ".class"
                import zipfile
                assert any(entry in zipfile.ZipFile(os.path.join(lib, j)).namelist()
                           for j in os.listdir(lib) if j.startswith(("kafka", "zookeeper"))), (name, runtime, main)
    monkeypatch.setenv("KAFKA_CONFIG", "/s/pods/kafka/c-0/controller/conf/kafka.properties")
    assert _podbin.pod_config_path("/etc/kafka/kafka.properties") == "/s/pods/kafka/c-0/controller/conf/kafka.properties"
    assert _podbin.pod_config_path("/tmp/x.properties") == "/tmp/x.properties"
    podnet.attach(STANDALONE_NET, "10.244.201.16")
    env = exec_env(tmp_path, "kafka", "old-0", "10.244.201.16", TESTBED_RUNTIME="kafka-4.0.2")
    r = subprocess.run(["zookeeper-shell", "localhost:2181", "ls", "/"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 127 and "zookeeper-shell: command not found" in r.stderr


def test_kubelet_env():
    services = [
        {"metadata": {"namespace": "kafka", "name": "kafka-service-0"},
         "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "client", "port": 9092, "protocol": "TCP"}]}},
        {"metadata": {"namespace": "kafka", "name": "zk-hs"}, "spec": {"clusterIP": "None", "ports": [{"port": 2888}]}},
        {"metadata": {"namespace": "default", "name": "kubernetes"},
         "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}},
    ]
    pod = {"metadata": {"name": "p", "namespace": "kafka", "uid": "u", "labels": {"a": "b"}}, "spec": {}}
    container = {"env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(NOPE)-$$"},
                         {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                         {"name": "L", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}}]}
    env = kubeenv.container_env(pod, container, "127.0.0.9", "10.0.0.1", services, lambda *a: None, lambda *a: None)
    assert env["B"] == "x-$(NOPE)-$" and env["IP"] == "127.0.0.9" and env["L"] == "b"
    assert env["KAFKA_SERVICE_0_PORT"] == "tcp://10.96.0.20:9092"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert not any(k.startswith("ZK_HS") for k in env)
    pod["spec"]["enableServiceLinks"] = False
    env = kubeenv.container_env(pod, container, "127.0.0.9", "10.0.0.1", services, lambda *a: None, lambda *a: None)
    assert not any(k.startswith("KAFKA_SERVICE") for k in env)
    with pytest.raises(kubeenv.ConfigError):
        kubeenv.container_env(pod, {"env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}]},
                              "127.0.0.9", "", [], lambda *a: None, lambda *a: None)


def test_hosts_entries():
    services = [
        {"metadata": {"namespace": "kafka", "name": "zk-hs"},
         "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "zk"}}},
        {"metadata": {"namespace": "kafka", "name": "zk-cs"}, "spec": {"clusterIP": "10.96.0.9", "selector": {"app": "zk"}}},
        {"metadata": {"namespace": "other", "name": "zk-cs"}, "spec": {"clusterIP": "10.96.0.8", "selector": {"app": "zk"}}},
    ]
    pods = [dict(namespace="kafka", labels={"app": "zk"}, ip="127.0.0.%d" % (10 + i), ready=i == 0,
                 terminating=False, hostname="zookeeper-%d" % i, subdomain="zk-hs") for i in range(2)]
    pods.append(dict(namespace="other", labels={"app": "zk"}, ip="127.0.0.50", ready=True, terminating=False,
                     hostname="", subdomain=""))
    entries = set(hosts.hosts_entries("kafka", services, pods))
    assert ("127.0.0.11", "zookeeper-1.zk-hs") in entries  # not ready, published anyway
    assert ("127.0.0.11", "zookeeper-1.zk-hs.kafka.svc.cluster.local") in entries
    assert ("127.0.0.10", "zk-cs") in entries and ("127.0.0.11", "zk-cs") not in entries  # ready only
    assert ("127.0.0.50", "zk-cs.other") in entries and ("127.0.0.50", "zk-cs") not in entries
    text = hosts.render(entries)
    assert text.startswith("127.0.0.1 localhost\n") and "10.96." not in text


def test_ip_allocator(tmp_path):
    a = podrunner.IPAllocator("10.244.201.0/24", str(tmp_path / "ips.json"))
    ip1, ip2 = a.get("u1"), a.get("u2")
    assert ip1 != ip2 and ip1.startswith("10.244.201.") and a.get("u1") == ip1
    a.release("u1")
    assert a.get("u3") not in (ip2, ip1)  # round-robin: a freed address is not handed out at once
    b = podrunner.IPAllocator("10.244.201.0/24", str(tmp_path / "ips.json"))
    assert b.get("u2") == ip2
    for other in ("10.0.0.0/16", "127.201.0.0/16"):  # outside the test bed's pod networks
        with pytest.raises(SystemExit):
            podrunner.IPAllocator(other, str(tmp_path / "x.json"))


@pytest.mark.parametrize("tool", ["zkServer.sh", "zkCli.sh", "zookeeper-ready", "kafka-topics",
                                  "kafka-console-producer", "kafka-console-consumer", "kafka-broker-api-versions",
                                  "kafka-configs", "zookeeper-shell", "kafka-metadata-quorum", "kafka-storage",
                                  "kafka-features", "kafka-cluster", "kafka-acls"])
def test_dispatchers_refuse_without_pod_ip(tool):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTBED_")}
    r = subprocess.run([os.path.join(PODBIN, tool), "status"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and "TESTBED_POD_IP is not set" in r.stderr


def test_probes_against_a_socket(tmp_path):
    """A 'pod' listening in its own network namespace: tcpSocket probes reach its address from the host, exec
    probes run inside (their localhost is the pod's, not this host's)."""
    ip, port = "10.244.201.40", 18181
    podnet.attach(STANDALONE_NET, ip)
    server = subprocess.Popen(podnet.enter_argv(ip, [sys.executable, "-c",
                              "import socket,time; s=socket.socket(); s.bind(('0.0.0.0', %d)); s.listen(); "
                              "print('up', flush=True); time.sleep(60)" % port]), stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().strip() == "up"
        container = {"ports": [{"name": "client", "containerPort": port}]}
        assert podrunner.run_probe({"tcpSocket": {"port": "client"}}, container, ip, {}, str(tmp_path))[0]
        assert podrunner.run_probe({"exec": {"command": ["true"]}}, container, ip, dict(os.environ), str(tmp_path))[0]
        local = {"exec": {"command": ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d" % port]}}
        assert podrunner.run_probe(local, container, ip, dict(os.environ), str(tmp_path))[0]
        assert not listening(ports={port})  # nothing on this host's own loopback
        assert not podrunner.run_probe({"exec": {"command": ["sh", "-c", "sleep 5"]}, "timeoutSeconds": 1},
                                       container, ip, dict(os.environ), str(tmp_path))[0]
    finally:
        server.kill()
        server.wait()
    assert not podrunner.run_probe({"tcpSocket": {"port": port}}, {}, ip, {}, str(tmp_path))[0]
    podnet.detach(ip)
    assert podnet.netns_name(ip) not in podnet.namespaces(STANDALONE_NET)
    # The pod's address is gone: a connection is answered "no route to host" (its link address forgotten,
    # asked again, nobody answers) well inside 2 s, not left to time out.
    with pytest.raises(OSError) as gone:
        socket.create_connection((ip, port), timeout=2)
    assert gone.value.errno == errno.EHOSTUNREACH, gone.value


# ----------------------------------------------------------------------------------------------------------
# Standalone processes: real JVMs through the runner's process layer, no Kubernetes

def exec_env(state, ns, pod, ip, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESTBED_")}
    env.update(TESTBED_POD_IP=ip, TESTBED_POD_NAME=pod, TESTBED_POD_NAMESPACE=ns, TESTBED_STATE_DIR=str(state),
               HOSTNAME=pod, PATH=PODBIN + ":" + env.get("PATH", ""))
    env.update(extra)
    return env


def zk_mode(ip, port=2181):
    """The server's Mode from its srvr answer (the test bed client's probe, with a short timeout), or None."""
    return client.srvr_mode(ip, port, timeout=2)


# The test bed client's wait, polling faster: these tests watch single processes start.
wait_for = functools.partial(client.wait_for, interval=0.2)


class Ensemble:
    """3 ZooKeeper 'pods' of the zookeeper image, as the StatefulSet would make them."""

    def __init__(self, state, base="10.244.201.", ns="kafka"):
        self.state, self.ns = state, ns
        self.ips = [base + str(10 + i) for i in range(3)]
        self.sandboxes = [sandbox(state, ip, "zookeeper-%d" % i, "zookeeper",
                                  {"/data": str(state / "volumes" / ns / ("data-zookeeper-%d" % i))})
                          for i, ip in enumerate(self.ips)]
        self.procs = [None] * 3
        pods = [dict(namespace=ns, labels={"app": "zk"}, ip=ip, ready=True, terminating=False,
                     hostname="zookeeper-%d" % i, subdomain="zk-hs") for i, ip in enumerate(self.ips)]
        svcs = [{"metadata": {"namespace": ns, "name": "zk-hs"},
                 "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "zk"}}},
                {"metadata": {"namespace": ns, "name": "zk-cs"}, "spec": {"clusterIP": "10.96.0.9", "selector": {"app": "zk"}}}]
        self.services = svcs
        self.pods = pods
        hosts.write_if_changed(str(state / "hosts" / ns), hosts.render(hosts.hosts_entries(ns, svcs, pods)))

    def start(self, i):
        launch = images.plan_container({}, {"image": "zookeeper:3.9.3", "command": ZK_CMD}, ROLE_ZK_ENV,
                                       self.sandboxes[i])
        self.procs[i] = procs.Process(in_pod(launch, self.sandboxes[i]), self.sandboxes[i].log_file).start()

    def modes(self):
        return [zk_mode(ip) or "-" for ip in self.ips]

    def stop(self):
        for p in self.procs:
            if p is not None:
                p.stop(10)


@pytest.fixture
def ensemble(tmp_path, jars):
    ens = Ensemble(tmp_path)
    yield ens
    ens.stop()


def test_zookeeper_ensemble_elects_a_leader(ensemble, tmp_path):
    t0 = time.time()
    for i in range(3):
        ensemble.start(i)
    modes = wait_for(lambda: sorted(ensemble.modes()) == ["follower", "follower", "leader"] and ensemble.modes(),
                     90, "1 leader + 2 followers")
    print("quorum in %.1fs: %s" % (time.time() - t0, modes))
    leader = modes.index("leader")
    sb = ensemble.sandboxes[leader]
    env = exec_env(tmp_path, "kafka", "zookeeper-%d" % leader, sb.pod_ip, ZOOCFGDIR=sb.conf_dir)
    r = subprocess.run(["zkServer.sh", "status"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "Mode: leader", r
    assert "Client port found: 2181." in r.stdout
    assert subprocess.run(["zookeeper-ready", "2181"], env=env, timeout=30).returncode == 0
    r = subprocess.run(["zkCli.sh", "-server", "localhost:2181", "create", "/testbed", "kept"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    # The leader goes: the others elect a new one, the data stays.
    t1 = time.time()
    ensemble.procs[leader].stop(10)
    others = [i for i in range(3) if i != leader]
    wait_for(lambda: sorted(ensemble.modes()[i] for i in others) == ["follower", "leader"], 60, "a new leader")
    print("new leader in %.1fs" % (time.time() - t1))
    r = subprocess.run(["zkServer.sh", "status"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "Error contacting service. It is probably not running." in r.stdout
    other = ensemble.sandboxes[others[0]]
    env2 = exec_env(tmp_path, "kafka", "zookeeper-%d" % others[0], other.pod_ip, ZOOCFGDIR=other.conf_dir)
    r = subprocess.run(["zkCli.sh", "-server", "localhost:2181", "get", "/testbed"], env=env2,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "kept", r
    # It comes back on its data (myid kept) and joins as a follower.
    ensemble.start(leader)
    wait_for(lambda: ensemble.modes()[leader] == "follower", 60, "the old leader back as follower")


def test_kafka_broker_registers(ensemble, tmp_path):
    for i in range(3):
        ensemble.start(i)
    wait_for(lambda: sorted(ensemble.modes()) == ["follower", "follower", "leader"], 90, "quorum")
    ip = "10.244.201.30"
    pods = ensemble.pods + [dict(namespace="kafka", labels={"b": "0"}, ip=ip, ready=False, terminating=False,
                                 hostname="kafka-broker-0-x", subdomain="")]
    svcs = ensemble.services + [{"metadata": {"namespace": "kafka", "name": "kafka-service-0"},
                                 "spec": {"clusterIP": "10.96.0.10", "publishNotReadyAddresses": True, "selector": {"b": "0"}}}]
    hosts.write_if_changed(str(tmp_path / "hosts" / "kafka"), hosts.render(hosts.hosts_entries("kafka", svcs, pods)))
    env = {"KAFKA_BROKER_ID": "0", "KAFKA_ZOOKEEPER_CONNECT": "zk-cs:2181",
           "KAFKA_LISTENERS": "PLAINTEXT://:9092,INTERNAL://:9093",
           "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-0:9092,INTERNAL://kafka-service-0:9093",
           "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
           "KAFKA_INTER_BROKER_LISTENER_NAME": "INTERNAL", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
           "KAFKA_LOG_DIRS": "/var/lib/kafka/data", "KAFKA_HEAP_OPTS": "-Xmx512m -Xms64m"}
    sb = sandbox(tmp_path, ip, "kafka-broker-0-x", "broker", {"/var/lib/kafka": str(tmp_path / "volumes" / "kafka-data-0")})
    launch = images.plan_container({}, {"image": "confluentinc/cp-kafka:7.9.0"}, env, sb)
    t0 = time.time()
    broker = procs.Process(in_pod(launch, sb), sb.log_file).start()
    try:
        from kazoo.client import KazooClient
        zk = KazooClient(hosts=",".join("%s:2181" % i for i in ensemble.ips))
        zk.start(timeout=30)
        try:
            wait_for(lambda: zk.exists("/brokers/ids/0") or not broker.alive(), 120, "/brokers/ids/0")
            assert broker.alive(), open(sb.log_file).read()[-3000:]
            print("broker registered in %.1fs" % (time.time() - t0))
            reg = json.loads(zk.get("/brokers/ids/0")[0])
            assert reg["endpoints"] == ["PLAINTEXT://kafka-service-0:9092", "INTERNAL://kafka-service-0:9093"]
        finally:
            zk.stop()
        zenv = exec_env(tmp_path, "kafka", "zookeeper-0", ensemble.ips[0], ZOOCFGDIR=ensemble.sandboxes[0].conf_dir)
        r = subprocess.run(["zkCli.sh", "-server", "localhost:2181", "ls", "/brokers/ids"], env=zenv,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout.strip().splitlines()[-1] == "[0]", r
        assert "Connecting to localhost:2181" in r.stdout
        kenv = exec_env(tmp_path, "kafka", "kafka-broker-0-x", ip)
        r = subprocess.run(["kafka-topics", "--bootstrap-server", "localhost:9092", "--create", "--topic", "t",
                            "--partitions", "1", "--replication-factor", "1"], env=kenv, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0 and "Created topic t." in r.stdout, r
        r = subprocess.run(["kafka-console-producer", "--bootstrap-server", "kafka-service-0:9092", "--topic", "t"],
                           input="hello testbed\n", env=kenv, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r
        r = subprocess.run(["kafka-console-consumer", "--bootstrap-server", "kafka-service-0:9092", "--topic", "t",
                            "--from-beginning", "--max-messages", "1", "--timeout-ms", "60000"], env=kenv,
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() == "hello testbed", r
        # `kubectl exec -i` through KWOK: the input pipe is never closed. The producer still ends, after
        # TESTBED_STDIN_IDLE_SECONDS without input.
        t1 = time.time()
        p = subprocess.Popen(["kafka-console-producer", "--bootstrap-server", "localhost:9092", "--topic", "t"],
                             stdin=subprocess.PIPE, env=dict(kenv, TESTBED_STDIN_IDLE_SECONDS="2"))
        p.stdin.write(b"second\n")
        p.stdin.flush()
        try:
            assert p.wait(timeout=60) == 0
        finally:
            p.kill() if p.poll() is None else None
            p.stdin.close()
        print("producer with a never-closed stdin ended in %.1fs" % (time.time() - t1))
        r = subprocess.run(["kafka-console-consumer", "--bootstrap-server", "kafka-service-0:9092", "--topic", "t",
                            "--from-beginning", "--max-messages", "2", "--timeout-ms", "60000"], env=kenv,
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.split() == ["hello", "testbed", "second"], r
        r = subprocess.run(["kafka-broker-api-versions", "--bootstrap-server", "localhost:9092"], env=kenv,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0 and "kafka-service-0:9092 (id: 0 rack: null)" in r.stdout, r
    finally:
        t1 = time.time()
        code = broker.stop(60)
        print("broker stopped in %.1fs (exit %s)" % (time.time() - t1, code))


# ----------------------------------------------------------------------------------------------------------
# KRaft on real JVMs (process layer, no Kubernetes): the ZooKeeper-to-KRaft migration on Kafka 3.9, and a
# Kafka 4 (cp-kafka 8.0) cluster. Addresses of STANDALONE_NET; heaps of 192 MB.

KRAFT_HEAP = "-Xmx192m -Xms64m"
# A broker's log cleaner allocates log.cleaner.dedupe.buffer.size (128 MB) at start: too much for a 192 MB heap.
SMALL_CLEANER = {"KAFKA_LOG_CLEANER_DEDUPE_BUFFER_SIZE": "16777216"}
_STARTED = re.compile(r"\] (?:Kafka Server )?started \(kafka\.server\.Kafka(?:Raft)?Server\)")


def _name_pods(state, ns, names):
    """The namespace's hosts file: each name (a Service of one pod) resolves to that pod's address."""
    svcs, pods = [], []
    for name, ip in names.items():
        svcs.append({"metadata": {"namespace": ns, "name": name},
                     "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"svc": name}}})
        pods.append(dict(namespace=ns, labels={"svc": name}, ip=ip, ready=True, terminating=False, hostname=name,
                         subdomain=""))
    hosts.write_if_changed(str(state / "hosts" / ns), hosts.render(hosts.hosts_entries(ns, svcs, pods)))


class Pod:
    """One container of one 'pod' started through images.plan_container + procs.Process, as the runner does."""

    def __init__(self, state, name, ip, container, mounts, ns="kafka"):
        self.state, self.name, self.ip, self.ns = state, name, ip, ns
        self.sb = sandbox(state, ip, name, container, mounts, subdomain="", ns=ns)
        self.proc = self.launch = None
        self.offset = 0

    def start(self, image, env, command=None):
        container = {"image": image}
        if command:
            container["command"] = command
        self.launch = images.plan_container({}, container, env, self.sb)
        self.offset = os.path.getsize(self.sb.log_file) if os.path.exists(self.sb.log_file) else 0
        self.proc = procs.Process(in_pod(self.launch, self.sb), self.sb.log_file).start()
        return self

    def log(self):
        """This run's part of the container log."""
        if not os.path.exists(self.sb.log_file):
            return ""
        with open(self.sb.log_file, errors="replace") as f:
            f.seek(self.offset)
            return f.read()

    def wait_log(self, pattern, timeout, what):
        rx = re.compile(pattern, re.I) if isinstance(pattern, str) else pattern
        wait_for(lambda: rx.search(self.log()) or not self.proc.alive(), timeout, what)
        assert rx.search(self.log()), "%s: %s exited %s before %s; its log ends:\n%s" % (
            self.name, self.launch.description, self.proc.exit_code, what, self.log()[-4000:])

    def exited(self, timeout):
        wait_for(lambda: self.proc.exit_code is not None or (not self.proc.alive() and self.proc.popen)
                 or self.proc.popen is None, timeout, "%s to exit" % self.name)
        self.proc.alive()
        return self.proc.exit_code

    def run(self, argv, input=None, timeout=120):
        """`kubectl exec POD -- argv` as KWOK runs it: the dispatchers with the pod's exec env."""
        env = exec_env(self.state, self.ns, self.name, self.ip, **self.launch.exec_env)
        return subprocess.run(argv, env=env, input=input, capture_output=True, text=True, timeout=timeout)

    def stop(self, grace=60):
        return self.proc.stop(grace) if self.proc else None


def _quorum_status(pod, address):
    r = pod.run(["kafka-metadata-quorum", "--bootstrap-controller", address, "describe", "--status"])
    assert r.returncode == 0, r
    return dict(line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)


@pytest.mark.parametrize("image,no_node_id_error", [
    ("confluentinc/cp-kafka:7.9.0", "Missing configuration `node.id` which is required when `process.roles` is defined"),
    ("confluentinc/cp-kafka:8.0.1", "Missing required configuration \"node.id\" which has no default value."),
])
def test_kraft_refusals_of_the_real_format_step(image, no_node_id_error, tmp_path, jars):
    """What the image's format step refuses, refused by the real StorageTool: no node.id; a controller
    without controller.quorum.voters (kafka-storage format without --standalone/--initial-controllers)."""
    ip = "10.244.201.150" if "7.9" in image else "10.244.201.151"
    _name_pods(tmp_path, "kafka", {"kafka-controller-0": ip})
    t0 = time.time()
    pod = Pod(tmp_path, "kafka-controller-0", ip, "controller", {"/var/lib/kafka": str(tmp_path / "pv0")})
    pod.start(image, _controller_env(KAFKA_HEAP_OPTS=KRAFT_HEAP))  # no KAFKA_NODE_ID
    try:
        assert pod.exited(60) == 1, pod.log()
        no_node_id = pod.log()
    finally:
        pod.stop()
    assert no_node_id_error in no_node_id, no_node_id
    assert not re.search(r"^===> Launching kafka", no_node_id, re.M), no_node_id  # stopped before the server
    env = _controller_env(KAFKA_HEAP_OPTS=KRAFT_HEAP, KAFKA_CONTROLLER_QUORUM_BOOTSTRAP_SERVERS="kafka-controller-0:9093")
    del env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    pod.start(image, env, KRAFT_CONTROLLER_CMD)
    try:
        assert pod.exited(60) == 1, pod.log()
        dynamic = pod.log()
    finally:
        pod.stop()
    assert "controller.quorum.voters" in dynamic and "--standalone" in dynamic, dynamic
    print("format refusals in %.1fs:\n%s\n%s" % (time.time() - t0, no_node_id.strip().splitlines()[-1],
                                                 dynamic.strip().splitlines()[-1]))


@pytest.mark.skipif(os.environ.get("KAFKA_EKS_SLOW_SCENARIOS") != "1",
                    reason="slow (about 4 minutes on 2 cores): run by `make test-slow` (KAFKA_EKS_SLOW_SCENARIOS=1),"
                           " outside CI's time budget")
def test_kraft_migration_from_zookeeper(tmp_path, jars):
    """KIP-866 on real parts: ZooKeeper 3.9.3, a cp-kafka 7.9 broker (Kafka 3.9.2, IBP 3.9) with a topic, a
    KRaft controller in migration mode, the broker rolled with the migration settings, the metadata copied,
    then the broker rolled as a KRaft broker that still serves the old messages."""
    ns = "kafka"
    zk_ip, broker_ip, ctl_ip = "10.244.201.110", "10.244.201.130", "10.244.201.140"
    _name_pods(tmp_path, ns, {"zk-cs": zk_ip, "kafka-service-0": broker_ip, "kafka-controller-0": ctl_ip})
    times = {}
    t0 = time.time()
    zk = Pod(tmp_path, "zookeeper-0", zk_ip, "zookeeper", {"/data": str(tmp_path / "volumes" / "zk")})
    broker = Pod(tmp_path, "kafka-broker-0-x", broker_ip, "broker", {"/var/lib/kafka": str(tmp_path / "volumes" / "b0")})
    ctl = Pod(tmp_path, "kafka-controller-0", ctl_ip, "controller", {"/var/lib/kafka": str(tmp_path / "volumes" / "c0")})
    zk_env = {"ZK_SERVER_HEAP": "128", "ZOO_4LW_COMMANDS_WHITELIST": "srvr,ruok", "ZOO_ADMINSERVER_ENABLED": "false"}
    broker_zk_env = {"KAFKA_BROKER_ID": "0", "KAFKA_ZOOKEEPER_CONNECT": "zk-cs:2181",
                     "KAFKA_LISTENERS": "PLAINTEXT://:9092",
                     "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-0:9092",
                     "KAFKA_INTER_BROKER_PROTOCOL_VERSION": "3.9", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
                     "KAFKA_LOG_DIRS": "/var/lib/kafka/data", "KAFKA_HEAP_OPTS": KRAFT_HEAP, **SMALL_CLEANER}
    try:
        zk.start("zookeeper:3.9.3", zk_env, ZK_CMD)
        wait_for(lambda: zk_mode(zk_ip) == "standalone" or not zk.proc.alive(), 60, "ZooKeeper standalone")
        broker.start("confluentinc/cp-kafka:7.9.0", broker_zk_env)
        broker.wait_log(_STARTED, 90, "the ZooKeeper-mode broker started")
        times["zookeeper + ZooKeeper-mode broker"] = time.time() - t0
        r = broker.run(["kafka-topics", "--bootstrap-server", "localhost:9092", "--create", "--topic", "migrated",
                        "--partitions", "1", "--replication-factor", "1"])
        assert r.returncode == 0 and "Created topic migrated." in r.stdout, r
        r = broker.run(["kafka-console-producer", "--bootstrap-server", "localhost:9092", "--topic", "migrated"],
                       input="m1\nm2\nm3\n")
        assert r.returncode == 0, r
        from kazoo.client import KazooClient
        zkc = KazooClient(hosts="%s:2181" % zk_ip)
        zkc.start(timeout=30)
        try:
            cluster_id = json.loads(zkc.get("/cluster/id")[0])["id"]
            assert not zkc.exists("/migration")
        finally:
            zkc.stop()

        # The controller: same cluster id, formatted by the image's entrypoint, migration on.
        t1 = time.time()
        ctl.start("confluentinc/cp-kafka:7.9.0", _controller_env(
            CLUSTER_ID=cluster_id, KAFKA_HEAP_OPTS=KRAFT_HEAP, KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE="true",
            KAFKA_ZOOKEEPER_CONNECT="zk-cs:2181", KAFKA_INTER_BROKER_LISTENER_NAME="PLAINTEXT",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"), KRAFT_CONTROLLER_CMD)
        ctl.wait_log(_STARTED, 90, "the KRaft controller started")
        times["controller formatted + started"] = time.time() - t1

        # The broker rolled with the migration settings; the controller copies ZooKeeper's metadata.
        t2 = time.time()
        broker.stop()
        broker.start("confluentinc/cp-kafka:7.9.0", dict(
            broker_zk_env, KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE="true",
            # voters, not controller.quorum.bootstrap.servers: the image formats controllers with a static
            # quorum (see the refusal test), whose log has no voter records, so a broker that knows only the
            # bootstrap servers follows the log but never finds the controller to register with
            # ("Unable to register the broker because the RPC got timed out before it could be sent").
            KAFKA_CONTROLLER_QUORUM_VOTERS="3000@kafka-controller-0:9093",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"))
        assert "migration enabled" in broker.launch.description
        ctl.wait_log(r"Completed migration of metadata from Zookeeper to KRaft", 120, "the metadata migration")
        times["broker rolled (migration) -> metadata migrated"] = time.time() - t2
        done = [l for l in ctl.log().splitlines() if re.search("Completed migration of metadata", l, re.I)][0]
        assert "TOPIC_RECORD" in done, done
        status = _quorum_status(ctl, "localhost:9093")
        assert status["LeaderId"].strip() == "3000" and status["ClusterId"].strip() == cluster_id, status
        r = ctl.run(["kafka-metadata-quorum", "--bootstrap-controller", "localhost:9093", "describe", "--replication"])
        assert r.returncode == 0 and "Leader" in r.stdout, r

        # The broker rolled as a KRaft broker: node.id = broker.id, no ZooKeeper settings, no IBP.
        t3 = time.time()
        broker.stop()
        broker.start("confluentinc/cp-kafka:7.9.0", {
            "KAFKA_PROCESS_ROLES": "broker", "KAFKA_NODE_ID": "0", "CLUSTER_ID": cluster_id,
            "KAFKA_LISTENERS": "PLAINTEXT://:9092", "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-0:9092",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "3000@kafka-controller-0:9093",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data", "KAFKA_HEAP_OPTS": KRAFT_HEAP, **SMALL_CLEANER})
        broker.wait_log(_STARTED, 90, "the KRaft broker started")
        times["broker rolled as KRaft broker"] = time.time() - t3
        # Its log dir kept the ZooKeeper broker's meta.properties: the image's format step says so and goes on.
        assert re.search("already formatted", broker.log(), re.I), broker.log()[:3000]
        r = broker.run(["kafka-console-consumer", "--bootstrap-server", "localhost:9092", "--topic", "migrated",
                        "--from-beginning", "--max-messages", "3", "--timeout-ms", "60000"])
        assert r.stdout.split() == ["m1", "m2", "m3"], r
        r = broker.run(["kafka-cluster", "cluster-id", "--bootstrap-server", "localhost:9092"])
        assert r.returncode == 0 and r.stdout.strip() == "Cluster ID: " + cluster_id, r
        # The migrated broker keeps its ZooKeeper-era meta.properties (version=0, broker.id): Kafka 3.9 runs
        # on it, but `kafka-storage info` calls it a problem and exits 1 (real StorageTool, /etc/kafka/... is
        # the pod's config).
        with open(str(tmp_path / "volumes" / "b0" / "data" / "meta.properties")) as f:
            meta = dict(l.strip().split("=", 1) for l in f if "=" in l and not l.startswith("#"))
        assert meta["version"] == "0" and meta["broker.id"] == "0" and meta["cluster.id"] == cluster_id, meta
        r = broker.run(["kafka-storage", "info", "-c", "/etc/kafka/kafka.properties"])
        assert r.returncode == 1 and "cluster.id=%s" % cluster_id in r.stdout, r
        assert "appears to be for a cluster in KRaft mode, but the directories are formatted for legacy mode" in r.stdout

        # Finalize: the controller restarted without the migration flag and without ZooKeeper; then ZooKeeper
        # can go. Then Kafka 4 (cp-kafka 8.0), controllers first: the same data dirs, the same env.
        t4 = time.time()
        kraft_ctl_env = _controller_env(CLUSTER_ID=cluster_id, KAFKA_HEAP_OPTS=KRAFT_HEAP,
                                        KAFKA_LISTENER_SECURITY_PROTOCOL_MAP="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
        ctl.stop()
        ctl.start("confluentinc/cp-kafka:7.9.0", kraft_ctl_env, KRAFT_CONTROLLER_CMD)
        ctl.wait_log(_STARTED, 90, "the controller restarted without migration")
        assert "zookeeper.metadata.migration.enable" not in _props(ctl.launch)
        zk.stop()
        times["controller finalized"] = time.time() - t4
        t5 = time.time()
        ctl.stop()
        ctl.start("confluentinc/cp-kafka:8.0.1", kraft_ctl_env, KRAFT_CONTROLLER_CMD)
        ctl.wait_log(_STARTED, 90, "the Kafka 4 controller on the migrated metadata")
        broker_env = dict(broker.launch.env)
        broker.stop()
        broker.start("confluentinc/cp-kafka:8.0.1", {k: v for k, v in broker_env.items()
                                                     if k.startswith("KAFKA_") or k == "CLUSTER_ID"})
        broker.wait_log(_STARTED, 90, "the Kafka 4 broker on the migrated log dir")
        times["controller + broker on Kafka 4.0.2"] = time.time() - t5
        assert "Kafka version: 4.0.2" in broker.log()
        r = broker.run(["kafka-console-consumer", "--bootstrap-server", "localhost:9092", "--topic", "migrated",
                        "--from-beginning", "--max-messages", "3", "--timeout-ms", "60000"])
        assert r.stdout.split() == ["m1", "m2", "m3"], r
        with open(str(tmp_path / "volumes" / "b0" / "data" / "meta.properties")) as f:
            print("meta.properties under Kafka 4: %s" % "; ".join(l.strip() for l in f if not l.startswith("#")))
    finally:
        for pod in (broker, ctl, zk):
            pod.stop()
    print("migration test: %s; total %.1fs" % ("; ".join("%s %.1fs" % kv for kv in times.items()), time.time() - t0))


def test_kafka4_kraft_cluster_from_cp_kafka_8(tmp_path, jars):
    """cp-kafka 8.0 (Kafka 4.0.2): a controller and a broker, formatted by the image's entrypoint, serve a
    topic round trip; the KRaft tools answer from inside the pods."""
    ns = "kafka"
    ctl_ip, broker_ip = "10.244.201.240", "10.244.201.230"
    _name_pods(tmp_path, ns, {"kafka-service-0": broker_ip, "kafka-controller-0": ctl_ip})
    cluster_id = "q1Sh-9_ISia_zwGINzRvyQ"
    ctl = Pod(tmp_path, "kafka-controller-0", ctl_ip, "controller", {"/var/lib/kafka": str(tmp_path / "volumes" / "c0")})
    broker = Pod(tmp_path, "kafka-broker-0-x", broker_ip, "broker", {"/var/lib/kafka": str(tmp_path / "volumes" / "b0")})
    t0 = time.time()
    try:
        ctl.start("confluentinc/cp-kafka:8.0.1", _controller_env(CLUSTER_ID=cluster_id, KAFKA_HEAP_OPTS=KRAFT_HEAP),
                  KRAFT_CONTROLLER_CMD)
        broker.start("confluentinc/cp-kafka:8.0.1", {
            "KAFKA_PROCESS_ROLES": "broker", "KAFKA_NODE_ID": "0", "CLUSTER_ID": cluster_id,
            "KAFKA_LISTENERS": "PLAINTEXT://:9092", "KAFKA_ADVERTISED_LISTENERS": "PLAINTEXT://kafka-service-0:9092",
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "KAFKA_CONTROLLER_QUORUM_VOTERS": "3000@kafka-controller-0:9093",
            "KAFKA_CONTROLLER_LISTENER_NAMES": "CONTROLLER", "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
            "KAFKA_LOG_DIRS": "/var/lib/kafka/data", "KAFKA_HEAP_OPTS": KRAFT_HEAP, **SMALL_CLEANER})
        ctl.wait_log(_STARTED, 90, "the Kafka 4 controller started")
        broker.wait_log(_STARTED, 90, "the Kafka 4 broker started")
        started = time.time() - t0
        assert "Kafka version: 4.0.2" in broker.log()
        status = _quorum_status(ctl, "127.0.0.1:9093")  # the pod's own 127.0.0.1 means its address
        assert status["LeaderId"].strip() == "3000" and status["ClusterId"].strip() == cluster_id, status
        r = broker.run(["kafka-topics", "--bootstrap-server", "localhost:9092", "--create", "--topic", "k4",
                        "--partitions", "1", "--replication-factor", "1"])
        assert r.returncode == 0 and "Created topic k4." in r.stdout, r
        r = broker.run(["kafka-console-producer", "--bootstrap-server", "localhost:9092", "--topic", "k4"],
                       input="hello kafka 4\n")
        assert r.returncode == 0, r
        r = broker.run(["kafka-console-consumer", "--bootstrap-server", "localhost:9092", "--topic", "k4",
                        "--from-beginning", "--max-messages", "1", "--timeout-ms", "60000"])
        assert r.stdout.strip() == "hello kafka 4", r
        r = broker.run(["kafka-features", "--bootstrap-server", "localhost:9092", "describe"])
        assert r.returncode == 0 and "metadata.version" in r.stdout, r
        print("Kafka 4 controller + broker started in %.1fs; whole test %.1fs" % (started, time.time() - t0))
    finally:
        for pod in (broker, ctl):
            pod.stop()


# ----------------------------------------------------------------------------------------------------------
# End to end on a test bed: the real apiserver, scheduler and controllers; the pod runner as the kubelet

TESTBED_PY = os.path.join(HERE, "testbed.py")
BED_NAME = os.environ.get("PODRUNNER_E2E_BED", "podrunner-e2e")
BED_INDEX = os.environ.get("PODRUNNER_E2E_INDEX", "9")
NS = "kafka"
LABELS = {"app.kubernetes.io/part-of": "kafka", "app.kubernetes.io/instance": "kafka",
          "app.kubernetes.io/managed-by": "kafka_eks.cluster"}
ZK_SELECTOR = {"app.kubernetes.io/component": "zookeeper", "app.kubernetes.io/instance": "kafka"}
BROKER_SELECTOR = {"app.kubernetes.io/component": "broker", "app.kubernetes.io/instance": "kafka"}
E2E_VARS = os.path.join(REPO, "tests", "e2e", "testbed-vars.yml")


class Bed:
    def __init__(self, kubeconfig, state_dir):
        from kubernetes import client, config
        self.kubeconfig, self.state_dir = kubeconfig, state_dir
        self.api = config.new_client_from_config(config_file=kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)

    def pods(self, selector):
        sel = ",".join("%s=%s" % kv for kv in sorted(selector.items()))
        return [p for p in self.core.list_namespaced_pod(NS, label_selector=sel).items]

    def ready_pods(self, selector, count):
        pods = [p for p in self.pods(selector) if p.metadata.deletion_timestamp is None and p.status.pod_ip
                and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
        return pods if len(pods) == count else None

    def exec(self, pod, command, stdin=None, timeout=120, ns=NS):
        """kubectl exec [-i], through the API and kwok: (error channel, stdout, stderr). KWOK does not pass
        non-zero exit codes back: a failure comes as a Failure status on the error channel."""
        from kubernetes.stream import stream
        from kubernetes.stream.ws_client import ERROR_CHANNEL
        resp = stream(self.core.connect_get_namespaced_pod_exec, pod, ns, command=command, stderr=True,
                      stdin=stdin is not None, stdout=True, tty=False, _preload_content=False)
        out, err = [], []
        if stdin is not None:
            resp.write_stdin(stdin)
        deadline = time.time() + timeout
        while resp.is_open() and time.time() < deadline:
            resp.update(timeout=1)
            if resp.peek_stdout():
                out.append(resp.read_stdout())
            if resp.peek_stderr():
                err.append(resp.read_stderr())
        status = resp.read_channel(ERROR_CHANNEL)
        resp.close()
        return status, "".join(out), "".join(err)

    def local_exec(self, pod, command, stdin=None, timeout=120):
        """The same dispatchers, run here with the pod's exec env (what kwok's Exec object gives them)."""
        ip = pod.status.pod_ip
        env = exec_env(self.state_dir, NS, pod.metadata.name, ip)
        for c in pod.spec.containers:
            for e in c.env or []:
                if e.value is not None:
                    env[e.name] = e.value
        return subprocess.run(command, input=stdin, env=env, capture_output=True, text=True, timeout=timeout)


def _podrunner_alive(state):
    pid_file = os.path.join(state, "podrunner", "podrunner.pid")
    return podrunner.running_pid(pid_file) is not None


@pytest.fixture(scope="module")
def bed(jars):
    kubeconfig = os.environ.get("TESTBED_KUBECONFIG")
    owned = False
    if kubeconfig:
        state = os.environ.get("TESTBED_STATE_DIR", os.path.dirname(os.path.abspath(kubeconfig)))
    else:
        if not os.path.exists(TESTBED_PY):
            pytest.skip("no control plane yet: tests/testbed/testbed.py is missing (or set TESTBED_KUBECONFIG)")
        state = os.path.join(REPO, ".cache", "testbeds", BED_NAME)
        r = subprocess.run([PYTHON, TESTBED_PY, "up", "--name", BED_NAME, "--nodes", "4", "--index", BED_INDEX])
        assert r.returncode == 0, "testbed.py up failed"
        kubeconfig = os.path.join(state, "kubeconfig")
        owned = True
    runner = None
    if not _podrunner_alive(state):
        # The bed did not start a pod runner: this test starts its own.
        log = open(os.path.join(state, "podrunner-test.log"), "ab")
        runner = subprocess.Popen([PYTHON, os.path.join(HERE, "podrunner", "podrunner.py"), "--kubeconfig", kubeconfig,
                                   "--state-dir", state, "--pod-cidr", "10.244.250.0/24",
                                   "--lb-cidr", "127.250.255.0/24"], stdout=log, stderr=log)
    b = Bed(kubeconfig, state)
    try:
        from kubernetes import client
        try:
            b.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=NS)))
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        yield b
    finally:
        if os.environ.get("PODRUNNER_E2E_KEEP") != "1":
            try:
                # Brokers first, while ZooKeeper is still there for their controlled shutdown (else each
                # one waits out its 60 s grace period and is killed).
                b.apps.delete_collection_namespaced_deployment(NS)
                wait_for(lambda: not b.pods(BROKER_SELECTOR), 120, "the brokers gone", interval=1)
                b.core.delete_namespace(NS)
            except Exception as exc:  # noqa: BLE001
                print("teardown: %s" % exc)
        if runner is not None:
            runner.terminate()
            runner.wait(timeout=90)
        if owned and os.environ.get("PODRUNNER_E2E_KEEP") != "1":
            subprocess.run([PYTHON, TESTBED_PY, "down", "--name", BED_NAME])


def _render_manifests(tmp_dir):
    """The collection's own manifests when render.yml works, else None."""
    playbook = os.path.join(REPO, ".cache", "venv", "bin", "ansible-playbook")
    if not os.path.exists(playbook):
        return None
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO, ".cache", "collections"))
    args = [playbook, os.path.join(REPO, "playbooks", "render.yml"), "-e", "kafka_render_dir=%s" % tmp_dir]
    if os.path.exists(E2E_VARS):
        args += ["-e", "@" + E2E_VARS]
    r = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        print("render.yml failed, using this test's own manifests:\n" + (r.stdout + r.stderr)[-1500:])
        return None
    docs = []
    for name in sorted(os.listdir(tmp_dir)):
        if name.endswith((".yml", ".yaml")):
            with open(os.path.join(tmp_dir, name)) as f:
                docs += [d for d in yaml.safe_load_all(f) if d]
    return docs


def _own_zookeeper_manifests():
    labels = dict(LABELS, **{"app.kubernetes.io/name": "zookeeper", "app.kubernetes.io/component": "zookeeper"})
    env = dict(ROLE_ZK_ENV)
    env["ZOO_SERVERS"] = " ".join("server.%d=zookeeper-%d.zk-hs.kafka.svc.cluster.local:2888:3888;2181" % (i + 1, i)
                                  for i in range(3))
    return [
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-hs", "namespace": NS, "labels": labels},
         "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": ZK_SELECTOR,
                  "ports": [{"name": "server", "port": 2888}, {"name": "leader-election", "port": 3888}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-cs", "namespace": NS, "labels": labels},
         "spec": {"selector": ZK_SELECTOR, "ports": [{"name": "client", "port": 2181}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "zookeeper", "namespace": NS, "labels": labels},
         "spec": {"serviceName": "zk-hs", "replicas": 3, "podManagementPolicy": "Parallel",
                  "selector": {"matchLabels": ZK_SELECTOR},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "enableServiceLinks": False, "terminationGracePeriodSeconds": 30,
                      "containers": [{
                          "name": "zookeeper", "image": "zookeeper:3.9.3", "command": ZK_CMD,
                          "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
                          "ports": [{"name": "client", "containerPort": 2181}, {"name": "server", "containerPort": 2888},
                                    {"name": "leader-election", "containerPort": 3888}],
                          "readinessProbe": {"exec": {"command": ["zkServer.sh", "status"]}, "initialDelaySeconds": 10,
                                             "periodSeconds": 10, "timeoutSeconds": 10},
                          "livenessProbe": {"tcpSocket": {"port": "client"}, "initialDelaySeconds": 30,
                                            "periodSeconds": 10, "timeoutSeconds": 5},
                          "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}},
                  "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": labels},
                                            "spec": {"accessModes": ["ReadWriteOnce"],
                                                     "resources": {"requests": {"storage": "1Gi"}}}}]}},
    ]


def _own_broker_manifests(count=4):
    docs = []
    boot = ",".join("kafka-service-%d:9092" % i for i in range(count))
    for i in range(count):
        labels = dict(LABELS, **{"app.kubernetes.io/name": "kafka", "app.kubernetes.io/component": "broker",
                                 "kafka-eks.cluster/broker-id": str(i)})
        selector = dict(BROKER_SELECTOR, **{"kafka-eks.cluster/broker-id": str(i)})
        svc = "kafka-service-%d" % i
        props = {"broker.id": str(i), "zookeeper.connect": "zk-cs:2181",
                 "listeners": "PLAINTEXT://:9092,INTERNAL://:9093",
                 "advertised.listeners": "PLAINTEXT://%s:9092,INTERNAL://%s:9093" % (svc, svc),
                 "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
                 "inter.broker.listener.name": "INTERNAL", "log.dirs": "/var/lib/kafka/data",
                 "auto.create.topics.enable": "false", "offsets.topic.replication.factor": "3",
                 "default.replication.factor": "3", "min.insync.replicas": "2"}
        import plan
        env = [{"name": plan.property_to_env(k), "value": v} for k, v in sorted(props.items())]
        env.append({"name": "KAFKA_HEAP_OPTS", "value": "-Xms128m -Xmx384m"})
        docs += [
            {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "kafka-data-%d" % i, "namespace": NS, "labels": labels},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": NS, "labels": labels},
             "spec": {"selector": selector, "publishNotReadyAddresses": True,
                      "ports": [{"name": "client", "port": 9092, "targetPort": "client"},
                                {"name": "internal", "port": 9093, "targetPort": "internal"}]}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kafka-broker-%d" % i, "namespace": NS, "labels": labels},
             "spec": {"replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": selector},
                      "template": {"metadata": {"labels": labels}, "spec": {
                          "enableServiceLinks": False, "terminationGracePeriodSeconds": 60,
                          "containers": [{"name": "broker", "image": "confluentinc/cp-kafka:7.9.0", "env": env,
                                          "ports": [{"name": "client", "containerPort": 9092},
                                                    {"name": "internal", "containerPort": 9093}],
                                          "readinessProbe": {"tcpSocket": {"port": "client"}, "initialDelaySeconds": 10,
                                                             "periodSeconds": 10, "timeoutSeconds": 5},
                                          "livenessProbe": {"tcpSocket": {"port": "client"}, "initialDelaySeconds": 60,
                                                            "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6},
                                          "volumeMounts": [{"name": "data", "mountPath": "/var/lib/kafka"}]}],
                          "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "kafka-data-%d" % i}}]}}}},
        ]
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kafka-client-config", "namespace": NS},
                 "data": {"bootstrap.servers": boot}})
    return docs


def _apply(bed, docs):
    from kubernetes import utils
    from kubernetes.client import ApiException
    for d in docs:
        if d.get("kind") == "Namespace":
            continue
        try:
            utils.create_from_dict(bed.api, d, namespace=NS)
        except utils.FailToCreateError as exc:
            if not all(isinstance(e, ApiException) and e.status == 409 for e in exc.api_exceptions):
                raise


@pytest.fixture(scope="module")
def manifests(tmp_path_factory):
    rendered = _render_manifests(str(tmp_path_factory.mktemp("render")))
    if rendered:
        zk = [d for d in rendered if (d.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component") == "zookeeper"]
        rest = [d for d in rendered if d not in zk]
        print("using the manifests of playbooks/render.yml (%d objects)" % len(rendered))
        return {"zookeeper": zk, "brokers": rest, "source": "render.yml"}
    return {"zookeeper": _own_zookeeper_manifests(), "brokers": _own_broker_manifests(), "source": "own"}


def _zk_modes(bed):
    pods = bed.ready_pods(ZK_SELECTOR, 3) or []
    return {p.metadata.name: zk_mode(p.status.pod_ip) for p in pods}


def test_e2e_zookeeper_statefulset(bed, manifests):
    t0 = time.time()
    _apply(bed, manifests["zookeeper"])
    pods = wait_for(lambda: bed.ready_pods(ZK_SELECTOR, 3), 300, "3 ready ZooKeeper pods")
    print("3 ZooKeeper pods ready in %.1fs (%s manifests)" % (time.time() - t0, manifests["source"]))
    modes = wait_for(lambda: (lambda m: m if sorted(m.values()) == ["follower", "follower", "leader"] else None)(_zk_modes(bed)),
                     120, "1 leader + 2 followers")
    print("modes:", modes)
    # kubectl exec through the API and kwok runs the dispatcher with the pod's env.
    status, out, err = bed.exec("zookeeper-0", ["zkServer.sh", "status"])
    assert out.strip().splitlines()[-1] in ("Mode: leader", "Mode: follower"), (status, out, err)
    from kazoo.client import KazooClient
    zk = KazooClient(hosts=",".join("%s:2181" % p.status.pod_ip for p in pods))
    zk.start(timeout=30)
    zk.create("/testbed-e2e", b"kept", makepath=True) if not zk.exists("/testbed-e2e") else None
    zk.stop()
    leader = [n for n, m in modes.items() if m == "leader"][0]
    old = bed.core.read_namespaced_pod(leader, NS)
    data_dir = os.path.join(bed.state_dir, "volumes", NS, "data-" + leader)
    assert os.path.exists(os.path.join(data_dir, "myid")), os.listdir(os.path.dirname(data_dir))
    myid = open(os.path.join(data_dir, "myid")).read()
    def zk_files():
        """Every snapshot and transaction log file on the server's volume (dataDir and dataLogDir)."""
        return {os.path.relpath(os.path.join(d, f), data_dir) for d, _, files in os.walk(data_dir)
                if os.path.basename(d) == "version-2" for f in files}
    before = zk_files()
    assert any(f.split("/")[-1].startswith("log.") for f in before), before
    t1 = time.time()
    bed.core.delete_namespaced_pod(leader, NS)
    others = [n for n in modes if n != leader]
    wait_for(lambda: sorted(zk_mode(bed.core.read_namespaced_pod(n, NS).status.pod_ip) or "-" for n in others)
             == ["follower", "leader"], 120, "a new leader among %s" % others)
    print("new leader after %.1fs" % (time.time() - t1))

    def back():
        p = bed.core.read_namespaced_pod(leader, NS)
        ok = p.metadata.uid != old.metadata.uid and any(c.type == "Ready" and c.status == "True"
                                                        for c in p.status.conditions or [])
        return p if ok else None
    new = wait_for(back, 240, "%s back and ready" % leader, interval=1)
    print("%s recreated and ready after %.1fs" % (leader, time.time() - t1))
    assert zk_mode(new.status.pod_ip) == "follower"
    assert open(os.path.join(data_dir, "myid")).read() == myid
    assert before <= zk_files()  # the same volume, nothing lost
    zk = KazooClient(hosts="%s:2181" % new.status.pod_ip)
    zk.start(timeout=30)
    try:
        assert zk.get("/testbed-e2e")[0] == b"kept"
    finally:
        zk.stop()


def test_e2e_brokers(bed, manifests):
    wait_for(lambda: bed.ready_pods(ZK_SELECTOR, 3), 300, "3 ready ZooKeeper pods")
    t0 = time.time()
    _apply(bed, manifests["brokers"])
    brokers = wait_for(lambda: bed.ready_pods(BROKER_SELECTOR, 4), 400, "4 ready brokers", interval=1)
    print("4 brokers ready in %.1fs" % (time.time() - t0))
    from kazoo.client import KazooClient
    zk_pods = bed.ready_pods(ZK_SELECTOR, 3)
    zk = KazooClient(hosts=",".join("%s:2181" % p.status.pod_ip for p in zk_pods))
    zk.start(timeout=30)
    try:
        ids = wait_for(lambda: sorted(zk.get_children("/brokers/ids")) == ["0", "1", "2", "3"] and zk.get_children("/brokers/ids"),
                       180, "4 registrations")
    finally:
        zk.stop()
    print("registered: %s after %.1fs" % (sorted(ids), time.time() - t0))
    boot = bed.core.read_namespaced_config_map("kafka-client-config", NS).data["bootstrap.servers"]
    by_name = sorted(brokers, key=lambda p: p.metadata.name)
    r = bed.local_exec(by_name[0], ["kafka-topics", "--bootstrap-server", boot, "--create", "--if-not-exists",
                                    "--topic", "e2e", "--partitions", "3", "--replication-factor", "3"])
    assert r.returncode == 0, r
    msg = "hello through the test bed %d" % time.time()
    r = bed.local_exec(by_name[1], ["kafka-console-producer", "--bootstrap-server", boot, "--topic", "e2e",
                                    "--producer-property", "acks=all"], stdin=msg + "\n")
    assert r.returncode == 0, r
    r = bed.local_exec(by_name[2], ["kafka-console-consumer", "--bootstrap-server", boot, "--topic", "e2e",
                                    "--from-beginning", "--max-messages", "1", "--timeout-ms", "60000"])
    assert r.stdout.strip() == msg, r
    # The same through kubectl exec (the API, kwok and its Exec object), input through exec -i.
    msg2 = "through kubectl exec -i %d" % time.time()
    status, out, err = bed.exec(by_name[3].metadata.name, ["kafka-console-producer", "--bootstrap-server", boot,
                                                             "--topic", "e2e", "--producer-property", "acks=all"],
                                stdin=msg2 + "\n")
    assert '"Success"' in status, (status, out, err)
    status, out, err = bed.exec(by_name[0].metadata.name, ["kafka-console-consumer", "--bootstrap-server", boot,
                                                             "--topic", "e2e", "--from-beginning", "--max-messages", "2",
                                                             "--timeout-ms", "60000"])
    assert sorted(out.strip().splitlines()) == sorted([msg, msg2]), (status, out, err)
    status, out, err = bed.exec(by_name[3].metadata.name, ["kafka-topics", "--bootstrap-server", boot, "--describe",
                                                             "--topic", "e2e"])
    assert "ReplicationFactor: 3" in out, (status, out, err)
    print("message round trip and exec ok after %.1fs" % (time.time() - t0))


def test_e2e_crashloop_and_no_runner(bed):
    """A container whose entrypoint refuses to start shows CrashLoopBackOff; an image with no runner never
    runs; a liveness probe that fails restarts the process."""
    from kubernetes.client import ApiException
    pods = {
        "e2e-crash": {"name": "broker", "image": "confluentinc/cp-kafka:7.9.0",
                      "env": [{"name": "KAFKA_ADVERTISED_LISTENERS", "value": "PLAINTEXT://x:9092"}]},
        "e2e-norunner": {"name": "main", "image": "busybox:1.36", "command": ["sleep", "3600"]},
        "e2e-liveness": {"name": "zk", "image": "zookeeper:3.9.3",
                         "env": [{"name": "ZK_SERVER_HEAP", "value": "64"}],
                         # Nothing listens on 2999: the process is restarted after 2 failed probes.
                         "livenessProbe": {"tcpSocket": {"port": 2999}, "initialDelaySeconds": 2, "periodSeconds": 1,
                                           "failureThreshold": 2, "terminationGracePeriodSeconds": 5}},
    }
    for name, container in pods.items():
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
                "spec": {"enableServiceLinks": False, "terminationGracePeriodSeconds": 5, "containers": [container]}}
        try:
            bed.core.create_namespaced_pod(NS, body)
        except ApiException as exc:
            if exc.status != 409:
                raise
    try:
        def crashlooping():
            cs = (bed.core.read_namespaced_pod("e2e-crash", NS).status.container_statuses or [None])[0]
            return cs if cs and cs.restart_count >= 2 and cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff" else None
        cs = wait_for(crashlooping, 90, "CrashLoopBackOff", interval=1)
        assert cs.last_state.terminated.exit_code == 1 and not cs.ready
        log = open(os.path.join(bed.state_dir, "pods", NS, "e2e-crash", "broker.log")).read()
        assert "KAFKA_ZOOKEEPER_CONNECT is required" in log
        p = bed.core.read_namespaced_pod("e2e-norunner", NS)
        w = p.status.container_statuses[0].state.waiting
        assert p.status.phase == "Pending" and w.reason == "ErrImagePull"
        assert w.message == "testbed has no runner for image busybox:1.36"
        cs = wait_for(lambda: (lambda c: c if c and c.restart_count >= 1 else None)(
            (bed.core.read_namespaced_pod("e2e-liveness", NS).status.container_statuses or [None])[0]), 90,
            "a restart after failed liveness probes", interval=1)
        assert cs.last_state.terminated is not None
    finally:
        for name in pods:
            try:
                bed.core.delete_namespaced_pod(name, NS)
            except ApiException:
                pass
    wait_for(lambda: not [p for p in bed.core.list_namespaced_pod(NS).items if p.metadata.name in pods], 60,
             "the pods gone", interval=1)


def test_e2e_kubernetes_zookeeper_image(bed):
    """The seed's image: start-zookeeper from the command, probes through `zookeeper-ready`."""
    from kubernetes import utils
    ns = "podrunner-seed"
    sel = {"app": "zk-seed"}
    bed.core.create_namespace({"metadata": {"name": ns}})
    try:
        docs = [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-hs", "namespace": ns},
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": sel,
                      "ports": [{"port": 2888, "name": "server"}, {"port": 3888, "name": "leader-election"}]}},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "zk", "namespace": ns},
             "spec": {"serviceName": "zk-hs", "replicas": 3, "podManagementPolicy": "Parallel",
                      "selector": {"matchLabels": sel},
                      "template": {"metadata": {"labels": sel}, "spec": {"containers": [{
                          "name": "kubernetes-zookeeper", "image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                          "command": [SEED_CMD[0], SEED_CMD[1], SEED_CMD[2].replace("--heap=512M", "--heap=128M")],
                          "readinessProbe": {"exec": {"command": ["sh", "-c", "zookeeper-ready 2181"]},
                                             "initialDelaySeconds": 2, "periodSeconds": 2},
                          "livenessProbe": {"exec": {"command": ["sh", "-c", "zookeeper-ready 2181"]},
                                            "initialDelaySeconds": 15, "periodSeconds": 5},
                          "volumeMounts": [{"name": "datadir", "mountPath": "/var/lib/zookeeper"}]}]}},
                      "volumeClaimTemplates": [{"metadata": {"name": "datadir"}, "spec": {
                          "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]}},
        ]
        for d in docs:
            utils.create_from_dict(bed.api, d)
        t0 = time.time()

        def ready():
            pods = [p for p in bed.core.list_namespaced_pod(ns).items if p.status.pod_ip and any(
                c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
            return pods if len(pods) == 3 else None
        pods = wait_for(ready, 180, "3 ready kubernetes-zookeeper pods", interval=1)
        modes = wait_for(lambda: (lambda m: m if sorted(m) == ["follower", "follower", "leader"] else None)(
            [zk_mode(p.status.pod_ip) or "-" for p in pods]), 60, "a quorum")
        print("kubernetes-zookeeper: 3 ready in %.1fs, %s" % (time.time() - t0, modes))
        myids = sorted(open(os.path.join(bed.state_dir, "volumes", ns, "datadir-zk-%d" % i, "data", "myid")).read()
                       for i in range(3))
        assert myids == ["1\n", "2\n", "3\n"]
    finally:
        bed.core.delete_namespace(ns)


def test_e2e_old_versions_zookeeper_3_4_and_kafka_2_5(bed):
    """The versions the images name: kubernetes-zookeeper:1.0-3.4.10 runs ZooKeeper 3.4.10 (srvr says so; its
    zkCli.sh is 3.4's), cp-kafka:5.5.11 runs Kafka 2.5.1, which registers in /brokers/ids with Kafka 2.5's JSON
    (version 4, jmx_port) and whose kafka-topics is 2.5's."""
    from kazoo.client import KazooClient
    from kubernetes import utils
    ns = "podrunner-versions"
    t0 = time.time()
    bed.core.create_namespace({"metadata": {"name": ns}})
    try:
        zk_cmd = ("start-zookeeper --servers=1 --data_dir=/var/lib/zookeeper/data "
                  "--data_log_dir=/var/lib/zookeeper/data/log --conf_dir=/opt/zookeeper/conf --client_port=2181 "
                  "--heap=96M --log_level=INFO")
        probe = {"exec": {"command": ["sh", "-c", "zookeeper-ready 2181"]}, "initialDelaySeconds": 1,
                 "periodSeconds": 1}
        docs = [
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "zk-hs", "namespace": ns},
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": {"app": "zk34"},
                      "ports": [{"port": 2181, "name": "client"}]}},
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "zk-0", "namespace": ns, "labels": {"app": "zk34"}},
             "spec": {"hostname": "zk-0", "subdomain": "zk-hs", "enableServiceLinks": False,
                      "terminationGracePeriodSeconds": 5, "containers": [{
                          "name": "kubernetes-zookeeper", "image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                          "command": ["sh", "-c", zk_cmd], "readinessProbe": probe}]}},
        ]
        for d in docs:
            utils.create_from_dict(bed.api, d)

        def ready(name):
            p = bed.core.read_namespaced_pod(name, ns)
            return p if p.status.pod_ip and any(c.type == "Ready" and c.status == "True"
                                                for c in p.status.conditions or []) else None
        zk_pod = wait_for(lambda: ready("zk-0"), 60, "the ZooKeeper 3.4 pod Ready", interval=0.5)
        ip = zk_pod.status.pod_ip
        with socket.create_connection((ip, 2181), timeout=5) as sock:
            sock.sendall(b"srvr")
            srvr = sock.makefile().read()
        assert srvr.startswith("Zookeeper version: 3.4.10-"), srvr
        assert "Mode: standalone" in srvr, srvr
        print("ZooKeeper 3.4.10 ready after %.1fs" % (time.time() - t0))
        utils.create_from_dict(bed.api, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kafka-0", "namespace": ns},
            "spec": {"enableServiceLinks": False, "terminationGracePeriodSeconds": 10, "containers": [{
                "name": "broker", "image": "confluentinc/cp-kafka:5.5.11", "env": [
                    {"name": "KAFKA_BROKER_ID", "value": "0"},
                    {"name": "KAFKA_ZOOKEEPER_CONNECT", "value": "zk-0.zk-hs:2181"},
                    {"name": "KAFKA_LISTENERS", "value": "PLAINTEXT://0.0.0.0:9092"},
                    {"name": "KAFKA_ADVERTISED_LISTENERS", "value": "PLAINTEXT://kafka-0.%s:9092" % ns},
                    {"name": "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "value": "1"},
                    {"name": "KAFKA_HEAP_OPTS", "value": "-Xms256m -Xmx256m"}],
                "readinessProbe": {"tcpSocket": {"port": 9092}, "initialDelaySeconds": 1, "periodSeconds": 1}}]}})
        zk = KazooClient(hosts="%s:2181" % ip)
        zk.start(timeout=30)
        try:
            wait_for(lambda: zk.exists("/brokers/ids/0"), 60, "broker 0 registered", interval=0.5)
            registration = json.loads(zk.get("/brokers/ids/0")[0])
        finally:
            zk.stop()
            zk.close()
        print("Kafka 2.5.1 broker registered after %.1fs: %s" % (time.time() - t0, registration))
        # Kafka 2.5 writes version 4 (3.9 writes 5, with "features"); jmx_port -1 without KAFKA_JMX_PORT.
        assert registration["version"] == 4 and registration["jmx_port"] == -1, registration
        assert "features" not in registration
        assert registration["endpoints"] == ["PLAINTEXT://kafka-0.%s:9092" % ns]
        log_path = os.path.join(bed.state_dir, "pods", ns, "kafka-0", "broker.log")
        # logged at the end of the broker's start-up, after its registration
        wait_for(lambda: "Kafka version: 2.5.1" in open(log_path).read(), 30, "the broker's version in its log")
        # The tools inside the pods are the pods' versions: zkCli.sh is ZooKeeper 3.4's (through kubectl exec:
        # the API, kwok and the Exec object), kafka-topics is Kafka 2.5.1's.
        status, out, err = bed.exec("zk-0", ["zkCli.sh", "-server", "localhost:2181", "get", "/brokers/ids/0"], ns=ns)
        assert '"Success"' in status and '"version":4' in out, (status, out, err)
        assert "cZxid = " in err, (status, out, err)  # 3.4's zkCli prints the Stat on stderr
        status, out, err = bed.exec("kafka-0", ["kafka-topics", "--version"], ns=ns)
        assert out.startswith("2.5.1"), (status, out, err)
        print("zkCli.sh 3.4 and kafka-topics 2.5.1 through kubectl exec after %.1fs" % (time.time() - t0))
    finally:
        try:  # the broker first, while ZooKeeper is there for its controlled shutdown
            bed.core.delete_namespaced_pod("kafka-0", ns)
            wait_for(lambda: not [p for p in bed.core.list_namespaced_pod(ns).items if p.metadata.name == "kafka-0"],
                     30, "the broker gone", interval=0.5)
        except Exception as exc:  # noqa: BLE001
            print("teardown: %s" % exc)
        bed.core.delete_namespace(ns)
    wait_for(lambda: not bed.core.list_namespaced_pod(ns).items, 60, "the pods gone", interval=1)
