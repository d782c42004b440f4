#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_status
short_description: Report a Kafka cluster's health, read-only, and fail when it is unhealthy
version_added: 0.2.0
description:
  - Reads the cluster once and reports, as sentences (RV(lines)) and as data (RV(status)) - where the metadata
    lives and the migration's phase; the ZooKeeper quorum and its leader; the KRaft controllers' quorum where
    they run; each expected broker's registration with its endpoints, rack, zone, node and pod; the controller;
    the offline and under-replicated partitions; the pods per zone; the bootstrap servers of the client
    ConfigMap; the images (and the Kafka and ZooKeeper versions they carry).
  - Until the migration to KRaft is finalized, ZooKeeper is asked - its servers' modes, C(/brokers/ids),
    C(/controller), C(/migration), the topics' assignments and partition states. A registration counts as the
    broker's own only as C(broker_membership) proves it (its endpoints are the broker's advertised listeners,
    and no older than its running C(broker) container, found by name).
  - Once the controllers lead the migrated metadata (or the migration was finalized), the registrations come
    from the KRaft metadata (C(kafka-broker-api-versions) in a broker pod - the endpoint it lists must be the
    broker's own); once finalized, the partitions too (C(kafka-topics --describe)) and ZooKeeper is not asked.
  - Unhealthy (RV(healthy) false, each reason in RV(problems)) - a broker that is not registered under its own
    endpoint; no quorum (ZooKeeper, while it holds the metadata, without one leader and every other expected
    server a follower; KRaft controllers without a leader or their expected voters); an offline partition (no
    leader); an under-replicated partition (fewer in-sync replicas than replicas); a read of any of these that
    failed (ZooKeeper unreachable is reported as a problem, not an error of the module).
  - With I(fail_when_unhealthy) the module fails when the cluster is unhealthy, naming each problem, so that a
    pipeline can gate on it. It never fails for what it only reports (zones, versions, a missing ConfigMap).
  - Only reads - pods, nodes, a ConfigMap, Deployments and StatefulSets through the Kubernetes API, and
    C(pods/exec) to run ZooKeeper's and Kafka's own tools. Never waits, never reports a change.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
  - kazoo (only for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kafka_eks.cluster.kraft_access
  - kubernetes.core.k8s_auth_options
options:
  expected_broker_ids:
    description:
      - The broker ids that must be registered (C(kafka_plan.broker_ids)).
    type: list
    elements: int
    required: true
  advertised_listeners:
    description:
      - Broker id -> the listeners the plan advertises for it (a comma-separated string or a list), as
        C(broker_membership) takes them. A registration with other endpoints is not the broker's own.
    type: dict
    default: {}
  expected_brokers:
    description:
      - Broker id -> the client endpoint (C(kafka-service-0:9092)) the KRaft metadata must list for it.
      - Unset, each broker's advertised listener on I(broker_client_port).
    type: dict
    default: {}
  broker_id_label:
    description: Label of a broker pod and Deployment whose value is its broker id.
    type: str
    default: kafka-eks.cluster/broker-id
  zookeeper_servers:
    description:
      - The ensemble size of the plan (C(zookeeper_replicas)); the quorum is counted against it.
      - Unset, the replicas of I(zookeeper_statefulset), else the number of servers found.
    type: int
  zookeeper_statefulset:
    description: Name of ZooKeeper's StatefulSet (its image; its replicas when I(zookeeper_servers) is unset).
    type: str
    default: zookeeper
  zookeeper_container:
    description: Name of the ZooKeeper container in that StatefulSet.
    type: str
    default: zookeeper
  controller_statefulset:
    description: Name of the KRaft controllers' StatefulSet; its migration flag tells a finalized migration.
    type: str
    default: kafka-controller
  client_config_name:
    description: The ConfigMap with the clients' C(bootstrap.servers) (and C(bootstrap.servers.external)).
    type: str
    default: kafka-client-config
  zone_label:
    description: The node label that names a node's zone.
    type: str
    default: topology.kubernetes.io/zone
  default_min_insync_replicas:
    description: The brokers' C(min.insync.replicas), for topics without their own (the partitions below it are in RV(status)).
    type: int
    default: 1
  fail_when_unhealthy:
    description: Fail, naming each problem, when the cluster is unhealthy. With C(false) the module reports only.
    type: bool
    default: true
notes:
  - The Kubernetes user needs C(list) on pods and nodes, C(get) on the ConfigMap and the StatefulSets, C(list) on
    Deployments, and for I(zookeeper_access=exec) or the KRaft tools C(create) (C(get) before Kubernetes 1.35) on
    C(pods/exec) in I(namespace) - see C(examples/rbac/README.md).
attributes:
  check_mode:
    description: Reads the same in check mode.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Report the cluster's health and fail when it is unhealthy
  kafka_eks.cluster.cluster_status:
    namespace: kafka
    expected_broker_ids: [0, 1, 2, 3]
    advertised_listeners:
      "0": PLAINTEXT://kafka-service-0:9092,INTERNAL://kafka-service-0:9093
      "1": PLAINTEXT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093
      "2": PLAINTEXT://kafka-service-2:9092,INTERNAL://kafka-service-2:9093
      "3": PLAINTEXT://kafka-service-3:9092,INTERNAL://kafka-service-3:9093
    zookeeper_servers: 3
  register: kafka_status

- name: Print it
  ansible.builtin.debug:
    msg: "{{ kafka_status.lines }}"
"""

RETURN = r"""
healthy:
  description: No problem was found.
  returned: always
  type: bool
  sample: false
problems:
  description: Why the cluster is unhealthy, one sentence each (empty when healthy).
  returned: always
  type: list
  elements: str
  sample: ["Broker 2 is not registered under its own endpoint (missing): no /brokers/ids/2."]
notes:
  description: What deserves a word but does not make the cluster unhealthy (a missing ConfigMap, nodes that
    could not be read, a registration of an unexpected id).
  returned: always
  type: list
  elements: str
lines:
  description: The whole report as sentences, one a line, ending with C(Healthy.) or the problems.
  returned: always
  type: list
  elements: str
  sample:
    - "Metadata: ZooKeeper mode (no migration to KRaft)."
    - "ZooKeeper: quorum, leader zookeeper-1 (3 expected; zookeeper-0 follower; zookeeper-1 leader; zookeeper-2 follower)."
    - "Broker 0: registered under its own endpoint PLAINTEXT://kafka-service-0:9092,INTERNAL://kafka-service-0:9093; ..."
    - "Healthy."
status:
  description:
    - The report as data - C(namespace); C(metadata) (C(mode) zookeeper, migrating or kraft, C(phase), C(finalized),
      where C(registrations) and C(partitions) were read); C(zookeeper) (C(asked), C(quorum), C(leader),
      C(followers), C(servers)); C(kraft) (C(controllers), C(quorum)); C(brokers) (per broker C(id), C(state)
      joined, missing, foreign, stale, unparsable, not_own or unknown, C(own), C(endpoints), C(rack), C(zone),
      C(node), C(pod), C(image), C(mode), C(reason)); C(unexpected_brokers); C(controller) (C(id), C(kind));
      C(partitions) (C(source), C(total), C(topics), C(offline), C(under_replicated), C(under_min_isr));
      C(placement) (zone -> C(brokers), C(zookeeper), C(controllers)); C(bootstrap_servers) (C(internal),
      C(external)); C(versions); C(healthy); C(problems).
  returned: always
  type: dict
msg:
  description: C(healthy), or the problems in one text.
  returned: always
  type: str
changed:
  description: Always false.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF, connect, module_argument_spec)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_objects import ObjectApi
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.kraft import KRaftAccess, KRaftError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.membership import (
    BROKER_IDS_PATH, CONTROLLER_PATH, parse_registration)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import controllers_finalized
from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import read_states, read_topics
from ansible_collections.kafka_eks.cluster.plugins.module_utils.status import (
    build_report, client_endpoints, metadata_state, partitions_from_topics)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import quorum_state
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

MIGRATION_PATH = "/migration"
READ_ERRORS = (ZooKeeperError, PodApiError, KRaftError)


def argument_spec():
    return module_argument_spec(
        kraft=True,
        expected_broker_ids=dict(type="list", elements="int", required=True),
        advertised_listeners=dict(type="dict", default={}),
        expected_brokers=dict(type="dict", default={}),
        broker_id_label=dict(type="str", default="kafka-eks.cluster/broker-id"),
        zookeeper_servers=dict(type="int"),
        zookeeper_statefulset=dict(type="str", default="zookeeper"),
        zookeeper_container=dict(type="str", default="zookeeper"),
        controller_statefulset=dict(type="str", default="kafka-controller"),
        client_config_name=dict(type="str", default="kafka-client-config"),
        zone_label=dict(type="str", default="topology.kubernetes.io/zone"),
        default_min_insync_replicas=dict(type="int", default=1),
        fail_when_unhealthy=dict(type="bool", default=True),
    )


def _by_id(module, option, value):
    """``{int id: text}`` from a dict option keyed by broker id (keys arrive as strings)."""
    found = {}
    for key, item in (value or {}).items():
        try:
            found[int(str(key).strip())] = item
        except ValueError:
            module.fail_json(msg="%s: key %r is not a broker id; map each broker id to its value" % (option, key))
    return found


class Reader:
    """Every read of the report, once; a read that fails is kept in ``errors`` (never raised), one not made in
    ``skipped`` with the reason."""

    def __init__(self, params, pod_api, zk, objects, kraft):
        self.params = params
        self.pod_api = pod_api
        self.zk = zk
        self.objects = objects
        self.kraft = kraft
        self.errors = {}
        self.skipped = {}

    def attempt(self, what, call, default=None):
        try:
            return call()
        except READ_ERRORS as exc:
            self.errors[what] = str(exc)
            return default

    def registrations(self, expected):
        """(registrations, stats, /controller data, /migration data) in one zkCli run (a second one for ids
        registered that are not expected)."""
        paths = dict((b, "%s/%d" % (BROKER_IDS_PATH, b)) for b in expected)
        children, found = self.zk.list_and_get(BROKER_IDS_PATH, [paths[b] for b in expected]
                                               + [CONTROLLER_PATH, MIGRATION_PATH])
        others = {}
        for child in children or []:
            try:
                broker = int(child)
            except ValueError:
                continue
            if broker not in paths:
                others[broker] = "%s/%d" % (BROKER_IDS_PATH, broker)
        if others:
            found.update(self.zk.get_many([others[b] for b in sorted(others)]))
        registrations, stats = {}, {}
        for broker, path in sorted(list(paths.items()) + list(others.items())):
            node = found.get(path)
            if node is not None:
                registrations[broker] = parse_registration(node[0])
                stats[broker] = node[1]
        controller = found.get(CONTROLLER_PATH)
        migration = found.get(MIGRATION_PATH)
        return registrations, stats, controller[0] if controller else None, migration[0] if migration else None

    def read(self, expected, advertised, addresses):
        params = self.params
        namespace = params["namespace"]
        observed = {"namespace": namespace, "expected_broker_ids": expected, "advertised": advertised,
                    "addresses": addresses, "errors": self.errors, "skipped": self.skipped}
        observed["deployments"] = self.attempt("deployments", lambda: self.objects.list_deployments(
            namespace, params["broker_pod_selector"]), [])
        observed["zookeeper_statefulset"] = self.attempt("zookeeper_statefulset", lambda: self.objects.get_stateful_set(
            namespace, params["zookeeper_statefulset"]))
        observed["controller_statefulset"] = self.attempt(
            "controller_statefulset", lambda: self.objects.get_stateful_set(namespace, params["controller_statefulset"]))
        observed["broker_pods"] = self.attempt("broker_pods", lambda: self.pod_api.list_pods(
            namespace, params["broker_pod_selector"]), [])
        observed["zookeeper_pods"] = self.attempt("zookeeper_pods", lambda: self.pod_api.list_pods(
            namespace, params["zookeeper_pod_selector"]), [])
        observed["controller_pods"] = self.attempt("controller_pods", lambda: self.pod_api.list_pods(
            namespace, params["controller_pod_selector"]), []) if observed["controller_statefulset"] else []
        observed["nodes"] = self.attempt("nodes", self.objects.list_nodes)
        observed["client_config"] = self.attempt("client_config", lambda: self.objects.get_config_map(
            namespace, params["client_config_name"]))

        controller_sts = observed["controller_statefulset"]
        finalized = controllers_finalized([controller_sts] if controller_sts else [])
        controller_znode = migration_znode = None
        serving = False
        if not finalized:
            answers = self.attempt("zookeeper_quorum", self.zk.servers)
            observed["zookeeper_answers"] = answers
            if answers is not None:
                size = params["zookeeper_servers"] or (((observed["zookeeper_statefulset"] or {}).get("spec") or {})
                                                       .get("replicas")) or max(len(answers), 1)
                serving = quorum_state(answers, int(size))["majority"]
            if serving:
                read = self.attempt("registrations", lambda: self.registrations(expected))
                if read is not None:
                    observed["registrations"], observed["stats"], controller_znode, migration_znode = read
            else:
                # A server without a quorum does not serve clients: zkCli would only wait out its timeout.
                for what in ("registrations", "partitions"):
                    self.skipped[what] = ("ZooKeeper could not be asked" if answers is None
                                          else "ZooKeeper has no quorum to answer")
        observed["controller_znode"] = controller_znode
        state = metadata_state(observed["deployments"], controller_sts, params["broker_id_label"],
                               controller_znode, migration_znode)
        observed["metadata"] = state
        broker = (params["broker_pod_selector"], params["broker_client_port"], params["broker_container"])
        if state["controllers"]:
            observed["kraft_quorum"] = self.attempt("kraft_quorum", lambda: self.kraft.quorum_status(
                params["controller_pod_selector"], params["controller_port"], params["controller_container"]))
        if state["registrations"] == "kraft":
            self.skipped.pop("registrations", None)
            answer = self.attempt("kraft_endpoints", lambda: self.kraft.broker_endpoints(*broker))
            observed["kraft_endpoints"] = (answer or {}).get("endpoints") if answer is not None else None
        if state["partitions"] == "kraft":
            self.skipped.pop("partitions", None)
            described = self.attempt("partitions", lambda: self.kraft.topics(*broker)["topics"])
            if described is not None:
                assignments, states = partitions_from_topics(described)
                observed["partitions"] = {"assignments": assignments, "states": states,
                                          "min_isr": self._kraft_min_isr(broker)}
        elif serving:
            observed["partitions"] = self.attempt("partitions", self._zookeeper_partitions)
        return observed

    def _zookeeper_partitions(self):
        assignments, overrides = read_topics(self.zk)
        return {"assignments": assignments, "states": read_states(self.zk, assignments), "min_isr": overrides}

    def _kraft_min_isr(self, broker):
        configs = self.attempt("min_isr", lambda: self.kraft.topic_configs(*broker)["configs"], {})
        found = {}
        for topic, config in configs.items():
            value = (config or {}).get("min.insync.replicas")
            if value is not None and str(value).strip().isdigit():
                found[topic] = int(str(value).strip())
        return found


def settings_from(params):
    keys = ("broker_id_label", "broker_container", "zookeeper_container", "controller_container", "zookeeper_servers",
            "expected_controller_ids", "default_min_insync_replicas", "client_config_name", "zone_label")
    return dict((key, params[key]) for key in keys)


def run_module(module, pod_api=None, zk=None, objects=None, kraft=None):
    params = module.params
    expected = sorted(set(params["expected_broker_ids"]))
    advertised = _by_id(module, "advertised_listeners", params["advertised_listeners"])
    addresses = client_endpoints(advertised, params["broker_client_port"])
    addresses.update((k, str(v)) for k, v in _by_id(module, "expected_brokers", params["expected_brokers"]).items())
    pod_api, zk = connect(module, pod_api, zk)
    if objects is None:
        objects = ObjectApi(pod_api.api_client)
    if kraft is None:
        kraft = KRaftAccess(pod_api, params["namespace"], timeout=params["exec_timeout"])
    try:
        observed = Reader(params, pod_api, zk, objects, kraft).read(expected, advertised, addresses)
    finally:
        zk.close()
    report = build_report(observed, settings_from(params))
    result = dict(changed=False, healthy=report["healthy"], problems=report["problems"], notes=report["notes"],
                  lines=report["lines"], status=report["status"],
                  msg="healthy" if report["healthy"] else " ".join(report["problems"]))
    if not report["healthy"] and params["fail_when_unhealthy"]:
        result["msg"] = "The Kafka cluster in namespace %s is unhealthy: %s" % (params["namespace"], result["msg"])
        module.fail_json(**result)
    module.exit_json(**result)


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    run_module(module)


if __name__ == "__main__":
    main()
