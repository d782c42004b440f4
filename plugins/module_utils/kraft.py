"""What the KRaft side says about itself: the controller quorum's status and the brokers in its metadata.

Both are asked with Kafka's own tools from inside the pods (``pods/exec``, as the ZooKeeper checks do), so
the collection needs no route to the pods and the answer is the cluster's, not a guess from objects:

- ``kafka-metadata-quorum --bootstrap-controller localhost:<port> describe --status`` in a controller pod: the
  leader, its epoch and the voters (Kafka 3.7+ print ``CurrentVoters: [3000,3001]``, 3.9+ a JSON list of
  ``{"id": 3000, ...}``; both are read).
- ``kafka-broker-api-versions --bootstrap-server localhost:<port>`` in a broker pod: one line per broker the
  metadata lists, ``kafka-service-0:9092 (id: 0 rack: null) -> (``. A KRaft broker appears there only once it
  registered with the controllers and is unfenced; its line carries the endpoint it advertised, which is the
  proof that the registration is that broker's own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

QUORUM_COMMAND = "kafka-metadata-quorum"
TOPICS_COMMAND = "kafka-topics"
API_VERSIONS_COMMAND = "kafka-broker-api-versions"
_BROKER_LINE = re.compile(r"^(?P<host>[A-Za-z0-9.\-\[\]:]+):(?P<port>\d+) \(id: (?P<id>-?\d+) rack: (?P<rack>[^)]*)\) -> \(",
                          re.MULTILINE)
_FIELD = re.compile(r"^(?P<key>[A-Za-z]+):\s*(?P<value>.*?)\s*$", re.MULTILINE)


class KRaftError(Exception):
    """A KRaft tool could not be run or its answer could not be read."""


def _node_ids(text):
    """Node ids from a CurrentVoters/CurrentObservers value: ``[1,2]`` or ``[{"id": 1, ...}, ...]``."""
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    ids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("id")
        if isinstance(item, bool) or not isinstance(item, int):
            return None
        ids.append(item)
    return sorted(ids)


def parse_quorum_status(text):
    """``{cluster_id, leader_id, leader_epoch, high_watermark, voters, observers}`` from ``describe --status``;
    raises KRaftError when the output has no leader line (an error message, a tool that did not start)."""
    fields = dict((m.group("key"), m.group("value")) for m in _FIELD.finditer(text or ""))
    if "LeaderId" not in fields:
        raise KRaftError("no LeaderId in the quorum status: %s" % (text or "").strip()[-300:])

    def number(key):
        try:
            return int(fields.get(key, ""))
        except ValueError:
            return None

    leader = number("LeaderId")
    return {
        "cluster_id": fields.get("ClusterId"),
        # -1: no leader elected (yet).
        "leader_id": leader if leader is not None and leader >= 0 else None,
        "leader_epoch": number("LeaderEpoch"),
        "high_watermark": number("HighWatermark"),
        "voters": _node_ids(fields.get("CurrentVoters", "")) or [],
        "observers": _node_ids(fields.get("CurrentObservers", "")) or [],
    }


_TOPIC_LINE = re.compile(r"^Topic:\s*(?P<topic>\S+)\s.*?PartitionCount:\s*(?P<partitions>\d+)\s+"
                         r"ReplicationFactor:\s*(?P<rf>\d+)", re.MULTILINE)
_PARTITION_LINE = re.compile(r"^\s*Topic:\s*(?P<topic>\S+)\s+Partition:\s*(?P<partition>\d+)\s+Leader:\s*(?P<leader>-?\d+)"
                             r"\s+Replicas:\s*(?P<replicas>[\d,]*)\s+Isr:\s*(?P<isr>[\d,]*)", re.MULTILINE)


def _ids(text):
    return sorted(int(i) for i in text.split(",") if i.strip())


def parse_topics(text):
    """``{topic: {"partitions": n, "replication_factor": n, "replicas": {p: [ids]}, "isr": {p: [ids]}}}`` from
    ``kafka-topics --describe``: the summary line of each topic, then one line per partition."""
    topics = {}
    for match in _TOPIC_LINE.finditer(text or ""):
        topics[match.group("topic")] = {"partitions": int(match.group("partitions")),
                                        "replication_factor": int(match.group("rf")), "replicas": {}, "isr": {}}
    for match in _PARTITION_LINE.finditer(text or ""):
        topic = topics.setdefault(match.group("topic"), {"partitions": None, "replication_factor": None,
                                                         "replicas": {}, "isr": {}})
        partition = int(match.group("partition"))
        topic["replicas"][partition] = _ids(match.group("replicas"))
        topic["isr"][partition] = _ids(match.group("isr"))
    return topics


def compare_topics(zookeeper_assignments, kraft_topics):
    """What differs between ZooKeeper's topics (``replication.read_topics``' assignments) and the KRaft metadata's
    (``parse_topics``): topics on one side only, other partition counts or replicas, and partitions whose ISR is
    not all their replicas. Returns a list of sentences (empty: the same)."""
    problems = []
    names_zk, names_kraft = set(zookeeper_assignments), set(kraft_topics)
    for topic in sorted(names_zk - names_kraft):
        problems.append("topic %s is in ZooKeeper but not in the KRaft metadata" % topic)
    for topic in sorted(names_kraft - names_zk):
        problems.append("topic %s is in the KRaft metadata but not in ZooKeeper" % topic)
    for topic in sorted(names_zk & names_kraft):
        zk_partitions = zookeeper_assignments[topic]
        kraft = kraft_topics[topic]
        if kraft["partitions"] is not None and kraft["partitions"] != len(zk_partitions):
            problems.append("topic %s has %d partitions in ZooKeeper and %d in KRaft"
                            % (topic, len(zk_partitions), kraft["partitions"]))
        for partition, replicas in sorted(zk_partitions.items()):
            found = kraft["replicas"].get(partition)
            if found is not None and sorted(found) != sorted(replicas):
                problems.append("%s-%d has replicas %s in ZooKeeper and %s in KRaft"
                                % (topic, partition, sorted(replicas), found))
            isr = kraft["isr"].get(partition)
            if isr is not None and sorted(isr) != sorted(found or replicas):
                problems.append("%s-%d is under-replicated (ISR %s of replicas %s)" % (topic, partition, isr,
                                                                                       sorted(found or replicas)))
    return problems


def parse_broker_endpoints(text):
    """``{broker id: "host:port"}`` from kafka-broker-api-versions' output (one header line per broker)."""
    found = {}
    for match in _BROKER_LINE.finditer(text or ""):
        found[int(match.group("id"))] = "%s:%s" % (match.group("host"), match.group("port"))
    return found


