"""The end-to-end scenarios' stories, one module each, and what the stories share (this module).

Each molecule scenario (molecule/<name>/molecule.yml) has its whole story in ``scenarios/<name>.py``:

    side_effect(cluster, state_file)   the faults (molecule's side_effect): real faults on a running test bed,
                                       and a record (state_file, JSON) of the state before and after them;
                                       multi_cluster's takes the cluster that must stay untouched as well
    verify(cluster, state_file)        the checks (molecule's verify): assertions on the real cluster, ZooKeeper
                                       and Kafka, and on what side_effect recorded
    SLOW = True                        (optional) run by `make test-slow` only, outside CI's time budget
    TIMEOUT = 3600                     (optional) the molecule run's limit in seconds (default 2400)

molecule runs a step with ``python -m scenarios side_effect|verify NAME --testbed BED --state FILE`` from tests/e2e
(scenarios/__main__.py); tests/e2e/test_scenarios.py finds the scenarios by their molecule.yml and
tests/unit/test_scenario_layout.py checks that every scenario has its module and every module its scenario.
Modules whose names start with ``_`` are not scenarios. What a story reads from a bed (kubectl, ZooKeeper's srvr and
kazoo, Kafka's console clients, wait_for) is tests/e2e/lib.py's.
"""
import ipaddress
import json
import os
import subprocess
import sys
import time

from lib import BROKER_SELECTOR, CACHE, ROOT, wait_for

ANSIBLE_PLAYBOOK = os.path.join(CACHE, "venv", "bin", "ansible-playbook")
TESTBED_VARS = os.path.join(ROOT, "tests", "e2e", "testbed-vars.yml")
# The canary belongs to the benchmark; the scenarios run it too.
BENCH = os.path.join(ROOT, "bench")


# --- running the collection's playbooks as a user does ---------------------------------------------------------

def site_argv(cluster, *extra, playbook="site.yml"):
    return [ANSIBLE_PLAYBOOK, os.path.join(ROOT, playbook), "-e", "@" + TESTBED_VARS,
            "-e", "kafka_k8s_kubeconfig=" + cluster.kubeconfig] + list(extra)


def site_env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
                PATH=os.path.join(CACHE, "venv", "bin") + os.pathsep + os.environ["PATH"])


def run_site(cluster, *extra, check=True):
    """site.yml against the bed, as a user runs it; returns the completed process."""
    proc = run_playbook(cluster, "site.yml", *extra)
    if check and proc.returncode != 0:
        raise AssertionError("site.yml failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:], proc.stderr))
    return proc


def run_playbook(cluster, playbook, *extra):
    proc = subprocess.run(site_argv(cluster, *extra, playbook=playbook), cwd=ROOT, env=site_env(),
                          capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-6000:])
    return proc


