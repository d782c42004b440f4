#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_plan
short_description: Check the cluster variables and derive every name, id and listener
version_added: 0.1.0
description:
  - Turns the C(zookeeper_*) and C(kafka_*) role variables into the plan that the C(zookeeper) and
    C(kafka_broker) roles render, and refuses inputs that would build a broken cluster.
  - Refused with a message naming the variable and the fix, before anything is written to a cluster
    an even or zero C(zookeeper_replicas); fewer than one broker; duplicate broker ids; a replication
    factor above the broker count; a minimum ISR not below its replication factor; names Kubernetes
    would reject; broker properties that the roles derive themselves; and, when I(nodes)
    is given, C(zookeeper_anti_affinity=required) with fewer schedulable nodes than ZooKeeper pods.
  - Also refused - image references that are not C([registry/]repository:tag[@sha256:digest]); StorageClass
    names and C(kafka_cluster_domain) that are not DNS names; storage sizes that are not a positive quantity
    with a unit; mount paths and C(log.dirs) entries that are not absolute, contain C(..) or control
    characters, or (C(log.dirs)) are not under the data mount; broker ids above C(reserved.broker.max.id)
    (1000 unless set in C(kafka_broker_extra_config)); a JVM heap not below the container's memory limit;
    extra broker properties that normalise (case, whitespace, C(_) as C(.)) to a derived property, or whose
    value is not a one-line scalar; node selectors, tolerations and resources that are not of the pod spec's
    shape; a StatefulSet name longer than 52 characters; more than 256 brokers without
    C(kafka_broker_count_allow_large); any name or value with a newline.
  - Typed variables given as strings (AWX survey answers, C(-e key=value)) are converted as Ansible's
    argument-spec validation converts them (C("4"), C("yes"), C("a,b"), a JSON mapping); the plan holds the
    converted values, and C(plan.settings) is what the templates render, each value as data.
  - Contacts nothing; runs on the controller. Never reports a change.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
options:
  config:
    description:
      - The role variables, with their defaults applied, as one mapping.
      - The C(preflight) role builds it from the variables of the C(zookeeper) and C(kafka_broker) roles.
      - Connection variables (C(kafka_k8s_*)) are ignored; a C(kafka_k8s_api_key) given here is masked in the output.
    type: dict
    required: true
  argument_spec:
    description:
      - The options of the roles' C(meta/argument_specs.yml); each variable of type C(int), C(bool), C(list) or
        C(dict) is converted from its string form as Ansible's argument-spec validation converts it.
      - The C(preflight) role passes the specs of the C(preflight), C(zookeeper) and C(kafka_broker) roles.
      - Without it, values are used as they are given.
    type: dict
  nodes:
    description:
      - The cluster's Node objects, as C(kubernetes.core.k8s_info) returns them in C(resources).
      - A node counts as schedulable for ZooKeeper when it is Ready, not cordoned, matches
        C(zookeeper_node_selector) and has no NoSchedule/NoExecute taint that C(zookeeper_tolerations) lacks.
      - Leave it out when rendering without a cluster; the node-count check is then skipped.
    type: list
    elements: dict
attributes:
  check_mode:
    description: Can run in check mode and return the same plan.
    support: full
  diff_mode:
    description: Reads and derives only; there is nothing to diff.
    support: none
"""

EXAMPLES = r"""
- name: Plan the seed's cluster (3 ZooKeeper, 4 brokers) on three nodes
  kafka_eks.cluster.cluster_plan:
    config: "{{ kafka_config }}"
    nodes: "{{ cluster_nodes.resources }}"
  register: plan

- name: Show the bootstrap list clients need
  ansible.builtin.debug:
    msg: "{{ plan.plan.bootstrap_servers }}"
"""

RETURN = r"""
plan:
  description: Everything the templates render, derived from the variables.
  returned: success
  type: dict
  contains:
    namespace:
      description: Namespace of every object.
      type: str
      sample: kafka
    brokers:
      description: One entry per broker, in order.
      type: list
      elements: dict
      sample:
        - index: 0
          id: 0
          deployment: kafka-broker-0
          service: kafka-service-0
          pvc: kafka-data-0
          address: kafka-service-0:9092
          zone: null
    zones:
      description:
        - Zone awareness - C(enabled), C(awareness) (auto or off), C(names) (the zones in order, broker N in zone N
          mod their number), C(source) (kafka_zones, nodes or null), and the spread of ZooKeeper and the
          controllers (C(topology_key), C(max_skew), C(when_unsatisfiable)). Each broker's zone is its C(zone).
      type: dict
    broker_ids:
      description: The broker ids, unique by construction.
      type: list
      elements: int
      sample: [0, 1, 2, 3]
    bootstrap_servers:
      description: Every broker's client address, built from the same variables that named the Services.
      type: str
      sample: kafka-service-0:9092,kafka-service-1:9092,kafka-service-2:9092,kafka-service-3:9092
    zookeeper:
      description: ZooKeeper servers, the C(ZOO_SERVERS) value, the connect string and the pod selector.
      type: dict
    settings:
      description: The variables the templates read, converted from their string forms and checked.
      type: dict
    schedulable_nodes:
      description: Nodes a ZooKeeper pod can be scheduled on; null when I(nodes) was not given.
      type: list
      elements: str
    warnings:
      description: Problems that do not stop the rollout, such as ZooKeeper pods that will share a node.
      type: list
      elements: str
schedulable_nodes:
  description: Nodes a ZooKeeper pod can be scheduled on; null when I(nodes) was not given.
  returned: always
  type: list
  elements: str
  sample: [ip-10-0-1-10.ec2.internal, ip-10-0-2-11.ec2.internal]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import (
    CREDENTIAL_PREFIX,
    PlanError,
    build_plan,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="dict", required=True),
            argument_spec=dict(type="dict"),
            nodes=dict(type="list", elements="dict"),
        ),
        supports_check_mode=True,
    )
    # The preflight never passes the connection variables; should a caller do so, they are dropped and the token
    # is masked, since this module's arguments and results are printed at -v.
    for key in [k for k in module.params["config"] if k.startswith(CREDENTIAL_PREFIX)]:
        value = module.params["config"].pop(key)
        if key == CREDENTIAL_PREFIX + "api_key" and value:
            module.no_log_values.add(str(value))
    try:
        # The node selector and tolerations are converted and checked before the nodes are matched against them.
        plan = build_plan(module.params["config"], nodes=module.params["nodes"],
                          argument_spec=module.params["argument_spec"])
    except PlanError as exc:
        module.fail_json(msg="The cluster variables are not valid; nothing was created.\n" + str(exc),
                         errors=exc.errors)
    for warning in plan["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, plan=plan, schedulable_nodes=plan["schedulable_nodes"])


if __name__ == "__main__":
    main()
