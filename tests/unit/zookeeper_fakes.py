"""An in-memory ZooKeeper and two clients of it, for the backup's unit tests:

- ``FakeZkCliPods``: a Kubernetes pod API whose ``sh -c '... | zkCli.sh ... | base64'`` runs the script against
  the tree and answers the way zkCli 3.4, 3.8 or 3.9 prints (JLine prompts wrapped at 80 columns with " \\r",
  stat blocks, "Node does not exist", ``get -b`` base64 in 3.9, data decoded as UTF-8 with replacement in
  3.5-3.8 and as ISO-8859-1 in 3.4, commons-cli's ``--`` in 3.5+ only), checked against the real tools'
  output; ``zkServer.sh status`` and ``srvr`` answer too. ``before`` hooks run before a command (a znode
  deleted between the listing and its read).
- ``FakeKazoo``: kazoo's interface (reads, async reads, ensure_path, create with sequence, set with version,
  set_acls) over the same tree.

ACLs are enforced for the world:anyone identity, as for a client without credentials."""
import base64
import re
import shlex

from kazoo.exceptions import BadVersionError, NoAuthError, NodeExistsError, NoNodeError
from kazoo.security import ACL, Id

PERM_BITS = (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16))
OPEN = [("world", "anyone", 31)]
# ZooKeeperMain.MyCommandOptions (3.4 to 3.9)
ARGS = re.compile(r"""[ \t\n\x0b\f\r]*([^"'][^ \t\n\x0b\f\r]*|"[^"]*"|'[^']*')[ \t\n\x0b\f\r]*""")
QUOTED = re.compile(r"""^(['"])(.*)(\1)$""")


def perms_text(bits):
    return "".join(letter for letter, bit in PERM_BITS if bits & bit)


class Node:
    def __init__(self, data, acl, zxid, owner=0):
        self.data = data
        self.acl = list(acl)
        self.czxid = self.mzxid = self.pzxid = zxid
        self.version = self.cversion = self.aversion = 0
        self.owner = owner
        self.ctime = self.mtime = 1796236925810


class FakeZooKeeper:
    def __init__(self):
        self.zxid = 1
        self.nodes = {"/": Node(b"", OPEN, 0), "/zookeeper": Node(b"", OPEN, 0),
                      "/zookeeper/quota": Node(b"", OPEN, 0)}

    def children(self, path):
        prefix = "/" if path == "/" else path + "/"
        return sorted(p[len(prefix):] for p in self.nodes if p != path and p.startswith(prefix)
                      and "/" not in p[len(prefix):])

    def allowed(self, path, perm):
        return any(s == "world" and i == "anyone" and bits & perm for s, i, bits in self.nodes[path].acl)

    def create(self, path, data=b"", acl=None, owner=0):
        acl = OPEN if acl is None else acl
        parent = path.rsplit("/", 1)[0] or "/"
        if path in self.nodes:
            raise NodeExistsError()
        if parent not in self.nodes:
            raise NoNodeError()
        if not self.allowed(parent, 4):
            raise NoAuthError()
        self.zxid += 1
        self.nodes[path] = Node(data, acl, self.zxid, owner)
        self.nodes[parent].cversion += 1
        self.nodes[parent].pzxid = self.zxid

    def delete(self, path):
        for other in [p for p in self.nodes if p == path or p.startswith(path + "/")]:
            del self.nodes[other]

    def get(self, path):
        if path not in self.nodes:
            raise NoNodeError()
        if not self.allowed(path, 1):
            raise NoAuthError()
        return self.nodes[path]

    def set(self, path, data):
        node = self.nodes.get(path)
        if node is None:
            raise NoNodeError()
        if not self.allowed(path, 2):
            raise NoAuthError()
        node.data = data
        node.version += 1

    def set_acl(self, path, acl):
        node = self.nodes.get(path)
        if node is None:
            raise NoNodeError()
        if not self.allowed(path, 16):
            raise NoAuthError()
        node.acl = list(acl)
        node.aversion += 1

    def tree(self, root="/"):
        """{path: (data, sorted ACL)} outside /zookeeper: what a comparison of two ensembles looks at."""
        return dict((p, (n.data, sorted(n.acl))) for p, n in self.nodes.items()
                    if not (p == "/zookeeper" or p.startswith("/zookeeper/"))
                    and (root == "/" or p == root or p.startswith(root + "/")) and not n.owner)


def java_date(ms):
    return "Wed Dec 02 18:42:05 UTC 2026"


