# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which rendered objects the teardown may delete: only those that exist and carry the collection's
``app.kubernetes.io/managed-by`` label. An object of the same kind and name without it was not made by this
collection (a hand-made ConfigMap called ``kafka-client-config``, say): it is reported and left.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "kafka_eks.cluster"


def teardown_split(definitions, existing):
    """``definitions``: the rendered objects, in deletion order. ``existing``: the ``results`` of a looped
    ``kubernetes.core.k8s_info`` (one per kind; ``item.key`` is the kind) or plain objects with ``kind``.
    Returns ``{delete, foreign, absent}``; ``foreign`` items are ``"Kind namespace/name"`` strings."""
    if not isinstance(definitions, list):
        raise AnsibleFilterError("teardown_split: expected the list of rendered objects, got %r" % type(definitions))
    found = {}
    for entry in existing or []:
        if isinstance(entry, dict) and "resources" in entry:
            kind = (entry.get("item") or {}).get("key") or entry.get("kind")
            objects = entry.get("resources") or []
        else:
            kind, objects = (entry or {}).get("kind"), [entry]
        for obj in objects:
            meta = obj.get("metadata") or {}
            found[(obj.get("kind") or kind, meta.get("name"))] = (meta.get("labels") or {}).get(MANAGED_BY_LABEL)
    delete, foreign, absent = [], [], []
    for definition in definitions:
        meta = definition.get("metadata") or {}
        key = (definition.get("kind"), meta.get("name"))
        ref = "%s %s/%s" % (key[0], meta.get("namespace"), key[1])
        if key not in found:
            absent.append(ref)
        elif found[key] == MANAGED_BY:
            delete.append(definition)
        else:
            foreign.append(ref)
    return {"delete": delete, "foreign": foreign, "absent": absent}


class FilterModule(object):
    """The teardown_split filter."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"teardown_split": teardown_split}
