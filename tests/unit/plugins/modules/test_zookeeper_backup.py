"""zookeeper_backup with a real AnsibleModule against an in-memory ZooKeeper (fake zkCli pods, fake kazoo) and an
injected clock."""
import datetime
import json
import os
import stat

import pytest

from conftest import ModuleExit
from zookeeper_fakes import FakeKazoo, FakeZkCliPods, FakeZooKeeper
from ansible_collections.kafka_eks.cluster.plugins.modules import zookeeper_backup

T0 = datetime.datetime(2026, 12, 2, 18, 30, 0, tzinfo=datetime.timezone.utc)
T1 = T0 + datetime.timedelta(minutes=5)


def run(make_module, args, check_mode=False, zk=None, version=(3, 9, 3), now=T0, direct=False):
    options = zookeeper_backup.module_options()
    kwargs = {"now": lambda: now}
    if direct:
        args = dict(args, zookeeper_access="direct", zookeeper_hosts=["zk-0:2181"])
        kwargs["kazoo_factory"] = FakeKazoo(zk)
    else:
        pods = FakeZkCliPods(zk, version)
        kwargs["pod_api_factory"] = lambda: pods
    with pytest.raises(ModuleExit) as info:
        module = make_module(options.pop("argument_spec"), args, check_mode=check_mode, **options)
        zookeeper_backup.run_module(module, **kwargs)
    return info.value.result


def seeded():
    zk = FakeZooKeeper()
    zk.create("/brokers")
    zk.create("/brokers/topics")
    zk.create("/brokers/topics/orders", b'{"partitions":{"0":[0]},"version":3}')
    zk.create("/brokers/ids")
    zk.create("/brokers/ids/0", b'{"host":"kafka-service-0"}', owner=0x77)
    zk.create("/cluster")
    zk.create("/cluster/id", b'{"version":"1","id":"kGhYbnXNTN2wVx3sdN8C3A"}')
    zk.create("/secured", b"a b", [("digest", "kafka:h=", 31), ("world", "anyone", 1)])
    return zk


