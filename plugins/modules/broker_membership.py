#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: broker_membership
short_description: Check that every Kafka broker joined the cluster, and heal those that did not
version_added: 0.1.0
description:
  - Compares the broker ids registered in ZooKeeper (C(/brokers/ids)) with I(expected_broker_ids) and with the
    broker pods (found by I(broker_pod_selector), their id in the I(broker_id_label) label).
  - A registration counts as the broker's own (RV(joined)) only when its endpoints are exactly the listeners
    in I(advertised_listeners) for that broker (or those its current pod's I(broker_container) declares in
    C(KAFKA_ADVERTISED_LISTENERS), for a pod that still runs the previous spec of a rolling change), and it
    is not older than that container's start. The container is found by name, never as the first one.
  - Any other registration is reported as RV(foreign) (with the endpoints found and expected) or
    RV(unparsable), and nothing is deleted for it; the role fails the run with both endpoints in the message.
  - A broker is C(missing) when it has no registration, and C(stale) when its registration has its endpoints
    but no running container of its pods can have written it (older than the container's start, or the
    container is not running), so the old process's ZooKeeper session holds C(/brokers/ids/<id>) and the live
    broker cannot register (C(NodeExists)) until that session expires.
  - A stale registration is removed at once (I(remove_stale_registration)) only on two proofs together -
    Kubernetes shows that its writer is dead (no pod of the broker is terminating, no running container can
    have written it), and every one of the I(zookeeper_servers) servers answers the C(cons) four-letter word
    without listing the node's owner session. It is deleted with its version, so a fresh registration is
    never removed. Otherwise it is waited out and RV(msg) says which proof was missing.
  - Checks the ZooKeeper quorum first. Without a quorum it fails and deletes nothing, because no broker can
    register and no stale registration can expire until ZooKeeper has one.
  - Without I(heal) it only reports; it does not fail because brokers are missing (see RV(all_joined)). With
    I(wait) it first waits, up to I(register_timeout), for brokers that are starting to register.
  - With I(heal) it takes the brokers that are not in the cluster one at a time and deletes only that broker's
    pod (with a uid precondition and its normal grace period), so its Deployment starts a fresh one; it never
    deletes a Deployment, a PersistentVolumeClaim or a pod of a broker that joined. It then waits for the pod
    to be gone, for the stale registration to expire (or removes it, see I(remove_stale_registration)) and for
    the new pod to register, and checks again. It gives up with an error naming the broker, its pod's state
    and its last container state after I(max_attempts) deletions of that broker's pods.
  - Right before deleting a pod, the broker's registration and pods are read again; a broker that
    registered meanwhile keeps its pod (RV(kept_pods)).
  - A pod that deleting would not cure (Pending and unschedulable, image pull errors, two pods with one id)
    is reported in RV(blocked), not deleted. A container that started less than 30 seconds ago, a container
    that has not passed its startup probe yet (loading its logs after an unclean shutdown; waited for within
    the probe's budget), or a pod that is still being created, is given time to register first.
  - With I(wait_restartable), once every broker is in the cluster, it waits until restarting that broker takes
    no partition below its C(min.insync.replicas) (the topic's own, from C(/config/topics), else
    I(default_min_insync_replicas)) - a partition with a replica on it blocks while its ISR is below min ISR,
    or equal to it with the broker in it; partitions whose replication factor is at most min ISR never
    block. With I(wait_caught_up), it waits until those brokers are back in the ISR of their partitions.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
  - kazoo (only for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kubernetes.core.k8s_auth_options
options:
  advertised_listeners:
    description:
      - Broker id -> the listeners the plan advertises for it (C(PLAINTEXT://kafka-service-0:9092,INTERNAL://...),
        a comma-separated string or a list). A registration with other endpoints is RV(foreign).
      - When a broker is not listed, only the listeners its pod declares count.
    type: dict
    default: {}
  broker_container:
    description:
      - Name of the broker container in the broker pods; its status is read by name (sidecars exist).
    type: str
    default: broker
  zookeeper_servers:
    description:
      - The ensemble size of the plan (C(zookeeper_replicas)). The quorum is counted against it, and a stale
        registration is removed only when this many servers answered C(cons).
      - Unset, the number of servers found is used, which a missing server makes look healthy.
    type: int
  expected_broker_ids:
    description:
      - The broker ids that must be registered (C(broker.id) of every broker deployed).
    type: list
    elements: int
    required: true
  broker_pod_selector:
    description:
      - Label selector of the broker pods in I(namespace).
    type: str
    default: app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka
  broker_id_label:
    description:
      - Label of a broker pod whose value is its broker id.
    type: str
    default: kafka-eks.cluster/broker-id
  heal:
    description:
      - Delete the pod of each broker that is not in the cluster, one broker at a time, and wait for it to join.
    type: bool
    default: false
  wait:
    description:
      - Without I(heal), wait up to I(register_timeout) for the brokers that are starting (pod being created,
        container started less than 30 seconds ago) to register before reporting. With I(heal) it always waits;
        in check mode it never does.
    type: bool
    default: false
  max_attempts:
    description:
      - Pod deletions per broker before giving up with an error.
    type: int
    default: 3
  register_timeout:
    description:
      - Seconds to wait, per attempt, for a deleted pod to be gone and its replacement to register; also how
        long a broker that is starting is waited for.
      - Give it more than the broker's C(zookeeper.session.timeout.ms) (18 s by default) plus its start time.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two polls while waiting.
    type: int
    default: 5
  remove_stale_registration:
    description:
      - With I(heal), remove a stale C(/brokers/ids/<id>) node at once when it is proven dead by Kubernetes and
        by ZooKeeper (see above), deleting it with its version, instead of waiting up to the session timeout
        for ZooKeeper to expire it. The ZooKeeper servers must allow C(cons) (C(4lw.commands.whitelist)).
    type: bool
    default: true
  wait_restartable:
    description:
      - A broker id about to be restarted; wait up to I(in_sync_timeout) until restarting it takes no partition
        below its min ISR, and fail naming the partitions that still block (RV(restartable)).
      - In check mode, and when a broker is not in the cluster, it does not wait.
    type: int
  wait_caught_up:
    description:
      - Broker ids just restarted; wait up to I(in_sync_timeout) until they are back in the in-sync replicas of
        every partition they hold that has a leader, and fail naming the partitions if not (RV(caught_up)).
    type: list
    elements: int
    default: []
  default_min_insync_replicas:
    description:
      - The brokers' C(min.insync.replicas), for topics without their own.
    type: int
    default: 1
  in_sync_timeout:
    description:
      - Seconds I(wait_restartable) and I(wait_caught_up) wait.
    type: int
    default: 300
notes:
  - The Kubernetes user needs C(list) and C(delete) on pods and, for I(zookeeper_access=exec), C(create) on
    C(pods/exec) in I(namespace).
  - In check mode nothing is deleted; RV(would_delete) lists the pods a heal would delete and C(changed) is
    true when there is one.
attributes:
  check_mode:
    description: Reports what it would delete and deletes nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Report which brokers are not in the cluster
  kafka_eks.cluster.broker_membership:
    namespace: kafka
    expected_broker_ids: [0, 1, 2, 3]
  register: membership

- name: Fail when one is missing
  ansible.builtin.assert:
    that: membership.all_joined
    fail_msg: "{{ membership.msg }}"

- name: Heal (delete only the pod of a broker that did not register), removing proven-stale registrations
  kafka_eks.cluster.broker_membership:
    namespace: kafka
    expected_broker_ids: [0, 1, 2, 3]
    advertised_listeners:
      "0": PLAINTEXT://kafka-service-0:9092,INTERNAL://kafka-service-0:9093
      "1": PLAINTEXT://kafka-service-1:9092,INTERNAL://kafka-service-1:9093
      "2": PLAINTEXT://kafka-service-2:9092,INTERNAL://kafka-service-2:9093
      "3": PLAINTEXT://kafka-service-3:9092,INTERNAL://kafka-service-3:9093
    zookeeper_servers: 3
    heal: true
    register_timeout: 180

- name: Before restarting broker 2, wait until no partition would go below its min ISR
  kafka_eks.cluster.broker_membership:
    namespace: kafka
    expected_broker_ids: [0, 1, 2, 3]
    wait: true
    wait_restartable: 2
    default_min_insync_replicas: 2
"""

RETURN = r"""
expected:
  description: The expected broker ids, sorted.
  returned: always
  type: list
  elements: int
  sample: [0, 1, 2, 3]
registered:
  description: Every broker id registered in C(/brokers/ids), at the end.
  returned: always
  type: list
  elements: int
  sample: [0, 1, 3]
joined:
  description: Expected brokers whose registration belongs to their running broker, at the end.
  returned: always
  type: list
  elements: int
  sample: [0, 1, 3]
missing:
  description: Expected brokers with no registration, at the end.
  returned: always
  type: list
  elements: int
  sample: [2]
unexpected:
  description: Registered broker ids that are not expected (reported only).
  returned: always
  type: list
  elements: int
  sample: []
stale:
  description: Expected brokers whose registration was not written by their running container, at the end.
  returned: always
  type: list
  elements: int
  sample: []
waiting:
  description: Brokers not in the cluster yet that are left to start (container just started, pod being created
    or an old pod still terminating), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 2, pod: kafka-broker-2-7d9f-abcde, reason: "it is not registered; pod ... is Pending"}]
blocked:
  description: Brokers not in the cluster that deleting a pod would not heal, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 3, pod: kafka-broker-3-6c5b-xyz12, reason: "... cannot be scheduled ..."}]
