"""The backup's reading, file, comparison and restore decisions against an in-memory ZooKeeper, read through a
fake zkCli of each version the bed runs (3.4, 3.8, 3.9) and through a fake kazoo (tests/unit/zookeeper_fakes.py)."""
import base64
import datetime
import json
import os
import stat

import pytest

from zookeeper_fakes import FakeKazoo, FakeZkCliPods, FakeZooKeeper
from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_backup as zb
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import ExecAccess

NOW = datetime.datetime(2026, 12, 2, 18, 30, 5, tzinfo=datetime.timezone.utc)
DIGEST_ACL = [("digest", "kafka:HfvN2Bn9cOkrDhfz0sQ8CLsoTEs=", 31), ("world", "anyone", 1)]
# Data that imitates zkCli's own output: a prompt, a whole stat block, a "Node does not exist" line with the
# marker's prefix, a WATCHER line, and the "Created" line.
IMITATION = ("line1\n[zk: localhost:2181(CONNECTED) 5] get -s /brokers/ids/0\ncZxid = 0x1\nctime = x\nmZxid = 0x1\n"
             "mtime = x\npZxid = 0x1\ncversion = 0\ndataVersion = 0\naclVersion = 0\nephemeralOwner = 0x0\n"
             "dataLength = 3\nnumChildren = 0\nNode does not exist: /kafka-eks-mark-0-1\nWATCHER::\nCreated /x\n"
             ).encode()


def kafka_tree(zk, text_only=False):
    """A Kafka-like tree, the awkward znodes included."""
    zk.create("/brokers")
    zk.create("/brokers/topics")
    zk.create("/brokers/topics/orders", b'{"partitions":{"0":[0,1,2]},"topic_id":"q1","adding_replicas":{},"version":3}')
    zk.create("/brokers/ids")
    zk.create("/brokers/ids/0", b'{"host":"kafka-service-0"}', owner=0x100003bf4250007)
    zk.create("/controller_epoch", b"1")
    zk.create("/cluster")
    zk.create("/cluster/id", b'{"version":"1","id":"kGhYbnXNTN2wVx3sdN8C3A"}')
    zk.create("/secured", b"only kafka writes", DIGEST_ACL)
    zk.create("/spaces", b"a b 'c' d")
    zk.create("/both-quotes", b"\"q\"'")
    zk.create("/dash", b"-1")
    zk.create("/null-text", b"null")
    zk.create("/empty", b"")
    zk.create("/no-data", None)
    zk.create("/kafka-acl")
    zk.create("/kafka-acl/Topic")
    zk.create("/kafka-acl/Topic/orders", b'{"version":1,"acls":[{"principal":"User:app","host":"*"}]}',
              [("world", "anyone", 1), ("sasl", "kafka", 31)])
    if not text_only:
        zk.create("/binary", bytes(range(256)))
        zk.create("/imitation", IMITATION)


def exec_tree(zk, version, before=None, max_script_bytes=zb.MAX_SCRIPT_BYTES):
    pods = FakeZkCliPods(zk, version, before)
    access = ExecAccess(pods, "kafka", "app=zk")
    access.servers()
    version_text = list(access.versions().values())[0]
    return zb.ZkCliTree(access, version_text=version_text, max_script_bytes=max_script_bytes), pods


def by_path(nodes):
    return dict((n["path"], n) for n in nodes)


def expected(zk):
    return dict((p, (d, sorted((s, i, b) for s, i, b in acl))) for p, (d, acl) in zk.tree().items())


def as_tree(nodes):
    return dict((n["path"], (None if n["data"] is None else base64.b64decode(n["data"]),
                             sorted((a["scheme"], a["id"], zb.perms_bits(a["perms"])) for a in n["acl"])))
                for n in nodes if not n["ephemeral"])


# ------------------------------------------------------------------------------------------- reading

