#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zookeeper_backup
short_description: Back up every znode of a ZooKeeper ensemble to a file, compare a file with an ensemble, restore it
version_added: 0.2.0
description:
  - I(state=exported) reads every znode under I(root) - its path, data, ACL, whether it is ephemeral and the
    stat fields a comparison can use - and writes them to a JSON file in I(dest) named
    C(<prefix>-<UTC time>.json) (C(20261202T183000Z)), through a temporary file and a rename, mode C(0600).
    Data is stored in base64, so binary data and newlines are kept byte for byte.
  - C(/zookeeper), ZooKeeper's own tree (quotas, the dynamic configuration), is never read or written.
  - Ephemeral znodes (broker registrations, C(/controller)) are recorded, marked C(ephemeral), but never
    restored or expected by a comparison - they belong to the sessions of clients that run. Container and
    TTL znodes are restored as persistent ones.
  - With I(reuse_unchanged) (the default), nothing is written when the newest backup of that I(prefix) in
    I(dest) holds the same content (same digest); its path is returned and C(changed) is false.
  - A backup of a live ensemble is not one point in time - ZooKeeper has no read transaction - a znode
    deleted between the listing and its read is left out and named in RV(vanished).
  - I(state=compared) reads the live tree and reports what differs from the file I(src) - RV(differences).
    Never changes anything.
  - I(state=restored) writes the file I(src) into the ensemble - parents first, data and ACLs byte for
    byte - and then reads it back and compares. The target must be empty (nothing under the root but
    C(/zookeeper)), hold a part of this very backup (a restore that stopped; it is continued), or already
    hold all of it (nothing is written; RV(msg) says so). Anything else is refused before any write unless
    I(force=true), which creates the missing znodes and sets data and ACLs that differ, and leaves other
    znodes alone (never deletes).
  - Restored znodes are created with an open ACL and get their own ACL once their children exist, so that
    no credential is needed; their versions and zxids are new (ZooKeeper does not let a client set them).
  - Through I(zookeeper_access=exec) the commands go in batches to one C(zkCli.sh) run each (one
    C(pods/exec) per batch, not per znode). ZooKeeper 3.9+ prints data in base64 (C(get -b)); 3.5-3.8 print
    it as UTF-8 text, so data that is not UTF-8 is refused there; 3.4 prints it byte for byte. zkCli takes
    data as one command-line argument, so a restore through exec refuses (before any write) znodes whose data
    has a newline or another control character, is not UTF-8 (3.5+), or mixes both quote kinds with
    whitespace, and ACL ids with a comma. I(zookeeper_access=direct) (kazoo) has none of these limits.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0 (for I(zookeeper_access=exec))
  - kazoo (only for I(zookeeper_access=direct))
extends_documentation_fragment:
  - kafka_eks.cluster.zookeeper_access
  - kubernetes.core.k8s_auth_options
options:
  state:
    description:
      - C(exported) writes a backup file, C(compared) reports differences, C(restored) writes a file into the
        ensemble.
    type: str
    choices: [exported, compared, restored]
    default: exported
  root:
    description:
      - The znode whose tree is backed up (it included), for I(state=exported). C(/zookeeper) is skipped.
      - A restore and a comparison use the root the file names.
    type: str
    default: /
  dest:
    description:
      - Directory on the host that runs the module (the controller) for the backup file; created (mode
        C(0700)) when missing. Required for I(state=exported).
    type: path
  prefix:
    description:
      - Start of the file name, C(<prefix>-<UTC time>.json). Letters, digits, C(.), C(_) and C(-).
    type: str
    default: zookeeper
  reuse_unchanged:
    description:
      - Do not write a new file when the newest backup of I(prefix) in I(dest) has the same content.
    type: bool
    default: true
  src:
    description:
      - The backup file to compare with or restore. Required for I(state=compared) and I(state=restored).
    type: path
  force:
    description:
      - Restore into an ensemble that holds other znodes, or znodes of the file with other data or ACLs;
        create what is missing, set data and ACLs that differ, leave the other znodes. Never deletes.
    type: bool
    default: false
