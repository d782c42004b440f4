# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kafka ACLs as ZooKeeper-mode Kafka's AclAuthorizer stores them, and which of them the collection may change.

Kafka 3.9 (``kafka/zk/ZkData.scala``, ``AclEntry``, ``SecurityUtils``): the ACLs of a literal resource pattern are the
znode ``/kafka-acl/<Type>/<name>``, of a prefixed one ``/kafka-acl-extended/prefixed/<Type>/<name>``, each holding
``{"version": 1, "acls": [{"principal": "User:alice", "permissionType": "Allow", "operation": "Read",
"host": "*"}]}`` (type, operation and permission in PascalCase). The brokers reload a resource's ACLs after a
sequential znode ``/kafka-acl-changes/acl_changes_`` holding ``TOPIC:<name>`` (literal), or
``/kafka-acl-extended-changes/acl_changes_`` holding ``{"version": 1, "resourceType": "TOPIC", "name": ...,
"patternType": "PREFIXED"}``.

Nothing is lost: an ACL is removed only when the collection added it (it is in the record of what the collection
added, a ConfigMap, and it was not there before) and it is no longer listed. ACLs others made stay.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import json
import re

AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
CLUSTER_NAME = "kafka-cluster"
# Variable value -> Kafka's PascalCase name (SecurityUtils.resourceTypeName) and its enum name (change events).
RESOURCE_TYPES = {"topic": ("Topic", "TOPIC"), "group": ("Group", "GROUP"), "cluster": ("Cluster", "CLUSTER"),
                  "transactional_id": ("TransactionalId", "TRANSACTIONAL_ID")}
PATTERN_TYPES = ("literal", "prefixed")
PERMISSIONS = {"allow": "Allow", "deny": "Deny"}
# AclEntry.supportedOperations of each type, plus All (which Kafka accepts in a binding and matches every one).
OPERATIONS = {
    "topic": ("read", "write", "create", "describe", "delete", "alter", "describe_configs", "alter_configs", "all"),
    "group": ("read", "describe", "delete", "all"),
    "cluster": ("create", "cluster_action", "describe_configs", "alter_configs", "idempotent_write", "alter",
                "describe", "all"),
    "transactional_id": ("describe", "write", "all"),
}
ACL_ROOT = "/kafka-acl"
EXTENDED_ROOT = "/kafka-acl-extended"
LITERAL_CHANGES = "/kafka-acl-changes"
EXTENDED_CHANGES = "/kafka-acl-extended-changes"
CHANGE_PREFIX = "acl_changes_"
# A resource name is a znode name and zkCli data: Kafka's topic characters, or * (every resource) for literal ones.
RESOURCE_NAME = re.compile(r"\A[A-Za-z0-9._-]{1,249}\Z")
ENTRY_KEYS = ("principal", "resource_type", "pattern_type", "name", "operation", "permission", "host")


class ForeignData(Exception):
    """A resource's znode holds something that is not Kafka's ACL format: it is not overwritten."""


def pascal(snake):
    return "".join(part.capitalize() for part in snake.split("_"))


def acl_problems(acl):
    """What is wrong with one ACL of kafka_users (each problem a sentence), [] when nothing."""
    if not isinstance(acl, dict):
        return ["%r is not a mapping" % (acl,)]
    problems = []
    allowed = ("resource_type", "name", "pattern_type", "operations", "permission", "host")
    extra = sorted(str(k) for k in acl if k not in allowed)
    if extra:
        problems.append("has %s; an ACL has only %s" % (", ".join(extra), ", ".join(allowed)))
    kind = acl.get("resource_type")
    if kind not in RESOURCE_TYPES:
        return problems + ["resource_type %r is not one of %s" % (kind, ", ".join(RESOURCE_TYPES))]
    pattern = acl.get("pattern_type", "literal")
    if pattern not in PATTERN_TYPES:
        problems.append("pattern_type %r is not one of %s" % (pattern, ", ".join(PATTERN_TYPES)))
    name = acl.get("name", CLUSTER_NAME if kind == "cluster" else None)
    if kind == "cluster":
        if name != CLUSTER_NAME or pattern != "literal":
            problems.append("a cluster ACL's name is %s (literal), got %r" % (CLUSTER_NAME, name))
    elif not isinstance(name, str) or not (RESOURCE_NAME.match(name) or (name == "*" and pattern == "literal")):
        problems.append("name %r is not a resource name of letters, digits, '.', '_' and '-' (or * for every %s, "
                        "literal)" % (name, kind))
    operations = acl.get("operations")
    if not isinstance(operations, list) or not operations:
        problems.append("operations must be a non-empty list (such as [read, describe])")
    else:
        wrong = [o for o in operations if o not in OPERATIONS[kind]]
        if wrong:
            problems.append("operations %s are not %s operations (%s)" % (
                ", ".join(repr(o) for o in wrong), kind, ", ".join(OPERATIONS[kind])))
    if acl.get("permission", "allow") not in PERMISSIONS:
        problems.append("permission %r is not allow or deny" % (acl.get("permission"),))
    host = acl.get("host", "*")
    if host != "*":
        try:
            ipaddress.ip_address(host)
        except (ValueError, TypeError):
            problems.append("host %r is not * or an IP address" % (host,))
    return problems


