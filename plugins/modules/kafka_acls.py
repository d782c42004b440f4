#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: kafka_acls
short_description: Make ZooKeeper-mode Kafka's ACLs hold the listed ones, removing only those the collection added
version_added: 0.1.0
description:
  - Writes Kafka ACLs as ZooKeeper-mode Kafka's C(AclAuthorizer) stores them (C(/kafka-acl/<Type>/<name>),
    C(/kafka-acl-extended/prefixed/<Type>/<name>)), with the change notification that makes running brokers reload
    them; brokers that start read them at start.
  - Adds each listed ACL that is missing. Removes an ACL only when the collection added it - it is in the record
    ConfigMap I(record), which holds the ACLs this module added where there were none - and it is no longer listed.
    ACLs made otherwise (kafka-acls, another tool) are kept, listed or not.
  - A second run with the same list changes nothing. What was written is read back and checked.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
  - kazoo (for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kafka_eks.cluster.zookeeper_access.znode_acl
  - kubernetes.core.k8s_auth_options
options:
  acls:
    description: The ACLs, one entry per operation (the plan's C(sasl.acls)).
    type: list
    elements: dict
    required: true
    suboptions:
      principal:
        description: C(User:<name>).
        type: str
        required: true
      resource_type:
        description: C(Topic), C(Group), C(Cluster) or C(TransactionalId).
        type: str
        required: true
      pattern_type:
        description: C(LITERAL) or C(PREFIXED).
        type: str
        required: true
      name:
        description: The resource name (C(*) for every resource, literal only).
        type: str
        required: true
      operation:
        description: Kafka's operation name (C(Read), C(IdempotentWrite), C(All), ...).
        type: str
        required: true
      permission:
        description: C(Allow) or C(Deny).
        type: str
        required: true
      host:
        description: C(*) or an IP address.
        type: str
        required: true
  record:
    description: The ConfigMap in I(namespace) that records the ACLs this module added.
    type: str
    required: true
  record_labels:
    description: The labels of the record ConfigMap (the collection's); a same-named ConfigMap without them is refused.
    type: dict
    required: true
notes:
  - The Kubernetes user needs C(get), C(create) and C(patch) on the record ConfigMap; with I(zookeeper_access=exec)
    C(list) on pods and C(create) on C(pods/exec).
attributes:
  check_mode:
    description: Reads and compares; says which ACLs would be added or removed, writes nothing.
    support: full
  diff_mode:
    description: The ACLs that would be added and removed.
    support: full
"""

EXAMPLES = r"""
- name: alice reads every topic
  kafka_eks.cluster.kafka_acls:
    namespace: kafka
    record: kafka-managed-acls
    record_labels: {app.kubernetes.io/managed-by: kafka_eks.cluster}
    acls:
      - {principal: "User:alice", resource_type: Topic, pattern_type: LITERAL, name: "*", operation: Read,
         permission: Allow, host: "*"}
"""

RETURN = r"""
added:
  description: The ACLs added (would be, in check mode), as C(principal permission operation on type:pattern:name from host).
  returned: always
  type: list
  elements: str
  sample: ["User:alice Allow Read on Topic:LITERAL:orders from *"]
removed:
  description: The ACLs removed (the collection had added them; they are listed no more).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kafka_eks.cluster.plugins.module_utils import acls as kafka_acls
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    connect,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError
from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import SEQUENTIAL, write_znodes
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

ENTRY_SPEC = dict((key, dict(type="str", required=True)) for key in kafka_acls.ENTRY_KEYS)
RECORD_KEY = "acls.json"


class Refused(Exception):
    """Nothing more was written: the message says why and what to do."""


def argument_spec():
    return module_argument_spec(
        znode_acl=True,
        acls=dict(type="list", elements="dict", required=True, options=ENTRY_SPEC),
        record=dict(type="str", required=True),
        record_labels=dict(type="dict", required=True),
    )


def describe(entry):
    return "%s %s %s on %s:%s:%s from %s" % (entry["principal"], entry["permission"], entry["operation"],
                                             entry["resource_type"], entry["pattern_type"], entry["name"],
                                             entry["host"])


class Record:
    """The record ConfigMap: read, and written only when it is the collection's (its labels)."""

    def __init__(self, pod_api, namespace, name, labels):
        self.api, self.namespace, self.name, self.labels = pod_api, namespace, name, dict(labels)
        self.exists = False

    def read(self):
        try:
            obj = self.api.api_client.sanitize_for_serialization(self.api.core.read_namespaced_config_map(
                self.name, self.namespace, _request_timeout=self.api.request_timeout))
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "status", None) == 404:
                return []
            raise Refused("reading ConfigMap %s/%s failed (HTTP %s). Nothing was written."
                          % (self.namespace, self.name, getattr(exc, "status", None)))
        self.exists = True
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if any(labels.get(k) != v for k, v in self.labels.items()):
            raise Refused("ConfigMap %s/%s exists without the collection's labels: it is not the record of the ACLs "
                          "the collection added. Nothing was written. Fix: rename or remove it."
                          % (self.namespace, self.name))
        try:
            return kafka_acls.parse_record((obj.get("data") or {}).get(RECORD_KEY))
        except ValueError as exc:
            raise Refused("ConfigMap %s/%s key %s is not a record of ACLs (%s). Nothing was written."
                          % (self.namespace, self.name, RECORD_KEY, exc))

    def write(self, entries):
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": self.name, "namespace": self.namespace, "labels": self.labels},
                "data": {RECORD_KEY: kafka_acls.encode_record(entries)}}
        try:
            if self.exists:
                self.api.core.patch_namespaced_config_map(self.name, self.namespace, body,
                                                          _request_timeout=self.api.request_timeout)
            else:
                self.api.core.create_namespaced_config_map(self.namespace, body,
                                                           _request_timeout=self.api.request_timeout)
        except Exception as exc:  # pylint: disable=broad-except
            raise Refused("the ACLs were written, but recording them in ConfigMap %s/%s failed (HTTP %s): the next "
                          "run would not remove them when they are unlisted. Fix: rerun."
                          % (self.namespace, self.name, getattr(exc, "status", None)))


def read_current(zk, resources):
    """``({resource: set of aces}, {resource: version or None})``; foreign data refused."""
    paths = dict((r, kafka_acls.resource_path(r)) for r in resources)
    try:
        dummy, found = zk.list_and_get(None, sorted(paths.values()))
    except (ZooKeeperError, PodApiError) as exc:
        raise Refused("reading the ACLs in ZooKeeper failed: %s. Nothing was written." % exc)
    current, versions = {}, {}
    for resource, path in paths.items():
        entry = found.get(path)
        versions[resource] = None if entry is None else entry[1].get("version")
        try:
            current[resource] = kafka_acls.parse_acls(None if entry is None else entry[0])
        except kafka_acls.ForeignData as exc:
            raise Refused("znode %s holds data that is not Kafka's ACLs (%s); it is left as it is. Nothing was "
                          "written." % (path, exc))
    return current, versions


def write(zk, writes, versions, acl_for=None):
    """Each resource's ACLs (created, or set at the version read), then its change notification."""
    ops = []
    for resource in sorted(writes):
        change_path, change = kafka_acls.change_notification(resource)
        ops += [(kafka_acls.resource_path(resource), kafka_acls.encode_acls(writes[resource]), versions.get(resource)),
                (change_path, change, SEQUENTIAL)]
    write_znodes(zk, kafka_acls.parent_paths(writes), ops, acl_for=acl_for)


def run(params, pod_api, zk):
    desired = sorted((dict(e) for e in params["acls"]), key=kafka_acls.entry_key)
    record = Record(pod_api, params["namespace"], params["record"], params["record_labels"])
    recorded = record.read()
    resources = set(kafka_acls.resource_of(e) for e in desired + recorded)
    current, versions = read_current(zk, resources)
    writes, new_record, removed = kafka_acls.decide(desired, recorded, current)
    added = [e for e in desired if kafka_acls.ace_of(e) not in current.get(kafka_acls.resource_of(e), set())]
    record_changed = kafka_acls.encode_record(new_record) != kafka_acls.encode_record(recorded) or (
        new_record and not record.exists)
    result = dict(changed=bool(writes) or bool(record_changed), added=[describe(e) for e in added],
                  removed=[describe(e) for e in removed],
                  diff=dict(before="".join(describe(e) + "\n" for e in removed),
                            after="".join(describe(e) + "\n" for e in added)))
    if params.get("_check_mode") or not result["changed"]:
        return result
    if writes:
        try:
            write(zk, writes, versions, acl_for=zookeeper_auth.acl_for(params.get("znode_acl_user")))
        except (ZooKeeperError, PodApiError, ValueError) as exc:
            raise Refused("writing the ACLs to ZooKeeper failed: %s. Fix: rerun (what is there is read first)." % exc)
        again, dummy = read_current(zk, set(writes))
        wrong = sorted(kafka_acls.resource_path(r) for r in writes if again[r] != writes[r])
        if wrong:
            raise Refused("the ACLs of %s did not read back as written (another writer?). Fix: rerun."
                          % ", ".join(wrong))
    record.write(new_record)
    return result


def module_options():
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    pod_api, zk = connect(module)
    try:
        result = run(dict(module.params, _check_mode=module.check_mode), pod_api, zk)
    except Refused as exc:
        module.fail_json(msg=str(exc), changed=False)
    finally:
        zk.close()
    if not module._diff:
        result.pop("diff")
    result["msg"] = "ACLs: %d added, %d removed" % (len(result["added"]), len(result["removed"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
