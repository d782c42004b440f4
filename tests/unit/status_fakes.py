"""A cluster as cluster_status reads it, in memory: broker Deployments and pods (a sidecar listed first), nodes with
zones, the client ConfigMap, ZooKeeper's servers and znodes (/brokers/ids, /controller, /migration, topics and
partition states), and the KRaft tools' answers in the pods. Each piece can be broken: a foreign registration, a
broker missing, an offline or under-replicated partition, ZooKeeper unreachable, a finalized migration."""
import json

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import NoNodeError, ZooKeeperError

LABEL = "kafka-eks.cluster/broker-id"
IMAGE = "confluentinc/cp-kafka:7.9.11"
ZK_IMAGE = "zookeeper:3.9.3"
STARTED = "2026-12-01T10:00:00Z"
STARTED_MS = 1796119200000
ZONES = ("za", "zb", "zc")


def listeners(broker):
    return ["PLAINTEXT://kafka-service-%d:9092" % broker, "INTERNAL://kafka-service-%d:9093" % broker]


ADVERTISED = dict((str(i), ",".join(listeners(i))) for i in range(4))


def registration(broker, endpoints=None, rack=None):
    data = {"version": 5, "endpoints": endpoints or listeners(broker), "timestamp": str(STARTED_MS + 20000),
            "host": "kafka-service-%d" % broker, "port": 9092}
    if rack:
        data["rack"] = rack
    return json.dumps(data)


def container_status(name, started=STARTED):
    return {"name": name, "image": name, "imageID": "sha256:%s" % name, "ready": True, "restartCount": 0,
            "started": True, "state": {"running": {"startedAt": started}}}


def broker_pod(broker, sidecar_first=True, mode="zookeeper", node=None):
    env = [{"name": "KAFKA_ADVERTISED_LISTENERS", "value": ",".join(listeners(broker))}]
    broker_container = {"name": "broker", "image": IMAGE, "env": env}
    # The sidecar started later than the broker wrote its registration: taken for the broker, it would make the
    # registration look stale.
    sidecar = {"name": "log-shipper", "image": "fluent-bit:3"}
    containers = [sidecar, broker_container] if sidecar_first else [broker_container, sidecar]
    statuses = [container_status("log-shipper", "2026-12-01T11:00:00Z"), container_status("broker")]
    return {"metadata": {"name": "kafka-broker-%d-abc%d" % (broker, broker), "uid": "uid-%d" % broker,
                         "labels": {LABEL: str(broker), "app.kubernetes.io/component": "broker"},
                         "creationTimestamp": STARTED},
            "spec": {"nodeName": node or "node-%s" % ZONES[broker % 3], "containers": containers},
            "status": {"phase": "Running", "containerStatuses": statuses if sidecar_first else statuses[::-1]}}


def deployment(broker, mode="zookeeper", rack=None, image=IMAGE):
    env = [{"name": "KAFKA_BROKER_ID", "value": str(broker)}]
    if mode == "migrating":
        env.append({"name": "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE", "value": "true"})
    if mode == "kraft":
        env = [{"name": "KAFKA_NODE_ID", "value": str(broker)}, {"name": "KAFKA_PROCESS_ROLES", "value": "broker"}]
    if rack:
        env.append({"name": "KAFKA_BROKER_RACK", "value": rack})
    return {"metadata": {"name": "kafka-broker-%d" % broker, "labels": {LABEL: str(broker)}},
            "spec": {"template": {"spec": {"containers": [{"name": "log-shipper", "image": "fluent-bit:3"},
                                                          {"name": "broker", "image": image, "env": env}]}}}}


def statefulset(name, container, image, replicas=3, env=None):
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "template": {"spec": {"containers": [
        {"name": container, "image": image, "env": env or []}]}}}}


def controller_statefulset(migration):
    env = [{"name": "CLUSTER_ID", "value": "Xy3-cluster"}]
    if migration:
        env.append({"name": "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE", "value": "true"})
    return statefulset("kafka-controller", "controller", IMAGE, env=env)


def simple_pod(name, component, node, container):
    return {"metadata": {"name": name, "labels": {"app.kubernetes.io/component": component}},
            "spec": {"nodeName": node, "containers": [{"name": container}]},
            "status": {"phase": "Running", "containerStatuses": [container_status(container)]}}