notes:
  - With I(zookeeper_access=exec) the Kubernetes user needs C(list) on pods and C(create) on C(pods/exec) in
    I(namespace); the pod needs C(sh) and C(base64), which the official and the kubernetes-zookeeper images
    have.
  - A znode whose ACL does not let an unauthenticated client read it stops the backup, naming it.
attributes:
  check_mode:
    description: Reads everything and says what it would write (the file, or the znodes); writes nothing.
    support: full
  diff_mode:
    description: Not supported; RV(differences) lists what differs.
    support: none
"""

EXAMPLES = r"""
- name: Back up every znode before a risky step
  kafka_eks.cluster.zookeeper_backup:
    namespace: kafka
    dest: /var/backups/kafka
    prefix: zookeeper-kafka
  register: backup

- name: Compare the backup with the ensemble
  kafka_eks.cluster.zookeeper_backup:
    state: compared
    namespace: kafka
    src: "{{ backup.path }}"
  register: comparison

- name: Restore it into an empty ensemble, reached directly
  kafka_eks.cluster.zookeeper_backup:
    state: restored
    zookeeper_access: direct
    zookeeper_hosts: [zk-0.example.com:2181]
    src: /var/backups/kafka/zookeeper-kafka-20261202T183000Z.json
"""

RETURN = r"""
path:
  description: The backup file written (or that would be written, or reused), or the one read.
  returned: always
  type: str
  sample: /var/backups/kafka/zookeeper-kafka-20261202T183000Z.json
count:
  description: Znodes in the backup (ephemeral ones included).
  returned: always
  type: int
  sample: 57
digest:
  description: sha256 of the znodes' paths, data, ACLs and kinds (not of stat fields); equal digests, equal content.
  returned: always
  type: str
  sample: sha256:8e1f...
reused:
  description: The newest backup already held this content, so none was written.
  returned: when I(state=exported)
  type: bool
vanished:
  description: Znodes listed but gone when read (deleted during the backup).
  returned: when I(state=exported)
  type: list
  elements: str
target_state:
  description: C(empty), C(partial), C(done) or C(conflict) (see the description).
  returned: when I(state=restored)
  type: str
  sample: empty
created:
  description: Znodes created (or, in check mode, that would be), parents first.
  returned: when I(state=restored)
  type: list
  elements: str
updated:
  description: Znodes whose data or ACL was set (or would be).
  returned: when I(state=restored)
  type: list
  elements: str
equal:
  description: The ensemble holds every persistent znode of the file with its data and ACL, and no other persistent znode.
  returned: when I(state=compared) or I(state=restored)
  type: bool
