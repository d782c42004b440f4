#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kraft_migration
short_description: Read the evidence of a ZooKeeper-to-KRaft migration, wait for a phase, or undo its ZooKeeper state
version_added: 0.2.0
description:
  - Reads what ZooKeeper says about a migration - C(/cluster/id), C(/controller) (a KRaft controller that holds
    it writes C(kraftControllerEpoch)) and C(/migration) (created when a KRaft controller first leads, given the
    KRaft offset of the copy once the copy is complete) - and, on request, what the KRaft side says about itself -
    the controller quorum's status (C(kafka-metadata-quorum describe --status) in a controller pod) and the
    brokers the cluster's metadata lists with their endpoints (C(kafka-broker-api-versions) in a broker pod).
  - RV(migration_completed) holds only when C(/migration) has a KRaft offset and its controller epoch is the
    one of the KRaft controller holding C(/controller); a C(/migration) alone proves nothing.
  - A broker counts as registered (RV(joined)) only when the metadata lists it with its own client
    endpoint (I(expected_brokers)); another endpoint is C(foreign) in RV(brokers). Nothing is healed here - a KRaft
    broker's registration is not in ZooKeeper, so there is no stale session to prove dead.
  - With I(wait_for) it waits, up to I(timeout) seconds, for the quorum (a leader, exactly the expected voters,
    each at most 10 records behind the leader), the completed copy, or every expected broker registered; then
    fails naming what is missing.
  - With I(wait_restartable) / I(wait_caught_up) it then waits for the partitions as C(broker_membership) does,
    from the partition states in ZooKeeper, which the controllers keep writing until the migration is finalized,
    or (I(partitions_from=kraft)) from the KRaft metadata (C(kafka-topics --describe) in a broker pod).
  - With I(zookeeper=false) (a finalized migration - ZooKeeper is no longer written, and may be gone) it does not
    reach ZooKeeper at all; what needs ZooKeeper is then refused.
  - With I(revert_zookeeper) (a rollback, after the controllers were removed) it deletes C(/controller) when a
    KRaft controller holds it, so a ZooKeeper broker can take it, and C(/migration), so that a later migration
    copies the metadata again; both with their version, and the old C(/migration) is returned.
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
  expected_brokers:
    description: Broker id -> the client endpoint (C(kafka-service-0:9092)) it advertises.
    type: dict
    default: {}
  read_quorum:
    description: Ask the controllers for the quorum's status.
    type: bool
    default: false
  read_brokers:
    description: Ask a broker which brokers the metadata lists.
    type: bool
    default: false
  wait_for:
    description: What to wait for before returning.
    type: str
    choices: [none, quorum, migration, brokers]
    default: none
  timeout:
    description: Seconds to wait for I(wait_for).
    type: int
    default: 600
  wait_sleep:
    description: Seconds between two reads while waiting.
    type: int
    default: 5
  revert_zookeeper:
    description: Delete C(/controller) (when a KRaft controller holds it) and C(/migration).
    type: bool
    default: false
  gate:
    description:
      - The evidence gate before finalizing - fails, writing nothing, unless the quorum has exactly its voters,
        every expected broker is registered with the controllers under its own endpoint, the copy is complete,
        and the KRaft metadata has the same topics, partition counts and replicas as ZooKeeper with every
        partition's ISR all of its replicas (C(kafka-topics --describe) in a broker pod). RV(gate) reports each.
      - It also compares, in a broker pod, the topic-level config overrides (ZooKeeper's C(/config/topics/<topic>)
        against C(kafka-configs --describe --entity-type topics); not the C(Configs) of C(kafka-topics), which
        also lists the brokers' static settings), the ACLs (C(/kafka-acl) and C(/kafka-acl-extended/prefixed)
        against C(kafka-acls --list)) and the SCRAM users by name and mechanism (C(/config/users) against
        C(kafka-configs --describe --entity-type users); salts and keys are never kept or shown).
      - ACLs and SCRAM users are asked of a broker only when ZooKeeper has some (a broker without an authorizer
        answers C(kafka-acls) with C(SecurityDisabledException)); without, their check says C(none in ZooKeeper).
    type: bool
    default: false
  wait_restartable:
    description: Wait until restarting this broker takes no partition below its min ISR.
    type: int
  wait_caught_up:
    description: Wait until these brokers are back in the ISR of their partitions.
    type: list
    elements: int
    default: []
  default_min_insync_replicas:
    description: The brokers' C(min.insync.replicas), for topics without their own.
    type: int
    default: 1
  in_sync_timeout:
    description: Seconds to wait for I(wait_restartable) and I(wait_caught_up).
    type: int
    default: 300
  partitions_from:
    description:
      - Where I(wait_restartable) and I(wait_caught_up) read the partitions' replicas and in-sync replicas.
      - C(zookeeper) until the migration is finalized; C(kraft) after it (ZooKeeper's partition states are stale).
    type: str
    choices: [zookeeper, kraft]
    default: zookeeper
  zookeeper:
    description:
      - Read ZooKeeper's C(/cluster/id), C(/controller) and C(/migration). False once the migration is finalized -
        then I(revert_zookeeper), I(gate), I(wait_for=migration) and I(partitions_from=zookeeper) are refused.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Wait until the controllers copied the metadata out of ZooKeeper
  kafka_eks.cluster.kraft_migration:
    namespace: kafka
    wait_for: migration
    timeout: 600

- name: Wait until every broker is registered with the KRaft controllers under its own endpoint
  kafka_eks.cluster.kraft_migration:
    namespace: kafka
    read_brokers: true
    wait_for: brokers
    expected_brokers: {0: kafka-service-0:9092, 1: kafka-service-1:9092}
"""

RETURN = r"""
cluster_id:
  description: The id in ZooKeeper's C(/cluster/id); null when there is none.
  returned: always
  type: str
controller_znode:
  description: C(/controller) as JSON; null when missing.
  returned: always
  type: dict
migration_znode:
  description: C(/migration) as JSON; null when missing.
  returned: always
  type: dict
migration_completed:
  description: The copy is complete and the KRaft controller holding C(/controller) made it.
  returned: always
  type: bool
kraft_holds_controller:
  description: C(/controller) names a KRaft controller.
  returned: always
  type: bool
quorum:
  description: The quorum's status (leader_id, leader_epoch, voters, observers, asked), or null.
  returned: always
  type: dict
brokers:
  description: joined, missing and foreign brokers as the metadata lists them, or null.
  returned: always
  type: dict
joined:
  description: The expected brokers the metadata lists with their own endpoint (as broker_membership's).
  returned: when I(expected_brokers) is given and the brokers were read
  type: list
  elements: int
all_joined:
  description: Every expected broker is in RV(joined).
  returned: when I(expected_brokers) is given and the brokers were read
  type: bool
gate:
  description:
    - With I(gate) - holds (bool), problems (sentences, each naming what differs - a topic, a config key and
      both values, an ACL and its resource, a SCRAM user and its mechanisms), checks (what was found per check -
      C(quorum), C(brokers), C(topics), C(topic_configs), C(acls), C(scram_users); the last two say
      C(none in ZooKeeper) when ZooKeeper has none, and no tool was run for them).
  returned: when I(gate) is true
  type: dict
  sample:
    holds: false
    problems: ["Topic orders has retention.ms=604800000 in ZooKeeper and retention.ms=86400000 in KRaft."]
    checks:
      topics: 3 in ZooKeeper, 3 in KRaft, 0 difference(s)
      topic_configs: 2 topic(s) with overrides in ZooKeeper, 2 in KRaft, 1 difference(s)
      acls: none in ZooKeeper
      scram_users: 1 in ZooKeeper (alice), 1 in KRaft, 0 difference(s)
removed:
  description: The znodes deleted (or, in check mode, that would be), with their data.
  returned: always
  type: list
waited:
  description: Seconds waited for I(wait_for).
  returned: always
  type: float
msg:
  description: What was found, in a sentence.
  returned: always
  type: str
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF, connect, module_argument_spec)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.kraft import (
    KRaftAccess, KRaftError, KRaftPartitions, compare_acls, compare_scram_users, compare_topic_configs, compare_topics,
    own_registrations, parse_zookeeper_acls, quorum_whole, wait_until, zookeeper_config, zookeeper_scram_mechanisms,
    zookeeper_user_name)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import (
    kraft_holds_controller, migration_completed, parse_json_znode)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import (
    NotInSyncError, read_topics, wait_partitions)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

ZNODES = ("/cluster/id", "/controller", "/migration")
TOPIC_CONFIGS = "/config/topics"
USER_CONFIGS = "/config/users"
# Where ZooKeeper-mode Kafka keeps ACLs: literal ones under /kafka-acl, prefixed ones under
# /kafka-acl-extended/prefixed, each under its resource type (the AclAuthorizer creates every type's znode).
ACL_STORES = (("/kafka-acl", "LITERAL"), ("/kafka-acl-extended/prefixed", "PREFIXED"))
ACL_RESOURCE_TYPES = ("Topic", "Group", "Cluster", "TransactionalId", "DelegationToken", "User")


def argument_spec():
    return module_argument_spec(
        kraft=True,
        expected_brokers=dict(type="dict", default={}),
        read_quorum=dict(type="bool", default=False),
        read_brokers=dict(type="bool", default=False),
        wait_for=dict(type="str", choices=["none", "quorum", "migration", "brokers"], default="none"),
        timeout=dict(type="int", default=600),
        wait_sleep=dict(type="int", default=5),
        revert_zookeeper=dict(type="bool", default=False),
        gate=dict(type="bool", default=False),
        wait_restartable=dict(type="int"),
        wait_caught_up=dict(type="list", elements="int", default=[]),
        default_min_insync_replicas=dict(type="int", default=1),
        in_sync_timeout=dict(type="int", default=300),
        partitions_from=dict(type="str", choices=["zookeeper", "kraft"], default="zookeeper"),
        zookeeper=dict(type="bool", default=True),
    )


def read_zookeeper(zk):
    """{path: (data text or None, stat or None)} for the migration's znodes."""
    found = zk.get_many(list(ZNODES))
    result = {}
    for path in ZNODES:
        item = found.get(path)
        if item is None:
            result[path] = (None, None)
        else:
            data, stat = item
            if isinstance(data, bytes):
                data = data.decode("utf-8", "replace")
            result[path] = (data, stat)
    return result


def _text(node):
    data = node[0] if node is not None else None
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _may_have_children(node):
    """A znode's stat says it has children (or does not say: then it is listed to know)."""
    if node is None:
        return False
    stat = node[1] if isinstance(node[1], dict) else {}
    count = stat.get("num_children")
    return count is None or count > 0


def read_gate_zookeeper(zk, topics):
    """What the gate compares beyond the topics, from ZooKeeper: ``(topic configs, ACLs, SCRAM users)``.

    ``{topic: {key: value}}`` for ``topics``, the ACL tuples of ``kraft.parse_zookeeper_acls`` and ``{user:
    [mechanisms]}`` (users with SCRAM credentials only; never their values). One zkCli run lists
    ``/config/users`` and reads every topic's config and every ACL resource type's znode, whose stat tells
    which types have resources; only those are listed, then the users' and the resources' znodes are read in one
    more run. Without users or ACLs that is the only run."""
    config_paths = dict((topic, "%s/%s" % (TOPIC_CONFIGS, topic)) for topic in sorted(topics))
    type_paths = dict(((store, pattern, kind), "%s/%s" % (store, kind))
                      for store, pattern in ACL_STORES for kind in ACL_RESOURCE_TYPES)
    users, found = zk.list_and_get(USER_CONFIGS, list(config_paths.values()) + sorted(type_paths.values()))
    configs = dict((topic, zookeeper_config(_text(found.get(path)))) for topic, path in config_paths.items())
    resources = {}
    for (_store, pattern, kind), path in sorted(type_paths.items()):
        if _may_have_children(found.get(path)):
            for name in zk.list_and_get(path, [])[0] or []:
                resources["%s/%s" % (path, name)] = (kind, name, pattern)
    user_paths = dict(("%s/%s" % (USER_CONFIGS, child), zookeeper_user_name(child)) for child in users or [])
    nodes = zk.get_many(sorted(user_paths) + sorted(resources)) if user_paths or resources else {}
    acls = []
    for path, (kind, name, pattern) in sorted(resources.items()):
        acls.extend(parse_zookeeper_acls(_text(nodes.get(path)), kind, name, pattern))
    scram = {}
    for path, user in sorted(user_paths.items()):
        mechanisms = zookeeper_scram_mechanisms(zookeeper_config(_text(nodes.get(path))))
        if mechanisms:
            scram[user] = mechanisms
    return configs, sorted(acls), scram


def zookeeper_facts(znodes):
    cluster = parse_json_znode(znodes["/cluster/id"][0]) or {}
    controller_data = znodes["/controller"][0]
    migration_data = znodes["/migration"][0]
    return {
        "cluster_id": cluster.get("id") if isinstance(cluster.get("id"), str) else None,
        "controller_znode": parse_json_znode(controller_data),
        "migration_znode": parse_json_znode(migration_data),
        "migration_exists": migration_data is not None,
        "migration_completed": migration_completed(migration_data, controller_data),
        "kraft_holds_controller": kraft_holds_controller(controller_data),
    }


def _quorum_ok(expected):
    def done(quorum):
        return quorum_whole(quorum, expected)
    return done


def run_module(module, pod_api=None, zk=None, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    expected_brokers = {}
    for key, value in (params["expected_brokers"] or {}).items():
        try:
            expected_brokers[int(str(key).strip())] = str(value)
        except ValueError:
            module.fail_json(msg="expected_brokers: key %r is not a broker id; map each broker id to its client"
                                 " endpoint host:port" % (key,))
    expected_controllers = sorted(params["expected_controller_ids"] or [])
    wait_for = params["wait_for"]
    partitions_wanted = bool(params["wait_caught_up"] or params["wait_restartable"] is not None)
    if not params["zookeeper"]:
        needs = [name for name, wanted in (
            ("revert_zookeeper", params["revert_zookeeper"]), ("gate", params["gate"]),
            ("wait_for=migration", wait_for == "migration"),
            ("partitions_from=zookeeper", partitions_wanted and params["partitions_from"] == "zookeeper")) if wanted]
        if needs:
            module.fail_json(msg="zookeeper is false, but %s needs ZooKeeper; nothing was read or written."
                                 % ", ".join(needs))
    pod_api, zk = connect(module, pod_api, zk)
    kraft = KRaftAccess(pod_api, params["namespace"], timeout=params["exec_timeout"])
    result = {"changed": False, "removed": [], "quorum": None, "brokers": None, "waited": 0.0}
    try:
        znodes = {}
        if params["zookeeper"]:
            znodes = read_zookeeper(zk)
            result.update(zookeeper_facts(znodes))
        if params["revert_zookeeper"]:
            for path in ("/controller", "/migration"):
                data, stat = znodes[path]
                if data is None or (path == "/controller" and not result["kraft_holds_controller"]):
                    continue
                if not module.check_mode:
                    zk.delete(path, (stat or {}).get("version", -1) if isinstance(stat, dict) else -1)
                result["removed"].append({"path": path, "data": data})
                result["changed"] = True
        if wait_for == "migration":
            def read_migration():
                return zookeeper_facts(read_zookeeper(zk))
            facts, result["waited"], ok = wait_until(read_migration, lambda f: f["migration_completed"],
                                                     params["timeout"], params["wait_sleep"], clock, sleep)
            result.update((k, v) for k, v in facts.items() if k != "error")
            if not ok:
                module.fail_json(msg="The controllers did not finish copying the metadata out of ZooKeeper within"
                                     " %ss: /migration is %s and /controller is %s. Their log says why (look for"
                                     " 'Completed migration of metadata from Zookeeper to KRaft' or 'No brokers"
                                     " are known to KRaft'); every broker must run with the migration settings."
                                     " Rerun to keep waiting (kafka_migration_timeout)."
                                     % (params["timeout"], result["migration_znode"], result["controller_znode"]),
                                 **result)
        if params["read_quorum"] or wait_for == "quorum":
            def read_quorum():
                return kraft.quorum_status(params["controller_pod_selector"], params["controller_port"],
                                           params["controller_container"])
            if wait_for == "quorum":
                quorum, result["waited"], ok = wait_until(read_quorum, _quorum_ok(expected_controllers),
                                                          params["timeout"], params["wait_sleep"], clock, sleep)
                result["quorum"] = quorum
                if not ok:
                    module.fail_json(msg="The KRaft controllers have no quorum with voters %s after %ss: %s"
                                         % (expected_controllers, params["timeout"], quorum), **result)
            else:
                try:
                    result["quorum"] = read_quorum()
                except KRaftError as exc:
                    result["quorum"] = {"error": str(exc)}
        if params["read_brokers"] or wait_for == "brokers":
            def read_brokers():
                answer = kraft.broker_endpoints(params["broker_pod_selector"], params["broker_client_port"],
                                                params["broker_container"])
                return dict(own_registrations(answer["endpoints"], expected_brokers), asked=answer["asked"])
            if wait_for == "brokers":
                brokers, result["waited"], ok = wait_until(read_brokers, lambda b: not b["missing"] and not b["foreign"],
                                                           params["timeout"], params["wait_sleep"], clock, sleep)
                result["brokers"] = brokers
                if not ok:
                    module.fail_json(msg="Broker(s) %s not registered with the KRaft controllers under their own"
                                         " endpoint after %ss (foreign: %s; %s)."
                                         % (", ".join(str(b) for b in brokers.get("missing", sorted(expected_brokers))),
                                            params["timeout"], brokers.get("foreign", []),
                                            brokers.get("error", "asked pod %s" % brokers.get("asked"))), **result)
            else:
                try:
                    result["brokers"] = read_brokers()
                except KRaftError as exc:
                    result["brokers"] = {"error": str(exc)}
        if params["gate"]:
            result["gate"] = evidence_gate(zk, kraft, params, expected_controllers, expected_brokers, result)
            if not result["gate"]["holds"]:
                module.fail_json(msg="Not finalized: the evidence gate does not hold. %s Nothing was changed; fix"
                                     " what is named (a broker that is not registered: its pod and log), then rerun."
                                 % " ".join(result["gate"]["problems"]), **result)
        if expected_brokers and result["brokers"] is not None:
            # The shape broker_membership returns, so the role's roll reads either.
            result["expected"] = sorted(expected_brokers)
            result["joined"] = result["brokers"].get("joined", [])
            result["all_joined"] = result["joined"] == result["expected"]
            result["controller"] = None
        result["restartable"] = result["caught_up"] = None
        if not module.check_mode and partitions_wanted:
            source = None
            if params["partitions_from"] == "kraft":
                source = KRaftPartitions(kraft, params["broker_pod_selector"], params["broker_client_port"],
                                         params["broker_container"])
            result["caught_up"], result["restartable"] = wait_partitions(
                zk, params["default_min_insync_replicas"], params["in_sync_timeout"],
                caught_up=params["wait_caught_up"], restartable=params["wait_restartable"],
                sleep_seconds=params["wait_sleep"], clock=clock, sleep=sleep, source=source)
    except NotInSyncError as exc:
        result["blocking_partitions"] = exc.partitions
        module.fail_json(msg="%s (raise in_sync_timeout to wait longer)" % exc, **result)
    except (ZooKeeperError, PodApiError, KRaftError) as exc:
        module.fail_json(msg=str(exc), **result)
    finally:
        zk.close()
    result["msg"] = describe(result)
    module.exit_json(**result)


def evidence_gate(zk, kraft, params, expected_controllers, expected_brokers, result):
    """Every check of the gate before finalizing, each reported; ``holds`` only when all pass."""
    problems = []
    checks = {}
    try:
        quorum = kraft.quorum_status(params["controller_pod_selector"], params["controller_port"],
                                     params["controller_container"])
        checks["quorum"] = "leader %s, voters %s" % (quorum["leader_id"], quorum["voters"])
        if not _quorum_ok(expected_controllers)(quorum):
            problems.append("The controller quorum is not whole (%s; expected voters %s)."
                            % (checks["quorum"], expected_controllers))
    except KRaftError as exc:
        problems.append("The controllers did not answer: %s." % exc)
    try:
        answer = kraft.broker_endpoints(params["broker_pod_selector"], params["broker_client_port"],
                                        params["broker_container"])
        split = own_registrations(answer["endpoints"], expected_brokers)
        checks["brokers"] = split
        if split["missing"] or split["foreign"]:
            problems.append("Broker(s) %s are not registered with the controllers under their own endpoint%s."
                            % (", ".join(str(b) for b in split["missing"] + [f["broker"] for f in split["foreign"]]),
                               " (foreign: %s)" % split["foreign"] if split["foreign"] else ""))
    except KRaftError as exc:
        problems.append("No broker said which brokers the metadata lists: %s." % exc)
    if not result.get("migration_completed"):
        problems.append("ZooKeeper does not show a completed copy (/migration %s, /controller %s)."
                        % (result.get("migration_znode"), result.get("controller_znode")))
    assignments = read_topics(zk)[0]
    try:
        kraft_topics = kraft.topics(params["broker_pod_selector"], params["broker_client_port"],
                                    params["broker_container"])["topics"]
        differences = compare_topics(assignments, kraft_topics)
        checks["topics"] = "%d in ZooKeeper, %d in KRaft, %d difference(s)" % (
            len(assignments), len(kraft_topics), len(differences))
        problems.extend(_sentence(d) for d in differences[:20])
    except KRaftError as exc:
        problems.append("No broker described the topics: %s." % exc)
    zk_configs, zk_acls, zk_users = read_gate_zookeeper(zk, assignments)
    broker = (params["broker_pod_selector"], params["broker_client_port"], params["broker_container"])
    try:
        kraft_configs = kraft.topic_configs(*broker)["configs"]
        differences = compare_topic_configs(zk_configs, kraft_configs)
        checks["topic_configs"] = "%d topic(s) with overrides in ZooKeeper, %d in KRaft, %d difference(s)" % (
            sum(1 for c in zk_configs.values() if c), sum(1 for c in kraft_configs.values() if c),
            len(differences))
        problems.extend(_sentence(d) for d in differences)
    except KRaftError as exc:
        checks["topic_configs"] = "not read from KRaft"
        problems.append("No broker described the topic configs: %s." % exc)
    if not zk_acls:
        checks["acls"] = "none in ZooKeeper"
    else:
        try:
            kraft_acls = kraft.acls(*broker)["acls"]
            differences = compare_acls(zk_acls, kraft_acls)
            checks["acls"] = "%d in ZooKeeper, %d in KRaft, %d difference(s)" % (
                len(zk_acls), len(kraft_acls), len(differences))
            problems.extend(_sentence(d) for d in differences)
        except KRaftError as exc:
            checks["acls"] = "%d in ZooKeeper, not read from KRaft" % len(zk_acls)
            problems.append("ZooKeeper has %d ACL(s) and no broker listed the KRaft metadata's: %s."
                            % (len(zk_acls), exc))
    if not zk_users:
        checks["scram_users"] = "none in ZooKeeper"
    else:
        try:
            kraft_users = kraft.scram_users(*broker)["users"]
            differences = compare_scram_users(zk_users, kraft_users)
            checks["scram_users"] = "%d in ZooKeeper (%s), %d in KRaft, %d difference(s)" % (
                len(zk_users), ", ".join(sorted(zk_users)), len(kraft_users), len(differences))
            problems.extend(_sentence(d) for d in differences)
        except KRaftError as exc:
            checks["scram_users"] = "%d in ZooKeeper, not read from KRaft" % len(zk_users)
            problems.append("ZooKeeper has %d SCRAM user(s) and no broker described the KRaft metadata's: %s."
                            % (len(zk_users), exc))
    return {"holds": not problems, "problems": problems, "checks": checks}


def _sentence(text):
    return text[:1].upper() + text[1:] + "."


def describe(result):
    parts = ["metadata copied to KRaft" if result.get("migration_completed") else "metadata not copied to KRaft"]
    if result.get("kraft_holds_controller"):
        parts.append("a KRaft controller holds /controller")
    quorum = result.get("quorum")
    if quorum and "error" not in quorum:
        parts.append("quorum leader %s, voters %s" % (quorum.get("leader_id"), quorum.get("voters")))
    brokers = result.get("brokers")
    if brokers and "error" not in brokers:
        parts.append("brokers registered with KRaft: %s" % (brokers.get("joined"),))
    for removed in result.get("removed") or []:
        parts.append("removed %s" % removed["path"])
    return "; ".join(parts)


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    run_module(module)


if __name__ == "__main__":
    main()