def node(name, zone):
    labels = {"kubernetes.io/hostname": name}
    if zone:
        labels["topology.kubernetes.io/zone"] = zone
    return {"metadata": {"name": name, "labels": labels}}


def srvr(mode):
    return {"serving": True, "mode": mode, "error": None, "zxid": "0x1", "version": "3.9.3"}


def topic_nodes(topic, partitions):
    """znodes of a topic: ``partitions`` is ``{n: (replicas, leader, isr)}``."""
    nodes = {"/brokers/topics/%s" % topic: json.dumps(
        {"version": 3, "partitions": dict((str(p), r) for p, (r, _l, _i) in partitions.items())})}
    for p, (_r, leader, isr) in partitions.items():
        nodes["/brokers/topics/%s/partitions/%d/state" % (topic, p)] = json.dumps(
            {"controller_epoch": 1, "leader": leader, "version": 1, "leader_epoch": 0, "isr": isr})
    return nodes


class FakeZooKeeper:
    """servers(), list_and_get(), get_many() and close() over a dict of znodes (path -> data text)."""

    def __init__(self, nodes=None, modes=None, error=None):
        self.nodes = dict(nodes or {})
        self.modes = modes if modes is not None else {"zookeeper-0": srvr("follower"), "zookeeper-1": srvr("leader"),
                                                      "zookeeper-2": srvr("follower")}
        self.error = error
        self.calls = []
        self.closed = False

    def _check(self, what):
        self.calls.append(what)
        if self.error:
            raise ZooKeeperError(self.error)

    def servers(self):
        self._check("servers")
        return dict(self.modes)

    def _node(self, path):
        if path not in self.nodes:
            return None
        return self.nodes[path], {"version": 0, "ephemeral_owner": 0x100000001 if path.startswith("/brokers/ids/") else 0,
                                  "ctime": STARTED_MS + 20000}

    def get_many(self, paths):
        self._check("get_many")
        return dict((p, self._node(p)) for p in paths)

    def get(self, path):
        found = self._node(path)
        if found is None:
            raise NoNodeError(path)
        return found

    def list_and_get(self, parent, paths):
        self._check("list_and_get %s" % parent)
        children = None
        if parent:
            prefix = parent + "/"
            children = sorted(set(p[len(prefix):].split("/")[0] for p in self.nodes if p.startswith(prefix)))
        return children, dict((p, self._node(p)) for p in paths)

    def close(self):
        self.closed = True


class FakePods:
    """list_pods() by component; exec() answers the KRaft tools from ``answers`` (argv[0] -> (rc, out, err))."""

    def __init__(self, brokers=None, zookeeper=None, controllers=None, answers=None, list_error=None):
        self.pods = {"broker": brokers or [], "zookeeper": zookeeper or [], "controller": controllers or []}
        self.answers = answers or {}
        self.list_error = list_error
        self.execs = []
        self.api_client = None

    def list_pods(self, namespace, selector):
        component = selector.split("app.kubernetes.io/component=")[1].split(",")[0]
        if self.list_error and component in self.list_error:
            raise PodApiError("listing pods %s in namespace %s failed: HTTP 403 Forbidden" % (selector, namespace))
        return list(self.pods[component])

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.execs.append((name, container, argv[0]))
        if argv[0] not in self.answers:
            return 127, "", "exec: %r: executable file not found in $PATH" % argv[0]
        return self.answers[argv[0]]

    def delete_pod(self, *args, **kwargs):
        raise AssertionError("cluster_status deleted a pod")


class FakeObjects:
    def __init__(self, deployments=None, statefulsets=None, nodes=None, config_maps=None, errors=None):
        self.deployments = deployments or []
        self.statefulsets = dict((s["metadata"]["name"], s) for s in statefulsets or [])
        self.nodes = nodes or []
        self.config_maps = config_maps or {}
        self.errors = errors or {}

    def _check(self, what):
        if what in self.errors:
            raise PodApiError(self.errors[what])

    def list_deployments(self, namespace, selector):
        self._check("deployments")
        return list(self.deployments)

    def get_stateful_set(self, namespace, name):
        self._check("statefulsets")
        return self.statefulsets.get(name)

    def list_nodes(self):
        self._check("nodes")
        return list(self.nodes)

    def get_config_map(self, namespace, name):
        self._check("configmaps")
        return self.config_maps.get(name)


