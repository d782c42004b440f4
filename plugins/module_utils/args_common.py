# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options the modules share, as AnsibleModule takes them (as kubernetes.core's ``args_common``).

``ZOOKEEPER_ARG_SPEC`` is documented by the ``kafka_eks.cluster.zookeeper_access`` doc fragment
(``plugins/doc_fragments/zookeeper_access.py``) and kubernetes.core's ``AUTH_ARG_SPEC`` by its
``kubernetes.core.k8s_auth_options``: a module that extends both fragments builds its spec with
``module_argument_spec()`` and its AnsibleModule with ``ZOOKEEPER_REQUIRED_IF``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

# How the modules reach ZooKeeper (the kafka_eks.cluster.zookeeper_access doc fragment).
ZOOKEEPER_ARG_SPEC = dict(
    namespace=dict(type="str", default="kafka"),
    zookeeper_access=dict(type="str", choices=["exec", "direct"], default="exec"),
    zookeeper_hosts=dict(type="list", elements="str"),
    zookeeper_pod_selector=dict(type="str",
                                default="app.kubernetes.io/component=zookeeper,app.kubernetes.io/instance=kafka"),
    client_port=dict(type="int", default=2181),
    exec_timeout=dict(type="int", default=60),
    zookeeper_auth_user=dict(type="str", default="kafka"),
    zookeeper_auth_secret=dict(type="str", default="", no_log=False),
)

# Where the modules ask the KRaft side: Kafka's tools in the controller and broker pods (the
# kafka_eks.cluster.kraft_access doc fragment).
KRAFT_ARG_SPEC = dict(
    controller_pod_selector=dict(type="str",
                                 default="app.kubernetes.io/component=controller,app.kubernetes.io/instance=kafka"),
    controller_container=dict(type="str", default="controller"),
    controller_port=dict(type="int", default=9093),
    expected_controller_ids=dict(type="list", elements="int", default=[]),
    broker_pod_selector=dict(type="str", default="app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka"),
    broker_container=dict(type="str", default="broker"),
    broker_client_port=dict(type="int", default=9092),
)

# The ACL of the znodes a module writes (the kafka_eks.cluster.zookeeper_access.znode_acl doc fragment).
ZNODE_ACL_ARG_SPEC = dict(
    znode_acl_user=dict(type="str", default=""),
)

# The option combinations ZOOKEEPER_ARG_SPEC needs (AnsibleModule's required_if).
ZOOKEEPER_REQUIRED_IF = [
    ("zookeeper_access", "direct", ["zookeeper_hosts"]),
]


def module_argument_spec(kraft=False, znode_acl=False, **options):
    """Argument spec of a module that reaches ZooKeeper and the Kubernetes API: kubernetes.core's auth
    options, the ZooKeeper access options, with ``kraft`` the KRaft access options (documented by the
    ``kafka_eks.cluster.kraft_access`` doc fragment), with ``znode_acl`` the ACL of the znodes it creates (the
    ``kafka_eks.cluster.zookeeper_access.znode_acl`` fragment), then the module's own ``options``."""
    spec = copy.deepcopy(AUTH_ARG_SPEC)
    spec.update(copy.deepcopy(ZOOKEEPER_ARG_SPEC))
    if kraft:
        spec.update(copy.deepcopy(KRAFT_ARG_SPEC))
    if znode_acl:
        spec.update(copy.deepcopy(ZNODE_ACL_ARG_SPEC))
    spec.update(options)
    return spec


def connect(module, pod_api=None, zk=None):
    """``(pod_api, zk)`` for a module built with ``module_argument_spec()``: the required libraries checked in one
    place (kubernetes always, kazoo for direct access), each client made unless a test passed its own; a failure
    to connect ends the module with the reason."""
    # Imported here: args_common is read by modules that reach neither.
    from ansible.module_utils.basic import missing_required_lib
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
        HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, PodApiError, make_pod_api)
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import (
        HAS_KAZOO, KAZOO_IMPORT_ERROR, make_access)
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

    params = module.params
    try:
        if pod_api is None:
            if not HAS_KUBERNETES:
                module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
            pod_api = make_pod_api(params)
        if zk is None:
            if params["zookeeper_access"] == "direct" and not HAS_KAZOO:
                module.fail_json(msg=missing_required_lib("kazoo", reason="for zookeeper_access=direct"),
                                 exception=KAZOO_IMPORT_ERROR)
            zk = make_access(params, pod_api_factory=lambda: pod_api)
    except (ZooKeeperError, PodApiError) as exc:
        module.fail_json(msg=str(exc), changed=False)
    return pod_api, zk
