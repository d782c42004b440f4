# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZooKeeper reached two ways behind one small interface, and the quorum decision:

- ``DirectAccess``: ``host:port`` list; ``srvr`` over a plain TCP socket and kazoo for znodes.
- ``ExecAccess``: Kubernetes ``pods/exec`` into the ZooKeeper pods; ``zkServer.sh status`` in each pod for its
  mode and ``zkCli.sh -server localhost:<port> <cmd>`` for znodes.

Both offer ``servers()``, ``sessions()``, ``get_children(path)``, ``get(path)``, ``get_many(paths)``,
``list_and_get(parent, paths)`` and ``delete(path, version)`` and raise ``ZooKeeperError`` (``NoNodeError``,
``BadVersionError``) with messages that name the server or pod and the command. What the tools print is
read by the pure parsers of ``zookeeper_parsers.py``. A bare ``ruok`` is never used: a server that lost its
quorum still answers ``imok``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import shlex
import socket
import time
import traceback

try:
    from kazoo.client import KazooClient

    HAS_KAZOO = True
    KAZOO_IMPORT_ERROR = None
except ImportError:
    KazooClient = None
    HAS_KAZOO = False
    KAZOO_IMPORT_ERROR = traceback.format_exc()

# kazoo's SASL login (zookeeper_auth with direct access) imports pure-sasl; its absence is said up front.
try:
    import puresasl  # noqa: F401  pylint: disable=unused-import

    HAS_PURE_SASL = True
except ImportError:
    HAS_PURE_SASL = False

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import PodApi, PodApiError, read_secret
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper_parsers import (
    BadVersionError,
    NoNodeError,
    ZooKeeperError,
    parse_cons,
    parse_srvr,
    parse_zkcli_get,
    parse_zkcli_ls,
    split_host_port,
    split_zkcli_session,
    tail,
    zkcli_error,
    zkcli_has_stat,
    zkcli_missing,
    zkcli_old_syntax,
)

VOTING_MODES = ("leader", "follower")


# ------------------------------------------------------------------------------------- quorum decision

def quorum_state(answers, expected_servers):
    """Decide from every server's answer whether the ensemble has a quorum (pure).

    ``answers`` maps a server name (``host:port`` or pod name) to ``parse_srvr()``'s dict, or to an error
    (an exception or a string) when the server could not be asked. Quorum means exactly one ``leader`` and
    every other expected server a ``follower``; a one-server ensemble must say ``standalone`` (or ``leader``
    when ``standaloneEnabled=false``).

    Returns ``quorum`` (bool), ``majority`` (a leader exists and it and its answering followers are a
    majority of ``expected_servers``: the ensemble serves writes and expires sessions, even if a server is
    down), ``leader``, ``followers``, ``servers`` (name -> {mode, serving, error, zxid, version}) and
    ``problems`` (sentences).
    """
    servers = {}
    problems = []
    leaders = []
    followers = []
    standalone = []
    for name in sorted(answers):
        answer = answers[name]
        if isinstance(answer, dict):
            entry = {
                "mode": answer.get("mode"),
                "serving": bool(answer.get("serving")),
                "error": answer.get("error"),
                "zxid": answer.get("zxid"),
                "version": answer.get("version"),
            }
        else:
            entry = {"mode": None, "serving": False, "error": str(answer) or "no answer", "zxid": None,
                     "version": None}
        servers[name] = entry
        mode = entry["mode"] if entry["serving"] else None
        if mode == "leader":
            leaders.append(name)
        elif mode == "follower":
            followers.append(name)
        elif mode == "standalone":
            standalone.append(name)
        if mode is None:
            problems.append("%s: not serving (%s)" % (name, entry["error"] or "no mode"))
        elif expected_servers > 1 and mode not in VOTING_MODES:
            problems.append("%s: mode %s, expected leader or follower" % (name, mode))

    if expected_servers < 1:
        problems.append("expected_servers must be at least 1, got %s" % expected_servers)
    if len(servers) < expected_servers:
        problems.append("%d of %d expected servers found" % (len(servers), expected_servers))
    elif len(servers) > expected_servers:
        problems.append("%d servers found, %d expected" % (len(servers), expected_servers))

    leader = leaders[0] if len(leaders) == 1 else None
    if len(leaders) > 1:
        problems.append("%d servers say leader: %s" % (len(leaders), ", ".join(leaders)))

    if expected_servers == 1:
        single = standalone + leaders
        quorum = len(servers) == 1 and len(single) == 1
        if standalone and not leader:
            leader = standalone[0]
        majority = quorum
        if len(servers) == 1 and not single:
            problems.append("the only server is not standalone")
    else:
        if not leaders:
            problems.append("no server says leader")
        quorum = (len(leaders) == 1 and len(followers) == expected_servers - 1
                  and len(servers) == expected_servers)
        majority = len(leaders) == 1 and (len(followers) + 1) * 2 > max(expected_servers, 1)
    return {
        "quorum": bool(quorum),
        "majority": bool(majority),
        "leader": leader,
        "followers": followers,
        "servers": servers,
        "problems": problems,
    }


