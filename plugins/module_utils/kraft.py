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

What the evidence gate compares beyond the topics, each read in a broker pod with one tool call (Kafka 3.9's
output, captured from a real broker: tests/unit/plugins/module_utils/fixtures/kafka-3.9.2-*):

- ``kafka-configs --describe --entity-type topics``: ``Dynamic configs for topic <t> are:`` then one line per
  topic-level override, ``  key=value sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:key=value, ...}``. Not
  ``kafka-topics --describe``' ``Configs:`` field: it lists every config whose source is not the default, so a
  broker's static ``min.insync.replicas`` shows there on every topic, and its values (``0:1,1:1``) may hold the
  commas it is joined with.
- ``kafka-acls --list``: ``Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=t,
  patternType=LITERAL)`:`` then one ``(principal=User:alice, host=*, operation=READ, permissionType=ALLOW)`` a
  line. A broker without an authorizer answers with ``SecurityDisabledException`` (exit 1, on stdout), so it is
  asked only when ZooKeeper has ACLs.
- ``kafka-configs --describe --entity-type users``: ``SCRAM credential configs for user-principal 'alice' are
  SCRAM-SHA-512=iterations=4096, SCRAM-SHA-256=iterations=8192`` (and ``Quota configs for ...`` lines).

ZooKeeper keeps the same as JSON: ``/config/topics/<t>`` and ``/config/users/<url-encoded user>``
(``{"version": 1, "config": {...}}``, a user's ``SCRAM-SHA-512`` value being its salt, keys and iterations),
``/kafka-acl/<Topic|Group|Cluster|TransactionalId|DelegationToken|User>/<name>`` (literal) and
``/kafka-acl-extended/prefixed/<type>/<name>`` (``{"version": 1, "acls": [{"principal": "User:alice",
"permissionType": "Allow", "operation": "DescribeConfigs", "host": "*"}]}``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

from ansible.module_utils.six.moves.urllib.parse import unquote

from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import min_isr_override

QUORUM_COMMAND = "kafka-metadata-quorum"
TOPICS_COMMAND = "kafka-topics"
API_VERSIONS_COMMAND = "kafka-broker-api-versions"
CONFIGS_COMMAND = "kafka-configs"
ACLS_COMMAND = "kafka-acls"
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
_BROKER_LINE = re.compile(r"^(?P<host>[A-Za-z0-9.\-\[\]:]+):(?P<port>\d+) \(id: (?P<id>-?\d+) rack: (?P<rack>[^)]*)\) -> \(",
                          re.MULTILINE)
_FIELD = re.compile(r"^(?P<key>[A-Za-z]+):\s*(?P<value>.*?)\s*$", re.MULTILINE)


# A quorum is whole only with every voter at most this many records behind the leader: the leader appends a
# no-op record every 500 ms (metadata.max.idle.interval.ms), so a follower that fetches is seldom at 0.
CAUGHT_UP_LAG = 10


def quorum_whole(quorum, expected_voters):
    """Whether the quorum has a leader, exactly ``expected_voters`` (when given) and every voter caught up."""
    if quorum.get("leader_id") is None:
        return False
    voters = sorted(quorum.get("voters") or [])
    if expected_voters and voters != sorted(expected_voters):
        return False
    if len(voters) <= 1:
        return True
    lag = quorum.get("max_follower_lag")
    return lag is not None and lag <= CAUGHT_UP_LAG


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
        # How many records the furthest voter is behind the leader (None: not printed).
        "max_follower_lag": number("MaxFollowerLag"),
    }


_TOPIC_LINE = re.compile(r"^Topic:\s*(?P<topic>\S+)\s.*?PartitionCount:\s*(?P<partitions>\d+)\s+"
                         r"ReplicationFactor:\s*(?P<rf>\d+)", re.MULTILINE)
_PARTITION_LINE = re.compile(r"^\s*Topic:\s*(?P<topic>\S+)\s+Partition:\s*(?P<partition>\d+)\s+Leader:\s*(?P<leader>-?\d+)"
                             r"\s+Replicas:\s*(?P<replicas>[\d,]*)\s+Isr:\s*(?P<isr>[\d,]*)", re.MULTILINE)


def _ids(text):
    return sorted(int(i) for i in text.split(",") if i.strip())


def parse_topics(text):
    """``{topic: {"partitions": n, "replication_factor": n, "replicas": {p: [ids]}, "isr": {p: [ids]},
    "leader": {p: id}}}`` (leader -1: none) from
    ``kafka-topics --describe``: the summary line of each topic, then one line per partition."""
    topics = {}
    for match in _TOPIC_LINE.finditer(text or ""):
        topics[match.group("topic")] = {"partitions": int(match.group("partitions")),
                                        "replication_factor": int(match.group("rf")), "replicas": {}, "isr": {},
                                        "leader": {}}
    for match in _PARTITION_LINE.finditer(text or ""):
        topic = topics.setdefault(match.group("topic"), {"partitions": None, "replication_factor": None,
                                                         "replicas": {}, "isr": {}, "leader": {}})
        partition = int(match.group("partition"))
        topic["leader"][partition] = int(match.group("leader"))
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
                problems.append("partition %s-%d has replicas %s in ZooKeeper and %s in KRaft"
                                % (topic, partition, sorted(replicas), found))
            isr = kraft["isr"].get(partition)
            if isr is not None and sorted(isr) != sorted(found or replicas):
                problems.append("partition %s-%d is under-replicated (ISR %s of replicas %s)"
                                % (topic, partition, isr, sorted(found or replicas)))
    return problems


_CONFIGS_HEADER = re.compile(r"^Dynamic configs for topic (?P<topic>\S+) are:\s*$")
_CONFIG_ENTRY = re.compile(r"^\s+(?P<key>[^=\s]+)=(?P<value>.*) sensitive=(?P<sensitive>true|false) synonyms=\{.*\}\s*$")


def parse_topic_configs(text):
    """``{topic: {key: value}}``, each topic's own overrides, from ``kafka-configs --describe --entity-type
    topics`` (a topic without any is there with ``{}``; a sensitive value, which the tool prints as ``null``, is
    None). Raises KRaftError when the output has text but no topic header (an error, a tool that did not start)."""
    configs = {}
    topic = None
    for line in (text or "").splitlines():
        header = _CONFIGS_HEADER.match(line)
        if header:
            topic = header.group("topic")
            configs[topic] = {}
            continue
        entry = _CONFIG_ENTRY.match(line)
        if entry and topic is not None:
            sensitive = entry.group("sensitive") == "true"
            configs[topic][entry.group("key")] = None if sensitive else entry.group("value")
    if not configs and (text or "").strip():
        raise KRaftError("no 'Dynamic configs for topic' line in the answer: %s" % text.strip()[-300:])
    return configs


def zookeeper_config(data):
    """``{key: value as text}`` of a ZooKeeper config znode (``/config/topics/<t>``, ``/config/users/<u>``:
    ``{"version": 1, "config": {...}}``); ``{}`` when it is missing, empty or not such JSON."""
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return {}
    config = value.get("config") if isinstance(value, dict) else None
    if not isinstance(config, dict):
        return {}
    return dict((str(k), None if v is None else str(v)) for k, v in config.items())


def _limited(problems, limit):
    if len(problems) > limit:
        return problems[:limit] + ["and %d more" % (len(problems) - limit)]
    return problems


def compare_topic_configs(zookeeper_configs, kraft_configs, limit=20):
    """What differs between each topic's overrides in ZooKeeper (``{topic: zookeeper_config()}``) and in the
    KRaft metadata (``parse_topic_configs``): a value that differs, a key on one side only. Only topics on both
    sides (``compare_topics`` names the others); a sensitive value (None on the KRaft side) counts by its key
    alone. Returns a list of sentences, at most ``limit`` and an ``and N more``."""
    problems = []
    for topic in sorted(set(zookeeper_configs) & set(kraft_configs)):
        zk, kraft = zookeeper_configs[topic], kraft_configs[topic]
        for key in sorted(set(zk) | set(kraft)):
            if key not in kraft:
                problems.append("topic %s has %s=%s in ZooKeeper but not in the KRaft metadata" % (topic, key, zk[key]))
            elif key not in zk:
                problems.append("topic %s has %s=%s in the KRaft metadata but not in ZooKeeper"
                                % (topic, key, kraft[key]))
            elif kraft[key] is not None and zk[key] != kraft[key]:
                problems.append("topic %s has %s=%s in ZooKeeper and %s=%s in KRaft"
                                % (topic, key, zk[key], key, kraft[key]))
    return _limited(problems, limit)


def _enum_name(word):
    """ZooKeeper's ``TransactionalId``/``DescribeConfigs``/``Allow`` as Kafka's enums print them
    (``TRANSACTIONAL_ID``, ``DESCRIBE_CONFIGS``, ``ALLOW``)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(word)).upper()


def parse_zookeeper_acls(data, resource_type, name, pattern_type="LITERAL"):
    """The ACLs of one ``/kafka-acl/<type>/<name>`` (LITERAL) or ``/kafka-acl-extended/prefixed/<type>/<name>``
    (PREFIXED) znode, as ``(resource type, pattern type, name, principal, host, operation, permission type)``
    tuples in Kafka's enum spelling (what ``parse_acls`` returns); [] when the data is not such JSON."""
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return []
    acls = value.get("acls") if isinstance(value, dict) else None
    found = []
    for acl in acls if isinstance(acls, list) else []:
        if isinstance(acl, dict):
            found.append((_enum_name(resource_type), pattern_type.upper(), name, str(acl.get("principal")),
                          str(acl.get("host")), _enum_name(acl.get("operation")), _enum_name(acl.get("permissionType"))))
    return sorted(found)


_ACL_RESOURCE = re.compile(r"^Current ACLs for resource `ResourcePattern\(resourceType=(?P<type>[A-Z_]+), "
                           r"name=(?P<name>.*), patternType=(?P<pattern>[A-Z_]+)\)`:")
