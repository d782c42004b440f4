#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: scram_credentials
short_description: Write Kafka SCRAM-SHA-512 credentials to ZooKeeper from passwords in Kubernetes Secrets
version_added: 0.1.0
description:
  - For each user in I(users), reads its password from a Kubernetes Secret and makes ZooKeeper hold its
    SCRAM-SHA-512 credential, as C(kafka-configs --zookeeper ... --alter --add-config 'SCRAM-SHA-512=[password=...]'
    --entity-type users) does - the entity config C(/config/users/<name>) (its other settings kept), then a change
    notification under C(/config/changes) so running brokers reload it. The brokers read credentials at start, so
    the inter-broker user's must exist before any broker that logs in with it starts.
  - A stored credential is compared with the Secret's password by computing it again with the stored salt and
    iterations; only a missing or different one is written, so a second run reports no change. What was written is
    read back and checked, with the new change notification.
  - The password of a user in I(locked_users) is not changed (the inter-broker user of running brokers; Kafka keeps
    one credential per user, so brokers restarted with a new password could not log in to the others).
  - Passwords are read here and never returned, logged or put on a command line. With I(zookeeper_access=exec) the
    zkCli commands that write a credential go to its standard input.
  - Users ZooKeeper holds a SCRAM-SHA-512 credential for that are not in I(users) are named in RV(unlisted); nothing
    is deleted.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
  - kazoo (for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kafka_eks.cluster.zookeeper_access.znode_acl
  - kubernetes.core.k8s_auth_options
options:
  users:
    description: The users and where their passwords are.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: The user name (letters, digits, C(.), C(_) and C(-)).
        type: str
        required: true
      secret:
        description: The Secret in I(namespace) that holds the password.
        type: str
        required: true
      key:
        description: The key of I(secret) that holds the password.
        type: str
        default: password
  locked_users:
    description: Users whose stored credential must not change (a different password fails the module, writing nothing).
    type: list
    elements: str
    default: []
  iterations:
    description: PBKDF2 iterations of a new credential (Kafka's minimum and C(kafka-configs)' default is 4096).
    type: int
    default: 4096
notes:
  - The Kubernetes user needs C(get) on the named Secrets; with I(zookeeper_access=exec) C(list) on pods and
    C(create) on C(pods/exec).
  - ZooKeeper 3.5 or later (C(set -v)).
attributes:
  check_mode:
    description: Reads and compares; says which users would be written, writes nothing.
    support: full
  diff_mode:
    description: Names each user whose credential would be written (never a credential).
    support: full
"""

EXAMPLES = r"""
- name: The inter-broker user and two client users
  kafka_eks.cluster.scram_credentials:
    namespace: kafka
    users:
      - {name: kafka-admin, secret: kafka-admin}
      - {name: alice, secret: alice-password}
      - {name: orders, secret: orders-user, key: secret}
    locked_users: [kafka-admin]
"""

RETURN = r"""
created:
  description: Users whose credential was written where there was none (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [alice]
updated:
  description: Users whose stored credential was not their Secret's password, written anew.
  returned: always
  type: list
  elements: str
  sample: []
unchanged:
  description: Users whose stored credential is their Secret's password.
  returned: always
  type: list
  elements: str
  sample: [kafka-admin]
unlisted:
  description: Users with a SCRAM-SHA-512 credential in ZooKeeper that are not in I(users) (left as they are).
  returned: always
  type: list
  elements: str
  sample: [bob]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    connect,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApiError, read_secret
from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import SEQUENTIAL, write_znodes
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

USER_SPEC = dict(
    name=dict(type="str", required=True),
    secret=dict(type="str", required=True, no_log=False),
    key=dict(type="str", default=scram.PASSWORD_KEY, no_log=False),
)


class Refused(Exception):
    """Nothing was written: the message says why and what to do."""


def argument_spec():
    return module_argument_spec(
        znode_acl=True,
        users=dict(type="list", elements="dict", required=True, options=USER_SPEC),
        locked_users=dict(type="list", elements="str", default=[]),
        iterations=dict(type="int", default=scram.ITERATIONS),
    )


def read_passwords(pod_api, namespace, users):
    """{user: password} from the Secrets; Refused naming every Secret that cannot be used (never a value)."""
    passwords, problems = {}, []
    for user in users:
        try:
            secret = read_secret(pod_api, namespace, user["secret"])
        except Exception as exc:  # pylint: disable=broad-except
            secret, why = None, "cannot be read (HTTP %s)" % getattr(exc, "status", None)
        else:
            why = "does not exist"
        if secret is None:
            problems.append("Secret %s (user %s): %s" % (user["secret"], user["name"], why))
            continue
        password, problem = scram.decode_password(secret, user["key"])
        if problem:
            problems.append("Secret %s (user %s) %s" % (user["secret"], user["name"], problem))
        else:
            passwords[user["name"]] = password
    if problems:
        raise Refused("; ".join(problems) + ". Nothing was written. Fix: give each Secret the user's password in "
                      "its key (printable ASCII without '\"' and '\\').")
    return passwords


def _data(found, path):
    entry = found.get(path)
    return None if entry is None else (entry[0] if entry[0] is not None else "")


def read_state(zk, names):
    """``(children of /config/users, {name: znode data or None}, {name: version})``. A read's error is said
    without zkCli's output, which would hold credentials."""
    paths = [scram.user_path(n) for n in names]
    try:
        listed, found = zk.list_and_get(scram.USERS_PATH, paths)
    except (ZooKeeperError, PodApiError) as exc:
        raise Refused("reading the SCRAM credentials in ZooKeeper failed (%s). Nothing was written."
                      % type(exc).__name__)
    data = dict((n, _data(found, scram.user_path(n))) for n in names)
    versions = dict((n, found[scram.user_path(n)][1].get("version")) for n in names if found.get(scram.user_path(n)))
    return listed or [], data, versions


def change_notifications(zk):
    """The children of /config/changes (a list Kafka purges after 15 minutes)."""
    try:
        return set(zk.list_and_get(scram.CHANGES_PATH, [])[0] or [])
    except (ZooKeeperError, PodApiError) as exc:
        raise Refused("reading %s failed (%s). Nothing was written." % (scram.CHANGES_PATH, type(exc).__name__))


def unlisted(zk, listed, names):
    """Users with a SCRAM-SHA-512 credential that the list does not name (read, never written)."""
    others = [n for n in listed if n not in names]
    if not others:
        return []
    try:
        dummy, found = zk.list_and_get(None, [scram.user_path(n) for n in others])
    except (ZooKeeperError, PodApiError):
        return []
    out = []
    for name in others:
        try:
            if scram.MECHANISM in scram.entity_config(_data(found, scram.user_path(name))):
                out.append(name)
        except scram.ForeignData:
            continue
    return sorted(out)


def write(zk, writes, acl_for=None):
    """Each ``(name, data, version)``: the user's znode, then its change notification."""
    ops = []
    for name, data, version in writes:
        ops += [(scram.user_path(name), data, version),
                ("%s/%s" % (scram.CHANGES_PATH, scram.CHANGE_PREFIX), scram.change_notification(name), SEQUENTIAL)]
    write_znodes(zk, ["/config", scram.USERS_PATH, scram.CHANGES_PATH], ops, acl_for=acl_for)


def run(params, pod_api, zk, random_bytes=None):
    """What the module does; returns its result (no password, no credential). Raises Refused."""
    users = params["users"]
    names = [u["name"] for u in users]
    for user in users:
        problem = scram.user_name_problem(user["name"])
        if problem:
            raise Refused("users: %s. Nothing was written." % problem)
    if len(set(names)) != len(names):
        raise Refused("users: a user is listed twice (%s). Nothing was written." % ", ".join(
            sorted(set(n for n in names if names.count(n) > 1))))
    passwords = read_passwords(pod_api, params["namespace"], users)
    listed, data, versions = read_state(zk, names)
    locked = set(params["locked_users"] or [])
    decisions = [scram.decide(n, passwords[n], data[n], locked=n in locked) for n in names]
    refused = [d for d in decisions if d["action"] == "refuse"]
    if refused:
        raise Refused("; ".join("user %s: %s" % (d["user"], d["reason"]) for d in refused)
                      + ". Nothing was written. Fix: put the password back in the Secret; to give the brokers a new "
                        "password, name a new kafka_broker_admin_user with a Secret of its own (the brokers roll "
                        "to it; the old user's credential is left).")
    todo = [d for d in decisions if d["action"] in ("create", "update")]
    result = dict(
        changed=bool(todo),
        created=[d["user"] for d in todo if d["action"] == "create"],
        updated=[d["user"] for d in todo if d["action"] == "update"],
        unchanged=[d["user"] for d in decisions if d["action"] == "unchanged"],
        unlisted=unlisted(zk, listed, names),
        diff=dict(before="".join("%s: %s\n" % (d["user"], "no credential" if d["action"] == "create"
                                               else "another password's credential") for d in todo),
                  after="".join("%s: its Secret's password\n" % d["user"] for d in todo)),
    )
    if not todo or params.get("_check_mode"):
        return result
    changes_before = change_notifications(zk)
    kwargs = {} if random_bytes is None else {"random_bytes": random_bytes}
    writes = [(d["user"], scram.with_credential(d["config"], passwords[d["user"]], params["iterations"], **kwargs),
               versions.get(d["user"])) for d in todo]
    try:
        write(zk, writes, acl_for=zookeeper_auth.acl_for(params.get("znode_acl_user")))
    except Exception as exc:  # pylint: disable=broad-except
        # Said without the zkCli output or the exception's text, which may hold the data.
        raise Refused("writing the SCRAM credentials of %s to ZooKeeper failed (%s); rerun to finish (what was "
                      "written is read and compared first)." % (", ".join(w[0] for w in writes), type(exc).__name__))
    verify(zk, todo, passwords, changes_before)
    return result


def verify(zk, todo, passwords, changes_before):
    """Proof that each credential was written with the user's other settings and that a change notification for
    each one is new; Refused otherwise."""
    names = [d["user"] for d in todo]
    dummy, data, dummy_versions = read_state(zk, names)
    changes_after = change_notifications(zk)
    wrong = []
    for decision in todo:
        name = decision["user"]
        try:
            config = scram.entity_config(data[name])
        except scram.ForeignData:
            config = {}
        kept = dict((k, v) for k, v in config.items() if k != scram.MECHANISM)
        before = dict((k, v) for k, v in decision["config"].items() if k != scram.MECHANISM)
        if not scram.credential_matches(config.get(scram.MECHANISM), passwords[name]) or kept != before:
            wrong.append(name)
    if wrong:
        raise Refused("the SCRAM credential of %s did not read back as written (another writer, or zkCli failed; "
                      "its output is not shown: it echoes the credential). Fix: rerun." % ", ".join(wrong))
    new = sorted(changes_after - changes_before)
    try:
        dummy, found = zk.list_and_get(None, ["%s/%s" % (scram.CHANGES_PATH, c) for c in new])
    except (ZooKeeperError, PodApiError) as exc:
        raise Refused("reading the change notifications back failed (%s)" % type(exc).__name__)
    notified = set(_data(found, "%s/%s" % (scram.CHANGES_PATH, c)) for c in new)
    missing = [n for n in names if scram.change_notification(n) not in notified]
    if missing:
        raise Refused("the credential of %s was written but no change notification for it is in %s: running brokers "
                      "would not reload it. Fix: rerun." % (", ".join(missing), scram.CHANGES_PATH))


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(), required_if=ZOOKEEPER_REQUIRED_IF, supports_check_mode=True)


def main():
    module = AnsibleModule(**module_options())
    pod_api, zk = connect(module)
    params = dict(module.params, _check_mode=module.check_mode)
    try:
        result = run(params, pod_api, zk)
    except Refused as exc:
        module.fail_json(msg=str(exc), changed=False)
    finally:
        zk.close()
    if not module._diff:
        result.pop("diff")
    created, updated = result["created"], result["updated"]
    result["msg"] = "SCRAM-SHA-512 credentials: %s%s%s" % (
        "created for %s; " % ", ".join(created) if created else "",
        "written anew for %s; " % ", ".join(updated) if updated else "",
        "%d unchanged" % len(result["unchanged"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
