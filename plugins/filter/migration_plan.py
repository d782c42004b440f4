# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan with the migration step applied (``module_utils/migration.py``): the phase read from the broker
Deployments, the controller StatefulSet and ZooKeeper's znodes, the step this run takes, and every broker's
properties in the mode that step renders. Returns ``{plan, errors}`` so the role refuses before any write."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import (
    apply_to_plan, evidence_from, needs_evidence)


def _check_plan(plan):
    """Refuse anything but kafka_plan (a filter applied to the wrong value fails with what it got)."""
    if not isinstance(plan, dict) or "brokers" not in plan or "controller" not in plan:
        raise AnsibleFilterError("migration_plan: expected kafka_plan, got %r" % type(plan))


def migration_plan(plan, deployments=None, statefulsets=None, zookeeper_facts=None, zookeeper_runs=None):
    """``plan``: kafka_plan. ``deployments``/``statefulsets``: the ``resources`` of k8s_info reads of the broker
    Deployments and the controller StatefulSet; ``zookeeper_facts``: the kraft_migration module's result (or
    nothing when it was not asked: no migration wanted, nothing of one there, or finalized);
    ``zookeeper_runs``: whether the ZooKeeper StatefulSet exists (the preflight's read, ``plan.zookeeper.running``)."""
    _check_plan(plan)
    evidence = evidence_from(deployments or [], statefulsets or [], plan["broker_id_label"], zookeeper_facts,
                             zookeeper_runs)
    result, errors = apply_to_plan(plan, evidence)
    return {"plan": result, "errors": errors}


def migration_evidence_needed(plan, deployments=None, statefulsets=None):
    """Whether the role must ask ZooKeeper about a migration (see ``needs_evidence``)."""
    _check_plan(plan)
    return needs_evidence(plan, deployments or [], statefulsets or [])


class FilterModule(object):
    """The migration_plan and migration_evidence_needed filters."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"migration_plan": migration_plan, "migration_evidence_needed": migration_evidence_needed}
