#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zookeeper_quorum
short_description: Wait until a ZooKeeper ensemble has a quorum
version_added: 0.1.0
description:
  - Asks every ZooKeeper server for its mode and waits until the ensemble has a quorum, that is exactly one
    server says C(leader) and every other expected server says C(follower). A one-server ensemble must say
    C(standalone).
  - The mode comes from C(srvr) (I(zookeeper_access=direct)) or C(zkServer.sh status) in each ZooKeeper pod
    (I(zookeeper_access=exec)). A bare C(ruok) is never used, because a server that lost its quorum still
    answers C(imok).
  - Fails after I(wait_timeout) with each server's state and what to check.
  - Only reads; never reports a change.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0 (for I(zookeeper_access=exec); I(zookeeper_access=direct) needs only TCP)
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kubernetes.core.k8s_auth_options
options:
  expected_servers:
    description:
      - Number of servers in the ensemble (the StatefulSet's replicas, or the length of I(zookeeper_hosts)).
    type: int
    required: true
  wait:
    description:
      - Poll until the ensemble has a quorum or I(wait_timeout) passes.
      - With C(false), ask once and fail when there is no quorum.
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds to wait for a quorum.
    type: int
    default: 300
  wait_sleep:
    description:
      - Seconds between two polls.
    type: int
    default: 5
  report_versions:
    description:
      - Also ask every server its version (C(srvr); with I(zookeeper_access=exec) sent from inside its pod) and
        return it in RV(versions). The mode check alone does not say it with I(zookeeper_access=exec).
    type: bool
    default: false
notes:
  - With I(zookeeper_access=exec) the Kubernetes user needs C(list) on pods and C(create) on C(pods/exec) in
    I(namespace).
attributes:
  check_mode:
    description: Reads only, so it runs unchanged in check mode.
    support: full
  diff_mode:
    description: Reads only; there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: Wait for the three ZooKeeper servers to elect a leader (through the Kubernetes API)
  kafka_eks.cluster.zookeeper_quorum:
    namespace: kafka
    expected_servers: 3
    wait_timeout: 600

- name: Check a ZooKeeper ensemble the controller reaches directly, once
  kafka_eks.cluster.zookeeper_quorum:
    zookeeper_access: direct
    zookeeper_hosts:
      - zk1.example.com:2181
      - zk2.example.com:2181
      - zk3.example.com:2181
    expected_servers: 3
    wait: false
  register: zk

- name: Show the leader
  ansible.builtin.debug:
    msg: "{{ zk.leader }} leads {{ zk.followers | join(', ') }}"
"""

RETURN = r"""
quorum:
  description: Whether the ensemble has a quorum (one leader, every other expected server a follower).
  returned: always
  type: bool
  sample: true
leader:
  description: The server (pod name or C(host:port)) that says C(leader), or the single C(standalone) server.
  returned: always
  type: str
  sample: zookeeper-1
followers:
  description: The servers that say C(follower).
  returned: always
  type: list
  elements: str
  sample: [zookeeper-0, zookeeper-2]
servers:
  description: Each server's answer, by pod name or C(host:port).
  returned: always
  type: dict
  sample:
    zookeeper-0: {mode: follower, serving: true, error: null, zxid: "0x100000004", version: null}
    zookeeper-1: {mode: leader, serving: true, error: null, zxid: "0x100000004", version: null}
    zookeeper-2: {mode: null, serving: false, error: "Error contacting service. It is probably not running.",
                  zxid: null, version: null}
problems:
  description: Why there is no quorum (empty when there is one).
  returned: always
  type: list
  elements: str
  sample: ["zookeeper-2: not serving (Error contacting service. It is probably not running.)"]
versions:
  description: Each server's version as its C(srvr) answer says it (C(null) when it did not answer).
  returned: when I(report_versions=true)
  type: dict
  sample:
    zookeeper-0: 3.9.3-c26634f34490bb0ea7a09cc51e05ede3b4e320ee, built on 2024-10-17 23:21 UTC
polls:
  description: How many times the servers were asked.
  returned: always
  type: int
  sample: 3
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: int
  sample: 12
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    PodApiError,
    make_pod_api,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import (
    describe_quorum,
    make_access,
    wait_for_quorum,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError


def argument_spec():
    return module_argument_spec(
        expected_servers=dict(type="int", required=True),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=300),
        wait_sleep=dict(type="int", default=5),
        report_versions=dict(type="bool", default=False),
    )


def hints(params):
    if params["zookeeper_access"] == "direct":
        return ("Check that every host in zookeeper_hosts is reachable from here, that srvr is in "
                "4lw.commands.whitelist, and that every server lists the same ensemble.")
    return ("Check the pods (kubectl -n %s get pods -l %s), their logs (kubectl -n %s logs <pod>), that every "
            "server lists the same ensemble (ZOO_SERVERS) with its own id, and that the pods can reach each other "
            "on the quorum and election ports." % (params["namespace"], params["zookeeper_pod_selector"],
                                                   params["namespace"]))


def run_module(module, pod_api_factory=None, fourlw=None, clock=time.monotonic, sleep=time.sleep):
    params = module.params
    if params["expected_servers"] < 1:
        module.fail_json(msg="expected_servers must be at least 1, got %d" % params["expected_servers"])
    if pod_api_factory is None:
        if params["zookeeper_access"] == "exec" and not HAS_KUBERNETES:
            module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)

        def pod_api_factory():
            return make_pod_api(params)
    start = clock()
    try:
        access = make_access(params, pod_api_factory=pod_api_factory, fourlw=fourlw)
        state, polls = wait_for_quorum(access, params["expected_servers"],
                                       params["wait_timeout"] if params["wait"] else 0,
                                       params["wait_sleep"], clock=clock, sleep=sleep)
    except (ZooKeeperError, PodApiError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(
        changed=False,
        quorum=state["quorum"],
        leader=state["leader"],
        followers=state["followers"],
        servers=state["servers"],
        problems=state["problems"],
        polls=polls,
        elapsed=int(clock() - start),
    )
    if params["report_versions"]:
        try:
            result["versions"] = access.versions()
        except (ZooKeeperError, PodApiError) as exc:
            module.fail_json(msg="asking the ZooKeeper servers their version (srvr): %s" % exc)
    if not state["quorum"]:
        waited = ("after %ds" % result["elapsed"]) if params["wait"] else "(asked once)"
        module.fail_json(
            msg="ZooKeeper has no quorum %s: expected %d server(s), one leader and %d follower(s); found: %s%s. %s"
                % (waited, params["expected_servers"], params["expected_servers"] - 1, describe_quorum(state),
                   "".join("; " + p for p in state["problems"] if not p.startswith(tuple(state["servers"]))),
                   hints(params)),
            **result)
    result["msg"] = "quorum: %s leads %s" % (state["leader"], ", ".join(state["followers"]) or "alone")
    module.exit_json(**result)


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    run_module(module)


if __name__ == "__main__":
    main()