_ACL_ENTRY = re.compile(r"^\s*\(principal=(?P<principal>.*?), host=(?P<host>[^,]*), operation=(?P<operation>[A-Z_]+), "
                        r"permissionType=(?P<permission>[A-Z_]+)\)\s*$")


def parse_acls(text):
    """Every ACL ``kafka-acls --list`` prints, as the tuples of ``parse_zookeeper_acls`` (sorted). An empty
    answer is no ACL; text with neither a resource line nor an ACL line raises KRaftError."""
    found = []
    resource = None
    seen = False
    for line in (text or "").splitlines():
        head = _ACL_RESOURCE.match(line)
        if head:
            resource = (head.group("type"), head.group("pattern"), head.group("name"))
            seen = True
            continue
        entry = _ACL_ENTRY.match(line)
        if entry and resource is not None:
            found.append((resource[0], resource[1], resource[2], entry.group("principal"), entry.group("host"),
                          entry.group("operation"), entry.group("permission")))
    if not seen and (text or "").strip():
        raise KRaftError("no 'Current ACLs for resource' line in the answer: %s" % text.strip()[-300:])
    return sorted(found)


def describe_acl(acl):
    """``ALLOW User:alice READ from * on TOPIC orders (LITERAL)`` for a sentence."""
    resource_type, pattern_type, name, principal, host, operation, permission = acl
    return "%s %s %s from %s on %s %s (%s)" % (permission, principal, operation, host, resource_type, name, pattern_type)


