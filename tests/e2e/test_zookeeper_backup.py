"""Issue 13 (e): a backup of a real ZooKeeper restored into an empty ensemble gives the same znodes.

On its own test bed (bed index 9, 1 node): a 1-server ensemble in namespace zkb-src (the zookeeper role only, no
broker: the cheapest that proves it), Kafka's own znodes written by Kafka 2.5's TopicCommand (--zookeeper, as a
broker-less Kafka admin does) and awkward znodes written with kazoo (binary data, data imitating zkCli's output,
a digest ACL without world create). playbooks/zookeeper_backup.yml backs it up through kubectl exec;
playbooks/zookeeper_restore.yml deploys an empty ensemble in zkb-dst and refuses (through exec) the znodes zkCli
cannot write, writing nothing; through direct access it restores everything; a rerun writes nothing. The
evidence is read with kazoo from both ensembles, never from the collection's output: every persistent znode
outside /zookeeper with the same path, data bytes and ACL.
"""
import glob
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import CACHE, KUBECTL, ROOT, start_testbed, stop_testbed  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.testbed

BED = "zkbackup-e2e"
BED_INDEX = int(os.environ.get("ZOOKEEPER_BACKUP_INDEX", "9"))
PLAYBOOK = os.path.join(CACHE, "venv", "bin", "ansible-playbook")
IMITATION = (b"line\n[zk: localhost:2181(CONNECTED) 3] get -s /x\ncZxid = 0x1\nctime = x\nmZxid = 0x1\nmtime = x\n"
             b"pZxid = 0x1\ncversion = 0\ndataVersion = 0\naclVersion = 0\nephemeralOwner = 0x0\ndataLength = 3\n"
             b"numChildren = 0\nNode does not exist: /kafka-eks-mark-x-1\n")
SMALL = ["-e", "zookeeper_replicas=1", "-e", "zookeeper_heap_mb=256", "-e", "kafka_preflight_check_nodes=false"]


@pytest.fixture(scope="module")
def bed(request):
    config = start_testbed(BED, nodes=1, index=BED_INDEX)
    request.addfinalizer(lambda: stop_testbed(BED))
    return config