def admin_kubectl(cluster, *args, stdin=None):
    """kubectl as the bed's admin, without a default namespace (the RBAC files name their own)."""
    proc = subprocess.run([os.path.join(CACHE, "bin", "kubectl"), "--kubeconfig", cluster.kubeconfig] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        raise AssertionError("kubectl %s failed (%d): %s%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                               proc.stderr))
    return proc.stdout


def namespace_exists(cluster, name):
    items = json.loads(admin_kubectl(cluster, "get", "namespaces", "-o", "json"))["items"]
    return any(n["metadata"]["name"] == name for n in items)


def new_canary(cluster, **kwargs):
    """bench/canary.py's canary (acks=all, idempotent, 50 msg/s) against the bed, not started yet; ``kwargs`` go to
    the Canary (client_config: TLS settings, for one)."""
    if BENCH not in sys.path:
        sys.path.insert(0, BENCH)
    from canary import Canary  # pylint: disable=import-outside-toplevel
    return Canary.for_kubeconfig(cluster.kubeconfig, namespace=cluster.namespace, **dict(dict(rate=50), **kwargs))


# --- what a story records ------------------------------------------------------------------------------------------

def snapshot(cluster):
    """Uids of everything a heal must leave alone, and of every broker pod."""
    return {
        "deployments": cluster.uids("deployments", BROKER_SELECTOR),
        "pvcs": cluster.uids("pvc", None),
        "broker_pods": {p["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: p["metadata"]["uid"]
                        for p in cluster.pods(BROKER_SELECTOR)},
        "statefulsets": cluster.uids("statefulsets", None),
    }


def resource_versions(cluster):
    """Every object's resourceVersion: a refused run must leave each one as it was."""
    return dict(("%s/%s" % (kind, o["metadata"]["name"]), o["metadata"]["resourceVersion"])
                for kind in ("deployments", "statefulsets", "services", "pvc", "configmaps", "poddisruptionbudgets")
                for o in cluster.get(kind))


def settled_versions(cluster):
    """Every object's resourceVersion once two reads agree (a Deployment's and a PDB's status settle after a pod
    went), so that only a write of the next run could change it."""
    seen = [resource_versions(cluster)]

    def settled():
        seen.append(resource_versions(cluster))
        return seen[-1] == seen[-2]
    wait_for(settled, 60, "the objects' resourceVersions to settle", interval=2.0)
    return seen[-1]


def image_of(cluster):
    """Broker id -> the image its Deployment runs."""
    return {d["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in cluster.get("deployments", BROKER_SELECTOR)}


def write_messages(cluster, topic, count=20):
    cluster.create_topic(topic, replication_factor=3, min_isr=2)
    messages = ["%s-%d" % (topic, i) for i in range(count)]
    cluster.produce(topic, messages)
    return messages


def save(state, state_file):
    os.makedirs(os.path.dirname(state_file), exist_ok=True)
    with open(state_file, "w") as handle:
        json.dump(state, handle, indent=2)


def load(state_file):
    with open(state_file) as handle:
        return json.load(handle)


# --- the seed's checks, on the cluster as it runs ------------------------------------------------------------------

def check_quorum(cluster, servers=3):
    modes = wait_for(lambda: _quorum_modes(cluster, servers), 180, "a ZooKeeper quorum")
    print("quorum: %s" % modes)


def _quorum_modes(cluster, servers):
    modes = cluster.srvr_modes()
    values = sorted(m for m in modes.values() if m)
    if len(modes) == servers and values == sorted(["leader"] + ["follower"] * (servers - 1)):
        return modes
    return None


def check_membership(cluster, brokers):
    expected = set(range(brokers))
    registered = wait_for(lambda: cluster.registered_broker_ids() == expected and expected, 120,
                          "brokers %s in /brokers/ids" % sorted(expected))
    print("registered broker ids: %s" % sorted(registered))


def check_bootstrap(cluster, brokers):
    # The brokers' own Services (an external one per broker, of type LoadBalancer or NodePort, carries the same
    # labels).
    services = sorted(s["metadata"]["name"] for s in cluster.get("services", BROKER_SELECTOR)
                      if s["spec"].get("type", "ClusterIP") == "ClusterIP")
    assert services == sorted("kafka-service-%d" % i for i in range(brokers)), services
    bootstrap = cluster.bootstrap_servers()
    assert bootstrap == ",".join("kafka-service-%d:9092" % i for i in range(brokers)), bootstrap
    print("bootstrap.servers=%s" % bootstrap)


def check_endpoints(cluster, brokers):
    """Each broker's Service routes to that broker's pod and nothing else: its EndpointSlices hold exactly one
    ready endpoint, the address and the name of the pod labelled with its id (the endpoint controller's own
    answer, now that pods have addresses of a pod network)."""
    def mismatches():
        pods = dict((p["metadata"]["labels"]["kafka-eks.cluster/broker-id"], p) for p in cluster.pods(BROKER_SELECTOR))
        found = {}
        for broker in range(brokers):
            service = "kafka-service-%d" % broker
            pod = pods.get(str(broker)) or {"metadata": {}, "status": {}}
            ready = [(ep["addresses"], (ep.get("targetRef") or {}).get("name"))
                     for sl in cluster.get("endpointslices", "kubernetes.io/service-name=" + service)
                     for ep in sl.get("endpoints") or [] if (ep.get("conditions") or {}).get("ready")]
            if ready != [([pod["status"].get("podIP")], pod["metadata"].get("name"))]:
                found[service] = {"ready endpoints": ready,
                                  "pod": [pod["metadata"].get("name"), pod["status"].get("podIP")]}
        return found
    # The endpoint controller follows readiness within a second or so: give it that, then say what differs.
    try:
        wait_for(lambda: not mismatches(), 30, "each broker Service's EndpointSlices to hold its broker's pod")
    except AssertionError:
        left = mismatches()
        assert not left, "EndpointSlices that do not route to their broker's pod alone: %r" % left
    print("endpoints: kafka-service-0..%d each route to their broker's pod alone" % (brokers - 1))


def check_volumes(cluster, brokers, servers=3):
    claims = {c["metadata"]["name"]: c["status"].get("phase") for c in cluster.get("pvc")}
    expected = {"kafka-data-%d" % i for i in range(brokers)} | {"data-zookeeper-%d" % i for i in range(servers)}
    assert set(claims) == expected, claims
    assert set(claims.values()) == {"Bound"}, claims
    print("claims bound: %s" % sorted(claims))


def round_trip(cluster, topic, count=3):
    cluster.create_topic(topic, replication_factor=3, min_isr=2)
    messages = ["%s-message-%d-%d" % (topic, i, int(time.time())) for i in range(count)]
    cluster.produce(topic, messages)
    received = cluster.consume(topic, count)
    assert sorted(received) == sorted(messages), (received, messages)
    print("round trip through %s: %d messages" % (topic, count))
    return messages


def assert_recap_unchanged(output):
    recap = [line for line in output.splitlines() if " changed=" in line]
    assert recap and all(" changed=0 " in line for line in recap), recap


# --- external access: Kafka from the host through the load balancers only -----------------------------------------

EXTERNAL_TOPIC = "e2e-zones"
EXTERNAL_SELECTOR = BROKER_SELECTOR  # the external Services carry the broker's labels


def loopback(address):
    """host:port -> the host, after checking it is a loopback address (tests send traffic nowhere else)."""
    host, _, port = address.rpartition(":")
    if not ipaddress.ip_address(host).is_loopback:
        raise AssertionError("%s is not a loopback address: this test sends traffic only to loopback" % address)
    return "%s:%s" % (host, port)


def external_bootstrap(cluster):
    data = cluster.get("configmap", name="kafka-client-config")["data"]
    return [loopback(a) for a in data["bootstrap.servers.external"].split(",")]


def load_balancer_ips(cluster):
    """External Service name -> the address in its status (what the bed's load balancer gave it)."""
    found = {}
    for service in cluster.get("services", EXTERNAL_SELECTOR):
        if service["spec"].get("type") == "LoadBalancer":
            ingress = (service.get("status") or {}).get("loadBalancer", {}).get("ingress") or [{}]
            found[service["metadata"]["name"]] = ingress[0].get("ip")
    return found


def external_clients(cluster, messages):
    """Kafka's protocol from the host through the external addresses only: the cluster as the client sees it,
    an RF-3 topic (EXTERNAL_TOPIC) created, ``messages`` produced (acks=all) and read back."""
    from kafka import KafkaAdminClient, KafkaProducer  # pylint: disable=import-outside-toplevel
    from kafka.admin import NewTopic  # pylint: disable=import-outside-toplevel
    from kafka.errors import TopicAlreadyExistsError  # pylint: disable=import-outside-toplevel
    bootstrap = external_bootstrap(cluster)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="e2e-external", request_timeout_ms=30000)
    try:
        described = admin.describe_cluster()
        # Every address the metadata names must be loopback too before the clients connect to it.
        brokers = dict((b["node_id"], {"address": loopback("%s:%d" % (b["host"], b["port"])), "rack": b["rack"]})
                       for b in described["brokers"])
        try:
            admin.create_topics([NewTopic(EXTERNAL_TOPIC, 3, 3, topic_configs={"min.insync.replicas": "2"})])
        except TopicAlreadyExistsError:
            pass
        partitions = wait_for(lambda: _replicas(admin), 60,
                              "the partitions of %s with their replicas" % EXTERNAL_TOPIC)
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="e2e-external-producer")
    try:
        for message in messages:
            producer.send(EXTERNAL_TOPIC, message.encode())
        producer.flush(60)
    finally:
        producer.close()
    return {"bootstrap": bootstrap, "brokers": brokers, "partitions": partitions,
            "received": external_consume(bootstrap, len(messages))}


def _replicas(admin):
    (topic,) = admin.describe_topics([EXTERNAL_TOPIC])
    partitions = dict((p["partition"], sorted(p["replicas"])) for p in topic.get("partitions") or [])
    return partitions if len(partitions) == 3 and all(len(r) == 3 for r in partitions.values()) else None


def external_consume(bootstrap, count, topic=EXTERNAL_TOPIC, client_id="e2e-external-consumer", **client):
    """Up to ``count`` messages of ``topic`` from the beginning, read from the host (``client``: more of
    KafkaConsumer's settings, e.g. TLS)."""
    from kafka import KafkaConsumer  # pylint: disable=import-outside-toplevel
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                             consumer_timeout_ms=30000, client_id=client_id, **client)
    try:
        received = []
        for record in consumer:
            received.append(record.value.decode())
            if len(received) >= count:
                break
        return received
    finally:
        consumer.close()


def zookeeper_auth_checks(cluster, user, password, timeout=10):
    """What ZooKeeper clients see once zookeeper_auth is on: without the password a client can neither create, delete
    nor read under /brokers (each the error's type name, or None when it could; a call is given ``timeout`` seconds,
    as a refusing server may close the connection, which kazoo would retry for ever); logged in as ``user``, it reads
    the brokers' registrations and the ACLs Kafka gave /brokers/ids and a credential (scheme:id:permission bits)."""
    from kazoo.security import OPEN_ACL_UNSAFE  # pylint: disable=import-outside-toplevel
    from lib import kazoo_client  # pylint: disable=import-outside-toplevel
    found = {}
    calls = {"anonymous_create": lambda c: c.create_async("/brokers/ids/99", b"{}", acl=OPEN_ACL_UNSAFE,
                                                          ephemeral=True),
             "anonymous_delete": lambda c: c.delete_async("/brokers/ids/0"),
             "anonymous_read": lambda c: c.get_children_async("/brokers/ids")}
    try:
        client = kazoo_client(cluster)
    except Exception as error:  # pylint: disable=broad-except
        found.update((what, "connect: %s" % type(error).__name__) for what in calls)
    else:
        try:
            for what, call in calls.items():
                try:
                    call(client).get(timeout=timeout)
                    found[what] = None
                except Exception as error:  # pylint: disable=broad-except
                    found[what] = type(error).__name__
        finally:
            client.stop()
            client.close()
    client = kazoo_client(cluster, login=(user, password))
    try:
        found["logged_in_ids"] = sorted(client.get_children("/brokers/ids"))
        for name, path in (("ids_acl", "/brokers/ids"), ("users_acl", "/config/users")):
            found[name] = sorted("%s:%s:%d" % (a.id.scheme, a.id.id, a.perms) for a in client.get_acls(path)[0])
    finally:
        client.stop()
        client.close()
    return found


def assert_zookeeper_secured(found, brokers, user="kafka"):
    """The verify of zookeeper_auth_checks: refused without the password, Kafka's ACLs with it."""
    for case in ("anonymous_create", "anonymous_delete", "anonymous_read"):
        assert found[case] is not None, "a ZooKeeper client without the password could %s: %s" % (case, found)
    assert found["logged_in_ids"] == [str(b) for b in brokers], found
    assert found["ids_acl"] == ["sasl:%s:31" % user, "world:anyone:1"], found
    assert found["users_acl"] == ["sasl:%s:31" % user], found


def served_certificate(resolve, service, port, cafile):
    """The SHA-256 of the certificate a broker shows a client that connects by its Service name."""
    import hashlib  # pylint: disable=import-outside-toplevel
    import socket  # pylint: disable=import-outside-toplevel
    import ssl  # pylint: disable=import-outside-toplevel
    (address, *_) = resolve(service)
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((address, port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=service) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()