def compare_acls(zookeeper_acls, kraft_acls, limit=20):
    """ACLs on one side only (``parse_zookeeper_acls``' and ``parse_acls``' tuples); a list of sentences."""
    zk, kraft = set(zookeeper_acls), set(kraft_acls)
    problems = ["ACL %s is in ZooKeeper but not in the KRaft metadata" % describe_acl(a) for a in sorted(zk - kraft)]
    problems += ["ACL %s is in the KRaft metadata but not in ZooKeeper" % describe_acl(a) for a in sorted(kraft - zk)]
    return _limited(problems, limit)


def zookeeper_scram_mechanisms(config):
    """The SCRAM mechanisms a ``/config/users/<u>`` config (``zookeeper_config()``) holds credentials for, sorted;
    only their names: the values (salt, stored and server keys) are never returned."""
    return sorted(key for key in config if key in SCRAM_MECHANISMS)


def zookeeper_user_name(child):
    """The user of a ``/config/users`` child: ZooKeeper keeps it URL-encoded (``CN%3Dbob%2CO%3Dacme``)."""
    return unquote(child)


_SCRAM_LINE = re.compile(r"^SCRAM credential configs for user-principal '(?P<user>.*)' are (?P<mechanisms>.*?)\s*$")


def parse_scram_users(text):
    """``{user: [mechanisms]}`` from ``kafka-configs --describe --entity-type users`` (its ``SCRAM credential
    configs for user-principal 'alice' are SCRAM-SHA-512=iterations=4096, ...`` lines; quota lines are not
    read). An empty answer is no user; text with neither kind of line raises KRaftError."""
    users = {}
    for line in (text or "").splitlines():
        match = _SCRAM_LINE.match(line)
        if match:
            mechanisms = [item.split("=", 1)[0].strip() for item in match.group("mechanisms").split(",")]
            users[match.group("user")] = sorted(m for m in mechanisms if m)
    if not users and (text or "").strip() and "configs for user-principal" not in text:
        raise KRaftError("no 'configs for user-principal' line in the answer: %s" % text.strip()[-300:])
    return users