def playbook(config, name, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="default", PATH=os.path.join(CACHE, "venv", "bin") + ":" + os.environ["PATH"])
    return subprocess.run([PLAYBOOK, name, "-e", "kafka_k8s_kubeconfig=" + config] + SMALL + list(extra),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def pod_ip(config, namespace):
    return subprocess.run([KUBECTL, "--kubeconfig", config, "-n", namespace, "get", "pod", "zookeeper-0", "-o",
                           "jsonpath={.status.podIP}"], capture_output=True, text=True, check=True).stdout.strip()


def walk(address):
    """{path: (data, sorted ACL)} of every persistent znode outside /zookeeper, read with kazoo."""
    from kazoo.client import KazooClient
    client = KazooClient(hosts=address)
    client.start(timeout=30)
    found, queue = {}, ["/"]
    try:
        while queue:
            path = queue.pop()
            data, stat = client.get(path)
            acl, dummy = client.get_acls(path)
            if not stat.ephemeralOwner:
                found[path] = (data, sorted((a.id.scheme, a.id.id, a.perms) for a in acl))
            queue.extend(("/" if path == "/" else path + "/") + c for c in client.get_children(path)
                         if not (path == "/" and c == "zookeeper"))
    finally:
        client.stop()
    return found


def recap(result):
    return [line for line in result.stdout.splitlines() if line.startswith("localhost")]


def test_backup_restored_into_an_empty_ensemble_gives_the_same_znodes(bed, tmp_path):
    started = time.monotonic()
    # The source: the zookeeper role only (restore's deploy step with no file would refuse; site.yml needs brokers).
    source_play = tmp_path / "zookeeper_only.yml"
    source_play.write_text(
        "- hosts: localhost\n  connection: local\n  gather_facts: false\n"
        "  vars: {ansible_python_interpreter: '{{ ansible_playbook_python }}'}\n"
        "  module_defaults:\n    group/kubernetes.core.k8s: &auth {kubeconfig: '{{ kafka_k8s_kubeconfig }}'}\n"
        "    group/kafka_eks.cluster.k8s: *auth\n"
        "  roles: [kafka_eks.cluster.preflight, kafka_eks.cluster.zookeeper]\n")
    up = playbook(bed, str(source_play), "-e", "kafka_namespace=zkb-src")
    assert up.returncode == 0, up.stdout[-3000:]
    src = pod_ip(bed, "zkb-src") + ":2181"

    from kazoo.client import KazooClient
    from kazoo.security import ACL, Id, make_digest_acl
    client = KazooClient(hosts=src)
    client.start(timeout=30)
    # A broker's registration (ephemeral, as Kafka's own), so that Kafka's TopicCommand can place replicas.
    client.create("/brokers/ids/0", (b'{"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},"endpoints":["PLAINTEXT://kafka-service-0:9092"],'
                   b'"jmx_port":-1,"host":"kafka-service-0","timestamp":"1796236925810","port":9092,"version":4}'), ephemeral=True,
                  makepath=True)
    client.create("/e2e/binary", bytes(range(256)), makepath=True)
    client.create("/e2e/imitation", IMITATION)
    client.create("/e2e/secured", b"only kafka writes here", acl=[make_digest_acl("kafka", "pw", all=True),
                                                                  ACL(1, Id("world", "anyone"))])
    # A parent whose ACL lets no one without the credential create children: a restore must still create them.
    client.create("/e2e/secured-parent", b"")
    client.create("/e2e/secured-parent/child", b"a b 'c'")
    client.set_acls("/e2e/secured-parent", [make_digest_acl("kafka", "pw", all=True), ACL(1, Id("world", "anyone"))])
    lib = os.path.join(CACHE, "java", "kafka-2.5.1", "lib", "*")
    topics = subprocess.run(["java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", lib, "kafka.admin.TopicCommand",
                             "--zookeeper", src, "--create", "--topic", "orders", "--partitions", "3",
                             "--replication-factor", "1", "--config", "retention.ms=3600000"],
                            capture_output=True, text=True, timeout=300)
    assert topics.returncode == 0, topics.stdout + topics.stderr
    assert client.exists("/brokers/topics/orders") and client.exists("/config/topics/orders")
    before = walk(src)
    session_owned = "/brokers/ids/0"

    backup_dir = str(tmp_path / "backups")
    backup = playbook(bed, "playbooks/zookeeper_backup.yml", "-e", "kafka_namespace=zkb-src",
                      "-e", "kafka_backup_dir=" + backup_dir)
    assert backup.returncode == 0, backup.stdout[-3000:]
    files = glob.glob(os.path.join(backup_dir, "zkb-src-zookeeper-*.json"))
    assert len(files) == 1 and oct(os.stat(files[0]).st_mode & 0o777) == "0o600"
    document = json.load(open(files[0]))
    assert [n["path"] for n in document["znodes"] if n["ephemeral"]] == [session_owned]
    assert walk(src) == before  # the backup wrote nothing into ZooKeeper
    client.stop()

    # Through exec, zkCli cannot carry binary data or newlines: refused, nothing written (the ensemble is deployed).
    refused = playbook(bed, "playbooks/zookeeper_restore.yml", "-e", "kafka_namespace=zkb-dst",
                       "-e", "kafka_restore_file=" + files[0])
    assert refused.returncode != 0
    assert "zookeeper_access: 2 znode(s)" in refused.stdout and "/e2e/binary" in refused.stdout, refused.stdout[-3000:]
    dst = pod_ip(bed, "zkb-dst") + ":2181"
    assert walk(dst) == {"/": before["/"]}

    direct = ["-e", "kafka_namespace=zkb-dst", "-e", "kafka_restore_file=" + files[0],
              "-e", "kafka_zookeeper_access=direct", "-e", '{"kafka_zookeeper_hosts": ["%s"]}' % dst]
    restored = playbook(bed, "playbooks/zookeeper_restore.yml", *direct)
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert walk(dst) == before  # every persistent znode: path, data bytes, ACL

    again = playbook(bed, "playbooks/zookeeper_restore.yml", *direct)
    assert again.returncode == 0 and "nothing was written" in again.stdout, again.stdout[-3000:]
    assert "changed=0" in recap(again)[0]
    print("zookeeper backup e2e: %.0f s" % (time.monotonic() - started))
