# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ZooKeeper tree as data: read every znode under a root (path, data, ACL, stat), write it to a backup
file, compare a file with a live ensemble and restore a file into an ensemble.

Two readers/writers behind one interface (``read_tree(root)``, ``apply(plan)``):

- ``KazooTree``: kazoo (``zookeeper_access=direct``); bytes and ACLs exactly as ZooKeeper holds them.
- ``ZkCliTree``: ``zkCli.sh`` run in a ZooKeeper pod (``zookeeper_access=exec``). Many commands go to one
  zkCli run on its standard input (one ``pods/exec`` per batch, not per znode), each command followed by an
  ``ls`` of a znode that cannot exist, named with a random token: its "Node does not exist" line ends the
  command's output, whatever a znode's data imitates. Output travels base64-encoded (``| base64``), so the
  bytes are zkCli's own. A znode's data is the ``dataLength`` bytes right before its stat block; ZooKeeper
  3.9+ prints it in base64 (``get -b``), 3.5-3.8 as UTF-8 text (data that is not UTF-8 cannot be read
  exactly there and is refused), 3.4 in the JVM's default charset, set to ISO-8859-1 so that every byte
  maps to one character and back.

The decisions (what a restore creates, whether an ensemble counts as empty, what differs) are pure functions.
``/zookeeper`` (ZooKeeper's own: quotas, the dynamic config) is never read or written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import calendar
import datetime
import hashlib
import json
import os
import re
import shlex
import tempfile
import uuid

from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import make_access
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import ZooKeeperError

FORMAT = "kafka_eks.cluster/zookeeper-backup"
FORMAT_VERSION = 1
SYSTEM_TREE = "/zookeeper"

# ZooDefs.Perms; written in this order (zkCli's setAcl and create accept any order).
PERMS = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))
OPEN_ACL = [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}]

# ephemeralOwner values that are not a session (ZooKeeper's EphemeralType): a container, a TTL node.
CONTAINER_OWNER = 0x8000000000000000
TTL_OWNER_PREFIX = 0xFF

# One zkCli run gets at most this much script (it travels in the exec request's URL, base64-encoded).
MAX_SCRIPT_BYTES = 48 * 1024
MARK_PREFIX = "kafka-eks-mark-"


class BackupError(Exception):
    """A backup, restore or comparison cannot be done; the message says why and what to do."""


# ------------------------------------------------------------------------------------------- paths

def is_system(path):
    return path == SYSTEM_TREE or path.startswith(SYSTEM_TREE + "/")


def child_path(parent, name):
    return ("/" + name) if parent == "/" else (parent + "/" + name)


def parent_of(path):
    if path == "/":
        return None
    head = path.rsplit("/", 1)[0]
    return head or "/"


def depth(path):
    return 0 if path == "/" else path.count("/")


def under(path, root):
    return root == "/" or path == root or path.startswith(root + "/")


def check_root(root):
    """The root of a backup: an absolute znode path without a trailing '/', '.' or '..' parts, not in
    /zookeeper; returns it or raises BackupError."""
    if (not isinstance(root, str) or not root.startswith("/") or (root != "/" and root.endswith("/"))
            or "//" in root or re.search(r"[\x00-\x1f\x7f-\x9f]", root)
            or any(part in (".", "..") for part in root.split("/"))):
        raise BackupError("root %r is not a znode path: use an absolute path such as / or /kafka, without a "
                          "trailing / and without . or .. parts" % (root,))
    if is_system(root):
        raise BackupError("root %r is ZooKeeper's own tree (/zookeeper), which is never backed up or restored"
                          % root)
    return root


# --------------------------------------------------------------------------------------- ACL and stat

def perms_text(value):
    """ZooKeeper's permission bits as letters (c, d, r, w, a)."""
    return "".join(letter for letter, bit in PERMS if value & bit)


def perms_bits(text):
    bits = 0
    for char in text:
        found = [bit for letter, bit in PERMS if letter == char]
        if not found:
            raise BackupError("permission %r is not one of c, d, r, w, a" % char)
        bits |= found[0]
    return bits


def canonical_acl(acl):
    """An ACL list with each entry's permissions in the order of PERMS, in ZooKeeper's order."""
    return [{"scheme": entry["scheme"], "id": entry["id"], "perms": perms_text(perms_bits(entry["perms"]))}
            for entry in acl]


def acl_key(acl):
    """ACLs compare as sets: ZooKeeper keeps the order it was given, which carries no meaning."""
    return sorted((e["scheme"], e["id"], perms_bits(e["perms"])) for e in acl)


def node_kind(ephemeral_owner):
    if not ephemeral_owner:
        return "persistent"
    if ephemeral_owner == CONTAINER_OWNER:
        return "container"
    if ephemeral_owner >> 56 == TTL_OWNER_PREFIX:
        return "ttl"
    return "ephemeral"


def _java_date_ms(text):
    """zkCli prints ctime/mtime as Java's Date.toString(); epoch ms when the zone is UTC/GMT, else the text."""
    match = re.match(r"^\w{3} (\w{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (UTC|GMT|Z) (\d{4})$", text.strip())
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    if not match or match.group(1) not in months:
        return text.strip()
    seconds = calendar.timegm((int(match.group(7)), months.index(match.group(1)) + 1, int(match.group(2)),
                               int(match.group(3)), int(match.group(4)), int(match.group(5)), 0, 0, 0))
    return seconds * 1000


