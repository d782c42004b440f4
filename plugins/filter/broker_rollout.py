# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which broker objects may be applied together, and which running brokers must be rolled one at a time.

A change to a running broker's Deployment restarts its pod. Applied together, every broker would restart at
once and the cluster would be down; so the kafka_broker role applies a running broker's changed Deployment
alone, waits for it to be back in the cluster, then takes the next one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _key(obj):
    """``(namespace, name)`` of an object, which identifies it among the manifests and the objects that exist."""
    meta = obj.get("metadata") or {}
    return meta.get("namespace"), meta.get("name")


def broker_rollout(definitions, existing, id_label):
    """``{together, running}``: every object except the broker Deployments that already exist (``existing``),
    in their order, and those Deployments as ``{broker_id, name, definition}`` sorted by the broker id from
    their ``id_label`` label; a running Deployment without an integer label raises AnsibleFilterError."""
    existing_keys = set(_key(d) for d in existing or [])
    together, running = [], []
    for definition in definitions:
        if definition.get("kind") != "Deployment" or _key(definition) not in existing_keys:
            together.append(definition)
            continue
        labels = (definition.get("metadata") or {}).get("labels") or {}
        try:
            broker_id = int(labels[id_label])
        except (KeyError, TypeError, ValueError):
            raise AnsibleFilterError("Deployment %s/%s has no integer label %s"
                                     % (_key(definition) + (id_label,)))
        running.append({"broker_id": broker_id, "name": _key(definition)[1], "definition": definition})
    return {"together": together, "running": sorted(running, key=lambda r: r["broker_id"])}


def changed_brokers(running, dry_run):
    """The entries of ``running`` whose server-side dry-run apply (a registered ``kubernetes.core.k8s`` result
    over their definitions, in the same order) reported a change."""
    if not running:
        return []
    if not isinstance(dry_run, dict) or dry_run.get("skipped"):
        raise AnsibleFilterError("changed_brokers needs the registered result of the dry-run apply")
    # kubernetes.core.k8s returns one object's result as is, and several under result.results.
    results = [dry_run] if len(running) == 1 else (dry_run.get("result") or {}).get("results")
    if not isinstance(results, list) or len(results) != len(running):
        raise AnsibleFilterError("the dry-run apply returned %s results for %d Deployments"
                                 % (len(results) if isinstance(results, list) else "no", len(running)))
    return [entry for entry, result in zip(running, results) if result.get("changed")]


def roll_order(entries, joined, controller):
    """The order in which to roll ``entries`` (``{broker_id, ...}``), each with ``gate``: brokers that are not
    in the cluster (``joined`` lacks them: crash-looping, a bad image, not registered) first and without the
    availability gate, since they hold no in-sync replica and the fix may be what they wait for; then the
    healthy ones, gated, the controller last."""
    joined = set(int(i) for i in joined or [])
    unhealthy = [dict(e, gate=False) for e in entries if e["broker_id"] not in joined]
    healthy = [dict(e, gate=True) for e in entries if e["broker_id"] in joined]
    return unhealthy + controller_last(healthy, controller)


def advertised_listeners(brokers):
    """``{broker id: its advertised.listeners}`` from the plan's brokers, for broker_membership."""
    return dict((str(b["id"]), b["properties"]["advertised.listeners"]) for b in brokers)


def controller_last(entries, controller):
    """``entries`` (``{broker_id, ...}``) with the controller's moved to the end: restarting the controller
    moves the controller role, and that should happen once, not once per broker restarted before it."""
    if controller is None:
        return list(entries)
    return ([e for e in entries if e["broker_id"] != int(controller)]
            + [e for e in entries if e["broker_id"] == int(controller)])


class FilterModule(object):
    """The broker rollout filters: broker_rollout, changed_brokers, controller_last, roll_order and
    advertised_listeners."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"broker_rollout": broker_rollout, "changed_brokers": changed_brokers,
                "controller_last": controller_last, "roll_order": roll_order,
                "advertised_listeners": advertised_listeners}
