# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan with a later step of ZooKeeper authentication taken (``zookeeper_auth.next_step``): the kafka_broker role
takes ``set_acl`` once every broker logs in, and ``enforce`` once the znodes are proven secured."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_auth import next_step


def zookeeper_auth_step(plan, step):
    """``plan`` (kafka_plan) with ``plan.zookeeper.auth`` advanced to ``step``."""
    if not isinstance(plan, dict) or not (plan.get("zookeeper") or {}).get("auth", {}).get("enabled"):
        raise AnsibleFilterError("zookeeper_auth_step: the plan has no ZooKeeper authentication to advance")
    try:
        auth = next_step(plan["zookeeper"]["auth"], step)
    except ValueError as exc:
        raise AnsibleFilterError("zookeeper_auth_step: %s" % exc)
    return dict(plan, zookeeper=dict(plan["zookeeper"], auth=auth))


class FilterModule(object):
    """The zookeeper_auth_step filter."""

    def filters(self):
        """The filters this plugin provides, by name."""
        return {"zookeeper_auth_step": zookeeper_auth_step}