def describe_quorum(state):
    """One line per server, for failure messages."""
    parts = []
    for name in sorted(state["servers"]):
        entry = state["servers"][name]
        if entry["serving"] and entry["mode"]:
            parts.append("%s=%s" % (name, entry["mode"]))
        else:
            parts.append("%s=not serving (%s)" % (name, entry["error"] or "no mode"))
    return ", ".join(parts) if parts else "no servers found"


# ---------------------------------------------------- reads one call at a time (direct, or exec fallback)

def get_each(access, paths):
    """``{path: (data, stat) or None}`` with one ``access.get`` per path (None when the node does not exist)."""
    found = {}
    for path in paths:
        try:
            found[path] = access.get(path)
        except NoNodeError:
            found[path] = None
    return found


def list_and_get_each(access, parent, paths):
    """``(children of parent or None, {path: (data, stat) or None})`` with one access call per command."""
    children = None
    if parent:
        try:
            children = access.get_children(parent)
        except NoNodeError:
            children = []
    return children, get_each(access, paths)


# ------------------------------------------------------------------------------------------ direct access

def four_letter_word(host, port, word, timeout=5.0, connect=None):
    """Send a four-letter word and return the whole answer as text; raise ZooKeeperError on socket errors."""
    connect = connect or socket.create_connection
    try:
        sock = connect((host, int(port)), timeout)
    except (OSError, ValueError) as exc:
        raise ZooKeeperError("cannot connect to %s:%s: %s" % (host, port, exc))
    try:
        sock.settimeout(timeout)
        sock.sendall(word.encode("ascii"))
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    except OSError as exc:
        raise ZooKeeperError("%s to %s:%s failed: %s" % (word, host, port, exc))
    finally:
        sock.close()
    answer = b"".join(chunks).decode("utf-8", "replace")
    if "is not executed because it is not in the whitelist" in answer:
        raise ZooKeeperError("%s:%s refuses %s: add it to 4lw.commands.whitelist (ZOO_4LW_COMMANDS_WHITELIST)"
                             % (host, port, word))
    return answer