@pytest.mark.parametrize("version", [(3, 9, 3), (3, 4, 10)])
def test_exec_reads_every_byte_and_acl(version):
    zk = FakeZooKeeper()
    kafka_tree(zk)
    tree, pods = exec_tree(zk, version)
    nodes, vanished = tree.read_tree("/")
    assert vanished == []
    assert as_tree(nodes) == expected(zk)
    found = by_path(nodes)
    assert base64.b64decode(found["/binary"]["data"]) == bytes(range(256))
    assert base64.b64decode(found["/imitation"]["data"]) == IMITATION
    assert found["/secured"]["acl"] == [{"scheme": "digest", "id": "kafka:HfvN2Bn9cOkrDhfz0sQ8CLsoTEs=",
                                         "perms": "cdrwa"}, {"scheme": "world", "id": "anyone", "perms": "r"}]
    assert found["/brokers/ids/0"]["ephemeral"] is True and found["/brokers/ids/0"]["stat"]["ephemeralOwner"] \
        == "0x100003bf4250007"
    assert found["/brokers/topics"]["stat"]["numChildren"] == 1
    assert found["/brokers/topics/orders"]["stat"]["ctime"] == 1796236925000
    assert not [p for p in found if p.startswith("/zookeeper")]
    # one ls -R and one batch (3.9), or one run per level of the tree (3.4: no ls -R; 4 levels here)
    assert tree.execs == (2 if version >= (3, 5) else 4)


def test_exec_38_reads_text_exactly_and_refuses_binary():
    zk = FakeZooKeeper()
    kafka_tree(zk, text_only=True)
    zk.create("/imitation", IMITATION)
    zk.create("/utf", "héllo ✓".encode())
    tree, dummy = exec_tree(zk, (3, 8, 4))
    nodes, dummy = tree.read_tree("/")
    assert as_tree(nodes) == expected(zk)
    zk.create("/binary", b"\x00\xff\xfe")
    tree, dummy = exec_tree(zk, (3, 8, 4))
    with pytest.raises(zb.BackupError, match=r"/binary: its data is not UTF-8 text.*zookeeper_access=direct"):
        tree.read_tree("/")


def test_exec_batches_a_large_tree_in_few_execs():
    zk = FakeZooKeeper()
    zk.create("/brokers")
    zk.create("/brokers/topics")
    for topic in range(100):
        zk.create("/brokers/topics/t%d" % topic, b'{"version":3}')
        zk.create("/brokers/topics/t%d/partitions" % topic)
        for partition in range(10):
            zk.create("/brokers/topics/t%d/partitions/%d" % (topic, partition))
            zk.create("/brokers/topics/t%d/partitions/%d/state" % (topic, partition), b'{"leader":0,"isr":[0]}')
    tree, pods = exec_tree(zk, (3, 9, 3))
    nodes, dummy = tree.read_tree("/")
    assert len(nodes) == 3 + 100 * 2 + 1000 * 2
    assert as_tree(nodes) == expected(zk)
    # 2,203 znodes: one ls -R and ~20 zkCli runs of 48 KiB scripts, not 2,203 (or 4,406) execs.
    assert tree.execs < 30
    assert max(len(argv[2]) for argv in pods.execs if argv[0] == "sh") < 70 * 1024


def test_exec_small_batches_split_correctly():
    zk = FakeZooKeeper()
    kafka_tree(zk)
    tree, dummy = exec_tree(zk, (3, 9, 3), max_script_bytes=200)
    nodes, dummy = tree.read_tree("/")
    assert as_tree(nodes) == expected(zk) and tree.execs > 10


@pytest.mark.parametrize("version", [(3, 9, 3), (3, 4, 10)])
def test_exec_znode_deleted_between_listing_and_read_is_named(version):
    zk = FakeZooKeeper()
    kafka_tree(zk)
    tree, dummy = exec_tree(zk, version, before={"/brokers/topics/orders": lambda: zk.delete("/brokers/topics/orders")})
    nodes, vanished = tree.read_tree("/")
    assert vanished == ["/brokers/topics/orders"]
    assert "/brokers/topics/orders" not in by_path(nodes) and "/brokers/topics" in by_path(nodes)


def test_exec_unreadable_znode_stops_the_backup():
    zk = FakeZooKeeper()
    zk.create("/private", b"x", [("digest", "u:h", 31)])
    tree, dummy = exec_tree(zk, (3, 9, 3))
    with pytest.raises(zb.BackupError, match="/private: ZooKeeper refuses to read it"):
        tree.read_tree("/")