differences:
  description:
    - C(missing), C(data), C(acl) (znodes of the file absent, or with other data or ACL), C(extra) (persistent
      znodes not in the file), C(extra_ephemeral) (sessions' znodes not in the file) and C(ephemeral) (the
      file's ephemeral znodes, not compared); at most 100 paths each, counts in C(counts).
  returned: when I(state=compared) or I(state=restored)
  type: dict
execs:
  description: C(pods/exec) calls made (I(zookeeper_access=exec)).
  returned: always
  type: int
msg:
  description: What was done, in one sentence.
  returned: always
  type: str
"""

import datetime
import os
import re

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.kafka_eks.cluster.plugins.module_utils.args_common import (
    ZOOKEEPER_REQUIRED_IF,
    module_argument_spec,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    PodApiError,
    make_pod_api,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_backup import (
    BackupError,
    ZkCliTree,
    backup_file_name,
    build_document,
    check_prefix,
    check_root,
    compare,
    dump_document,
    latest_backup,
    load_document,
    open_tree,
    plan_writes,
    restore_plan,
    write_atomically,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

LIST_LIMIT = 100


def argument_spec():
    return module_argument_spec(
        state=dict(type="str", choices=["exported", "compared", "restored"], default="exported"),
        root=dict(type="str", default="/"),
        dest=dict(type="path"),
        prefix=dict(type="str", default="zookeeper"),
        reuse_unchanged=dict(type="bool", default=True),
        src=dict(type="path"),
        force=dict(type="bool", default=False),
    )


def module_options():
    """What AnsibleModule is built with: the spec and its option combinations."""
    return dict(argument_spec=argument_spec(),
                required_if=ZOOKEEPER_REQUIRED_IF + [("state", "exported", ["dest"]),
                                                     ("state", "compared", ["src"]),
                                                     ("state", "restored", ["src"])],
                supports_check_mode=True)


def short(paths):
    return list(paths)[:LIST_LIMIT]


def differences_result(diff):
    result = dict((key, short(diff[key])) for key in ("missing", "data", "acl", "extra", "extra_ephemeral",
                                                      "ephemeral"))
    result["counts"] = dict((key, len(diff[key])) for key in ("missing", "data", "acl", "extra", "extra_ephemeral",
                                                              "ephemeral"))
    return result


def describe_differences(diff):
    counts = differences_result(diff)["counts"]
    parts = ["%d %s" % (counts[k], label) for k, label in (("missing", "missing"), ("data", "with other data"),
                                                           ("acl", "with another ACL"), ("extra", "not in the file"))
             if counts[k]]
    return ", ".join(parts) or "no difference"


def export(module, tree, now):
    params = module.params
    try:
        root = check_root(params["root"])
        prefix = check_prefix(params["prefix"])
    except BackupError as exc:
        module.fail_json(msg="%s. Nothing was written." % exc)
    nodes, vanished = tree.read_tree(root)
    if not any(n["path"] == root for n in nodes):
        module.fail_json(msg="root: the znode %s does not exist in the ensemble; nothing was written. Fix: set root "
                             "to a znode that exists (/ for everything, or the chroot of zookeeper.connect)." % root)
    source = dict(tree.describe(), namespace=params["namespace"] if params["zookeeper_access"] == "exec" else None)
    document = build_document(nodes, root, source, now, vanished)
    dest = params["dest"]
    if not os.path.isabs(dest) or re.search(r"[\x00-\x1f\x7f]", dest):
        module.fail_json(msg="dest: %r is not an absolute path without control characters; nothing was written. Fix: "
                             "set dest (kafka_backup_dir) to an absolute directory on the controller, such as "
                             "/var/backups/kafka." % dest)
    result = dict(count=document["count"], digest=document["digest"], vanished=vanished, execs=getattr(tree, "execs", 0))
    if params["reuse_unchanged"]:
        previous = latest_backup(dest, prefix)
        if previous:
            try:
                old = load_document(previous)
            except BackupError:
                old = None
            if old and old["digest"] == document["digest"] and old["root"] == root:
                module.exit_json(changed=False, path=previous, reused=True,
                                 msg="%s already holds these %d znode(s) (same digest); nothing was written."
                                     % (previous, document["count"]), **result)
    path = os.path.join(dest, backup_file_name(prefix, now))
    if module.check_mode:
        module.exit_json(changed=True, path=path, reused=False,
                         msg="would write %d znode(s) under %s to %s" % (document["count"], root, path), **result)
    try:
        if not os.path.isdir(dest):
            os.makedirs(dest, 0o700)
        write_atomically(dest, os.path.basename(path), dump_document(document))
    except (OSError, IOError) as exc:
        module.fail_json(msg="dest: cannot write the backup to %s: %s. Fix: set dest (kafka_backup_dir) to a "
                             "directory this user can create and write." % (path, exc), **result)
    module.exit_json(changed=True, path=path, reused=False,
                     msg="wrote %d znode(s) under %s to %s%s" % (
                         document["count"], root, path,
                         (" (%d deleted while it was read: %s)" % (len(vanished), ", ".join(vanished[:5])))
                         if vanished else ""), **result)


def compared(module, tree):
    document = load_document(module.params["src"])
    live, dummy = tree.read_tree(document["root"])
    diff = compare(document["znodes"], live, document["root"])
    module.exit_json(changed=False, path=module.params["src"], count=document["count"], digest=document["digest"],
                     equal=diff["equal"], differences=differences_result(diff), execs=getattr(tree, "execs", 0),
                     msg="%s against the ensemble: %s" % (module.params["src"], describe_differences(diff)))


def restored(module, tree):
    params = module.params
    document = load_document(params["src"])
    root = document["root"]
    live, dummy = tree.read_tree(root)
    plan = restore_plan(document["znodes"], live, root, force=params["force"])
    result = dict(path=params["src"], count=document["count"], digest=document["digest"], target_state=plan["state"],
                  execs=getattr(tree, "execs", 0))
    if plan["refused"]:
        module.fail_json(msg="force: not restoring %s: %s. Nothing was written. Fix: restore into an empty ensemble "
                             "(a new kafka_namespace, or the ensemble's data deleted), or set force=true "
                             "(kafka_restore_force=true) to create the missing znodes and overwrite the differing "
                             "ones (others are left)." % (params["src"], plan["refused"]),
                         differences=differences_result(plan["differences"]), equal=False, created=[], updated=[],
                         **result)
    created = plan["parents"] + [n["path"] for n in plan["create"] if n["path"] != "/"]
    updated = sorted(set(n["path"] for n in plan["set_data"] + plan["set_acl"]))
    if plan_writes(plan) == 0:
        diff = plan["differences"]
        module.exit_json(changed=False, created=[], updated=[], equal=diff["equal"],
                         differences=differences_result(diff),
                         msg="the ensemble already holds every znode of %s (%d persistent) with its data and ACL; "
                             "nothing was written%s." % (params["src"], document["count"] - len(diff["ephemeral"]),
                                                         "" if diff["equal"] else " (%s)" % describe_differences(diff)),
                         **result)
    if isinstance(tree, ZkCliTree):
        problems = tree.check_writable(plan)
        if problems:
            module.fail_json(msg="zookeeper_access: %d znode(s) of %s cannot be written exactly through zkCli (%s): "
                                 "%s. Nothing was written. Fix: restore with zookeeper_access=direct "
                                 "(kafka_zookeeper_access=direct and kafka_zookeeper_hosts), which writes any bytes."
                                 % (len(problems), params["src"], tree.dialect.name(),
                                    "; ".join("%s %s" % p for p in problems[:5])),
                             created=[], updated=[], **result)
    if module.check_mode:
        module.exit_json(changed=True, created=short(created), updated=short(updated),
                         differences=differences_result(plan["differences"]), equal=False,
                         msg="would create %d znode(s) and update %d (target %s)"
                             % (len(created), len(updated), plan["state"]), **result)
    tree.apply(plan)
    after, dummy = tree.read_tree(root)
    diff = compare(document["znodes"], after, root)
    result["execs"] = getattr(tree, "execs", 0)
    if diff["missing"] or diff["data"] or diff["acl"]:
        module.fail_json(msg="restored %s but reading back finds %s; check the ensemble" % (
            params["src"], describe_differences(diff)), changed=True, created=short(created), updated=short(updated),
            equal=False, differences=differences_result(diff), **result)
    module.exit_json(changed=True, created=short(created), updated=short(updated), equal=diff["equal"],
                     differences=differences_result(diff),
                     msg="restored %s: created %d znode(s), updated %d; read back, every znode of the file is there "
                         "with its data and ACL" % (params["src"], len(created), len(updated)), **result)


def run_module(module, pod_api_factory=None, kazoo_factory=None, now=None):
    params = module.params
    if pod_api_factory is None:
        if params["zookeeper_access"] == "exec" and not HAS_KUBERNETES:
            module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)

        def pod_api_factory():
            return make_pod_api(params)
    now = now or (lambda: datetime.datetime.now(datetime.timezone.utc))
    access = None
    try:
        if params["state"] != "exported":
            load_document(params["src"])  # a bad file fails before ZooKeeper is asked anything
        tree, access = open_tree(params, pod_api_factory=pod_api_factory, kazoo_factory=kazoo_factory)
        if params["state"] == "exported":
            export(module, tree, now())
        elif params["state"] == "compared":
            compared(module, tree)
        else:
            restored(module, tree)
    except BackupError as exc:
        module.fail_json(msg=str(exc))
    except (ZooKeeperError, PodApiError) as exc:
        module.fail_json(msg="ZooKeeper: %s" % exc)
    finally:
        if access is not None:
            access.close()


def main():
    module = AnsibleModule(**module_options())
    run_module(module)


if __name__ == "__main__":
    main()
