# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The documents a role's templates rendered, checked to be what the role applies: each one Kubernetes object
(a mapping with a string apiVersion, kind and metadata.name) in the plan's namespace, and Namespace objects
only the plan's namespace. Used by the roles' manifests.yml entry points, so every caller (the preflight's
render before any write, the teardown) refuses a template that renders anything else."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError


def _problem(document, namespace):
    """Why ``document`` is not one object of the plan's namespace, or None."""
    if not isinstance(document, dict):
        return "a %s, not a mapping" % type(document).__name__
    metadata = document.get("metadata")
    for key, value in (("apiVersion", document.get("apiVersion")), ("kind", document.get("kind")),
                       ("metadata.name", metadata.get("name") if isinstance(metadata, dict) else None)):
        if not isinstance(value, str):
            return "%s is %r, not a string" % (key, value)
    if document["kind"] == "Namespace":
        return None if metadata["name"] == namespace else "a Namespace named %r" % metadata["name"]
    if metadata.get("namespace") != namespace:
        return "%s %s in namespace %r" % (document["kind"], metadata["name"], metadata.get("namespace"))
    return None


def kubernetes_objects(documents, namespace, namespaces=0):
    """``documents`` (every document of the templates, in order) when each is one Kubernetes object in
    ``namespace`` and exactly ``namespaces`` of them are its Namespace; AnsibleFilterError otherwise."""
    problems = [p for p in (_problem(d, namespace) for d in documents or []) if p]
    found = [d for d in documents or [] if isinstance(d, dict) and d.get("kind") == "Namespace"]
    if not problems and len(found) != namespaces:
        problems.append("%d Namespace objects where %d was expected" % (len(found), namespaces))
    if problems:
        raise AnsibleFilterError(
            "A rendered manifest is not one Kubernetes object in namespace %s (%s); nothing was written. This is "
            "a bug in the templates: please report it with the variables used." % (namespace, "; ".join(problems)))
    return list(documents or [])


class FilterModule(object):
    """The kubernetes_objects filter."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"kubernetes_objects": kubernetes_objects}