def test_kazoo_reads_the_same_tree_level_by_level():
    zk = FakeZooKeeper()
    kafka_tree(zk)
    client = FakeKazoo(zk)
    nodes, vanished = zb.KazooTree(client).read_tree("/")
    assert as_tree(nodes) == expected(zk) and vanished == []
    exec_nodes, dummy = exec_tree(zk, (3, 9, 3))[0].read_tree("/")
    assert zb.content_digest(nodes) == zb.content_digest(exec_nodes)
    subtree, dummy = zb.KazooTree(client).read_tree("/brokers")
    assert sorted(by_path(subtree)) == ["/brokers", "/brokers/ids", "/brokers/ids/0", "/brokers/topics",
                                        "/brokers/topics/orders"]


# ----------------------------------------------------------------------------------- parsing edge cases

def get_section(data_line, length, extra_before=""):
    return ("[zk: localhost:2181(CONNECTED) 1] get -s /x\n" + extra_before + data_line + "\n"
            "cZxid = 0x2\nctime = Wed Dec 02 18:42:05 UTC 2026\nmZxid = 0x2\nmtime = Wed Dec 02 18:42:05 UTC 2026\n"
            "pZxid = 0x2\ncversion = 0\ndataVersion = 4\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = %d\n"
            "numChildren = 0\n" % length).encode()


def test_get_section_takes_exactly_data_length_bytes_before_the_last_stat():
    plain = zb.CliDialect((3, 8, 4))
    data, stat = zb.parse_get_section(get_section("a\ncZxid = 0x9", 13), plain, "/x")
    assert data == b"a\ncZxid = 0x9" and stat["version"] == 4
    # a line of another thread between data and stat: the data no longer stand alone -> refused, not guessed
    with pytest.raises(zb.BackupError, match="do not stand alone"):
        zb.parse_get_section(get_section("WATCHER::abc", 3), plain, "/x")
    b64 = zb.CliDialect((3, 9, 3))
    assert zb.parse_get_section(get_section("bnVsbA==", 0), b64, "/x")[0] is None  # no data (null)
    assert zb.parse_get_section(get_section("", 0), b64, "/x")[0] == b""
    assert zb.parse_get_section(get_section("null", 0), plain, "/x")[0] is None
    assert zb.parse_get_section(get_section("bnVsbA==", 4), b64, "/x")[0] == b"null"
    with pytest.raises(zb.BackupError, match="printed 4 bytes of data, its stat says 5"):
        zb.parse_get_section(get_section("bnVsbA==", 5), b64, "/x")
    assert zb.parse_get_section(b"[zk: x(CONNECTED) 2] get -s /x\nNode does not exist: /x\n", b64, "/x") is None


def test_split_batch_ignores_markers_of_other_runs_and_wrapped_echoes():
    nonce = "abc"
    raw = ("noise\nNode does not exist: /kafka-eks-mark-abc-0\n[zk: x] get -s /a\nNode does not exist: "
           "/kafka-eks-mark-zzz-1\n[zk: x] ls /kafka-eks-ma \rrk-abc-1\nNode does not exist: /kafka-eks-mark-abc-1\n"
           "[zk: x] getAcl /a\n'world,'anyone\n: cdrwa\nNode does not exist: /kafka-eks-mark-abc-2\n").encode()
    sections = zb.split_batch(raw, nonce, 2)
    assert b"kafka-eks-mark-zzz-1" in sections[0] and b"getAcl" not in sections[0]
    assert zb.parse_acl_section(sections[1], "/a") == [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}]
    assert zb.split_batch(raw, "other", 2) is None


def test_cli_tokens_follow_zkclis_own_splitting():
    assert zb.cli_token('{"a":1}') == '{"a":1}'
    assert zb.cli_token("a b") == "'a b'"
    assert zb.cli_token("it's here") == '"it\'s here"'
    assert zb.cli_token("") == "''"
    assert zb.cli_token("'x") == '"\'x"'
    for bad in ("a\nb", "tab\there", "'both\" q'"):
        with pytest.raises(zb.Unrepresentable):
            zb.cli_token(bad)
    with pytest.raises(zb.Unrepresentable, match="has a ','"):
        zb.acl_token([{"scheme": "x509", "id": "CN=a,O=b", "perms": "r"}])


# ---------------------------------------------------------------------------------------- the file

