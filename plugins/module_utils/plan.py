# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan: every name, id, listener and setting derived from the user's variables.

One pure function, :func:`build_plan`, turns the role variables into the plan the templates render
and checks every rule the seed's cluster broke (duplicate broker ids, an even ZooKeeper ensemble,
a required anti-affinity that cannot be met, replication factors above the broker count, names that
Kubernetes would refuse). It does no I/O, so the same checks run for ``site.yml`` and ``render.yml``
and are unit-tested without a cluster. Each error names the variable and says how to fix it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
MAX_LABEL_LENGTH = 63
BROKER_ID_LABEL = "kafka-eks.cluster/broker-id"

ZOOKEEPER_FLAVORS = ("apache", "kubernetes-zookeeper")
ANTI_AFFINITY_MODES = ("required", "preferred")
ZOOKEEPER_ACCESS_MODES = ("exec", "direct")

# Broker settings the roles derive themselves; overriding them through the free-form map would
# silently break the one-Service-per-broker design, so the map refuses them.
DERIVED_BROKER_PROPERTIES = {
    "broker.id": "kafka_broker_id_offset or kafka_broker_ids",
    "zookeeper.connect": "zookeeper_client_service_name and zookeeper_client_port",
    "listeners": "kafka_broker_client_port and kafka_broker_internal_port",
    "advertised.listeners": "kafka_broker_service_prefix",
    "listener.security.protocol.map": "kafka_broker_client_port and kafka_broker_internal_port",
    "inter.broker.listener.name": "kafka_broker_internal_port",
    "log.dirs": "kafka_broker_log_dirs",
    "offsets.topic.replication.factor": "kafka_broker_offsets_topic_replication_factor",
    "transaction.state.log.replication.factor": "kafka_broker_transaction_state_log_replication_factor",
    "transaction.state.log.min.isr": "kafka_broker_transaction_state_log_min_isr",
    "default.replication.factor": "kafka_broker_default_replication_factor",
    "min.insync.replicas": "kafka_broker_min_insync_replicas",
    "auto.create.topics.enable": "kafka_broker_auto_create_topics_enable",
}

# Kafka's ZooKeeper-mode broker settings are passed to the cp-kafka image as environment variables.
PROPERTY_ENV_PREFIX = "KAFKA_"


