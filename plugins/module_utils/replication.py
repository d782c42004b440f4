# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Partition replication as ZooKeeper-mode Kafka records it: which partitions have a replica out of sync.

A broker that restarts leaves the in-sync replica set (ISR) of every partition it holds and rejoins it once it
has caught up with the leader. Restarting the next broker before that can take a partition below
``min.insync.replicas`` (producers with ``acks=all`` then fail) or, at replication factor 2, offline. So a
rolling change waits until no partition is under-replicated before the next broker restarts, as a person
would with ``kafka-topics.sh --describe --under-replicated-partitions``.

Kafka keeps, per topic, ``/brokers/topics/<topic>`` (``{"partitions": {"0": [1, 2, 3], ...}}``: the
replicas) and, per partition, ``/brokers/topics/<topic>/partitions/<n>/state`` (``{"leader": 1, "isr": [1,
2, 3], ...}``). ``under_replicated()`` compares them and is pure; ``read_assignments()`` reads the topics
once (the listing, then every topic's node: one zkCli run each under exec access) and ``read_states()`` every
partition's state in one more; ``wait_in_sync()`` polls the states with an injected clock and sleep.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

TOPICS_PATH = "/brokers/topics"


class NotInSyncError(Exception):
    """Partitions stayed under-replicated past the timeout."""

    def __init__(self, message, partitions):
        super(NotInSyncError, self).__init__(message)
        self.partitions = partitions


def _json_object(data):
    try:
        value = json.loads(data) if data else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_assignment(data):
    """``{partition: [replica ids]}`` from the JSON of ``/brokers/topics/<topic>`` ({} when unreadable)."""
    value = _json_object(data) or {}
    partitions = value.get("partitions")
    if not isinstance(partitions, dict):
        return {}
    assignment = {}
    for partition, replicas in partitions.items():
        try:
            assignment[int(partition)] = [int(r) for r in replicas]
        except (TypeError, ValueError):
            continue
    return assignment


def parse_state(data):
    """``{"leader": id, "isr": [ids]}`` from the JSON of a partition's ``state`` node, or None."""
    value = _json_object(data)
    if value is None:
        return None
    try:
        return {"leader": int(value.get("leader", -1)), "isr": [int(r) for r in value.get("isr") or []]}
    except (TypeError, ValueError):
        return None


def state_path(topic, partition):
    return "%s/%s/partitions/%d/state" % (TOPICS_PATH, topic, partition)


def under_replicated(assignments, states, expected_ids):
    """The partitions that have a replica out of sync (pure).

    ``assignments``: ``{topic: {partition: [replicas]}}``; ``states``: ``{(topic, partition): {"leader",
    "isr"} or None}``. Only replicas on ``expected_ids`` count: a replica on a broker this cluster does not
    deploy (a removed broker) can never catch up, and waiting for it would block every rolling change.

    Returns ``(out_of_sync, ignored)``: each a list of ``{topic, partition, replicas, isr, leader,
    out_of_sync}`` sorted by topic and partition; ``ignored`` holds the partitions lacking only replicas on
    unexpected brokers.
    """
    expected = set(int(i) for i in expected_ids)
    out_of_sync, ignored = [], []
    for topic in sorted(assignments):
        for partition in sorted(assignments[topic]):
            replicas = assignments[topic][partition]
            state = states.get((topic, partition))
            isr = state["isr"] if state else []
            lagging = [r for r in replicas if r not in isr]
            if not lagging:
                continue
            item = {"topic": topic, "partition": partition, "replicas": replicas, "isr": isr,
                    "leader": state["leader"] if state else -1, "out_of_sync": lagging}
            (out_of_sync if any(r in expected for r in lagging) else ignored).append(item)
    return out_of_sync, ignored


def describe_partitions(partitions, limit=10):
    """``topic-0 (replicas 1,2,3; in sync 1,3)``, ... for a message; at most ``limit`` of them."""
    texts = ["%s-%d (replicas %s; in sync %s%s)" % (
        p["topic"], p["partition"], ",".join(str(r) for r in p["replicas"]),
        ",".join(str(r) for r in p["isr"]) or "none", "; no leader" if p["leader"] < 0 else "")
        for p in partitions[:limit]]
    if len(partitions) > limit:
        texts.append("and %d more" % (len(partitions) - limit))
    return ", ".join(texts)


def read_assignments(zk):
    """``{topic: {partition: [replicas]}}`` for every topic: the listing, then every topic's node in one batch."""
    topics = zk.list_and_get(TOPICS_PATH, [])[0]
    if not topics:
        return {}
    paths = dict((topic, "%s/%s" % (TOPICS_PATH, topic)) for topic in topics)
    found = zk.get_many([paths[topic] for topic in topics])
    assignments = {}
    for topic in topics:
        node = found.get(paths[topic])
        if node is not None:  # None: deleted between the listing and the read
            assignments[topic] = parse_assignment(node[0])
    return assignments


def read_states(zk, assignments):
    """``{(topic, partition): state or None}`` for every assigned partition, in one batch."""
    keys = [(topic, partition) for topic in sorted(assignments) for partition in sorted(assignments[topic])]
    if not keys:
        return {}
    found = zk.get_many([state_path(topic, partition) for topic, partition in keys])
    states = {}
    for key in keys:
        node = found.get(state_path(*key))
        states[key] = parse_state(node[0]) if node is not None else None
    return states


def wait_in_sync(zk, expected_ids, timeout, sleep_seconds=5, clock=time.monotonic, sleep=time.sleep):
    """Poll until no partition has an expected broker's replica out of sync, for at most ``timeout`` seconds.

    Returns ``{"partitions": checked, "ignored": [...], "waited": seconds}``; raises ``NotInSyncError``
    naming the partitions still out of sync. The assignments are read once: a rolling change does not move
    partitions, and only the ISR is polled.
    """
    start = clock()
    assignments = read_assignments(zk)
    while True:
        out_of_sync, ignored = under_replicated(assignments, read_states(zk, assignments), expected_ids)
        waited = clock() - start
        if not out_of_sync:
            return {"partitions": sum(len(p) for p in assignments.values()), "ignored": ignored,
                    "waited": round(waited, 1)}
        if waited >= timeout:
            raise NotInSyncError(
                "%d partition(s) still have a replica out of sync after %ds: %s. A broker that restarted has "
                "not caught up with the partition leaders; restarting another broker now could take these "
                "partitions below min.insync.replicas. Check the out-of-sync brokers' logs."
                % (len(out_of_sync), timeout, describe_partitions(out_of_sync)), out_of_sync)
        sleep(sleep_seconds)