def own_registrations(endpoints, expected):
    """Split the expected brokers by what the KRaft metadata lists.

    :param endpoints: ``parse_broker_endpoints()``' result.
    :param expected: ``{broker id: "host:port"}``, the client endpoint the plan advertises for each broker.
    :returns: ``{"joined": [ids], "missing": [ids], "foreign": [{broker, found, expected}]}``: a broker is joined
        only when the metadata lists it with its own endpoint."""
    joined, missing, foreign = [], [], []
    for broker, address in sorted(expected.items()):
        found = endpoints.get(broker)
        if found is None:
            missing.append(broker)
        elif found == address:
            joined.append(broker)
        else:
            foreign.append({"broker": broker, "found": found, "expected": address})
    return {"joined": joined, "missing": missing, "foreign": foreign}


def _running(pod, container):
    meta = pod.get("metadata") or {}
    if meta.get("deletionTimestamp") or (pod.get("status") or {}).get("phase") != "Running":
        return False
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            return (status.get("state") or {}).get("running") is not None
    return False


class KRaftAccess:
    """Runs the KRaft tools in the pods through ``pod_api`` (``list_pods``, ``exec``: see ``k8s_pods.PodApi``)."""

    def __init__(self, pod_api, namespace, timeout=60):
        self.pod_api = pod_api
        self.namespace = namespace
        self.timeout = timeout

    def _ask(self, selector, container, argv, parse, what):
        pods = sorted(self.pod_api.list_pods(self.namespace, selector), key=lambda p: p["metadata"]["name"])
        running = [p for p in pods if _running(p, container)]
        if not running:
            raise KRaftError("no running %s container in the pods %s of namespace %s (%d pod(s) found)"
                             % (container, selector, self.namespace, len(pods)))
        problems = []
        for pod in running:
            name = pod["metadata"]["name"]
            try:
                rc, out, err = self.pod_api.exec(self.namespace, name, argv, container=container,
                                                 timeout=self.timeout)
            except Exception as exc:  # PodApiError or a lost stream: try the next pod
                problems.append("%s: %s" % (name, exc))
                continue
            if rc not in (0, None):
                problems.append("%s: `%s` exited %s: %s" % (name, " ".join(argv), rc, (err or out or "").strip()[-300:]))
                continue
            try:
                return dict(parse(out or ""), asked=name)
            except KRaftError as exc:
                problems.append("%s: %s" % (name, exc))
        raise KRaftError("%s: no pod answered (%s)" % (what, "; ".join(problems)))

    def quorum_status(self, selector, port, container="controller"):
        argv = [QUORUM_COMMAND, "--bootstrap-controller", "localhost:%d" % int(port), "describe", "--status"]
        return self._ask(selector, container, argv, parse_quorum_status, "the controller quorum's status")

    def topics(self, selector, port, container="broker"):
        argv = [TOPICS_COMMAND, "--bootstrap-server", "localhost:%d" % int(port), "--describe"]
        return self._ask(selector, container, argv, lambda out: {"topics": parse_topics(out)},
                         "the topics in the cluster's metadata")

    def broker_endpoints(self, selector, port, container="broker"):
        argv = [API_VERSIONS_COMMAND, "--bootstrap-server", "localhost:%d" % int(port)]
        return self._ask(selector, container, argv, lambda out: {"endpoints": parse_broker_endpoints(out)},
                         "the brokers in the cluster's metadata")


def wait_until(read, done, timeout, sleep_seconds, clock=time.monotonic, sleep=time.sleep):
    """``read()`` until ``done(result)`` or ``timeout`` seconds; returns ``(result, waited, ok)``. A read that
    raises KRaftError counts as not done (the tool may not answer while a pod starts) and is kept as the last
    result's ``error``."""
    start = clock()
    while True:
        try:
            result = read()
        except KRaftError as exc:
            result = {"error": str(exc)}
        waited = round(clock() - start, 1)
        if "error" not in result and done(result):
            return result, waited, True
        if clock() - start + sleep_seconds > timeout:
            return result, waited, False
        sleep(sleep_seconds)
