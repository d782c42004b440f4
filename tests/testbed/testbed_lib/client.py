"""A running test bed as a user sees it: the Kubernetes API (kubectl), ZooKeeper and Kafka; beds brought up and down
through tests/testbed/testbed.py; a broker's registration read or dropped (kazoo). The benchmark (bench/) and the
end-to-end checks (tests/e2e/lib.py re-exports these names) read beds through this module.

Independent of the collection's own modules on purpose: a scenario's verify step must not trust the code
it checks. ZooKeeper is asked directly (srvr over TCP, kazoo for znodes) at the pods' addresses (their network namespaces on the bed's bridge),
Kafka through its own console clients run inside the broker pods (kubectl exec).
"""
import json
import os
import socket
import subprocess
import time

from testbed_lib.bed import HERE, KUBECTL, PYTHON, Bed

TESTBED = os.path.join(HERE, "testbed.py")
ZK_SELECTOR = "app.kubernetes.io/component=zookeeper"
BROKER_SELECTOR = "app.kubernetes.io/component=broker"


def start_testbed(name, nodes=3, index=1, zones=None):
    """Bring a test bed up (or reuse the running one) and return its kubeconfig path. zones: e.g.
    ["za", "zb", "zc"]: node i in zones[i % len], StorageClass standard WaitForFirstConsumer with zonal PVs."""
    argv = [PYTHON, TESTBED, "up", "--name", name, "--nodes", str(nodes), "--index", str(index)]
    if zones:
        argv += ["--zones", ",".join(zones)]
    subprocess.run(argv, check=True)
    return kubeconfig(name)


def stop_testbed(name):
    subprocess.run([PYTHON, TESTBED, "down", "--name", name], check=True)


def kubeconfig(name):
    return Bed(name).kubeconfig