def test_export_writes_once_then_reuses_and_check_mode_writes_nothing(make_module, tmp_path):
    zk = seeded()
    dest = str(tmp_path / "backups")
    preview = run(make_module, {"dest": dest, "prefix": "zookeeper-kafka"}, check_mode=True, zk=zk)
    assert preview["changed"] is True and preview["path"] == dest + "/zookeeper-kafka-20261202T183000Z.json"
    assert "would write 9 znode(s)" in preview["msg"] and not os.path.exists(dest)

    first = run(make_module, {"dest": dest, "prefix": "zookeeper-kafka"}, zk=zk)
    assert first["changed"] is True and first["count"] == 9 and first["path"] == preview["path"]
    assert first["digest"] == preview["digest"] and first["digest"].startswith("sha256:")
    assert stat.S_IMODE(os.stat(first["path"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    document = json.load(open(first["path"]))
    assert document["root"] == "/" and document["skipped"] == ["/zookeeper"]
    assert [n["path"] for n in document["znodes"] if n["ephemeral"]] == ["/brokers/ids/0"]
    assert document["source"]["access"] == "exec" and document["source"]["pod"] == "zookeeper-0"

    same = run(make_module, {"dest": dest, "prefix": "zookeeper-kafka"}, zk=zk, now=T1)
    assert same["changed"] is False and same["reused"] is True and same["path"] == first["path"]
    zk.set("/cluster/id", b"new")
    later = run(make_module, {"dest": dest, "prefix": "zookeeper-kafka"}, zk=zk, now=T1)
    assert later["changed"] is True and later["path"].endswith("zookeeper-kafka-20261202T183500Z.json")
    assert sorted(os.listdir(dest)) == ["zookeeper-kafka-20261202T183000Z.json", "zookeeper-kafka-20261202T183500Z.json"]


def test_export_refuses_a_missing_root_and_a_bad_prefix(make_module, tmp_path):
    zk = seeded()
    result = run(make_module, {"dest": str(tmp_path), "root": "/kafka"}, zk=zk)
    assert result["failed"] and "root: the znode /kafka does not exist" in result["msg"]
    result = run(make_module, {"dest": str(tmp_path), "prefix": "../x"}, zk=zk)
    assert result["failed"] and "prefix '../x'" in result["msg"] and os.listdir(str(tmp_path)) == []


def test_restore_into_an_empty_ensemble_then_again_then_compare(make_module, tmp_path):
    source = seeded()
    backup = run(make_module, {"dest": str(tmp_path)}, zk=source)["path"]
    target = FakeZooKeeper()
    preview = run(make_module, {"state": "restored", "src": backup}, check_mode=True, zk=target)
    assert preview["changed"] is True and preview["target_state"] == "empty"
    assert preview["created"][:2] == ["/brokers", "/cluster"] and "/brokers/ids/0" not in preview["created"]
    assert len(target.nodes) == 3  # /, /zookeeper, /zookeeper/quota: nothing written

    done = run(make_module, {"state": "restored", "src": backup}, zk=target)
    assert done["changed"] is True and len(done["created"]) == 7 and done["equal"] is True
    assert target.tree() == dict((p, v) for p, v in source.tree().items())
    assert target.nodes["/secured"].acl == [("digest", "kafka:h=", 31), ("world", "anyone", 1)]

    again = run(make_module, {"state": "restored", "src": backup}, zk=target)
    assert again["changed"] is False and again["target_state"] == "done" and "nothing was written" in again["msg"]

    compared = run(make_module, {"state": "compared", "src": backup}, zk=target)
    assert compared["changed"] is False and compared["equal"] is True
    assert compared["differences"]["ephemeral"] == ["/brokers/ids/0"]
    target.set("/brokers/topics/orders", b"{}")
    compared = run(make_module, {"state": "compared", "src": backup}, zk=target, direct=True)
    assert compared["equal"] is False and compared["differences"]["data"] == ["/brokers/topics/orders"]


def test_restore_refuses_an_ensemble_in_use_and_writes_nothing(make_module, tmp_path):
    backup = run(make_module, {"dest": str(tmp_path)}, zk=seeded())["path"]
    target = FakeZooKeeper()
    target.create("/cluster")
    target.create("/cluster/id", b'{"id":"other"}')
    before = target.tree()
    result = run(make_module, {"state": "restored", "src": backup}, zk=target)
    assert result["failed"] and result["msg"].startswith("force: not restoring")
    assert "1 znode(s) with other data" in result["msg"] and "set force=true" in result["msg"]
    assert target.tree() == before
    forced = run(make_module, {"state": "restored", "src": backup, "force": True}, zk=target)
    assert forced["changed"] is True and forced["updated"] == ["/cluster/id"]
    assert target.nodes["/cluster/id"].data == b'{"version":"1","id":"kGhYbnXNTN2wVx3sdN8C3A"}'


def test_exec_restore_of_binary_data_is_refused_direct_writes_it(make_module, tmp_path):
    source = seeded()
    source.create("/binary", b"\x00\x01\xff\n")
    backup = run(make_module, {"dest": str(tmp_path)}, zk=source)["path"]
    target = FakeZooKeeper()
    refused = run(make_module, {"state": "restored", "src": backup}, zk=target)
    assert refused["failed"] and refused["msg"].startswith("zookeeper_access: 1 znode(s)")
    assert "/binary" in refused["msg"] and "kafka_zookeeper_access=direct" in refused["msg"]
    assert len(target.nodes) == 3
    written = run(make_module, {"state": "restored", "src": backup}, zk=target, direct=True)
    assert written["changed"] is True and target.nodes["/binary"].data == b"\x00\x01\xff\n"


def test_a_damaged_file_fails_before_zookeeper_is_asked(make_module, tmp_path):
    path = tmp_path / "x.json"
    path.write_text("{not json")
    result = run(make_module, {"state": "restored", "src": str(path)}, zk=None)
    assert result["failed"] and "is not a backup file" in result["msg"]


def test_options_are_required_per_state(make_module):
    options = zookeeper_backup.module_options()
    with pytest.raises(ModuleExit) as info:
        make_module(options.pop("argument_spec"), {"state": "restored"}, **options)
    assert "src" in info.value.result["msg"]