def test_document_round_trip_digest_and_damage(tmp_path):
    zk = FakeZooKeeper()
    kafka_tree(zk)
    nodes, dummy = zb.KazooTree(FakeKazoo(zk)).read_tree("/")
    document = zb.build_document(nodes, "/", {"access": "direct"}, NOW)
    name = zb.backup_file_name("zookeeper-kafka", NOW)
    assert name == "zookeeper-kafka-20261202T183005Z.json"
    path = zb.write_atomically(str(tmp_path), name, zb.dump_document(document))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == [name]  # no temporary file left
    loaded = zb.load_document(path)
    assert loaded["digest"] == document["digest"] and loaded["count"] == len(nodes) == document["count"]
    assert zb.latest_backup(str(tmp_path), "zookeeper-kafka") == path
    assert zb.latest_backup(str(tmp_path), "zookeeper") is None
    text = open(path).read()
    assert text.count("\n") == len(nodes) + 2  # one znode per line
    damaged = tmp_path / "damaged.json"
    changed = json.loads(text)
    changed["znodes"][3]["data"] = base64.b64encode(b"someone edited this").decode()
    damaged.write_text(json.dumps(changed))
    with pytest.raises(zb.BackupError, match="digest does not match"):
        zb.load_document(str(damaged))
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(zb.BackupError, match="is not a kafka_eks.cluster/zookeeper-backup file"):
        zb.load_document(str(tmp_path / "other.json"))
    # the digest is content only: another read of the same tree, with other stat fields, has the same digest
    zk.nodes["/brokers"].mzxid = 99
    again, dummy = zb.KazooTree(FakeKazoo(zk)).read_tree("/")
    assert zb.content_digest(again) == document["digest"]
    zk.set("/cluster/id", b"changed")
    assert zb.content_digest(zb.KazooTree(FakeKazoo(zk)).read_tree("/")[0]) != document["digest"]


def test_root_checks():
    assert zb.check_root("/") == "/" and zb.check_root("/kafka") == "/kafka"
    for bad in ("kafka", "/kafka/", "/a/../b", "/zookeeper", "/zookeeper/quota", "/a\nb", "//a"):
        with pytest.raises(zb.BackupError):
            zb.check_root(bad)


# ------------------------------------------------------------------------------------ restore decisions

def source_nodes(text_only=True):
    zk = FakeZooKeeper()
    kafka_tree(zk, text_only=text_only)
    return zk, zb.KazooTree(FakeKazoo(zk)).read_tree("/")[0]


def test_plan_empty_then_partial_then_done():
    dummy, nodes = source_nodes()
    target = FakeZooKeeper()
    live = zb.KazooTree(FakeKazoo(target)).read_tree("/")[0]
    plan = zb.restore_plan(nodes, live, "/")
    assert plan["state"] == "empty" and plan["refused"] is None
    created = [n["path"] for n in plan["create"]]
    assert created.index("/brokers") < created.index("/brokers/topics") < created.index("/brokers/topics/orders")
    assert "/brokers/ids/0" not in created and plan["skipped_ephemeral"] == ["/brokers/ids/0"]
    # a restore that stopped after a few znodes is continued, not refused
    for node in plan["create"][:4]:
        target.create(node["path"], zb.node_data(node), [(a["scheme"], a["id"], zb.perms_bits(a["perms"]))
                                                         for a in node["acl"]])
    live = zb.KazooTree(FakeKazoo(target)).read_tree("/")[0]
    partial = zb.restore_plan(nodes, live, "/")
    assert partial["state"] == "partial" and len(partial["create"]) == len(plan["create"]) - 4


def test_plan_refuses_an_ensemble_in_use_unless_forced():
    dummy, nodes = source_nodes()
    target = FakeZooKeeper()
    target.create("/cluster")
    target.create("/cluster/id", b'{"version":"1","id":"another-cluster"}')
    target.create("/brokers")
    live = zb.KazooTree(FakeKazoo(target)).read_tree("/")[0]
    plan = zb.restore_plan(nodes, live, "/")
    assert plan["state"] == "conflict" and "1 znode(s) with other data" in plan["refused"]
    assert plan["create"] == [] and plan["set_data"] == []
    forced = zb.restore_plan(nodes, live, "/", force=True)
    assert forced["refused"] is None and [n["path"] for n in forced["set_data"]] == ["/cluster/id"]
    target.create("/other-app")
    live = zb.KazooTree(FakeKazoo(target)).read_tree("/")[0]
    forced = zb.restore_plan(nodes, live, "/", force=True)
    assert forced["differences"]["extra"] == ["/other-app"]  # reported, never deleted