class DirectAccess:
    """ZooKeeper reached over TCP from the controller: ``srvr`` per host, kazoo for znodes."""

    def __init__(self, hosts, timeout=10.0, client_port=2181, fourlw=None, kazoo_factory=None, login=None):
        """``login``: ``(user, password)`` for a SASL DIGEST-MD5 login (zookeeper_auth), or None."""
        if not hosts:
            raise ZooKeeperError("zookeeper_access=direct needs zookeeper_hosts (host:port list)")
        self.hosts = list(hosts)
        self.timeout = float(timeout)
        self.client_port = client_port
        self._fourlw = fourlw or four_letter_word
        self._kazoo_factory = kazoo_factory
        self._login = login
        self._zk = None

    def _ask_each(self, word, parse):
        """``{host:port: parse(answer to word), or an error text}`` for every host."""
        answers = {}
        for item in self.hosts:
            try:
                host, port = split_host_port(item, self.client_port)
                answers[item] = parse(self._fourlw(host, port, word, self.timeout))
            except (ZooKeeperError, ValueError) as exc:
                answers[item] = "%s: %s" % (word, exc)
        return answers

    def servers(self):
        return self._ask_each("srvr", parse_srvr)

    def sessions(self):
        """``{host:port: set of session ids its cons lists, or an error text}`` for every host."""
        return self._ask_each("cons", parse_cons)

    def versions(self):
        """``{host:port: version text from srvr, or None}`` for every host."""
        return dict((host, answer.get("version") if isinstance(answer, dict) else None)
                    for host, answer in self.servers().items())

    def _client(self):
        if self._zk is None:
            if self._kazoo_factory is None:
                if not HAS_KAZOO:
                    raise ZooKeeperError("zookeeper_access=direct needs the Python library kazoo on the host "
                                         "that runs the module (pip install kazoo)")
                self._kazoo_factory = KazooClient
            options = {}
            if self._login is not None:
                if not HAS_PURE_SASL and self._kazoo_factory is KazooClient:
                    raise ZooKeeperError("zookeeper_access=direct with zookeeper_auth needs the Python library "
                                         "pure-sasl on the host that runs the module (pip install pure-sasl)")
                options["sasl_options"] = {"mechanism": "DIGEST-MD5", "username": self._login[0],
                                           "password": self._login[1]}
            zk = self._kazoo_factory(hosts=",".join(self.hosts), timeout=self.timeout, read_only=False, **options)
            try:
                zk.start(timeout=self.timeout)
            except Exception as exc:  # kazoo raises its own timeout error class
                raise ZooKeeperError("cannot open a ZooKeeper session to %s: %s" % (",".join(self.hosts), exc))
            self._zk = zk
        return self._zk

    def _call(self, what, path, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            name = type(exc).__name__
            if name == "NoNodeError":
                raise NoNodeError("no znode %s" % path)
            if name == "BadVersionError":
                raise BadVersionError("%s has another version than the one given" % path)
            raise ZooKeeperError("%s %s on %s failed: %s: %s" % (what, path, ",".join(self.hosts), name, exc))

    def get_children(self, path):
        zk = self._client()
        return sorted(self._call("ls", path, zk.get_children, path))

    def get(self, path):
        zk = self._client()
        data, stat = self._call("get", path, zk.get, path)
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        return text, {
            "version": stat.version,
            "ephemeral_owner": stat.ephemeralOwner,
            "ctime": stat.ctime,
            "ctime_text": None,
            "czxid": hex(stat.czxid) if isinstance(stat.czxid, int) else stat.czxid,
            "mzxid": hex(stat.mzxid) if isinstance(stat.mzxid, int) else stat.mzxid,
            "data_length": stat.dataLength,
            "num_children": stat.numChildren,
        }

    def get_many(self, paths):
        """``{path: (data, stat), or None when the node does not exist}``, over the one kazoo session."""
        return get_each(self, paths)

    def list_and_get(self, parent, paths):
        """``(children of parent, or None without a parent; {path: (data, stat) or None})``."""
        return list_and_get_each(self, parent, paths)

    def delete(self, path, version):
        zk = self._client()
        self._call("delete", path, zk.delete, path, version=int(version))

    def kazoo_client(self):
        """The started kazoo client of this access (for readers that need kazoo's whole interface, such as
        the backup's, which reads ACLs and writes znodes)."""
        return self._client()

    def close(self):
        if self._zk is not None:
            try:
                self._zk.stop()
                self._zk.close()
            except Exception:  # closing is best effort
                pass
            self._zk = None


# -------------------------------------------------------------------------------------------- exec access

def _not_running(pod):
    """Why a ZooKeeper pod cannot be asked ("pod is being deleted", "pod is Pending"), or None when it runs."""
    if pod["metadata"].get("deletionTimestamp"):
        return "pod is being deleted"
    phase = (pod.get("status") or {}).get("phase")
    return None if phase == "Running" else "pod is %s" % (phase or "not started")


class ExecAccess:
    """ZooKeeper reached through ``pods/exec`` into its pods.

    ``pod_api`` offers ``list_pods(namespace, selector)`` (pod dicts as the API returns them) and
    ``exec(namespace, pod, argv, container=None, timeout=...)`` returning ``(rc, stdout, stderr)``
    (see ``k8s_pods.PodApi``).
    """

    def __init__(self, pod_api, namespace, selector, client_port=2181, timeout=60,
                 status_command=("zkServer.sh", "status"), cli_command=("zkCli.sh",)):
        self.pod_api = pod_api
        self.namespace = namespace
        self.selector = selector
        self.client_port = int(client_port)
        self.timeout = timeout
        self.status_command = list(status_command)
        self.cli_command = list(cli_command)
        self._cli_pod = None
        self._old_syntax = False

    def _pods(self):
        pods = self.pod_api.list_pods(self.namespace, self.selector)
        return sorted(pods, key=lambda p: p["metadata"]["name"])

    def _container(self, pod):
        containers = (pod.get("spec") or {}).get("containers") or []
        return containers[0]["name"] if containers else None

    def _exec(self, pod, argv):
        name = pod["metadata"]["name"]
        try:
            rc, out, err = self.pod_api.exec(self.namespace, name, argv, container=self._container(pod),
                                             timeout=self.timeout)
        except Exception as exc:
            raise ZooKeeperError("pod %s/%s: `%s` failed: %s" % (self.namespace, name, " ".join(argv), exc))
        if rc in (126, 127) or "executable file not found" in (err or ""):
            raise ZooKeeperError("pod %s/%s: `%s` could not run (rc %s): %s" % (
                self.namespace, name, " ".join(argv), rc, tail(err or out)))
        return rc, out or "", err or ""

    def servers(self):
        pods = self._pods()
        if not pods:
            raise ZooKeeperError("no ZooKeeper pod matches %s in namespace %s" % (self.selector, self.namespace))
        answers = {}
        for pod in pods:
            name = pod["metadata"]["name"]
            if _not_running(pod):
                answers[name] = _not_running(pod)
                continue
            try:
                rc, out, err = self._exec(pod, self.status_command)
            except ZooKeeperError as exc:
                answers[name] = str(exc)
                continue
            parsed = parse_srvr(out + "\n" + err)
            if not parsed["serving"] and parsed["error"] and rc not in (0, None):
                parsed["error"] = "%s (`%s` rc %s)" % (parsed["error"], " ".join(self.status_command), rc)
            answers[name] = parsed
            if parsed["serving"] and self._cli_pod is None:
                self._cli_pod = pod
        return answers

    def _four_letter_word_script(self, word):
        # Sent from inside the pod to its own client port (bash's /dev/tcp: both the official and the
        # kubernetes-zookeeper images have bash, neither needs nc).
        return ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d && printf %s >&3 && cat <&3" % (self.client_port, word)]

    def versions(self):
        """``{pod: the version its server's srvr names, or None}`` for every running ZooKeeper pod.

        ``zkServer.sh status`` (the mode) does not say the version; ``srvr`` does, on every version (3.4 has
        no whitelist, the roles whitelist it for 3.5+)."""
        answers = {}
        for pod in self._pods():
            name = pod["metadata"]["name"]
            if _not_running(pod):
                answers[name] = None
                continue
            try:
                dummy, out, dummy_err = self._exec(pod, self._four_letter_word_script("srvr"))
            except ZooKeeperError:
                answers[name] = None
                continue
            answers[name] = parse_srvr(out).get("version")
        return answers

    def sessions(self):
        """``{pod: set of session ids its server's cons lists, or an error text}`` for every ZooKeeper pod."""
        script = self._four_letter_word_script("cons")
        answers = {}
        for pod in self._pods():
            name = pod["metadata"]["name"]
            if _not_running(pod):
                answers[name] = _not_running(pod)
                continue
            try:
                dummy, out, err = self._exec(pod, script)
            except ZooKeeperError as exc:
                answers[name] = "cons: %s" % exc
                continue
            try:
                answers[name] = parse_cons(out)
            except ZooKeeperError as exc:
                answers[name] = "cons: %s%s" % (exc, (" (%s)" % tail(err, 200)) if err.strip() else "")
        return answers

    def _pick_cli_pod(self):
        if self._cli_pod is None:
            self.servers()
        if self._cli_pod is None:
            raise ZooKeeperError("no ZooKeeper pod matching %s in namespace %s is serving; cannot run zkCli.sh"
                                 % (self.selector, self.namespace))
        return self._cli_pod

    def _cli(self, args, path, read=False):
        """Run one zkCli command; raise the error its output reports. With ``read`` (a ``get``), output with a
        stat block is the node's, whatever its data says (see ``zkcli_has_stat``)."""
        pod = self._pick_cli_pod()
        argv = self.cli_command + ["-server", "localhost:%d" % self.client_port] + list(args)
        rc, out, err = self._exec(pod, argv)
        both = out + "\n" + err
        error = None if read and zkcli_has_stat(both) else zkcli_error(both, path)
        if error is not None:
            raise type(error)("pod %s/%s: `%s`: %s" % (self.namespace, pod["metadata"]["name"], " ".join(argv),
                                                       error))
        return rc, out, both, argv, pod

    def run_in_cli_pod(self, argv):
        """Run ``argv`` in the serving pod zkCli commands run in: ``(pod name, rc, stdout, stderr)``. For
        callers that batch their own zkCli sessions (the backup)."""
        pod = self._pick_cli_pod()
        rc, out, err = self._exec(pod, argv)
        return pod["metadata"]["name"], rc, out, err

    def run_cli_script(self, script):
        """Run zkCli commands given on its standard input (``script``: lines, the last ``quit``) in the serving
        pod: ``(pod name, rc, stdout, stderr)``. The script is in no command line, so data written with it (a
        SCRAM credential) is in no URL or audit log; callers must not show the output, which echoes it."""
        pod = self._pick_cli_pod()
        cli = " ".join(shlex.quote(a) for a in self.cli_command + ["-server", "localhost:%d" % self.client_port])
        data = script.encode("utf-8")
        # head ends zkCli's input after the script (the stream's standard input is never closed).
        argv = ["sh", "-c", "head -c %d | %s" % (len(data), cli)]
        name = pod["metadata"]["name"]
        try:
            rc, out, err = self.pod_api.exec(self.namespace, name, argv, container=self._container(pod),
                                             timeout=self.timeout, stdin=script)
        except Exception as exc:
            raise ZooKeeperError("pod %s/%s: zkCli with its commands on standard input failed: %s"
                                 % (self.namespace, name, exc))
        return name, rc, out or "", err or ""

    def _fail(self, pod, argv, rc, detail):
        return ZooKeeperError("pod %s/%s: `%s` (rc %s): %s"
                              % (self.namespace, pod["metadata"]["name"], " ".join(argv), rc, detail))

    def get_children(self, path):
        rc, out, both, argv, pod = self._cli(["ls", path], path)
        try:
            return sorted(parse_zkcli_ls(out if "[" in out else both))
        except ZooKeeperError as exc:
            raise self._fail(pod, argv, rc, exc)

    def get(self, path):
        args = ["get", path] if self._old_syntax else ["get", "-s", path]
        rc, out, both, argv, pod = self._cli(args, path, read=True)
        if zkcli_has_stat(both):
            return parse_zkcli_get(out if zkcli_has_stat(out) else both)
        if not self._old_syntax and zkcli_old_syntax(both):
            self._old_syntax = True  # ZooKeeper 3.4: `get <path>` prints data and stat
            return self.get(path)
        try:
            return parse_zkcli_get(both)
        except ZooKeeperError as exc:
            raise self._fail(pod, argv, rc, exc)

    def get_many(self, paths):
        """``{path: (data, stat), or None when the node does not exist}`` from one zkCli run."""
        return self.list_and_get(None, paths)[1]

    def list_and_get(self, parent, paths):
        """``(children of parent, or None without a parent; {path: (data, stat) or None})`` from one zkCli run
        with the commands on its standard input: one JVM start instead of one per command. Falls back to one
        run per command when the output cannot be split per command (no JLine, ZooKeeper 3.4 syntax)."""
        paths = list(paths)
        commands = (["ls %s" % parent] if parent else []) + ["get -s %s" % path for path in paths]
        if len(commands) < 2 or self._old_syntax:
            return list_and_get_each(self, parent, paths)
        pod = self._pick_cli_pod()
        cli = self.cli_command + ["-server", "localhost:%d" % self.client_port]
        script = "".join(command + "\n" for command in commands)
        argv = ["sh", "-c", "printf '%%s' %s | %s" % (shlex.quote(script), " ".join(shlex.quote(a) for a in cli))]
        rc, out, err = self._exec(pod, argv)
        sections = split_zkcli_session(out, commands)
        if sections is None or zkcli_old_syntax(out + "\n" + err) or any(c not in sections for c in commands):
            return list_and_get_each(self, parent, paths)
        children = None
        if parent:
            text = sections["ls %s" % parent]
            if zkcli_missing(parent, text, err):
                children = []
            else:
                try:
                    children = sorted(parse_zkcli_ls(text))
                except ZooKeeperError as exc:
                    raise self._fail(pod, argv, rc, zkcli_error(text + "\n" + err, parent) or exc)
        found = {}
        for path in paths:
            text = sections["get -s %s" % path]
            if zkcli_has_stat(text):
                try:
                    found[path] = parse_zkcli_get(text)
                except ZooKeeperError as exc:
                    raise self._fail(pod, argv, rc, exc)
            elif zkcli_missing(path, text, err):
                found[path] = None
            else:
                error = zkcli_error(text + "\n" + err, path)
                raise self._fail(pod, argv, rc, error or "no data and stat for %s in the output: %s"
                                 % (path, tail(text)))
        return children, found

    def delete(self, path, version):
        if self._old_syntax:
            args = ["delete", path, str(int(version))]
        else:
            args = ["delete", "-v", str(int(version)), path]
        rc, out, both, argv, pod = self._cli(args, path)
        if not self._old_syntax and zkcli_old_syntax(both):
            self._old_syntax = True  # ZooKeeper 3.4: `delete <path> [version]`
            return self.delete(path, version)
        if rc not in (0, None) or "Exception" in both:
            raise self._fail(pod, argv, rc, tail(both))
        return None

    def close(self):
        return None


# A write of write_znodes that creates a sequential znode (ZooKeeper appends the number to the path).
SEQUENTIAL = "sequential"


def zkcli_write_script(parents, writes, acl_for=None):
    """zkCli commands, one a line and ``quit`` last: each of ``parents`` created empty (an existing one is left), then
    each ``(path, data, version)`` created when version is None, set at that version when it is a number, created
    with a sequence number when it is SEQUENTIAL. ``acl_for(path)``, when given, is the ACL each created znode gets
    (``[{scheme, id, perms}]``: zookeeper_auth.znode_acl); without it zkCli's default, open to anyone. zkCli splits
    its line at whitespace, so data is single-quoted and may hold neither a quote nor whitespace (ValueError)."""
    def acl(path):
        if acl_for is None:
            return ""
        return " " + ",".join("%s:%s:%s" % (e["scheme"], e["id"], e["perms"]) for e in acl_for(path))
    lines = ["create %s ''%s" % (path, acl(path)) for path in parents]
    for path, data, version in writes:
        if "'" in data or any(c.isspace() for c in data):
            raise ValueError("znode data for %s holds a quote or whitespace" % path)
        if version is None:
            lines.append("create %s '%s'%s" % (path, data, acl(path)))
        elif version == SEQUENTIAL:
            lines.append("create -s %s '%s'%s" % (path, data, acl(path)))
        else:
            lines.append("set -v %d %s '%s'" % (int(version), path, data))
    lines.append("quit")
    return "".join(line + "\n" for line in lines)


def _kazoo_acl(acl_for, path):
    if acl_for is None:
        return None
    from kazoo.security import ACL, Id  # pylint: disable=import-outside-toplevel
    bits = {"c": 4, "d": 8, "r": 1, "w": 2, "a": 16}
    return [ACL(sum(bits[p] for p in e["perms"]), Id(e["scheme"], e["id"])) for e in acl_for(path)]


def write_znodes(access, parents, writes, acl_for=None):
    """Write znodes in order (see zkcli_write_script): through kazoo with direct access, with exec as zkCli commands
    on its standard input (in no command line). ``acl_for(path)``: the ACL of each znode created (None: open). The
    caller reads back what it wrote: zkCli's answers are not parsed (they echo the data)."""
    if isinstance(access, DirectAccess):
        client = access.kazoo_client()
        for path in parents:
            client.ensure_path(path, acl=_kazoo_acl(acl_for, path))
        for path, data, version in writes:
            if version is None:
                client.create(path, data.encode("utf-8"), acl=_kazoo_acl(acl_for, path))
            elif version == SEQUENTIAL:
                client.create(path, data.encode("utf-8"), acl=_kazoo_acl(acl_for, path), sequence=True)
            else:
                client.set(path, data.encode("utf-8"), version=int(version))
        return
    access.run_cli_script(zkcli_write_script(parents, writes, acl_for))


def direct_login(params, pod_api):
    """``(user, password)`` kazoo logs in with, from the Secret ``zookeeper_auth_secret``; None without one.
    Raises ZooKeeperError naming the Secret (never the password)."""
    secret = params.get("zookeeper_auth_secret")
    if not secret:
        return None
    # Imported here: scram's password rules, without making every reader of this file load them.
    from ansible_collections.kafka_eks.cluster.plugins.module_utils.scram import PASSWORD_KEY, decode_password
    namespace = params.get("namespace")
    try:
        found = read_secret(pod_api, namespace, secret)
    except Exception as exc:  # pylint: disable=broad-except
        found, status = None, getattr(exc, "status", None)
    else:
        status = 404
    if found is None:
        raise ZooKeeperError("the Secret %s/%s (zookeeper_auth_secret) cannot be read (HTTP %s)"
                             % (namespace, secret, status))
    password, problem = decode_password(found, PASSWORD_KEY)
    if problem:
        raise ZooKeeperError("the Secret %s/%s (zookeeper_auth_secret) %s" % (namespace, secret, problem))
    return params.get("zookeeper_auth_user") or "kafka", password


def make_access(params, pod_api_factory=None, fourlw=None, kazoo_factory=None):
    """The access object for the module parameters (``zookeeper_access``, ``zookeeper_hosts``,
    ``zookeeper_pod_selector``, ``client_port``, ``exec_timeout``, ``namespace``, and for a direct login
    ``zookeeper_auth_user`` and ``zookeeper_auth_secret``). ``pod_api_factory`` is called for ``exec``, and for
    ``direct`` only to read the login's Secret."""
    timeout = params.get("exec_timeout") or 60
    port = params.get("client_port") or 2181
    if params.get("zookeeper_access") == "direct":
        login = direct_login(params, pod_api_factory()) if params.get("zookeeper_auth_secret") else None
        return DirectAccess(params.get("zookeeper_hosts") or [], timeout=timeout, client_port=port, fourlw=fourlw,
                            kazoo_factory=kazoo_factory, login=login)
    return ExecAccess(pod_api_factory(), params.get("namespace"), params.get("zookeeper_pod_selector"),
                      client_port=port, timeout=timeout)


def wait_for_quorum(access, expected_servers, timeout, sleep_seconds, clock=time.monotonic, sleep=time.sleep,
                    need="quorum"):
    """Poll ``access.servers()`` until ``quorum_state()[need]`` or ``timeout`` seconds; returns the last state
    and the number of polls. ``timeout`` 0 asks once.

    A transient Kubernetes API error (listing the ZooKeeper pods under exec access) is retried until the
    deadline (``PodApi.retry_transient``); one that lasts past it, or any other API error, raises PodApiError
    saying it was waiting for the quorum."""
    deadline = clock() + max(timeout, 0)
    polls = 0
    while True:
        polls += 1
        try:
            answers = PodApi.retry_transient(access.servers, deadline, clock=clock, sleep=sleep)
        except PodApiError as exc:
            raise PodApiError("waiting for a ZooKeeper %s: %s" % (need, exc), transient=exc.transient)
        except ZooKeeperError as exc:
            answers = {}
            state = quorum_state(answers, expected_servers)
            state["problems"].insert(0, str(exc))
        else:
            state = quorum_state(answers, expected_servers)
        if state[need] or clock() >= deadline:
            return state, polls
        sleep(max(0, min(sleep_seconds, deadline - clock())))