def client_config(external=None):
    data = {"bootstrap.servers": ",".join("kafka-service-%d:9092" % i for i in range(4))}
    if external:
        data["bootstrap.servers.external"] = external
    return {"kafka-client-config": {"metadata": {"name": "kafka-client-config"}, "data": data}}


def healthy_zookeeper_cluster(brokers=4):
    """(zk, pods, objects) of a healthy ZooKeeper-mode cluster over three zones, a sidecar first in every broker pod."""
    nodes = {"/controller": json.dumps({"version": 1, "brokerid": 1, "timestamp": "1"})}
    for i in range(brokers):
        nodes["/brokers/ids/%d" % i] = registration(i, rack=ZONES[i % 3])
    nodes.update(topic_nodes("orders", {0: ([0, 1, 2], 0, [0, 1, 2]), 1: ([1, 2, 3], 1, [1, 2, 3])}))
    nodes["/config/topics/orders"] = json.dumps({"version": 1, "config": {"min.insync.replicas": "2"}})
    zk = FakeZooKeeper(nodes)
    pods = FakePods(brokers=[broker_pod(i) for i in range(brokers)],
                    zookeeper=[simple_pod("zookeeper-%d" % i, "zookeeper", "node-%s" % ZONES[i], "zookeeper")
                               for i in range(3)])
    objects = FakeObjects(deployments=[deployment(i, rack=ZONES[i % 3]) for i in range(brokers)],
                          statefulsets=[statefulset("zookeeper", "zookeeper", ZK_IMAGE)],
                          nodes=[node("node-%s" % z, z) for z in ZONES], config_maps=client_config())
    return zk, pods, objects


QUORUM = "ClusterId: Xy3-cluster\nLeaderId: 3001\nLeaderEpoch: 4\nHighWatermark: 90\nCurrentVoters: [3000,3001,3002]\n"
API_VERSIONS = "".join("kafka-service-%d:9092 (id: %d rack: %s) -> (\n\tProduce(0): 0 to 11 [usable: 11]\n)\n"
                       % (i, i, ZONES[i % 3]) for i in range(4))
TOPICS = ("Topic: orders\tTopicId: x\tPartitionCount: 2\tReplicationFactor: 3\tConfigs: min.insync.replicas=2\n"
          "\tTopic: orders\tPartition: 0\tLeader: 0\tReplicas: 0,1,2\tIsr: 0,1,2\n"
          "\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\n")
CONFIGS = ("Dynamic configs for topic orders are:\n  min.insync.replicas=2 sensitive=false "
           "synonyms={DYNAMIC_TOPIC_CONFIG:min.insync.replicas=2, STATIC_BROKER_CONFIG:min.insync.replicas=2}\n")


def finalized_cluster(answers=None):
    """(zk, pods, objects) after the migration was finalized and ZooKeeper removed: any ZooKeeper call fails."""
    zk = FakeZooKeeper(error="no ZooKeeper pod matches app.kubernetes.io/component=zookeeper in namespace kafka")
    kraft_answers = {"kafka-metadata-quorum": (0, QUORUM, ""), "kafka-broker-api-versions": (0, API_VERSIONS, ""),
                     "kafka-topics": (0, TOPICS, ""), "kafka-configs": (0, CONFIGS, "")}
    kraft_answers.update(answers or {})
    pods = FakePods(brokers=[broker_pod(i) for i in range(4)],
                    controllers=[simple_pod("kafka-controller-%d" % i, "controller", "node-%s" % ZONES[i], "controller")
                                 for i in range(3)],
                    answers=kraft_answers)
    objects = FakeObjects(deployments=[deployment(i, mode="kraft", rack=ZONES[i % 3]) for i in range(4)],
                          statefulsets=[controller_statefulset(migration=False)],
                          nodes=[node("node-%s" % z, z) for z in ZONES], config_maps=client_config())
    return zk, pods, objects