def test_compare_reports_each_kind_of_difference():
    zk, nodes = source_nodes()
    zk.set("/cluster/id", b"x")
    zk.set_acl("/spaces", [("world", "anyone", 1)])
    zk.delete("/empty")
    zk.create("/new")
    zk.create("/brokers/ids/1", b"{}", owner=0x2)
    live = zb.KazooTree(FakeKazoo(zk)).read_tree("/")[0]
    diff = zb.compare(nodes, live)
    assert diff["missing"] == ["/empty"] and diff["data"] == ["/cluster/id"] and diff["acl"] == ["/spaces"]
    assert diff["extra"] == ["/new"] and diff["extra_ephemeral"] == ["/brokers/ids/1"]
    assert diff["ephemeral"] == ["/brokers/ids/0"] and diff["equal"] is False
    # the file's own ephemeral znode gone from the live tree is not a difference
    zk2, nodes2 = source_nodes()
    zk2.delete("/brokers/ids/0")
    assert zb.compare(nodes2, zb.KazooTree(FakeKazoo(zk2)).read_tree("/")[0])["equal"] is True


def test_plan_for_a_root_below_slash_creates_its_parents():
    zk = FakeZooKeeper()
    zk.create("/a")
    zk.create("/a/kafka")
    zk.create("/a/kafka/brokers", b"x")
    nodes = zb.KazooTree(FakeKazoo(zk)).read_tree("/a/kafka")[0]
    target = FakeZooKeeper()
    plan = zb.restore_plan(nodes, zb.KazooTree(FakeKazoo(target)).read_tree("/a/kafka")[0], "/a/kafka")
    assert plan["state"] == "empty" and plan["parents"] == ["/a"]
    zb.KazooTree(FakeKazoo(target)).apply(plan)
    assert target.tree("/a/kafka") == zk.tree("/a/kafka")


# ---------------------------------------------------------------------------------------- restore writes

@pytest.mark.parametrize("version", [(3, 9, 3), (3, 8, 4), (3, 4, 10)])
def test_exec_restore_writes_text_data_and_acls_exactly(version):
    source, nodes = source_nodes(text_only=True)
    target = FakeZooKeeper()
    tree, dummy = exec_tree(target, version)
    plan = zb.restore_plan(nodes, tree.read_tree("/")[0], "/")
    both = [n for n in plan["create"] if n["path"] == "/both-quotes"]
    problems = tree.check_writable(plan)
    unwritable = [("/both-quotes", "has whitespace or starts with a quote and contains both ' and \"")]
    if version < (3, 5):
        unwritable.append(("/no-data", "has no data (null), which zkCli 3.4 cannot create"))
    assert sorted(problems) == sorted(unwritable)
    plan["create"] = [n for n in plan["create"] if n["path"] not in dict(unwritable)]
    tree.apply(plan)
    wanted = dict(expected(source))
    for path in dict(unwritable):
        del wanted[path]
    assert expected(target) == wanted  # /secured (no world create) got its ACL after it was created
    again = zb.restore_plan(nodes, tree.read_tree("/")[0], "/")
    assert len(again["create"]) == len(unwritable) and again["state"] == "partial"


def test_exec_restore_refuses_what_zkcli_cannot_carry():
    dummy, nodes = source_nodes(text_only=False)
    tree, dummy = exec_tree(FakeZooKeeper(), (3, 9, 3))
    plan = zb.restore_plan(nodes, tree.read_tree("/")[0], "/")
    problems = dict(tree.check_writable(plan))
    assert problems["/binary"] == "its data is not UTF-8 text"
    assert problems["/imitation"].startswith("has a control character")
    with pytest.raises(zb.BackupError, match="cannot write 3 znode"):
        tree.apply(plan)


def test_kazoo_restore_is_byte_exact_and_needs_no_credential():
    source, nodes = source_nodes(text_only=False)
    target = FakeZooKeeper()
    client = FakeKazoo(target)
    plan = zb.restore_plan(nodes, zb.KazooTree(client).read_tree("/")[0], "/")
    zb.KazooTree(client).apply(plan)
    assert expected(target) == expected(source)
    assert target.nodes["/binary"].data == bytes(range(256)) and target.nodes["/imitation"].data == IMITATION
    assert "/brokers/ids/0" not in target.nodes
    done = zb.restore_plan(nodes, zb.KazooTree(client).read_tree("/")[0], "/")
    assert done["state"] == "done" and zb.plan_writes(done) == 0