class PlanError(Exception):
    """Raised with every problem found, so a user fixes them all in one go."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(PlanError, self).__init__("\n".join(self.errors))


def property_to_env(name):
    """Name of the cp-kafka environment variable for a broker property.

    The image's configure script maps ``KAFKA_FOO_BAR`` to ``foo.bar``, ``__`` to ``_`` and ``___`` to
    ``-``; this is the inverse.
    """
    escaped = name.replace("-", "\0").replace("_", "__").replace(".", "_").replace("\0", "___")
    return PROPERTY_ENV_PREFIX + escaped.upper()


def _kafka_bool(value):
    return "true" if value else "false"


class _Checker:
    """Collects errors; each message says which variable is wrong and what to do."""

    def __init__(self):
        self.errors = []

    def fail(self, variable, problem, fix):
        self.errors.append("%s: %s Fix: %s" % (variable, problem, fix))

    def integer(self, cfg, variable, minimum=None, maximum=None):
        value = cfg.get(variable)
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = int(str(value).strip())
            except (TypeError, ValueError):
                self.fail(variable, "must be an integer, got %r." % (value,), "set it to a whole number.")
                return None
        if minimum is not None and value < minimum:
            self.fail(variable, "must be at least %d, got %d." % (minimum, value), "set it to %d or more." % minimum)
            return None
        if maximum is not None and value > maximum:
            self.fail(variable, "must be at most %d, got %d." % (maximum, value), "set it to %d or less." % maximum)
            return None
        return value

    def choice(self, cfg, variable, choices):
        value = cfg.get(variable)
        if value not in choices:
            self.fail(variable, "must be one of %s, got %r." % (", ".join(choices), value),
                      "set it to one of %s." % ", ".join(choices))
            return None
        return value

    def dns_label(self, variable, name, what, rfc1035=True):
        pattern = DNS1035_LABEL if rfc1035 else DNS1123_LABEL
        if not isinstance(name, str) or len(name) > MAX_LABEL_LENGTH or not pattern.match(name):
            rule = ("lower-case letters, digits and '-', starting with a letter" if rfc1035
                    else "lower-case letters, digits and '-', starting with a letter or digit")
            self.fail(variable, "%s name %r is not a valid DNS label (%s, ending with a letter or digit,"
                      " at most %d characters)." % (what, name, rule, MAX_LABEL_LENGTH),
                      "choose a name that follows that rule.")
            return False
        return True

    def quantity(self, cfg, variable):
        value = str(cfg.get(variable, ""))
        if not QUANTITY.match(value):
            self.fail(variable, "%r is not a Kubernetes storage quantity." % (value,), "use a value such as 10Gi.")


def _check_ports(check, cfg, variables):
    ports = {}
    for variable in variables:
        port = check.integer(cfg, variable, 1, 65535)
        if port is None:
            continue
        if port in ports:
            check.fail(variable, "port %d is also used by %s." % (port, ports[port]),
                       "give each port its own number.")
        ports[port] = variable


def _broker_ids(check, cfg, count):
    """Broker ids are unique by construction (offset + index) unless the user lists them."""
    explicit = cfg.get("kafka_broker_ids") or []
    if not explicit:
        offset = check.integer(cfg, "kafka_broker_id_offset", 0)
        if offset is None or count is None:
            return None
        return [offset + index for index in range(count)]
    if not isinstance(explicit, (list, tuple)):
        check.fail("kafka_broker_ids", "must be a list of integers, got %r." % (explicit,),
                   "list one id per broker, or leave it empty to use kafka_broker_id_offset + index.")
        return None
    ids = []
    for value in explicit:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            try:
                value = int(str(value))
                if value < 0:
                    raise ValueError(value)
            except (TypeError, ValueError):
                check.fail("kafka_broker_ids", "%r is not a non-negative integer." % (value,),
                           "list whole numbers >= 0.")
                return None
        ids.append(value)
    duplicates = sorted(set(i for i in ids if ids.count(i) > 1))
    if duplicates:
        check.fail("kafka_broker_ids", "broker ids must be unique; %s appear more than once in %s"
                   " (the seed's cluster gave every broker id 0, so only one could register)."
                   % (", ".join(str(d) for d in duplicates), ids),
                   "give each broker its own id, or leave kafka_broker_ids empty to use"
                   " kafka_broker_id_offset + index.")
        return None
    if count is not None and len(ids) != count:
        check.fail("kafka_broker_ids", "lists %d ids but kafka_broker_count is %d." % (len(ids), count),
                   "list exactly one id per broker, or leave it empty.")
        return None
    return ids


def _check_replication(check, cfg, broker_count):
    pairs = (
        ("kafka_broker_offsets_topic_replication_factor", None),
        ("kafka_broker_transaction_state_log_replication_factor", "kafka_broker_transaction_state_log_min_isr"),
        ("kafka_broker_default_replication_factor", "kafka_broker_min_insync_replicas"),
    )
    values = {}
    for factor_var, isr_var in pairs:
        factor = check.integer(cfg, factor_var, 1)
        values[factor_var] = factor
        if factor is not None and broker_count is not None and factor > broker_count:
            check.fail(factor_var, "is %d but there are only %d brokers (kafka_broker_count); Kafka could"
                       " not place that many replicas." % (factor, broker_count),
                       "lower it to %d or less, or raise kafka_broker_count." % broker_count)
        if isr_var is None:
            continue
        isr = check.integer(cfg, isr_var, 1)
        values[isr_var] = isr
        if isr is not None and factor is not None and isr >= factor:
            check.fail(isr_var, "is %d, not below its replication factor %s=%d: a single broker down would"
                       " stop writes." % (isr, factor_var, factor),
                       "set it to at most %d." % max(factor - 1, 1))
    return values


def _tolerates(taint, tolerations):
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration.get("key") == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def schedulable_node_names(nodes, node_selector=None, tolerations=None):
    """Names of the nodes a pod with this node selector and these tolerations can be scheduled on.

    :param nodes: Node objects as the Kubernetes API returns them (k8s_info's ``resources``).
    """
    names = []
    for node in nodes or []:
        metadata = node.get("metadata") or {}
        spec = node.get("spec") or {}
        status = node.get("status") or {}
        if spec.get("unschedulable"):
            continue
        ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
        if not ready or ready[0].get("status") != "True":
            continue
        labels = metadata.get("labels") or {}
        if any(labels.get(k) != v for k, v in (node_selector or {}).items()):
            continue
        blocking = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
        if any(not _tolerates(t, tolerations or []) for t in blocking):
            continue
        names.append(metadata.get("name"))
    return sorted(names)


def _check_zookeeper(check, cfg, schedulable_nodes, warnings):
    replicas = check.integer(cfg, "zookeeper_replicas", 1)
    if replicas is not None and replicas % 2 == 0:
        check.fail("zookeeper_replicas", "is %d, an even number. A ZooKeeper ensemble needs a majority:"
                   " %d servers tolerate only %d failure(s), the same as %d, and split evenly they cannot"
                   " elect a leader." % (replicas, replicas, (replicas - 1) // 2, replicas - 1),
                   "use an odd number: %d or %d." % (replicas - 1, replicas + 1))
    mode = check.choice(cfg, "zookeeper_anti_affinity", ANTI_AFFINITY_MODES)
    check.choice(cfg, "zookeeper_image_flavor", ZOOKEEPER_FLAVORS)
    if replicas is None or mode is None or schedulable_nodes is None:
        return replicas
    nodes = sorted(schedulable_nodes)
    if len(nodes) < replicas:
        if mode == "required":
            check.fail("zookeeper_anti_affinity",
                       "is 'required' (one ZooKeeper pod per node) but the cluster has %d schedulable node(s)"
                       " (%s) for %d ZooKeeper pods: pod %d would stay Pending and nothing was created."
                       % (len(nodes), ", ".join(nodes) or "none", replicas, len(nodes) + 1),
                       "add %d node(s) to the cluster, or set zookeeper_anti_affinity=preferred (pods may then"
                       " share a node, and losing that node loses the quorum)." % (replicas - len(nodes)))
        else:
            warnings.append("zookeeper_anti_affinity is 'preferred' and the cluster has %d schedulable node(s)"
                            " for %d ZooKeeper pods: some pods will share a node, and losing that node can"
                            " lose the quorum." % (len(nodes), replicas))
    return replicas


def _names(check, cfg, broker_ids):
    namespace = cfg.get("kafka_namespace")
    check.dns_label("kafka_namespace", namespace, "namespace", rfc1035=False)
    cluster = cfg.get("kafka_cluster_name")
    if not isinstance(cluster, str) or not cluster or len(cluster) > MAX_LABEL_LENGTH or not LABEL_VALUE.match(cluster):
        check.fail("kafka_cluster_name", "%r is not a valid label value." % (cluster,),
                   "use letters, digits, '-', '_' or '.', at most 63 characters.")
    for variable, what in (("zookeeper_statefulset_name", "StatefulSet"),
                           ("zookeeper_headless_service_name", "Service"),
                           ("zookeeper_client_service_name", "Service"),
                           ("zookeeper_pdb_name", "PodDisruptionBudget"),
                           ("kafka_broker_client_config_name", "ConfigMap")):
        check.dns_label(variable, cfg.get(variable), what)
    if broker_ids is None:
        return
    last = len(broker_ids) - 1
    for variable, what in (("kafka_broker_service_prefix", "Service"),
                           ("kafka_broker_deployment_prefix", "Deployment"),
                           ("kafka_broker_pvc_prefix", "PersistentVolumeClaim")):
        prefix = cfg.get(variable)
        if not isinstance(prefix, str):
            check.fail(variable, "must be a string, got %r." % (prefix,), "set it to a name prefix such as kafka-service-.")
            continue
        # The first and the last broker's names bound every other one (same prefix, digits only).
        for index in sorted({0, last}):
            if not check.dns_label(variable, "%s%d" % (prefix, index), what):
                break
    if cfg.get("zookeeper_statefulset_name") and isinstance(cfg.get("zookeeper_replicas"), int):
        last_pod = "%s-%d" % (cfg["zookeeper_statefulset_name"], max(cfg["zookeeper_replicas"] - 1, 0))
        check.dns_label("zookeeper_statefulset_name", last_pod, "ZooKeeper pod")


def _broker_properties(cfg, broker_id, service, zookeeper_connect, rf):
    client_port = cfg["kafka_broker_client_port"]
    internal_port = cfg["kafka_broker_internal_port"]
    properties = {
        "broker.id": str(broker_id),
        "zookeeper.connect": zookeeper_connect,
        # Clients use PLAINTEXT, brokers talk to each other on INTERNAL; both are advertised under the
        # broker's own Service name, which is why each broker has a Service of its own.
        "listeners": "PLAINTEXT://:%d,INTERNAL://:%d" % (client_port, internal_port),
        "advertised.listeners": "PLAINTEXT://%s:%d,INTERNAL://%s:%d" % (service, client_port, service, internal_port),
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT",
        "inter.broker.listener.name": "INTERNAL",
        "log.dirs": cfg["kafka_broker_log_dirs"],
        "auto.create.topics.enable": _kafka_bool(cfg["kafka_broker_auto_create_topics_enable"]),
        "offsets.topic.replication.factor": str(rf["kafka_broker_offsets_topic_replication_factor"]),
        "transaction.state.log.replication.factor": str(rf["kafka_broker_transaction_state_log_replication_factor"]),
        "transaction.state.log.min.isr": str(rf["kafka_broker_transaction_state_log_min_isr"]),
        "default.replication.factor": str(rf["kafka_broker_default_replication_factor"]),
        "min.insync.replicas": str(rf["kafka_broker_min_insync_replicas"]),
    }
    for key in sorted(cfg.get("kafka_broker_extra_config") or {}):
        value = cfg["kafka_broker_extra_config"][key]
        properties[key] = _kafka_bool(value) if isinstance(value, bool) else str(value)
    return properties


def _check_extra_config(check, cfg):
    extra = cfg.get("kafka_broker_extra_config") or {}
    if not isinstance(extra, dict):
        check.fail("kafka_broker_extra_config", "must be a mapping of broker property to value, got %r." % (extra,),
                   "write it as {'log.retention.hours': 168}.")
        return
    for key in sorted(extra):
        if key in DERIVED_BROKER_PROPERTIES:
            check.fail("kafka_broker_extra_config", "sets %r, which the role derives for every broker." % key,
                       "remove it and set %s instead." % DERIVED_BROKER_PROPERTIES[key])


def build_plan(cfg, schedulable_nodes=None):
    """Check the variables and derive everything the manifests need.

    :param cfg: the role variables (``zookeeper_*``, ``kafka_*``), defaults already applied.
    :param schedulable_nodes: names of the nodes ZooKeeper pods can run on, or None when the
        cluster is not consulted (``render.yml``).
    :returns: the plan as plain data for the templates and the modules.
    :raises PlanError: with every problem found.
    """
    check = _Checker()
    warnings = []
    zk_replicas = _check_zookeeper(check, cfg, schedulable_nodes, warnings)
    broker_count = check.integer(cfg, "kafka_broker_count", 1)
    broker_ids = _broker_ids(check, cfg, broker_count)
    rf = _check_replication(check, cfg, broker_count)
    _check_ports(check, cfg, ("zookeeper_client_port", "zookeeper_server_port", "zookeeper_election_port"))
    _check_ports(check, cfg, ("kafka_broker_client_port", "kafka_broker_internal_port"))
    _names(check, cfg, broker_ids)
    _check_extra_config(check, cfg)
    check.quantity(cfg, "zookeeper_storage_size")
    check.quantity(cfg, "kafka_broker_storage_size")
    access = check.choice(cfg, "kafka_zookeeper_access", ZOOKEEPER_ACCESS_MODES)
    if access == "direct" and not cfg.get("kafka_zookeeper_hosts"):
        check.fail("kafka_zookeeper_hosts", "is empty but kafka_zookeeper_access is 'direct'.",
                   "list the ZooKeeper servers as host:port, or use kafka_zookeeper_access=exec.")
    if check.errors:
        raise PlanError(check.errors)

    namespace = cfg["kafka_namespace"]
    domain = cfg["kafka_cluster_domain"]
    sts = cfg["zookeeper_statefulset_name"]
    headless = cfg["zookeeper_headless_service_name"]
    client_port = int(cfg["zookeeper_client_port"])
    zk_servers = []
    for ordinal in range(zk_replicas):
        pod = "%s-%d" % (sts, ordinal)
        zk_servers.append({
            "id": ordinal + 1,
            "pod": pod,
            "host": "%s.%s.%s.svc.%s" % (pod, headless, namespace, domain),
        })
    zookeeper_connect = "%s:%d" % (cfg["zookeeper_client_service_name"], client_port)
    common_labels = {
        "app.kubernetes.io/part-of": "kafka",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
        "app.kubernetes.io/managed-by": "kafka_eks.cluster",
    }
    zookeeper_selector = {
        "app.kubernetes.io/component": "zookeeper",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
    }
    broker_selector = {
        "app.kubernetes.io/component": "broker",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
    }
    zookeeper_labels = dict(common_labels, **{"app.kubernetes.io/name": "zookeeper",
                                              "app.kubernetes.io/component": "zookeeper"})
    broker_labels = dict(common_labels, **{"app.kubernetes.io/name": "kafka",
                                           "app.kubernetes.io/component": "broker"})
    brokers = []
    for index, broker_id in enumerate(broker_ids):
        service = "%s%d" % (cfg["kafka_broker_service_prefix"], index)
        properties = _broker_properties(cfg, broker_id, service, zookeeper_connect, rf)
        id_label = {BROKER_ID_LABEL: str(broker_id)}
        brokers.append({
            "index": index,
            "id": broker_id,
            "deployment": "%s%d" % (cfg["kafka_broker_deployment_prefix"], index),
            "service": service,
            "pvc": "%s%d" % (cfg["kafka_broker_pvc_prefix"], index),
            "address": "%s:%d" % (service, int(cfg["kafka_broker_client_port"])),
            "properties": properties,
            "env": [{"name": property_to_env(k), "value": v} for k, v in sorted(properties.items())],
            "labels": dict(broker_labels, **id_label),
            "selector": dict(broker_selector, **id_label),
        })
    return {
        "namespace": namespace,
        "cluster_name": cfg["kafka_cluster_name"],
        "common_labels": common_labels,
        "zookeeper": {
            "replicas": zk_replicas,
            "servers": zk_servers,
            # The official image's ZOO_SERVERS format: server.<id>=<host>:<server>:<election>;<client>
            "zoo_servers": " ".join(
                "server.%d=%s:%d:%d;%d" % (s["id"], s["host"], int(cfg["zookeeper_server_port"]),
                                           int(cfg["zookeeper_election_port"]), client_port)
                for s in zk_servers),
            "connect": zookeeper_connect,
            "client_port": client_port,
            "labels": zookeeper_labels,
            "selector": zookeeper_selector,
            "selector_string": ",".join("%s=%s" % kv for kv in sorted(zookeeper_selector.items())),
        },
        "brokers": brokers,
        "broker_ids": [b["id"] for b in brokers],
        "broker_labels": broker_labels,
        "broker_selector": broker_selector,
        "broker_id_label": BROKER_ID_LABEL,
        "broker_selector_string": ",".join("%s=%s" % kv for kv in sorted(broker_selector.items())),
        "bootstrap_servers": ",".join(b["address"] for b in brokers),
        "warnings": warnings,
    }