would_delete:
  description: Pods a heal would delete now (check mode, or I(heal=false)), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 2, pod: kafka-broker-2-7d9f-abcde, uid: 4f1c..., reason: "it is not registered; ..."}]
deleted_pods:
  description: Pods deleted, in order.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 2, pod: kafka-broker-2-7d9f-abcde, uid: 4f1c0b4e-1f7c-4a8e-9a57-2b8d3c1f9e10}]
removed_registrations:
  description: Stale registrations removed (I(remove_stale_registration)), with the proof.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 2, path: /brokers/ids/2, version: 0, ephemeral_owner: "0x100000b2f5d0001",
            reason: "registration made before every running container ...; no ZooKeeper server lists session ..."}]
would_unregister:
  description: Stale registrations a heal would remove now (check mode, or I(heal=false)).
  returned: always
  type: list
  elements: dict
  sample: []
foreign:
  description: Expected brokers whose id is registered with endpoints that are not theirs; nothing is deleted
    for them.
  returned: always
  type: list
  elements: dict
  sample: [{broker_id: 3, endpoints: ["PLAINTEXT://imposter:1"], session: "0x100000b2f5d0007",
            expected: ["INTERNAL://kafka-service-3:9093,PLAINTEXT://kafka-service-3:9092"]}]
unparsable:
  description: Expected brokers whose registration is not a Kafka broker registration.
  returned: always
  type: list
  elements: dict
  sample: []