def make_node(path, data, acl, stat):
    """One znode as the backup file holds it. ``data`` bytes; ``acl`` list of {scheme, id, perms};
    ``stat`` dict with ZooKeeper's field names (ints; ctime/mtime epoch ms, or text when zkCli printed them
    in another zone)."""
    owner = int(stat.get("ephemeralOwner") or 0)
    kind = node_kind(owner)
    return {
        "path": path,
        # null: a znode created without data (ZooKeeper tells it from empty data; Kafka's parents are null)
        "data": None if data is None else base64.b64encode(data).decode("ascii"),
        "acl": canonical_acl(acl),
        "kind": kind,
        "ephemeral": kind == "ephemeral",
        "stat": {
            "czxid": _hex(stat.get("czxid")),
            "mzxid": _hex(stat.get("mzxid")),
            "pzxid": _hex(stat.get("pzxid")),
            "ctime": stat.get("ctime"),
            "mtime": stat.get("mtime"),
            "version": stat.get("version"),
            "cversion": stat.get("cversion"),
            "aversion": stat.get("aversion"),
            "ephemeralOwner": "0x%x" % owner,
            "dataLength": stat.get("dataLength"),
            "numChildren": stat.get("numChildren"),
        },
    }


def _hex(value):
    if isinstance(value, int):
        return "0x%x" % value
    return value


def node_data(node):
    """The znode's bytes, or None for a znode without data."""
    return None if node["data"] is None else base64.b64decode(node["data"])


# ------------------------------------------------------------------------------------- the backup file

def content_digest(nodes):
    """sha256 of what a restore would reproduce and a comparison looks at: each znode's path, data, ACL and
    kind, in path order. Stat fields (zxids, times, versions) are left out: they differ in any copy."""
    digest = hashlib.sha256()
    for node in sorted(nodes, key=lambda n: n["path"]):
        digest.update(json.dumps([node["path"], node["data"], acl_key(node["acl"]), node["kind"]],
                                 separators=(",", ":")).encode("utf-8"))
        digest.update(b"\n")
    return "sha256:" + digest.hexdigest()


def utc_stamp(now):
    """``now`` (an aware or naive-UTC datetime) as the file name's stamp, 20261202T183000Z."""
    if now.tzinfo is not None:
        now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return now.strftime("%Y%m%dT%H%M%SZ")


def backup_file_name(prefix, now):
    return "%s-%s.json" % (prefix, utc_stamp(now))


def check_prefix(prefix):
    if not isinstance(prefix, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$", prefix):
        raise BackupError("prefix %r: use letters, digits, '.', '_' and '-' only (it starts the file name)"
                          % (prefix,))
    return prefix


def build_document(nodes, root, source, now, vanished=()):
    nodes = sorted(nodes, key=lambda n: n["path"])
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": now.strftime("%Y-%m-%dT%H:%M:%SZ") if now.tzinfo is None
        else now.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "root": root,
        "skipped": [SYSTEM_TREE],
        "source": source,
        "count": len(nodes),
        "ephemeral_count": len([n for n in nodes if n["ephemeral"]]),
        "vanished": sorted(vanished),
        "digest": content_digest(nodes),
        "znodes": nodes,
    }