class FakeZkCli:
    """One zkCli session of a version against a FakeZooKeeper; ``run(lines)`` returns its output bytes."""

    def __init__(self, zk, version, before=None):
        self.zk = zk
        self.version = version
        self.old = version < (3, 5)
        self.before = before or {}
        self.out = []
        self.count = 0

    def write(self, text):
        self.out.append(text)

    def data_text(self, data):
        if self.old:
            return data.decode("latin-1")
        return data.decode("utf-8", "replace")

    def stat(self, path):
        node = self.zk.nodes[path]
        return ("cZxid = 0x%x\nctime = %s\nmZxid = 0x%x\nmtime = %s\npZxid = 0x%x\ncversion = %d\ndataVersion = %d\n"
                "aclVersion = %d\nephemeralOwner = 0x%x\ndataLength = %d\nnumChildren = %d\n"
                % (node.czxid, java_date(node.ctime), node.mzxid, java_date(node.mtime), node.pzxid, node.cversion,
                   node.version, node.aversion, node.owner, len(node.data or b""), len(self.zk.children(path))))

    def prompt(self, line):
        # JLine echoes the command after the prompt, wrapping the line at 80 columns with " \r".
        text = "[zk: localhost:2181(CONNECTED) %d] %s" % (self.count, line)
        wrapped = "".join(text[i:i + 80] + (" \r" if i + 80 < len(text) else "") for i in range(0, len(text), 80))
        self.write(wrapped + "\n")
        self.count += 1

    def args(self, line):
        found = [QUOTED.sub(r"\2", m.group(1)) for m in ARGS.finditer(line) if m.group(1)]
        return found

    def denied(self, path):
        self.write(("Authentication is not valid : %s\n" if self.old else "Insufficient permission : %s\n") % path)

    def run(self, lines):
        self.write("Connecting to localhost:2181\nWelcome to ZooKeeper!\nJLine support is enabled\n\nWATCHER::\n\n"
                   "WatchedEvent state:SyncConnected type:None path:null\n")
        for line in lines:
            if not line:
                continue
            for hook_path, hook in list(self.before.items()):
                if line.endswith(" " + hook_path) and line.startswith("get"):
                    hook()
                    del self.before[hook_path]
            self.prompt(line)
            args = self.args(line)
            if args[0] == "quit":
                self.write("Quitting...\n")
                break
            if not self.old and "--" in args:
                args.remove("--")
            try:
                self.command(args)
            except NoNodeError:
                self.write("Node does not exist: %s\n" % args[-1 if args[0] != "create" else 1])
            except NoAuthError:
                self.denied([a for a in args if a.startswith("/")][0])
            except NodeExistsError:
                self.write("Node already exists: %s\n" % args[1])
        return "".join(self.out).encode("latin-1" if self.old else "utf-8", "replace" if self.old else "strict")

    def command(self, args):
        name = args[0]
        if self.old and len(args) > 1 and args[1] in ("-s", "-b", "-R"):
            # 3.4 knows no such flag: it is taken for the path
            self.write("Command failed: java.lang.IllegalArgumentException: Path must start with / character\n")
            return
        flags = [a for a in args[1:] if a in ("-s", "-b", "-R")]
        rest = [a for a in args[1:] if a not in ("-s", "-b", "-R")]
        if any(a == "--" for a in rest) or (rest and not rest[0].startswith("/")):
            self.write("Command failed: java.lang.IllegalArgumentException: Path must start with / character\n")
            return
        path = rest[0]
        if name == "ls":
            if "-R" in flags:
                if path not in self.zk.nodes:
                    raise NoNodeError()
                order, queue = [], [path]
                while queue:
                    current = queue.pop(0)
                    order.append(current)
                    queue.extend(("/" if current == "/" else current + "/") + c for c in self.zk.children(current))
                self.write("".join(p + "\n" for p in order))
                return
            if path not in self.zk.nodes:
                raise NoNodeError()
            self.write("[%s]\n" % ", ".join(self.zk.children(path)))
        elif name == "get":
            node = self.zk.get(path)
            if "-b" in flags and self.version >= (3, 9):
                self.write(base64.b64encode(b"null" if node.data is None else node.data).decode() + "\n")
            else:
                self.write(("null" if node.data is None else self.data_text(node.data)) + "\n")
            self.write(self.stat(path))
        elif name == "getAcl":
            node = self.zk.nodes.get(path)
            if node is None:
                raise NoNodeError()
            self.write("".join("'%s,'%s\n: %s\n" % (s, i, perms_text(b)) for s, i, b in node.acl))
        elif name == "create":
            data = rest[1] if len(rest) > 1 else None
            acl = self.parse_acl(rest[2]) if len(rest) > 2 else OPEN
            raw = None if data is None else data.encode("latin-1") if self.old else data.encode("utf-8")
            self.zk.create(path, raw, acl)
            self.write("Created %s\n" % path)
        elif name == "set":
            self.zk.set(path, (rest[1].encode("latin-1") if self.old else rest[1].encode("utf-8")))
        elif name == "setAcl":
            self.zk.set_acl(path, self.parse_acl(rest[1]))
        else:
            self.write("Command not found: Command not found %s\n" % name)

    @staticmethod
    def parse_acl(text):
        acl = []
        for entry in text.split(","):
            first, last = entry.index(":"), entry.rindex(":")
            bits = sum(bit for letter, bit in PERM_BITS if letter in entry[last + 1:])
            acl.append((entry[:first], entry[first + 1:last], bits))
        return acl