def entries(user, acls):
    """One entry per operation of each (valid) ACL of ``user``, as plain data: Kafka's names."""
    out = []
    for acl in acls or []:
        kind = acl["resource_type"]
        for operation in acl["operations"]:
            out.append({
                "principal": "User:%s" % user,
                "resource_type": RESOURCE_TYPES[kind][0],
                "pattern_type": acl.get("pattern_type", "literal").upper(),
                "name": acl.get("name", CLUSTER_NAME),
                "operation": pascal(operation),
                "permission": PERMISSIONS[acl.get("permission", "allow")],
                "host": acl.get("host", "*"),
            })
    return sorted(out, key=entry_key)


def entry_key(entry):
    return tuple(entry[k] for k in ENTRY_KEYS)


def resource_of(entry):
    return (entry["resource_type"], entry["pattern_type"], entry["name"])


def ace_of(entry):
    """The (principal, permissionType, operation, host) Kafka stores for an entry."""
    return (entry["principal"], entry["permission"], entry["operation"], entry["host"])


def resource_path(resource):
    kind, pattern, name = resource
    if pattern == "LITERAL":
        return "%s/%s/%s" % (ACL_ROOT, kind, name)
    return "%s/%s/%s/%s" % (EXTENDED_ROOT, pattern.lower(), kind, name)


def parent_paths(resources):
    """Every znode above the resources' znodes and the change roots, parents first (zkCli creates one level)."""
    paths = [ACL_ROOT, EXTENDED_ROOT, LITERAL_CHANGES, EXTENDED_CHANGES]
    for resource in resources:
        parts = resource_path(resource).strip("/").split("/")
        for index in range(1, len(parts)):
            path = "/" + "/".join(parts[:index])
            if path not in paths:
                paths.append(path)
    return sorted(paths, key=lambda p: (p.count("/"), p))


def parse_acls(data):
    """The set of (principal, permissionType, operation, host) of a resource znode's data (None or empty: none).
    Raises ForeignData for anything AclEntry.fromBytes would not read."""
    if data in (None, "", b""):
        return set()
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ForeignData("not JSON")
    if not isinstance(parsed, dict) or parsed.get("version") != 1 or not isinstance(parsed.get("acls"), list):
        raise ForeignData("not Kafka's ACL format (version 1 with a list of acls)")
    found = set()
    for item in parsed["acls"]:
        keys = ("principal", "permissionType", "operation", "host")
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in keys):
            raise ForeignData("an ACL without principal, permissionType, operation and host")
        found.add(tuple(item[k] for k in keys))
    return found


def encode_acls(aces):
    """A resource znode's data (ResourceZNode.encode), in a stable order."""
    return json.dumps({"version": 1, "acls": [
        {"principal": p, "permissionType": t, "operation": o, "host": h} for p, t, o, h in sorted(aces)]},
        sort_keys=True, separators=(",", ":"))


def change_notification(resource):
    """``(path to create with a sequence number, data)`` that makes the brokers reload a resource's ACLs."""
    kind, pattern, name = resource
    enum = dict((v[0], v[1]) for v in RESOURCE_TYPES.values())[kind]
    if pattern == "LITERAL":
        return "%s/%s" % (LITERAL_CHANGES, CHANGE_PREFIX), "%s:%s" % (enum, name)
    return ("%s/%s" % (EXTENDED_CHANGES, CHANGE_PREFIX),
            json.dumps({"version": 1, "resourceType": enum, "name": name, "patternType": pattern},
                       sort_keys=True, separators=(",", ":")))


def decide(desired, recorded, current):
    """What to write, and what to record, from plain data.

    :param desired: the entries kafka_users lists now.
    :param recorded: the entries the collection added earlier (its record), or [].
    :param current: ``{resource: set of aces}`` as ZooKeeper holds them now, for every resource of desired and
        recorded (a missing znode: an empty set).
    :returns: ``(writes, record, removed)``: ``writes`` ``{resource: new set of aces}`` only where it changes,
        ``record`` the entries to record (those added by the collection: recorded ones still listed, and listed ones
        that were not there), ``removed`` the recorded entries no longer listed that are taken away.
    """
    desired_keys = set(entry_key(e) for e in desired)
    record, removed = [], []
    new = dict((r, set(aces)) for r, aces in current.items())
    for entry in recorded:
        if entry_key(entry) in desired_keys:
            record.append(entry)
        elif ace_of(entry) in new.get(resource_of(entry), set()):
            # The collection added it (its record says so) and it is listed no more: removed.
            new[resource_of(entry)].discard(ace_of(entry))
            removed.append(entry)
    recorded_keys = set(entry_key(e) for e in recorded)
    for entry in desired:
        aces = new.setdefault(resource_of(entry), set())
        if ace_of(entry) not in current.get(resource_of(entry), set()) and entry_key(entry) not in recorded_keys:
            record.append(entry)  # added now, by the collection
        aces.add(ace_of(entry))
    writes = dict((r, aces) for r, aces in new.items() if aces != current.get(r, set()))
    return writes, sorted(record, key=entry_key), sorted(removed, key=entry_key)


def parse_record(text):
    """The entries of the record ConfigMap's ``acls.json`` (None or empty: none); ValueError when not a record."""
    if not text:
        return []
    parsed = json.loads(text)
    if not isinstance(parsed, list) or not all(isinstance(e, dict) and sorted(e) == sorted(ENTRY_KEYS)
                                               and all(isinstance(e[k], str) for k in ENTRY_KEYS) for e in parsed):
        raise ValueError("not a list of ACL entries")
    return sorted(parsed, key=entry_key)


def encode_record(entries_):
    return json.dumps(sorted(entries_, key=entry_key), sort_keys=True, indent=1)
