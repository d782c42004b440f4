# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # How the modules reach ZooKeeper (kafka_eks.cluster.zookeeper_access).
    DOCUMENTATION = r"""
options:
  namespace:
    description:
      - Namespace of the ZooKeeper and broker pods.
    type: str
    default: kafka
  zookeeper_access:
    description:
      - How to reach ZooKeeper.
      - C(exec) runs ZooKeeper's own tools inside the ZooKeeper pods through the Kubernetes API (C(pods/exec)),
        so it works from any controller that reaches the API server, AWX included. Each server's mode comes
        from C(zkServer.sh status) in its pod; znodes are read and deleted with
        C(zkCli.sh -server localhost:<client_port> ...) in a serving pod.
      - C(direct) connects from the host that runs the module to I(zookeeper_hosts) over TCP, asks each server
        with the C(srvr) four-letter word (it must be in C(4lw.commands.whitelist)) and uses the Python library
        kazoo for znodes.
    type: str
    choices: [exec, direct]
    default: exec
  zookeeper_hosts:
    description:
      - ZooKeeper servers as C(host:port), one entry per server, for I(zookeeper_access=direct).
      - A C(host) without a port uses I(client_port).
      - Required with I(zookeeper_access=direct).
    type: list
    elements: str
  zookeeper_pod_selector:
    description:
      - Label selector of the ZooKeeper pods in I(namespace), for I(zookeeper_access=exec).
    type: str
    default: app.kubernetes.io/component=zookeeper,app.kubernetes.io/instance=kafka
  client_port:
    description:
      - ZooKeeper's client port, used inside the pods (C(localhost:<client_port>)) and for I(zookeeper_hosts)
        entries without a port.
    type: int
    default: 2181
  exec_timeout:
    description:
      - Seconds one command run in a pod (or one C(srvr) request, or opening a kazoo session) may take.
    type: int
    default: 60
  zookeeper_auth_user:
    description:
      - With I(zookeeper_access=direct) and I(zookeeper_auth_secret), the user kazoo logs in to ZooKeeper as (SASL
        DIGEST-MD5; needs the Python library C(pure-sasl)). With I(zookeeper_access=exec), zkCli logs in with the JAAS
        file of the ZooKeeper pod it runs in, and these two options are not used.
    type: str
    default: kafka
  zookeeper_auth_secret:
    description:
      - The Secret in I(namespace) whose key C(password) holds I(zookeeper_auth_user)'s password, read for
        I(zookeeper_access=direct) only. Empty, kazoo does not log in.
    type: str
    default: ""
"""

    # The ACL of the znodes a module creates (kafka_eks.cluster.zookeeper_access.znode_acl), paired with
    # args_common.ZNODE_ACL_ARG_SPEC.
    ZNODE_ACL = r"""
options:
  znode_acl_user:
    description:
      - With ZooKeeper authentication (C(zookeeper_auth=sasl)) once the brokers create znodes with ACLs, the user they
        log in as - each znode this module creates gets the ACL Kafka gives its own (everything for that user, read for
        the world except credentials). Empty, created znodes are open, as zkCli and kazoo create them.
    type: str
    default: ""
"""