class FakeZkCliPods:
    """A pod API (list_pods, exec) of one ZooKeeper pod whose zkCli runs against ``zk``."""

    def __init__(self, zk, version=(3, 9, 3), before=None):
        self.zk = zk
        self.version = version
        self.before = before or {}
        self.execs = []

    def list_pods(self, namespace, selector):
        return [{"metadata": {"name": "zookeeper-0"}, "spec": {"containers": [{"name": "zookeeper"}]},
                 "status": {"phase": "Running"}}]

    def exec(self, namespace, name, argv, container=None, timeout=60):
        self.execs.append(argv)
        if list(argv) == ["zkServer.sh", "status"]:
            return 0, "Client port found: 2181.\nMode: standalone\n", ""
        if argv[0] == "bash" and "srvr" in argv[-1]:
            return 0, "Zookeeper version: %s-c26634f, built on 2024-10-17 23:21 UTC\nMode: standalone\n" % (
                ".".join(str(x) for x in self.version)), ""
        if argv[:2] == ["sh", "-c"]:
            match = re.match(r"^printf '%s' (\S+) \| base64 -d \| CLIENT_JVMFLAGS=(.+) zkCli\.sh -server "
                             r"localhost:2181 2>&1 \| base64$", argv[2])
            assert match, argv[2]
            flags = shlex.split(match.group(2))[0]
            assert ("ISO-8859-1" in flags) == (self.version < (3, 5)), flags
            script = base64.b64decode(match.group(1)).decode("utf-8")
            raw = FakeZkCli(self.zk, self.version, self.before).run(script.split("\n"))
            encoded = base64.b64encode(raw).decode()
            return 0, "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76)) + "\n", ""
        return 127, "", "exec: %r: executable file not found in $PATH" % argv[0]


class _Result:
    def __init__(self, func):
        try:
            self.value, self.error = func(), None
        except Exception as exc:  # handed to get(), as kazoo's IAsyncResult does
            self.value, self.error = None, exc

    def get(self):
        if self.error is not None:
            raise self.error
        return self.value


class FakeStat:
    def __init__(self, node, children):
        self.czxid, self.mzxid, self.pzxid = node.czxid, node.mzxid, node.pzxid
        self.ctime, self.mtime = node.ctime, node.mtime
        self.version, self.cversion, self.aversion = node.version, node.cversion, node.aversion
        self.ephemeralOwner = node.owner
        self.dataLength = len(node.data or b"")
        self.numChildren = children


class FakeKazoo:
    """kazoo.client.KazooClient's calls the backup and the znode writers (zookeeper.write_znodes) make, over a
    FakeZooKeeper."""

    def __init__(self, zk):
        self.zk = zk
        self.hosts = "zk-0:2181"
        self.calls = 0

    def __call__(self, hosts, timeout, read_only):  # used as kazoo_factory
        return self

    def start(self, timeout=None):
        pass

    def stop(self):
        pass

    def close(self):
        pass

    def _stat(self, path):
        return FakeStat(self.zk.nodes[path], len(self.zk.children(path)))

    def get(self, path):
        return self.zk.get(path).data, self._stat(path)

    def get_children(self, path):
        if path not in self.zk.nodes:
            raise NoNodeError()
        return self.zk.children(path)

    def ensure_path(self, path, acl=None):
        parts = path.strip("/").split("/")
        for index in range(len(parts)):
            if "/" + "/".join(parts[:index + 1]) not in self.zk.nodes:
                self.zk.create("/" + "/".join(parts[:index + 1]), b"",
                               [(a.id.scheme, a.id.id, a.perms) for a in acl] if acl else OPEN)

    def get_async(self, path):
        self.calls += 1
        return _Result(lambda: (self.zk.get(path).data, self._stat(path)))

    def get_acls_async(self, path):
        self.calls += 1

        def acls():
            node = self.zk.nodes.get(path)
            if node is None:
                raise NoNodeError()
            return [ACL(b, Id(s, i)) for s, i, b in node.acl], self._stat(path)
        return _Result(acls)

    def get_children_async(self, path):
        self.calls += 1

        def children():
            if path not in self.zk.nodes:
                raise NoNodeError()
            return self.zk.children(path)
        return _Result(children)

    def create(self, path, value=b"", acl=None, sequence=False):
        if sequence:
            # ZooKeeper's suffix: the parent's child version, ten digits.
            path = "%s%010d" % (path, self.zk.nodes[path.rsplit("/", 1)[0] or "/"].cversion)
        self.zk.create(path, value, [(a.id.scheme, a.id.id, a.perms) for a in acl] if acl else OPEN)
        return path

    def set(self, path, value, version=-1):
        if version != -1 and path in self.zk.nodes and self.zk.nodes[path].version != version:
            raise BadVersionError()
        self.zk.set(path, value)

    def set_acls(self, path, acls):
        self.zk.set_acl(path, [(a.id.scheme, a.id.id, a.perms) for a in acls])