def compare_scram_users(zookeeper_users, kraft_users, limit=20):
    """Users (``{user: [mechanisms]}`` on each side) on one side only or with other mechanisms; sentences."""
    problems = []
    for user in sorted(set(zookeeper_users) | set(kraft_users)):
        zk, kraft = zookeeper_users.get(user), kraft_users.get(user)
        if kraft is None:
            problems.append("SCRAM user %s (%s) is in ZooKeeper but not in the KRaft metadata" % (user, ", ".join(zk)))
        elif zk is None:
            problems.append("SCRAM user %s (%s) is in the KRaft metadata but not in ZooKeeper" % (user, ", ".join(kraft)))
        elif sorted(zk) != sorted(kraft):
            problems.append("SCRAM user %s has %s in ZooKeeper and %s in KRaft" % (user, ", ".join(zk), ", ".join(kraft)))
    return _limited(problems, limit)


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

    def topic_configs(self, selector, port, container="broker"):
        argv = [CONFIGS_COMMAND, "--bootstrap-server", "localhost:%d" % int(port), "--describe", "--entity-type", "topics"]
        return self._ask(selector, container, argv, lambda out: {"configs": parse_topic_configs(out)},
                         "the topic configs in the cluster's metadata")

    def acls(self, selector, port, container="broker"):
        argv = [ACLS_COMMAND, "--bootstrap-server", "localhost:%d" % int(port), "--list"]
        return self._ask(selector, container, argv, lambda out: {"acls": parse_acls(out)},
                         "the ACLs in the cluster's metadata")

    def scram_users(self, selector, port, container="broker"):
        argv = [CONFIGS_COMMAND, "--bootstrap-server", "localhost:%d" % int(port), "--describe", "--entity-type", "users"]
        return self._ask(selector, container, argv, lambda out: {"users": parse_scram_users(out)},
                         "the SCRAM users in the cluster's metadata")

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


class KRaftPartitions:
    """The partitions' replicas, leaders and in-sync replicas as the KRaft metadata holds them, for the checks
    between two restarts of a roll (``replication.wait_partitions(..., source=KRaftPartitions(...))``): once the
    migration is finalized ZooKeeper is no longer written, so its partition states are stale. One
    ``kafka-topics --describe`` in a broker pod per read; the topics' ``min.insync.replicas`` overrides from one
    ``kafka-configs --describe --entity-type topics`` at the start."""

    def __init__(self, kraft, selector, port, container="broker"):
        self.kraft = kraft
        self.selector = selector
        self.port = port
        self.container = container

    def _describe(self):
        return self.kraft.topics(self.selector, self.port, self.container)["topics"]

    def topics(self):
        """``(assignments, min ISR overrides)`` as ``replication.read_topics`` returns them."""
        described = self._describe()
        # The topics' own overrides (kafka-configs), not kafka-topics' Configs: field, which mixes in the brokers'
        # static settings.
        configs = self.kraft.topic_configs(self.selector, self.port, self.container)["configs"]
        assignments, overrides = {}, {}
        for topic, found in described.items():
            assignments[topic] = dict(found["replicas"])
            value = min_isr_override(configs.get(topic))
            if value is not None:
                overrides[topic] = value
        return assignments, overrides

    def states(self, assignments):
        """``{(topic, partition): {"leader", "isr"} or None}`` as ``replication.read_states`` returns them."""
        try:
            described = self._describe()
        except KRaftError:
            # No broker answered (one is restarting): nothing is known in sync, so nothing may restart yet.
            described = {}
        states = {}
        for topic in sorted(assignments):
            found = described.get(topic) or {}
            for partition in sorted(assignments[topic]):
                if partition in (found.get("isr") or {}):
                    states[(topic, partition)] = {"leader": (found.get("leader") or {}).get(partition, -1),
                                                  "isr": list(found["isr"][partition])}
                else:
                    states[(topic, partition)] = None
        return states