kept_pods:
  description: Pods that were about to be deleted but were kept because a read right before showed the broker
    registered (or changed) meanwhile.
  returned: always
  type: list
  elements: dict
  sample: []
all_joined:
  description: Every expected broker is in the cluster, at the end.
  returned: always
  type: bool
  sample: true
attempts:
  description: Pod deletions per broker id (keys are the ids as strings).
  returned: always
  type: dict
  sample: {"2": 1}
quorum:
  description: The ZooKeeper leader, followers and each server's state, as checked before anything was done.
  returned: always
  type: dict
  sample: {leader: zookeeper-1, followers: [zookeeper-0, zookeeper-2],
           servers: "zookeeper-0=follower, zookeeper-1=leader, zookeeper-2=follower"}
msg:
  description: What was found and done, and why a broker is not in the cluster.
  returned: always
  type: str
  sample: all 4 expected brokers are registered.
restartable:
  description: With I(wait_restartable) - the broker, how many partitions it holds, the seconds waited and the
    partitions that blocked its restart at first (C(waited_for)); null when not checked.
  returned: always
  type: dict
  sample: {broker_id: 2, partitions: 27, waited: 6.2, waited_for: [{topic: orders, partition: 1,
           why: "in sync 2 = min ISR 2 with broker 2 among them"}],
           summary: "broker 2 may restart after 6.2s (27 partitions on it; waited for orders-1 (...))."}