class Cluster:
    """One test bed, seen as a user sees a cluster."""

    def __init__(self, name, namespace="kafka"):
        self.name = name
        self.namespace = namespace
        self.kubeconfig = kubeconfig(name)

    def kubectl(self, *args, stdin=None, check=True, timeout=120):
        proc = subprocess.run([KUBECTL, "--kubeconfig", self.kubeconfig, "-n", self.namespace] + list(args),
                              input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError("kubectl %s failed (%d): %s%s" % (" ".join(args), proc.returncode,
                                                                   proc.stdout, proc.stderr))
        return proc

    def get(self, kind, selector=None, name=None):
        args = ["get", kind, "-o", "json"]
        if name:
            args.insert(2, name)
        if selector:
            args += ["-l", selector]
        data = json.loads(self.kubectl(*args).stdout)
        return data if name else data["items"]

    def pods(self, selector):
        return [p for p in self.get("pods", selector) if not p["metadata"].get("deletionTimestamp")]

    def uids(self, kind, selector):
        return {o["metadata"]["name"]: o["metadata"]["uid"] for o in self.get(kind, selector)}

    def zookeeper_addresses(self, port=2181):
        return ["%s:%d" % (p["status"]["podIP"], port) for p in self.pods(ZK_SELECTOR) if p["status"].get("podIP")]

    def srvr_modes(self):
        """Mode of each ZooKeeper server from its own srvr answer (None when it is not serving)."""
        modes = {}
        for pod in self.pods(ZK_SELECTOR):
            modes[pod["metadata"]["name"]] = srvr_mode(pod["status"].get("podIP"), 2181)
        return modes

    def registered_broker_ids(self, login=None):
        client = kazoo_client(self, login)
        try:
            if not client.exists("/brokers/ids"):
                return set()
            return {int(i) for i in client.get_children("/brokers/ids")}
        finally:
            client.stop()
            client.close()

    def bootstrap_servers(self):
        return self.get("configmap", name="kafka-client-config")["data"]["bootstrap.servers"]

    def broker_exec(self, broker, *command, stdin=None, timeout=120):
        args = ["exec"] + (["-i"] if stdin is not None else []) + ["deploy/kafka-broker-%d" % broker, "--"]
        return self.kubectl(*(args + list(command)), stdin=stdin, timeout=timeout)

    def create_topic(self, topic, replication_factor=3, min_isr=2, partitions=3):
        # No --if-not-exists: Kafka 2.5's kafka-topics takes it only with --zookeeper.
        args = ["exec", "deploy/kafka-broker-0", "--", "kafka-topics", "--bootstrap-server", self.bootstrap_servers(),
                "--create", "--topic", topic, "--partitions", str(partitions),
                "--replication-factor", str(replication_factor), "--config", "min.insync.replicas=%d" % min_isr]
        proc = self.kubectl(*args, check=False)
        if proc.returncode != 0 and "already exists" not in proc.stdout + proc.stderr:
            raise AssertionError("creating topic %s failed (%d): %s%s"
                                 % (topic, proc.returncode, proc.stdout, proc.stderr))

    def produce(self, topic, messages, broker=1):
        self.broker_exec(broker, "kafka-console-producer", "--bootstrap-server", self.bootstrap_servers(),
                         "--topic", topic, "--producer-property", "acks=all",
                         stdin="".join(m + "\n" for m in messages))

    def consume(self, topic, count, broker=2, timeout_ms=60000):
        proc = self.broker_exec(broker, "kafka-console-consumer", "--bootstrap-server", self.bootstrap_servers(),
                                "--topic", topic, "--from-beginning", "--max-messages", str(count),
                                "--timeout-ms", str(timeout_ms), timeout=timeout_ms // 1000 + 60)
        return [line for line in proc.stdout.splitlines() if line]


def kazoo_client(cluster, login=None):
    """A started kazoo client of the cluster's ZooKeeper (its pods' addresses); stop() and close() it. ``login``:
    ``(user, password)`` for a SASL DIGEST-MD5 login (needs pure-sasl)."""
    from kazoo.client import KazooClient  # pylint: disable=import-outside-toplevel
    options = {} if login is None else {"sasl_options": {"mechanism": "DIGEST-MD5", "username": login[0],
                                                         "password": login[1]}}
    client = KazooClient(hosts=",".join(cluster.zookeeper_addresses()), timeout=10, **options)
    client.start(timeout=30)
    return client


def drop_registration(cluster, broker_id, login=None):
    """Delete a live broker's /brokers/ids/<id> from another session.

    ZooKeeper lets any session delete another's ephemeral node and does not tell the owner: the broker
    keeps running, believes it is registered, and is no longer part of the cluster, which is what a
    registration lost to a session problem looks like (KAFKA-7165). ``login``: see kazoo_client.
    """
    client = kazoo_client(cluster, login)
    try:
        client.delete("/brokers/ids/%d" % broker_id)
    finally:
        client.stop()
        client.close()


def registration(cluster, broker_id):
    """(data as a dict, ephemeral owner, ctime ms) of /brokers/ids/<id>, or None."""
    from kazoo.exceptions import NoNodeError  # pylint: disable=import-outside-toplevel
    client = kazoo_client(cluster)
    try:
        # One read, no exists() first: the node may go between two calls (the heal deletes it).
        data, stat = client.get("/brokers/ids/%d" % broker_id)
        return json.loads(data), stat.ephemeralOwner, stat.ctime
    except NoNodeError:
        return None
    finally:
        client.stop()
        client.close()


def srvr(host, port, timeout=5.0):
    """A ZooKeeper server's own srvr answer as {field: value} (empty when it does not answer)."""
    if not host:
        return {}
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"srvr")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return {}
    return dict((key.strip(), value.strip()) for key, _, value in
                (line.partition(":") for line in data.decode("utf-8", "replace").splitlines()) if value)


def srvr_mode(host, port, timeout=5.0):
    return srvr(host, port, timeout).get("Mode")


def srvr_version(address):
    """'3.9.3' from a server's 'Zookeeper version: 3.9.3-<commit>, built on ...' ('host:port'); None if silent."""
    host, _, port = address.rpartition(":")
    version = srvr(host, int(port)).get("Zookeeper version")
    return version.split("-", 1)[0].split(",", 1)[0] if version else None


def wait_for(predicate, timeout, what, interval=2.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))
