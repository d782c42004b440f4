# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How many servers the running ZooKeeper ensemble is configured for, read from its StatefulSet.

Not ``spec.replicas``: someone may have scaled the StatefulSet by hand (the pods then lack, but the servers'
configuration still lists, the others). The collection writes the size into an annotation; a StatefulSet
written before that is read from the servers' own configuration (the official image's ``ZOO_SERVERS``, the
kubernetes-zookeeper image's ``--servers=N``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

ENSEMBLE_ANNOTATION = "kafka-eks.cluster/zookeeper-ensemble"


def zookeeper_ensemble(statefulset):
    """The ensemble size of a ZooKeeper StatefulSet (its API object), or None when it says nothing."""
    if not isinstance(statefulset, dict):
        return None
    annotations = (statefulset.get("metadata") or {}).get("annotations") or {}
    try:
        return int(annotations[ENSEMBLE_ANNOTATION])
    except (KeyError, TypeError, ValueError):
        pass
    template = ((statefulset.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in template.get("containers") or []:
        for item in container.get("env") or []:
            if item.get("name") == "ZOO_SERVERS" and isinstance(item.get("value"), str):
                servers = re.findall(r"(?:^|\s)server\.\d+=", item["value"])
                if servers:
                    return len(servers)
        match = re.search(r"--servers=(\d+)", " ".join(str(a) for a in (container.get("command") or [])
                                                       + (container.get("args") or [])))
        if match:
            return int(match.group(1))
    replicas = (statefulset.get("spec") or {}).get("replicas")
    return replicas if isinstance(replicas, int) else None


def statefulset_roll_order(pods, update_revision, leader):
    """Names of a StatefulSet's pods that do not run its ``update_revision`` yet, in the order to restart them:
    followers first (highest ordinal first, as the StatefulSet controller would), the leader last, so that the
    quorum (ZooKeeper's ensemble, the KRaft controllers) elects a new leader once, not once per pod restarted."""
    outdated = []
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            continue
        if (meta.get("labels") or {}).get("controller-revision-hash") != update_revision:
            outdated.append(meta.get("name"))

    def ordinal(name):
        """The StatefulSet ordinal at the end of a pod name (``zookeeper-2`` -> 2), -1 without one."""
        try:
            return int(str(name).rsplit("-", 1)[1])
        except (IndexError, ValueError):
            return -1
    followers = sorted((n for n in outdated if n != leader), key=ordinal, reverse=True)
    return followers + [n for n in outdated if n == leader]


class FilterModule(object):
    """The ZooKeeper ensemble filter, and the roll order of a StatefulSet's pods (ZooKeeper's and the controllers')."""

    def filters(self):
        """Filter name -> function, as Ansible looks them up."""
        return {"zookeeper_ensemble": zookeeper_ensemble, "statefulset_roll_order": statefulset_roll_order}