def dump_document(document):
    """The file's text: one znode per line, so that a diff of two backups reads line by line."""
    head = dict((k, v) for k, v in document.items() if k != "znodes")
    lines = [json.dumps(head, sort_keys=True, separators=(", ", ": "))[:-1] + ', "znodes": [']
    nodes = document["znodes"]
    for index, node in enumerate(nodes):
        lines.append("  " + json.dumps(node, sort_keys=True) + ("," if index < len(nodes) - 1 else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def load_document(path):
    """Read and check a backup file; raise BackupError naming the file and what is wrong."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except (OSError, IOError) as exc:
        raise BackupError("cannot read the backup file %s: %s" % (path, exc))
    except ValueError as exc:
        raise BackupError("%s is not a backup file (not JSON: %s)" % (path, exc))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupError("%s is not a %s file (no \"format\": \"%s\")" % (path, FORMAT, FORMAT))
    if document.get("format_version") != FORMAT_VERSION:
        raise BackupError("%s has format_version %r; this collection reads version %d"
                          % (path, document.get("format_version"), FORMAT_VERSION))
    nodes = document.get("znodes")
    if not isinstance(nodes, list):
        raise BackupError("%s has no znodes list" % path)
    seen = set()
    for node in nodes:
        try:
            node_data(node)
            acl_key(node["acl"])
            if node["path"] in seen or not node["path"].startswith("/"):
                raise ValueError("path %r twice or not absolute" % node["path"])
            seen.add(node["path"])
            node.setdefault("kind", "ephemeral" if node.get("ephemeral") else "persistent")
        except (KeyError, TypeError, ValueError, BackupError, binascii.Error) as exc:
            raise BackupError("%s: znode entry %r is damaged: %s" % (path, node if not isinstance(node, dict)
                                                                     else node.get("path"), exc))
    if document.get("digest") != content_digest(nodes):
        raise BackupError("%s: its digest does not match its znodes (the file was changed or cut short); "
                          "use another backup" % path)
    check_root(document.get("root"))
    return document


def write_atomically(directory, name, text, mode=0o600):
    """Write ``text`` to ``directory/name`` through a temporary file in the same directory and a rename, so
    a reader never sees half a file; the file has ``mode`` from its creation on."""
    path = os.path.join(directory, name)
    handle, temp = tempfile.mkstemp(prefix=".%s." % name, suffix=".tmp", dir=directory)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            out.write(text.encode("utf-8"))
            out.flush()
            os.fsync(out.fileno())
        os.rename(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    return path


def latest_backup(directory, prefix):
    """The path of the newest ``<prefix>-<stamp>.json`` in ``directory`` (by its stamp), or None."""
    pattern = re.compile(r"^%s-(\d{8}T\d{6}Z)\.json$" % re.escape(prefix))
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    found = sorted((pattern.match(n).group(1), n) for n in names if pattern.match(n))
    return os.path.join(directory, found[-1][1]) if found else None


# -------------------------------------------------------------------------------- comparison, restore

def _index(nodes):
    return dict((n["path"], n) for n in nodes)


def compare(file_nodes, live_nodes, root="/"):
    """What differs between a backup's znodes and a live tree (both lists of make_node dicts), as a restore
    would see it: ephemeral znodes of the file are not expected (a restore does not create them).

    Returns ``equal`` (no missing, data, ACL or persistent extra difference), ``missing`` (in the file, not
    live), ``data`` and ``acl`` (both, differing), ``extra`` (live persistent znodes not in the file),
    ``extra_ephemeral`` (live ephemeral znodes not in the file: sessions of running clients), ``ephemeral``
    (ephemeral znodes in the file, not compared), lists of paths."""
    wanted = _index(n for n in file_nodes if n["kind"] != "ephemeral" and under(n["path"], root)
                    and not is_system(n["path"]))
    live = _index(n for n in live_nodes if under(n["path"], root) and not is_system(n["path"]))
    file_paths = set(n["path"] for n in file_nodes)
    missing, data, acl = [], [], []
    for path in sorted(wanted):
        node = live.get(path)
        if node is None:
            missing.append(path)
            continue
        if node["data"] != wanted[path]["data"]:
            data.append(path)
        if acl_key(node["acl"]) != acl_key(wanted[path]["acl"]):
            acl.append(path)
    extra = sorted(p for p, n in live.items() if p not in file_paths and n["kind"] != "ephemeral")
    extra_ephemeral = sorted(p for p, n in live.items() if p not in file_paths and n["kind"] == "ephemeral")
    return {
        "equal": not (missing or data or acl or extra),
        "missing": missing,
        "data": data,
        "acl": acl,
        "extra": extra,
        "extra_ephemeral": extra_ephemeral,
        "ephemeral": sorted(n["path"] for n in file_nodes if n["kind"] == "ephemeral"),
    }


def restore_plan(file_nodes, live_nodes, root, force=False):
    """Decide what restoring ``file_nodes`` into a live tree does (pure).

    The target's ``state``:

    - ``done``: every persistent znode of the file exists with its data and ACL: nothing to write (a second
      restore; live extras are reported, never deleted).
    - ``empty``: nothing lives under the root but the root itself (``/zookeeper`` does not count).
    - ``partial``: only znodes of the file live there, each with the file's data and ACL, some are missing:
      a restore that stopped; it is continued.
    - ``conflict``: other znodes live there, or znodes of the file with other data or ACL: the ensemble is
      in use. Refused (``refused`` says why) unless ``force``, which creates what is missing and sets data
      and ACL where they differ, and leaves the other znodes alone.

    Returns ``state``, ``refused`` (a sentence or None), ``create`` (znodes to create, parents first),
    ``set_data``, ``set_acl`` (znodes that exist and differ), ``parents`` (paths above the root to create
    empty), ``differences`` (compare()'s result) and ``skipped_ephemeral``."""
    diff = compare(file_nodes, live_nodes, root)
    wanted = _index(n for n in file_nodes if n["kind"] != "ephemeral" and not is_system(n["path"]))
    live = _index(live_nodes)
    others = [p for p in live if under(p, root) and p != root and not is_system(p)]
    root_differs = [p for p in diff["data"] + diff["acl"] if p == root]
    conflicts = sorted(set(p for p in diff["data"] + diff["acl"] if p != root)) + diff["extra"] \
        + diff["extra_ephemeral"]
    if not diff["missing"] and not diff["data"] and not diff["acl"]:
        state = "done"
    elif not others:
        state = "empty"
    elif not conflicts:
        state = "partial"
    else:
        state = "conflict"
    refused = None
    if state == "conflict" and not force:
        refused = ("the target is not empty and is not this backup: %d znode(s) with other data, %d with another "
                   "ACL, %d znode(s) not in the file (%s)"
                   % (len([p for p in diff["data"] if p != root]), len([p for p in diff["acl"] if p != root]),
                      len(diff["extra"]) + len(diff["extra_ephemeral"]),
                      ", ".join((diff["extra"] + diff["extra_ephemeral"] + diff["data"] + diff["acl"])[:5])))
    create = [wanted[p] for p in sorted(diff["missing"], key=lambda p: (depth(p), p))]
    parents = []
    if root != "/" and root not in live:
        step = parent_of(root)
        while step and step != "/" and step not in live:
            parents.append(step)
            step = parent_of(step)
        parents.reverse()
    touched = diff["data"] + diff["acl"] if (force or state != "conflict") else root_differs
    return {
        "state": state,
        "refused": refused,
        "create": [] if refused else create,
        "set_data": [] if refused else [wanted[p] for p in sorted(set(diff["data"]) & set(touched))],
        "set_acl": [] if refused else [wanted[p] for p in sorted(set(diff["acl"]) & set(touched))],
        "parents": [] if refused else parents,
        "differences": diff,
        "skipped_ephemeral": diff["ephemeral"],
    }


def plan_writes(plan):
    return len(plan["create"]) + len(plan["set_data"]) + len(plan["set_acl"]) + len(plan["parents"])


# -------------------------------------------------------------------------------------- kazoo (direct)

def _kazoo_stat(stat):
    return {
        "czxid": stat.czxid, "mzxid": stat.mzxid, "pzxid": stat.pzxid, "ctime": stat.ctime, "mtime": stat.mtime,
        "version": stat.version, "cversion": stat.cversion, "aversion": stat.aversion,
        "ephemeralOwner": stat.ephemeralOwner, "dataLength": stat.dataLength, "numChildren": stat.numChildren,
    }


def _is_no_node(exc):
    return type(exc).__name__ == "NoNodeError"


class KazooTree:
    """A tree read and written with a started kazoo client, one level at a time with kazoo's asynchronous
    calls (one round trip per level, not per znode)."""

    def __init__(self, client, acl_factory=None):
        self.client = client
        self._acl_factory = acl_factory

    def describe(self):
        return {"access": "direct", "hosts": getattr(self.client, "hosts", None)}

    def read_tree(self, root):
        """``(nodes, vanished)``: make_node dicts of every znode under ``root`` (itself included, /zookeeper
        excluded) and the paths that were listed but gone when read."""
        nodes, vanished = [], []
        level = [root]
        while level:
            pending = [(path, self.client.get_async(path), self.client.get_acls_async(path),
                        self.client.get_children_async(path)) for path in level]
            level = []
            for path, got, acls, children in pending:
                try:
                    data, stat = got.get()
                    acl_list, dummy = acls.get()
                    names = children.get()
                except Exception as exc:  # kazoo raises its own classes; only NoNode is expected
                    if _is_no_node(exc):
                        vanished.append(path)
                        continue
                    raise BackupError("reading %s: %s: %s" % (path, type(exc).__name__, exc))
                acl = [{"scheme": a.id.scheme, "id": a.id.id, "perms": perms_text(a.perms)} for a in acl_list]
                nodes.append(make_node(path, data, acl, _kazoo_stat(stat)))
                level.extend(child_path(path, name) for name in sorted(names)
                             if not is_system(child_path(path, name)))
        return nodes, vanished

    def read_acls(self, paths):
        """``{path: ACL entries, or None when the znode does not exist}``."""
        found = {}
        for path in paths:
            try:
                acl_list, dummy = self.client.get_acls(path)
            except Exception as exc:  # kazoo raises its own classes; only NoNode is expected
                if _is_no_node(exc):
                    found[path] = None
                    continue
                raise BackupError("reading the ACL of %s: %s: %s" % (path, type(exc).__name__, exc))
            found[path] = [{"scheme": a.id.scheme, "id": a.id.id, "perms": perms_text(a.perms)} for a in acl_list]
        return found

    def _acls(self, acl):
        if self._acl_factory is not None:
            return self._acl_factory(acl)
        from kazoo.security import ACL, Id  # pylint: disable=import-outside-toplevel
        return [ACL(perms_bits(e["perms"]), Id(e["scheme"], e["id"])) for e in acl]

    def apply(self, plan):
        """Write a restore_plan(): parents above the root, the missing znodes parents first (open ACL, so
        that their children can be created without credentials), then data and ACLs. Returns the paths
        written."""
        written = []
        for path in plan["parents"]:
            self._call("create", path, self.client.create, path, b"", acl=self._acls(OPEN_ACL))
            written.append(path)
        deferred = []
        for node in plan["create"]:
            if node["path"] == "/":
                continue
            final = acl_key(node["acl"]) == acl_key(OPEN_ACL)
            self._call("create", node["path"], self.client.create, node["path"], node_data(node),
                       acl=self._acls(OPEN_ACL))
            if not final:
                deferred.append(node)
            written.append(node["path"])
        for node in plan["set_data"]:
            self._call("set", node["path"], self.client.set, node["path"], node_data(node))
            written.append(node["path"])
        for node in deferred + plan["set_acl"]:
            self._call("setAcl", node["path"], self.client.set_acls, node["path"], self._acls(node["acl"]))
            written.append(node["path"])
        return sorted(set(written))

    @staticmethod
    def _call(what, path, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:  # kazoo's own classes
            raise BackupError("%s %s: %s: %s" % (what, path, type(exc).__name__, exc))


# ----------------------------------------------------------------------------------------- zkCli (exec)

def zookeeper_version(text):
    """(3, 9, 3) from srvr's "3.9.3-c26634f..., built on ..." (None when it names none)."""
    match = re.match(r"^\s*(\d+)\.(\d+)\.(\d+)", text or "")
    return tuple(int(x) for x in match.groups()) if match else None


class CliDialect:
    """How one ZooKeeper version's zkCli is talked to: the get syntax, how data is printed, the charset."""

    def __init__(self, version):
        self.version = version
        self.old = version is not None and version < (3, 5)
        self.base64 = version is not None and version >= (3, 9)
        # 3.4 prints data with new String(data) (the default charset); 3.5+ decodes it as UTF-8.
        self.charset = "latin-1" if self.old else "utf-8"
        java_charset = "ISO-8859-1" if self.old else "UTF-8"
        self.jvm_flags = "-Dfile.encoding=%s -Dsun.stdout.encoding=%s -Dstdout.encoding=%s" % (
            java_charset, java_charset, java_charset)

    def name(self):
        return ("ZooKeeper %s" % ".".join(str(x) for x in self.version)) if self.version else "ZooKeeper (version unknown)"

    def get(self, path):
        if self.old:
            return "get %s" % cli_token(path)
        return "get -s %s%s" % ("-b " if self.base64 else "", cli_token(path))

    def ls(self, path):
        return "ls %s" % cli_token(path)

    def get_acl(self, path):
        return "getAcl %s" % cli_token(path)

    def _options_end(self):
        # 3.5+ parses options with commons-cli: data such as "-1" would be taken for an option after "--".
        return "" if self.old else "-- "

    def create(self, path, data, acl):
        if data is None:  # no data argument: a znode without data, with zkCli's default (open) ACL
            return "create %s%s" % (self._options_end(), cli_token(path))
        return "create %s%s %s %s" % (self._options_end(), cli_token(path), cli_token(data), acl_token(acl))

    def set_data(self, path, data):
        if data is None:
            raise Unrepresentable("has no data (null), which zkCli's set cannot write")
        return "set %s%s %s" % (self._options_end(), cli_token(path), cli_token(data))

    def set_acl(self, path, acl):
        return "setAcl %s%s %s" % (self._options_end(), cli_token(path), acl_token(acl))


# zkCli splits a command line with \s*([^"']\S*|"[^"]*"|'[^']*')\s* and drops one pair of quotes around a token
# (ZooKeeperMain.MyCommandOptions, 3.4 to 3.9); Java's \s is ASCII whitespace.
_JAVA_SPACE = re.compile(r"[ \t\n\x0b\f\r]")


class Unrepresentable(BackupError):
    """A value that a zkCli command line cannot carry exactly."""


def cli_token(text):
    """``text`` as one zkCli argument, quoted when it must be; raise Unrepresentable when it cannot be."""
    if re.search(r"[\x00-\x1f\x7f-\x9f]", text):
        raise Unrepresentable("has a control character (newline, tab, ...)")
    if text and text[0] not in "'\"" and not _JAVA_SPACE.search(text):
        return text
    if "'" not in text:
        return "'%s'" % text
    if '"' not in text:
        return '"%s"' % text
    raise Unrepresentable("has whitespace or starts with a quote and contains both ' and \"")


def acl_token(acl):
    parts = []
    for entry in acl:
        if "," in entry["id"] or "," in entry["scheme"] or ":" in entry["scheme"]:
            raise Unrepresentable("its ACL id %s:%s has a ',' (zkCli separates ACL entries with ',')"
                                  % (entry["scheme"], entry["id"]))
        parts.append("%s:%s:%s" % (entry["scheme"], entry["id"], perms_text(perms_bits(entry["perms"]))))
    return cli_token(",".join(parts))


def cli_data(node, dialect):
    """A znode's data as zkCli argument text, or raise Unrepresentable."""
    data = node_data(node)
    if data is None:
        if dialect.old:
            raise Unrepresentable("has no data (null), which zkCli 3.4 cannot create")
        return None
    if dialect.old:
        return data.decode("latin-1")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unrepresentable("its data is not UTF-8 text")


_STAT_FIELDS = ("cZxid", "ctime", "mZxid", "mtime", "pZxid", "cversion", "dataVersion", "aclVersion",
                "ephemeralOwner", "dataLength", "numChildren")
_STAT_LINE = re.compile(br"^(%s) = (.*)$" % b"|".join(f.encode() for f in _STAT_FIELDS))


def _lines_with_offsets(raw):
    offset = 0
    for line in raw.split(b"\n"):
        yield offset, line.rstrip(b"\r")
        offset += len(line) + 1


def _stat_blocks(raw):
    """``[(offset of the block's first line, {field: text})]`` of every whole stat block in ``raw``."""
    lines = list(_lines_with_offsets(raw))
    blocks = []
    for index, (offset, line) in enumerate(lines):
        if not line.startswith(b"cZxid = "):
            continue
        fields = {}
        for dummy, follow in lines[index:index + len(_STAT_FIELDS)]:
            match = _STAT_LINE.match(follow)
            if not match:
                break
            fields[match.group(1).decode()] = match.group(2).decode("utf-8", "replace").strip()
        if len(fields) == len(_STAT_FIELDS):
            blocks.append((offset, fields))
    return blocks


def _int(text, base=10):
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text, base)
    except (ValueError, AttributeError):
        raise BackupError("stat field %r is not a number" % (text,))


_NO_NODE = re.compile(br"Node does not exist|KeeperErrorCode = NoNode|NoNodeException")
_NO_AUTH = re.compile(br"Insufficient permission|Authentication is not valid|KeeperErrorCode = NoAuth|NoAuthException")


def _shown(raw, limit=300):
    text = raw.decode("utf-8", "replace").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def parse_get_section(raw, dialect, path):
    """``(data bytes, stat dict)`` from one ``get`` command's output, or None when the znode is gone.

    The stat block is the last whole one in the section (zkCli prints the data first, and the data may
    itself look like a stat block); the data are the ``dataLength`` bytes right before it, ending in the
    newline zkCli adds, and starting a line. Anything else (a thread's line in between, data that 3.5-3.8
    could not print as UTF-8) raises BackupError."""
    blocks = _stat_blocks(raw)
    if not blocks:
        if _NO_NODE.search(raw):
            return None
        if _NO_AUTH.search(raw):
            raise BackupError("%s: ZooKeeper refuses to read it (its ACL does not let this client read): %s"
                              % (path, _shown(raw)))
        raise BackupError("%s: no stat block in zkCli's answer to `%s`: %s" % (path, dialect.get(path), _shown(raw)))
    offset, fields = blocks[-1]
    length = _int(fields["dataLength"])
    head = raw[:offset]
    if not head.endswith(b"\n"):
        raise BackupError("%s: zkCli's output is not data then stat: %s" % (path, _shown(raw)))
    head = head[:-1]
    if dialect.base64:
        line = head.rsplit(b"\n", 1)[-1].strip()
        try:
            data = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise BackupError("%s: `%s` printed %r, not base64" % (path, dialect.get(path), _shown(line, 80)))
        if length == 0:
            data = None if line == b"bnVsbA==" else b""  # zkCli prints "null" for a znode without data
        if len(data or b"") != length:
            raise BackupError("%s: `%s` printed %d bytes of data, its stat says %d"
                              % (path, dialect.get(path), len(data), length))
    else:
        if not dialect.old and b"\xef\xbf\xbd" in head:
            raise BackupError("%s: its data is not UTF-8 text, which %s's zkCli cannot print exactly (it has "
                              "no base64 output before 3.9). Use zookeeper_access=direct for this backup."
                              % (path, dialect.name()))
        if length == 0:
            data = None if head.rsplit(b"\n", 1)[-1] == b"null" else b""
        else:
            data = head[-length:] if length <= len(head) else None
            before = head[:-length] if data is not None else b""
            if data is None or (before and not before.endswith(b"\n")):
                raise BackupError("%s: the %d bytes of data its stat names do not stand alone before the stat "
                                  "in zkCli's output (another line in between, or data that is not %s text): %s"
                                  % (path, length, dialect.charset, _shown(raw)))
    owner = _int(fields["ephemeralOwner"])
    stat = {
        "czxid": fields["cZxid"], "mzxid": fields["mZxid"], "pzxid": fields["pZxid"],
        "ctime": _java_date_ms(fields["ctime"]), "mtime": _java_date_ms(fields["mtime"]),
        "version": _int(fields["dataVersion"]), "cversion": _int(fields["cversion"]),
        "aversion": _int(fields["aclVersion"]), "ephemeralOwner": owner, "dataLength": length,
        "numChildren": _int(fields["numChildren"]),
    }
    return data, stat


_ACL_ID_LINE = re.compile(br"^'([^,']*),'(.*)$")
_ACL_PERMS_LINE = re.compile(br"^: ([cdrwa]*)$")


def parse_acl_section(raw, path):
    """ACL entries from one ``getAcl`` command's output (``'scheme,'id`` then ``: perms``), or None when the
    znode is gone."""
    acl = []
    lines = [line for dummy, line in _lines_with_offsets(raw)]
    for index, line in enumerate(lines[:-1]):
        ident = _ACL_ID_LINE.match(line)
        perms = _ACL_PERMS_LINE.match(lines[index + 1])
        if ident and perms:
            acl.append({"scheme": ident.group(1).decode("utf-8"), "id": ident.group(2).decode("utf-8"),
                        "perms": perms_text(perms_bits(perms.group(1).decode()))})
    if not acl:
        if _NO_NODE.search(raw):
            return None
        raise BackupError("%s: no ACL in zkCli's answer to getAcl: %s" % (path, _shown(raw)))
    return acl


def parse_ls_recursive(raw, root):
    """Every path ``ls -R <root>`` printed (one per line; a znode name has no newline), or None when the
    root does not exist."""
    paths = []
    for dummy, line in _lines_with_offsets(raw):
        text = line.decode("utf-8", "replace")
        if text == root or (text.startswith("/") and under(text, root)):
            paths.append(text)
    if not paths and _NO_NODE.search(raw):
        return None
    if root not in paths:
        raise BackupError("no listing of %s in zkCli's answer to `ls -R %s`: %s" % (root, root, _shown(raw)))
    return paths


def parse_ls_section(raw, path, charset):
    """Children from zkCli 3.4's ``ls <path>`` (``[a, b]``), or None when the znode is gone."""
    found = None
    for dummy, line in _lines_with_offsets(raw):
        text = line.decode(charset).strip()
        if text.startswith("[") and text.endswith("]") and not text.startswith("[zk:"):
            inner = text[1:-1]
            found = [c for c in inner.split(", ") if c] if inner.strip() else []
    if found is None:
        if _NO_NODE.search(raw):
            return None
        raise BackupError("%s: no children list in zkCli's answer to ls: %s" % (path, _shown(raw)))
    return found


def marker_command(nonce, index):
    return "ls /%s%s-%d" % (MARK_PREFIX, nonce, index)


def batch_script(commands, nonce):
    """The text fed to one zkCli run: a marker before the first command and after each, then quit."""
    lines = [marker_command(nonce, 0)]
    for index, command in enumerate(commands, 1):
        lines += [command, marker_command(nonce, index)]
    lines.append("quit")
    return "".join(line + "\n" for line in lines)


def split_batch(raw, nonce, count):
    """``[section bytes of command 1..count]`` of a zkCli run of batch_script(): command i's output lies
    after the last line naming marker i-1 and before the first line naming marker i (zkCli echoes a command
    after its prompt and prints its "Node does not exist" line; data never names the random marker)."""
    lines = list(_lines_with_offsets(raw))
    marks = []
    for index in range(count + 1):
        token = ("%s%s-%d" % (MARK_PREFIX, nonce, index)).encode()
        hits = [(offset, len(line)) for offset, line in lines
                if token in line and not line[line.index(token) + len(token):][:1].isdigit()]
        if not hits:
            return None
        marks.append(hits)
    sections = []
    for index in range(1, count + 1):
        start = marks[index - 1][-1][0] + marks[index - 1][-1][1] + 1
        end = marks[index][0][0]
        if end < start:
            raise BackupError("zkCli's output for command %d is out of order" % index)
        sections.append(raw[start:end])
    return sections


class ZkCliTree:
    """A tree read and written with zkCli in a ZooKeeper pod (ExecAccess.run_in_cli_pod), in batches."""

    def __init__(self, access, version_text=None, client_port=2181, cli_command=("zkCli.sh",),
                 max_script_bytes=MAX_SCRIPT_BYTES, nonce=None):
        self.access = access
        self.version_text = version_text
        self.dialect = CliDialect(zookeeper_version(version_text))
        self.client_port = int(client_port)
        self.cli_command = list(cli_command)
        self.max_script_bytes = max_script_bytes
        self._nonce = nonce
        self.execs = 0
        self.pod = None

    def describe(self):
        return {"access": "exec", "pod": self.pod, "zookeeper_version": self.version_text,
                "cli": "base64" if self.dialect.base64 else self.dialect.charset}

    def _run(self, commands):
        """Outputs of ``commands`` (bytes each) from one zkCli run."""
        nonce = self._nonce or uuid.uuid4().hex
        # zkCli reads its commands through JLine, which decodes them as UTF-8 in every version (3.4 too).
        script = batch_script(commands, nonce).encode("utf-8")
        encoded = base64.b64encode(script).decode("ascii")
        cli = " ".join(shlex.quote(a) for a in self.cli_command + ["-server", "localhost:%d" % self.client_port])
        shell = ("printf '%%s' %s | base64 -d | CLIENT_JVMFLAGS=%s %s 2>&1 | base64"
                 % (encoded, shlex.quote(self.dialect.jvm_flags), cli))
        self.pod, rc, out, err = self.access.run_in_cli_pod(["sh", "-c", shell])
        self.execs += 1
        try:
            raw = base64.b64decode(re.sub(r"\s+", "", out or ""), validate=True)
        except (binascii.Error, ValueError):
            raw = None
        sections = split_batch(raw, nonce, len(commands)) if raw is not None else None
        if sections is None:
            raise BackupError("pod %s: zkCli did not run the commands (rc %s): %s" % (
                self.pod, rc, _shown(((raw or b"") + b"\n" + (err or "").encode("utf-8", "replace")))))
        return sections

    def _batches(self, commands_per_item, items):
        """Run items' commands in as few zkCli runs as the script size allows; yields (item, sections)."""
        batch, size = [], 0
        for item in items:
            commands = commands_per_item(item)
            cost = sum(len(c.encode("utf-8")) + len(MARK_PREFIX) + 50 for c in commands) + 1
            if batch and size + cost > self.max_script_bytes:
                yield from self._run_batch(batch, commands_per_item)
                batch, size = [], 0
            batch.append(item)
            size += cost
        if batch:
            yield from self._run_batch(batch, commands_per_item)

    def _run_batch(self, batch, commands_per_item):
        commands, spans = [], []
        for item in batch:
            item_commands = commands_per_item(item)
            spans.append((item, len(commands), len(item_commands)))
            commands.extend(item_commands)
        sections = self._run(commands)
        for item, start, count in spans:
            yield item, sections[start:start + count]

    def list_paths(self, root):
        """Every path under ``root`` (itself first), /zookeeper excluded."""
        if not self.dialect.old:
            sections = self._run(["ls -R %s" % cli_token(root)])
            paths = parse_ls_recursive(sections[0], root)
            return [p for p in (paths or []) if not is_system(p)]
        return None  # 3.4 has no ls -R: read_tree walks level by level

    def _read(self, paths, with_children):
        def commands(path):
            found = [self.dialect.get(path), self.dialect.get_acl(path)]
            return found + [self.dialect.ls(path)] if with_children else found
        for path, sections in self._batches(commands, paths):
            got = parse_get_section(sections[0], self.dialect, path)
            acl = parse_acl_section(sections[1], path)
            children = parse_ls_section(sections[2], path, self.dialect.charset) if with_children else []
            if got is None or acl is None or children is None:
                yield path, None, None
                continue
            data, stat = got
            yield path, make_node(path, data, acl, stat), children

    def read_acls(self, paths):
        """``{path: ACL entries, or None when the znode does not exist}``, in as few zkCli runs as fit."""
        paths = list(paths)
        self._check_paths(paths)
        return dict((path, parse_acl_section(sections[0], path))
                    for path, sections in self._batches(lambda p: [self.dialect.get_acl(p)], paths))

    def read_tree(self, root):
        for path in [root]:
            try:
                cli_token(path)
            except Unrepresentable as exc:
                raise BackupError("root %s %s" % (path, exc))
        nodes, vanished = [], []
        paths = self.list_paths(root)
        if paths is not None:
            self._check_paths(paths)
            for path, node, dummy in self._read(paths, False):
                if node is None:
                    vanished.append(path)
                else:
                    nodes.append(node)
            return nodes, vanished
        level = [root]
        while level:
            self._check_paths(level)
            following = []
            for path, node, children in self._read(level, True):
                if node is None:
                    vanished.append(path)
                    continue
                nodes.append(node)
                following.extend(p for p in (child_path(path, c) for c in sorted(children)) if not is_system(p))
            level = following
        return nodes, vanished

    @staticmethod
    def _check_paths(paths):
        bad = []
        for path in paths:
            try:
                cli_token(path)
            except Unrepresentable:
                bad.append(path)
        if bad:
            raise BackupError("znode path(s) %s cannot be passed to zkCli exactly (control characters, or both "
                              "quote kinds with whitespace): use zookeeper_access=direct" % ", ".join(bad[:10]))

    def check_writable(self, plan):
        """The znodes of a plan whose data or ACL a zkCli command line cannot carry: ``[(path, why)]``."""
        problems = []
        for node in plan["create"] + plan["set_data"] + plan["set_acl"]:
            try:
                cli_token(node["path"])
                data = cli_data(node, self.dialect)
                if data is not None:
                    cli_token(data)
                if node in plan["set_data"]:
                    self.dialect.set_data(node["path"], data)
                acl_token(node["acl"])
            except Unrepresentable as exc:
                problems.append((node["path"], str(exc)))
        return problems

    def apply(self, plan):
        problems = self.check_writable(plan)
        if problems:
            raise BackupError("cannot write %d znode(s) exactly through zkCli: %s"
                              % (len(problems), "; ".join("%s %s" % p for p in problems[:5])))
        steps = [(path, self.dialect.create(path, "", OPEN_ACL), "create") for path in plan["parents"]]
        deferred = []
        for node in plan["create"]:
            if node["path"] == "/":
                continue
            steps.append((node["path"], self.dialect.create(node["path"], cli_data(node, self.dialect),
                                                            OPEN_ACL), "create"))
            if acl_key(node["acl"]) != acl_key(OPEN_ACL):
                deferred.append(node)
        steps += [(n["path"], self.dialect.set_data(n["path"], cli_data(n, self.dialect)), "set")
                  for n in plan["set_data"]]
        steps += [(n["path"], self.dialect.set_acl(n["path"], n["acl"]), "setAcl") for n in deferred + plan["set_acl"]]
        written, errors = [], []
        for step, sections in self._batches(lambda s: [s[1]], steps):
            section = sections[0]
            path, dummy, what = step
            failure = re.search(br"(Node does not exist|Node already exists|Insufficient permission|"
                                br"Authentication is not valid|KeeperErrorCode = \w+|Exception[^\n]*|"
                                br"Command not found[^\n]*)", section)
            if failure:
                errors.append("%s %s: %s" % (what, path, failure.group(1).decode("utf-8", "replace")))
            else:
                written.append(path)
        if errors:
            raise BackupError("%d write(s) failed: %s" % (len(errors), "; ".join(errors[:5])))
        return sorted(set(written))


def open_tree(params, pod_api_factory=None, kazoo_factory=None):
    """The KazooTree or ZkCliTree for the access options, and the access object (to close)."""
    access = make_access(params, pod_api_factory=pod_api_factory, kazoo_factory=kazoo_factory)
    if params["zookeeper_access"] == "direct":
        return KazooTree(access.kazoo_client()), access
    servers = access.servers()
    serving = [name for name, answer in sorted(servers.items()) if isinstance(answer, dict) and answer.get("serving")]
    if not serving:
        raise ZooKeeperError("no ZooKeeper pod matching %s in namespace %s is serving: %s" % (
            params["zookeeper_pod_selector"], params["namespace"],
            ", ".join("%s: %s" % (k, v if not isinstance(v, dict) else v.get("error")) for k, v in sorted(servers.items()))))
    versions = access.versions()
    version = versions.get(serving[0]) or next((v for v in versions.values() if v), None)
    return ZkCliTree(access, version_text=version, client_port=params["client_port"]), access
