#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zookeeper_secure
short_description: Prove that Kafka's znodes carry ACLs, and set them with Kafka's zookeeper-security-migration
version_added: 0.1.0
description:
  - Reads the ACL of each of Kafka's secured roots (C(/brokers), C(/config), C(/admin), ... as Kafka's
    C(ZkData.SecureRootPaths) names them) and of the paths under them an open client could abuse (C(/brokers/ids),
    C(/brokers/topics), C(/config/users), ...). A znode is open when C(world:anyone) may create, delete, write or
    administer it, or when I(user) may not.
  - With I(secure=true) and an open znode, runs C(zookeeper-security-migration --zookeeper.acl=secure) in a ready
    broker pod (which logs in to ZooKeeper with its own JAAS file, from C(KAFKA_OPTS)) and reads every ACL again;
    the module fails, naming the znodes, unless they are all secured then.
  - ZooKeeper's own C(/zookeeper) and the root are Kafka's business neither; they are not read.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
  - kazoo (for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kubernetes.core.k8s_auth_options
options:
  user:
    description: The user the brokers log in to ZooKeeper as; it must hold every permission on each znode.
    type: str
    required: true
  secure:
    description: Run the migration tool when a znode is open (otherwise only report).
    type: bool
    default: false
  zookeeper_connect:
    description: The connect string the tool uses from the broker pod (the brokers' own C(zookeeper.connect)).
    type: str
    default: zk-cs:2181
  broker_pod_selector:
    description: The broker pods, one of which runs the tool.
    type: str
    default: app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka
  broker_container:
    description: The broker container.
    type: str
    default: broker
  tool_timeout:
    description: Seconds the tool may take (it walks every znode of Kafka's trees).
    type: int
    default: 600
notes:
  - The Kubernetes user needs C(list) on pods and C(create) on C(pods/exec).
attributes:
  check_mode:
    description: Reads the ACLs; says whether the tool would run, runs nothing.
    support: full
  diff_mode:
    description: Not supported.
    support: none
"""

EXAMPLES = r"""
- name: Secure Kafka's znodes once every broker logs in and creates znodes with ACLs
  kafka_eks.cluster.zookeeper_secure:
    namespace: kafka
    user: kafka
    secure: true
"""

RETURN = r"""
open:
  description: The znodes that were open when the module started, each with why (C(path), C(why)).
  returned: success
  type: list
  elements: dict
secured:
  description: Whether every znode read is secured after the run.
  returned: success
  type: bool
ran_tool:
  description: The broker pod the migration tool ran in, or null.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    connect,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError, pod_facts
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_backup import BackupError, open_tree
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError, tail

TOOL = "zookeeper-security-migration"


class Refused(Exception):
    """The module fails with this message."""


def argument_spec():
    return module_argument_spec(
        user=dict(type="str", required=True),
        secure=dict(type="bool", default=False),
        zookeeper_connect=dict(type="str", default="zk-cs:2181"),
        broker_pod_selector=dict(type="str",
                                 default="app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka"),
        broker_container=dict(type="str", default="broker"),
        tool_timeout=dict(type="int", default=600),
    )


def read_open(tree, user):
    try:
        acls = tree.read_acls(zookeeper_auth.EVIDENCE_PATHS)
    except (BackupError, ZooKeeperError, PodApiError) as exc:
        raise Refused("reading the ACLs of Kafka's znodes failed: %s" % exc)
    return [{"path": path, "why": why} for path, why in zookeeper_auth.open_znodes(acls, user)]


def tool_pod(pod_api, namespace, selector, container):
    """A broker pod whose container is ready (the tool runs with its JAAS file)."""
    ready = []
    for pod in pod_api.list_pods(namespace, selector):
        facts = pod_facts(pod, container=container)
        if facts.get("ready") and not facts.get("deleting"):
            ready.append(pod["metadata"]["name"])
    if not ready:
        raise Refused("no broker pod matching %s in namespace %s is ready to run %s." % (selector, namespace, TOOL))
    return sorted(ready)[0]


def run_tool(pod_api, params, pod):
    argv = [TOOL, "--zookeeper.acl=secure", "--zookeeper.connect=%s" % params["zookeeper_connect"]]
    try:
        rc, out, err = pod_api.exec(params["namespace"], pod, argv, container=params["broker_container"],
                                    timeout=params["tool_timeout"])
    except Exception as exc:  # pylint: disable=broad-except
        raise Refused("pod %s/%s: `%s` failed: %s" % (params["namespace"], pod, " ".join(argv), exc))
    if rc not in (0, None):
        raise Refused("pod %s/%s: `%s` exited %s: %s" % (params["namespace"], pod, " ".join(argv), rc,
                                                         tail((err or "") + "\n" + (out or ""))))


def run(module, pod_api, zk_tree):
    params = module.params
    found_open = read_open(zk_tree, params["user"])
    result = {"changed": False, "open": found_open, "secured": not found_open, "ran_tool": None}
    if not found_open:
        result["msg"] = "Kafka's znodes carry ACLs: only %s may change them." % params["user"]
        return result
    listed = ", ".join("%s (%s)" % (o["path"], o["why"]) for o in found_open)
    if not params["secure"]:
        result["msg"] = "Open znodes: %s." % listed
        return result
    result["changed"] = True
    if module.check_mode:
        result["msg"] = "Would run %s --zookeeper.acl=secure in a broker pod for: %s." % (TOOL, listed)
        return result
    pod = tool_pod(pod_api, params["namespace"], params["broker_pod_selector"], params["broker_container"])
    run_tool(pod_api, params, pod)
    result["ran_tool"] = pod
    still = read_open(zk_tree, params["user"])
    if still:
        raise Refused("%s ran in pod %s, but these znodes are still open: %s. Fix: check that every broker logs in "
                      "as %s (KAFKA_OPTS) and rerun." % (TOOL, pod, ", ".join("%s (%s)" % (o["path"], o["why"])
                                                                              for o in still), params["user"]))
    result["secured"] = True
    result["msg"] = "%s ran in pod %s: %d open znode(s) secured (%s)." % (TOOL, pod, len(found_open), listed)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)
    pod_api, dummy = connect(module, zk=False)
    try:
        tree, access = open_tree(module.params, pod_api_factory=lambda: pod_api)
    except (ZooKeeperError, PodApiError, BackupError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    try:
        module.exit_json(**run(module, pod_api, tree))
    except Refused as exc:
        module.fail_json(msg=str(exc), changed=False)
    finally:
        access.close()


if __name__ == "__main__":
    main()
