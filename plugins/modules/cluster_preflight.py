#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_preflight
short_description: The preflight in one task - check the variables and what runs, and derive the plan
version_added: 0.2.0
description:
  - Runs on the controller (an action plugin). Reads the argument specs of the collection's roles
    (I(roles)), gathers every variable of them that is set (role defaults included), templated as a task sees
    it, and leaves out the connection variables (C(kafka_k8s_*), the API token among them).
  - Checks each variable's type and choices as Ansible's argument-spec validation does, and refuses values of
    the wrong type in one message that names each variable and gives the fix.
  - Derives the plan with the same checks as M(kafka_eks.cluster.cluster_plan) (names, broker ids, listeners,
    images, storage, paths, heap, extra properties; typed variables given as strings, as AWX survey answers
    are, converted as Ansible converts them).
  - Unless C(kafka_render_dir) is set, reads what runs with two runs of M(kafka_eks.cluster.cluster_read) (the
    same client and lookup as M(kubernetes.core.k8s_info); the cluster's Nodes and StorageClasses when
    C(kafka_preflight_check_nodes), then in check mode the Namespace, the ZooKeeper StatefulSet, the broker
    Deployments and pods, with C(kafka_broker_external_access=loadbalancer) the brokers' Services), decides the
    step of an upgrade and the ZooKeeper data layout from them, and refuses
    an upgrade Kafka or ZooKeeper does not support, a change of the size of a running ZooKeeper ensemble, and
    a zone (C(kafka_zone_awareness)) that would move a running broker away from the zone its pod's node is in.
  - With the Nodes read, also reads the StorageClasses (in check mode on a new namespace too), the namespace's
    PersistentVolumeClaims, the PersistentVolumes bound to them (one list, when the namespace has a claim) and the
    ZooKeeper and controller pods, and refuses a StorageClass the plan uses that does not exist, none or several
    default classes when a C(*_storage_class) variable is empty, a class that binds C(Immediate) on a
    multi-zone cluster (unless C(kafka_storage_allow_immediate_binding); a warning when every claim it would
    serve exists and is bound), and a broker, ZooKeeper or controller pod Pending because its volume's zone has
    no node it can be scheduled on (C(module_utils/storage.py)).
  - The reads run in check mode too, so C(--check) reports the same verdict. Nothing is ever written.
  - The connection options come from C(module_defaults) (C(group/kafka_eks.cluster.k8s), as in
    C(playbooks/site.yml)) and are handed to each read as they are; none is returned or printed.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
options:
  roles:
    description:
      - The collection's roles whose C(meta/argument_specs.yml) main options are gathered and checked.
    type: list
    elements: str
    default: [preflight, zookeeper, kafka_broker]
  kubeconfig:
    description: Kubeconfig file, as for M(kubernetes.core.k8s_info).
    type: raw
  context:
    description: Kubeconfig context, as for M(kubernetes.core.k8s_info).
    type: str
  host:
    description: API server URL, as for M(kubernetes.core.k8s_info).
    type: str
  api_key:
    description: Bearer token, as for M(kubernetes.core.k8s_info). Never returned nor printed.
    type: str
  validate_certs:
    description: Verify the API server's certificate, as for M(kubernetes.core.k8s_info).
    type: bool
  ca_cert:
    description: CA bundle for the API server, as for M(kubernetes.core.k8s_info).
    type: path
extends_documentation_fragment:
  - action_common_attributes
  - action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads in check mode too and returns the same plan.
  diff_mode:
    support: none
  platform:
    platforms: all
notes:
  - Other connection options of M(kubernetes.core.k8s_info) (client_cert, client_key, proxy, impersonation)
    are passed through the same way.
seealso:
  - module: kafka_eks.cluster.cluster_plan
"""

EXAMPLES = r"""
- name: Check the variables against their specs, each other and what runs, and derive the plan
  kafka_eks.cluster.cluster_preflight:
  register: preflight

- name: Keep the plan
  ansible.builtin.set_fact:
    kafka_plan: "{{ preflight.plan }}"
"""

RETURN = r"""
plan:
  description:
    - The plan (as M(kafka_eks.cluster.cluster_plan) returns it) with what runs applied - C(upgrade) (the
      step of a broker upgrade), each broker's C(inter.broker.protocol.version) and the ZooKeeper data layout.
    - C(volumes) - per group (C(brokers) by broker id as a string, C(zookeeper) and C(controllers) by pod name)
      each pod's C(claim), whether it is C(bound), its C(volume), the volume's C(zone), whether that zone has a
      node the pod can be scheduled on (C(schedulable) - null when not known or not zonal, which never blocks),
      those C(nodes), and when it has none the C(problem), the C(fix) and the C(restart_refusal) the rolling
      restarts fail with.
  returned: success
  type: dict
preview_new_namespace:
  description: True in check mode when the namespace does not exist yet (nothing in it was read).
  returned: success
  type: bool
broker_deployments:
  description:
    - The broker Deployments that run now (C(resources) of the read); empty when rendering or when the namespace
      does not exist yet. The kafka_broker role uses it instead of reading them again while nothing was applied.
  returned: success
  type: list
  elements: dict
upgrade_message:
  description: What this run does of an upgrade, in one sentence; null outside an upgrade.
  returned: success
  type: str
  sample: "Upgrade: every broker runs Kafka 3.9.2: raise inter.broker.protocol.version from 2.5 to 3.9, one
    broker at a time. After this, the older image cannot rejoin."
config:
  description: The variables that were gathered, as they were given (before conversion); no C(kafka_k8s_*).
  returned: success
  type: dict
argument_errors:
  description: The type and choice errors, when there are any.
  returned: failure
  type: list
  elements: str
errors:
  description: The plan's, the upgrade's or the storage checks' errors, each naming the variable or the pod and the fix.
  returned: failure
  type: list
  elements: str
"""
