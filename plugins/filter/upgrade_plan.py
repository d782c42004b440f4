# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan with what runs applied: the upgrade step (``inter.broker.protocol.version`` for every broker) and
the ZooKeeper data layout, decided by ``module_utils/upgrade.py`` from the live Deployments, pods and
StatefulSet. Returns ``{plan, errors}`` so the preflight can refuse with the messages, before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.module_utils.upgrade import apply_to_plan


def upgrade_plan(plan, deployments=None, pods=None, statefulsets=None):
    """``plan``: kafka_plan. ``deployments``/``pods``/``statefulsets``: the ``resources`` of k8s_info reads of the
    broker Deployments, the broker pods and the ZooKeeper StatefulSet (empty on a new cluster)."""
    if not isinstance(plan, dict) or "brokers" not in plan:
        raise AnsibleFilterError("upgrade_plan: expected kafka_plan, got %r" % type(plan))
    statefulset = (statefulsets or [None])[0]
    result, errors = apply_to_plan(plan, deployments or [], pods or [], statefulset)
    return {"plan": result, "errors": errors}


class FilterModule(object):
    """The upgrade_plan filter."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"upgrade_plan": upgrade_plan}