caught_up:
  description: With I(wait_caught_up) - the brokers, the seconds waited and the partitions they had to catch up
    at first; null when not checked.
  returned: always
  type: dict
  sample: {brokers: [2], waited: 4.1, waited_for: [{topic: orders, partition: 1, out_of_sync: [2]}],
           summary: "broker(s) 2 in sync after 4.1s (waited for orders-1 (replicas 1,2,3; in sync 1,3))."}
controller:
  description: The id of the broker that is the cluster's controller (from C(/controller)), at the end; null when
    no broker is.
  returned: always
  type: int
  sample: 1
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    connect,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils.membership import (
    HealError,
    Membership,
    QuorumError,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.replication import (
    NotInSyncError,
    wait_partitions,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError


def argument_spec():
    return module_argument_spec(
        expected_broker_ids=dict(type="list", elements="int", required=True),
        broker_pod_selector=dict(type="str", default="app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka"),
        broker_id_label=dict(type="str", default="kafka-eks.cluster/broker-id"),
        heal=dict(type="bool", default=False),
        wait=dict(type="bool", default=False),
        max_attempts=dict(type="int", default=3),
        register_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="int", default=5),
        remove_stale_registration=dict(type="bool", default=True),
        advertised_listeners=dict(type="dict", default={}),
        broker_container=dict(type="str", default="broker"),
        zookeeper_servers=dict(type="int"),
        wait_restartable=dict(type="int"),
        wait_caught_up=dict(type="list", elements="int", default=[]),
        default_min_insync_replicas=dict(type="int", default=1),
        in_sync_timeout=dict(type="int", default=300),
    )


def run_module(module, pod_api=None, zk=None, clock=time.monotonic, sleep=time.sleep, wall=time.time):
    params = module.params
    if params["max_attempts"] < 1:
        module.fail_json(msg="max_attempts must be at least 1, got %d" % params["max_attempts"])
    advertised = {}
    for key, value in (params["advertised_listeners"] or {}).items():
        try:
            advertised[int(str(key).strip())] = value
        except ValueError:
            module.fail_json(msg="advertised_listeners: key %r is not a broker id; map each broker id to its "
                                 "listeners" % (key,))
    pod_api, zk = connect(module, pod_api, zk)
    membership = Membership(
        zk, pod_api, params["namespace"], params["expected_broker_ids"], params["broker_pod_selector"],
        params["broker_id_label"], heal=params["heal"], wait=params["wait"],
        check_mode=module.check_mode,
        max_attempts=params["max_attempts"], register_timeout=params["register_timeout"],
        wait_sleep=params["wait_sleep"], remove_stale_registration=params["remove_stale_registration"],
        advertised=advertised, container=params["broker_container"],
        zookeeper_servers=params["zookeeper_servers"], clock=clock, sleep=sleep, wall=wall)
    result = {}
    try:
        result = membership.run()
        result["restartable"] = result["caught_up"] = None
        if result["all_joined"] and not module.check_mode and (
                params["wait_caught_up"] or params["wait_restartable"] is not None):
            result["caught_up"], result["restartable"] = wait_partitions(
                zk, params["default_min_insync_replicas"], params["in_sync_timeout"],
                caught_up=params["wait_caught_up"], restartable=params["wait_restartable"],
                sleep_seconds=params["wait_sleep"], clock=clock, sleep=sleep)
    except NotInSyncError as exc:
        result["msg"] = "%s (raise in_sync_timeout to wait longer)" % exc
        result["blocking_partitions"] = exc.partitions
        module.fail_json(**result)
    except QuorumError as exc:
        module.fail_json(msg=str(exc), changed=False, deleted_pods=[])
    except HealError as exc:
        result = dict(exc.result)
        result["msg"] = str(exc)
        module.fail_json(**result)
    except (ZooKeeperError, PodApiError) as exc:
        deleted = ", ".join(d["pod"] for d in membership.deleted_pods) or "nothing"
        module.fail_json(msg="%s (deleted so far: %s)" % (exc, deleted),
                         changed=membership.changed, deleted_pods=membership.deleted_pods,
                         removed_registrations=membership.removed_registrations)
    finally:
        zk.close()
    module.exit_json(**result)


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    run_module(module)


if __name__ == "__main__":
    main()
