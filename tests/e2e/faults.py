#!/usr/bin/env python3
"""Side effects of the molecule scenarios: real faults on a running test bed, and a record of the state
before them so that verify.py can prove what changed and what did not.

    faults.py ACTION --testbed NAME [--state FILE]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The canary belongs to the benchmark; the scenarios run it too.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "bench"))

from lib import BROKER_SELECTOR, CACHE, ROOT, Cluster, srvr_version, wait_for  # noqa: E402  pylint: disable=wrong-import-position
import scenario_default  # noqa: E402  pylint: disable=wrong-import-position
import scenario_migration  # noqa: E402  pylint: disable=wrong-import-position

ANSIBLE_PLAYBOOK = os.path.join(CACHE, "venv", "bin", "ansible-playbook")
TESTBED_VARS = os.path.join(ROOT, "tests", "e2e", "testbed-vars.yml")


def snapshot(cluster):
    """Uids of everything a heal must leave alone, and of every broker pod."""
    return {
        "deployments": cluster.uids("deployments", BROKER_SELECTOR),
        "pvcs": cluster.uids("pvc", None),
        "broker_pods": {p["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: p["metadata"]["uid"]
                        for p in cluster.pods(BROKER_SELECTOR)},
        "statefulsets": cluster.uids("statefulsets", None),
    }


def run_site(cluster, *extra, check=True):
    """site.yml against the bed, as a user runs it; returns the completed process."""
    proc = run_playbook(cluster, "site.yml", *extra)
    if check and proc.returncode != 0:
        raise AssertionError("site.yml failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout[-4000:], proc.stderr))
    return proc


def kazoo_client(cluster):
    from kazoo.client import KazooClient
    client = KazooClient(hosts=",".join(cluster.zookeeper_addresses()), timeout=10)
    client.start(timeout=30)
    return client


def drop_registration(cluster, broker_id):
    """Delete a live broker's /brokers/ids/<id> from another session.

    ZooKeeper lets any session delete another's ephemeral node and does not tell the owner: the broker
    keeps running, believes it is registered, and is no longer part of the cluster, which is what a
    registration lost to a session problem looks like (KAFKA-7165).
    """
    client = kazoo_client(cluster)
    try:
        client.delete("/brokers/ids/%d" % broker_id)
    finally:
        client.stop()
        client.close()


def write_messages(cluster, topic, count=20):
    cluster.create_topic(topic, replication_factor=3, min_isr=2)
    messages = ["%s-%d" % (topic, i) for i in range(count)]
    cluster.produce(topic, messages)
    return messages


def save(state, state_file):
    os.makedirs(os.path.dirname(state_file), exist_ok=True)
    with open(state_file, "w") as handle:
        json.dump(state, handle, indent=2)


# The heal scenario's brokers keep a ZooKeeper session for 40 s (ZooKeeper's maximum at tickTime 2000) instead
# of 18 s, so that a registration left by a killed broker outlives site.yml's preflight and the heal meets it.
# molecule/heal/molecule.yml converges with the same value.
HEAL_VARS = ["-e", json.dumps({"kafka_broker_extra_config": {"zookeeper.session.timeout.ms": "40000"}})]
HEAL_SESSION_TIMEOUT = 40


def broker_pid(cluster, broker_id):
    """The pid of broker broker_id's JVM (the test bed names it in the broker container's containerID)."""
    (pod,) = cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=%d" % broker_id)
    (status,) = [c for c in pod["status"]["containerStatuses"] if c["name"] == "broker"]
    pid = int(status["containerID"].rsplit("/", 1)[1])
    with open("/proc/%d/cmdline" % pid, "rb") as handle:
        assert b"java" in handle.read(), "pid %d is not broker %d's JVM" % (pid, broker_id)
    return pid, pod["metadata"]["name"]


def registration(cluster, broker_id):
    """(data as a dict, ephemeral owner, ctime ms) of /brokers/ids/<id>, or None."""
    from kazoo.exceptions import NoNodeError  # pylint: disable=import-outside-toplevel
    client = kazoo_client(cluster)
    try:
        # One read, no exists() first: the node may go between two calls (the heal deletes it).
        data, stat = client.get("/brokers/ids/%d" % broker_id)
        return json.loads(data), stat.ephemeralOwner, stat.ctime
    except NoNodeError:
        return None
    finally:
        client.stop()
        client.close()


IMPOSTER = r"""
import json, signal, sys, time
from kazoo.client import KazooClient
hosts, path = sys.argv[1], sys.argv[2]
client = KazooClient(hosts=hosts, timeout=10)
client.start(timeout=30)
data = {"version": 5, "host": "imposter", "port": 1, "endpoints": ["PLAINTEXT://imposter:1"],
        "timestamp": str(int(time.time() * 1000))}
client.create(path, json.dumps(data).encode(), ephemeral=True)
def leave(*_):
    client.stop()  # closes the session: its node goes at once
    sys.exit(0)
signal.signal(signal.SIGTERM, leave)
print("holding 0x%x" % client.client_id[0], flush=True)
while True:
    time.sleep(1)
"""


def heal(cluster, state_file):
    state = {"before": snapshot(cluster), "topic": "e2e-heal"}
    state["messages"] = write_messages(cluster, state["topic"])
    # Way 1: a live broker lost its registration (deleted from another session, KAFKA-7165): its pod is
    # replaced.
    drop_registration(cluster, 2)
    wait_for(lambda: 2 not in cluster.registered_broker_ids(), 30, "broker 2 to be missing")
    state["missing_before_heal"] = sorted(set(range(4)) - cluster.registered_broker_ids())
    proc = run_site(cluster, *HEAL_VARS)
    state["site_output_way1"] = proc.stdout[-20000:]
    state["after_way1"] = snapshot(cluster)

    # (a) broker 1's JVM SIGKILLed and its pod deleted, as when its node dies: the registration of the dead
    # session stays up to the session timeout. The heal proves it stale (its writer's pod is gone, no ZooKeeper
    # server lists the session) and removes it at once, so the new pod registers without waiting.
    stale = registration(cluster, 1)
    pid, pod = broker_pid(cluster, 1)
    os.kill(pid, signal.SIGKILL)
    state["killed_at_ms"] = int(time.time() * 1000)
    cluster.kubectl("delete", "pod", pod, "--wait=false")
    state["stale_owner"] = stale[1]
    proc = run_site(cluster, *HEAL_VARS)
    state["site_output_kill"] = proc.stdout[-20000:]
    fresh = registration(cluster, 1)
    state["fresh_owner"], state["fresh_registered_ms"] = (fresh[1], fresh[2]) if fresh else (None, None)
    state["after_kill"] = snapshot(cluster)

    # (b) broker 3's JVM SIGSTOPped past its session timeout: its registration expires, and a foreign client
    # registers /brokers/ids/3 with an endpoint that is not broker 3's. site.yml must fail naming both
    # endpoints, and delete neither a znode nor a pod.
    pid3, dummy = broker_pid(cluster, 3)
    os.kill(pid3, signal.SIGSTOP)
    try:
        wait_for(lambda: registration(cluster, 3) is None, HEAL_SESSION_TIMEOUT + 30,
                 "broker 3's registration to expire while its JVM is stopped")
        imposter = subprocess.Popen([sys.executable, "-c", IMPOSTER, ",".join(cluster.zookeeper_addresses()),
                                     "/brokers/ids/3"], stdout=subprocess.PIPE, text=True)
        try:
            line = imposter.stdout.readline()
            assert line.startswith("holding "), line
            state["imposter_session"] = int(line.split()[1], 16)
            owners_before = {i: (registration(cluster, i) or [None, None])[1] for i in range(4)}
            before_foreign = snapshot(cluster)
            proc = run_site(cluster, *HEAL_VARS, check=False)
            state["foreign_rc"] = proc.returncode
            state["foreign_output"] = proc.stdout[-20000:] + proc.stderr[-4000:]
            state["owners_before_foreign"] = owners_before
            state["owners_after_foreign"] = {i: (registration(cluster, i) or [None, None])[1] for i in range(4)}
            state["before_foreign"], state["after_foreign"] = before_foreign, snapshot(cluster)
        finally:
            imposter.terminate()
            imposter.wait(timeout=30)
    finally:
        os.kill(pid3, signal.SIGCONT)
    # Broker 3 wakes up with an expired session and registers again; the next run is clean.
    state["after_foreign_rc"] = run_site(cluster, *HEAL_VARS, check=False).returncode
    state["after"] = snapshot(cluster)
    save(state, state_file)


def heal_refuses(cluster, state_file):
    """A resize of the running ensemble is refused before any write; then, with ZooKeeper below quorum, the
    module must delete nothing and say why."""
    state = {"before": snapshot(cluster)}
    proc = run_site(cluster, "-e", "zookeeper_replicas=1", check=False)
    state["resize_rc"], state["resize_output"] = proc.returncode, proc.stdout[-6000:] + proc.stderr[-4000:]
    state["after_resize"] = snapshot(cluster)
    state["replicas_after_resize"] = cluster.get("statefulset", name="zookeeper")["spec"]["replicas"]
    drop_registration(cluster, 3)
    # Two of three servers gone (the StatefulSet scaled to 1 by hand, claims kept): no quorum.
    cluster.kubectl("scale", "statefulset/zookeeper", "--replicas=1")
    wait_for(lambda: len(cluster.pods("app.kubernetes.io/component=zookeeper")) == 1, 120, "one ZooKeeper pod")
    proc = run_module(cluster, "broker_membership", {
        "namespace": cluster.namespace, "expected_broker_ids": [0, 1, 2, 3], "heal": True, "zookeeper_servers": 3,
        "zookeeper_pod_selector": "app.kubernetes.io/component=zookeeper,app.kubernetes.io/instance=kafka"})
    state["module_rc"] = proc.returncode
    state["module_output"] = proc.stdout[-8000:]
    state["after"] = snapshot(cluster)
    # Put the ensemble back the way a user would: site.yml (the ensemble is still configured for 3).
    state["site_rc"] = run_site(cluster).returncode
    state["after_site"] = snapshot(cluster)
    save(state, state_file)


def run_module(cluster, module, args):
    """One module of the collection, run ad hoc as a user would from the command line."""
    argv = [os.path.join(CACHE, "venv", "bin", "ansible"), "localhost", "-m", "kafka_eks.cluster." + module,
            "-a", json.dumps(dict(args, kubeconfig=cluster.kubeconfig)),
            "-e", "ansible_python_interpreter=" + os.path.join(CACHE, "venv", "bin", "python")]
    proc = subprocess.run(argv, cwd=ROOT, env=site_env(), capture_output=True, text=True, timeout=900, check=False)
    print(proc.stdout[-4000:])
    return proc


def zookeeper_leader(cluster):
    modes = cluster.srvr_modes()
    leaders = [pod for pod, mode in modes.items() if mode == "leader"]
    return leaders[0] if leaders else None


def faults(cluster, state_file):
    state = {}
    # 1. The ZooKeeper leader's pod is deleted while the brokers roll out; the rollout still succeeds.
    site = subprocess.Popen(site_argv(cluster), cwd=ROOT, env=site_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    wait_for(lambda: cluster.get("deployments", BROKER_SELECTOR), 900, "the broker Deployments")
    leader = wait_for(lambda: zookeeper_leader(cluster), 120, "a ZooKeeper leader")
    cluster.kubectl("delete", "pod", leader, "--wait=false")
    state["deleted_leader"] = leader
    output = site.communicate(timeout=1800)[0]
    state["rollout_rc"] = site.returncode
    state["rollout_output"] = output[-8000:]
    # 2. A broker pod killed (forced, as when its node dies): the next site.yml restores full membership.
    state["messages"] = write_messages(cluster, "e2e-faults")
    pod = cluster.pods(BROKER_SELECTOR + ",kafka-eks.cluster/broker-id=1")[0]["metadata"]["name"]
    cluster.kubectl("delete", "pod", pod, "--grace-period=0", "--force")
    state["killed_broker_pod"] = pod
    state["rerun_rc"] = run_site(cluster, check=False).returncode
    # 3. An API error: a context that does not exist fails clearly; the next run converges.
    bad = run_site(cluster, "-e", "kafka_k8s_context=no-such-context", check=False)
    state["bad_context_rc"] = bad.returncode
    state["bad_context_output"] = bad.stdout[-4000:] + bad.stderr[-2000:]
    state["after_bad_context_rc"] = run_site(cluster, check=False).returncode
    save(state, state_file)


def site_argv(cluster, *extra, playbook="site.yml"):
    return [ANSIBLE_PLAYBOOK, os.path.join(ROOT, playbook), "-e", "@" + TESTBED_VARS,
            "-e", "kafka_k8s_kubeconfig=" + cluster.kubeconfig] + list(extra)


def site_env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(CACHE, "collections"), ANSIBLE_NOCOLOR="1",
                PATH=os.path.join(CACHE, "venv", "bin") + os.pathsep + os.environ["PATH"])


def registration_ctimes(cluster):
    """Broker id -> when its /brokers/ids node was created (epoch ms)."""
    client = kazoo_client(cluster)
    try:
        return {child: client.get("/brokers/ids/" + child)[1].ctime for child in client.get_children("/brokers/ids")}
    finally:
        client.stop()
        client.close()


def controller(cluster):
    """The broker id in /controller (as a string, like the pod labels)."""
    client = kazoo_client(cluster)
    try:
        return str(json.loads(client.get("/controller")[0])["brokerid"])
    finally:
        client.stop()
        client.close()


def out_of_sync_partitions(cluster):
    """``topic-partition: (replicas, isr)`` of every partition whose ISR lacks one of its replicas, from the
    topic and partition-state nodes Kafka keeps in ZooKeeper."""
    client = kazoo_client(cluster)
    try:
        lagging = {}
        for topic in client.get_children("/brokers/topics"):
            replicas = json.loads(client.get("/brokers/topics/" + topic)[0])["partitions"]
            for partition, assigned in replicas.items():
                state = json.loads(client.get("/brokers/topics/%s/partitions/%s/state" % (topic, partition))[0])
                if set(assigned) - set(state["isr"]):
                    lagging["%s-%s" % (topic, partition)] = (assigned, state["isr"])
        return lagging
    finally:
        client.stop()
        client.close()


def image_of(cluster):
    """Broker id -> the image its Deployment runs."""
    return {d["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: d["spec"]["template"]["spec"]["containers"][0]["image"]
            for d in cluster.get("deployments", BROKER_SELECTOR)}


def scale_out(cluster, state_file):
    """Broker 4 added; then a setting of every broker changed, which must restart them one at a time, gated per
    broker (an RF-2 and an RF-1 topic present do not block it); then a bad image rolled to one broker is fixed
    by rerunning with the right one."""
    state = {"before": snapshot(cluster)}
    state["site_rc"] = run_site(cluster, "-e", "kafka_broker_count=5").returncode
    state["after"] = snapshot(cluster)
    state["messages"] = write_messages(cluster, "e2e-rolling")
    # RF <= min ISR: such topics never block a restart (strimzi#2964); their messages survive the roll.
    state["low_rf_messages"] = {}
    for topic, rf in (("e2e-rf2", 2), ("e2e-rf1", 1)):
        cluster.create_topic(topic, replication_factor=rf, min_isr=1, partitions=5)
        messages = ["%s-%d" % (topic, i) for i in range(10)]
        cluster.produce(topic, messages)
        state["low_rf_messages"][topic] = messages
    # A broker property and external access at once: the LoadBalancer Services come first, then every broker rolls
    # to its new setting and its EXTERNAL listener at its load balancer's address.
    changed = ["-e", "kafka_broker_count=5", "-e", '{"kafka_broker_extra_config": {"log.retention.hours": "100"}}',
               "-e", "kafka_broker_external_access=loadbalancer"]
    proc = run_site(cluster, *changed, "--check", "--diff", check=False)
    state["check_rc"], state["check_output"] = proc.returncode, proc.stdout[-60000:] + proc.stderr[-4000:]
    state["after_check"] = snapshot(cluster)
    state["controller_before_rolling"] = controller(cluster)
    proc = run_site(cluster, *changed, check=False)
    state["rolling_rc"], state["rolling_output"] = proc.returncode, proc.stdout[-120000:] + proc.stderr[-4000:]
    # At once: the last broker restarted (the controller) must already be back in every ISR.
    state["out_of_sync_after_rolling"] = out_of_sync_partitions(cluster)
    state["after_rolling"] = snapshot(cluster)
    state["new_pods_created"] = {p["metadata"]["labels"]["kafka-eks.cluster/broker-id"]: p["metadata"]["creationTimestamp"]
                                 for p in cluster.pods(BROKER_SELECTOR)}
    state["registered_at_ms"] = registration_ctimes(cluster)
    state["received"] = cluster.consume("e2e-rolling", len(state["messages"]))
    state["low_rf_received"] = {topic: cluster.consume(topic, len(messages))
                                for topic, messages in state["low_rf_messages"].items()}
    state["load_balancers"] = scenario_default.load_balancer_ips(cluster)
    state["external"] = scenario_default.external_clients(cluster, ["e2e-external-%d" % i for i in range(10)])
    proc = run_site(cluster, *changed, check=False)
    state["rerun_rc"], state["rerun_output"] = proc.returncode, proc.stdout[-30000:]
    state["after_rerun"] = snapshot(cluster)
    # A bad roll: an image the cluster cannot pull. The first broker rolled stays Pending and the run fails
    # after its wait; the others keep the old image. Rerunning with the right image fixes that broker first.
    good = image_of(cluster)["0"]
    bad = ["-e", "kafka_broker_image=registry.example.invalid/no-such/cp-kafka:7.9.0", "-e", "kafka_broker_rollout_timeout=30"]
    proc = run_site(cluster, *(changed + bad), check=False)
    state["bad_rc"], state["bad_output"] = proc.returncode, proc.stdout[-20000:] + proc.stderr[-4000:]
    state["images_after_bad"] = image_of(cluster)
    proc = run_site(cluster, *changed, check=False)
    state["fix_rc"], state["fix_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
    state["images_after_fix"], state["good_image"] = image_of(cluster), good
    state["after_fix"] = snapshot(cluster)
    save(state, state_file)


def teardown(cluster, state_file):
    state = {"before": snapshot(cluster), "messages": write_messages(cluster, "e2e-teardown")}
    state["teardown_rc"] = run_playbook(cluster, "playbooks/teardown.yml").returncode
    state["after_teardown"] = {kind: [o["metadata"]["name"] for o in cluster.get(kind)]
                               for kind in ("deployments", "statefulsets", "services", "pods", "pvc", "configmaps")}
    state["site_rc"] = run_site(cluster).returncode
    state["after_site"] = snapshot(cluster)
    state["received"] = cluster.consume("e2e-teardown", len(state["messages"]))
    state["teardown_data_rc"] = run_playbook(cluster, "playbooks/teardown.yml", "-e",
                                             "kafka_teardown_delete_data=true").returncode
    state["after_teardown_data"] = {kind: [o["metadata"]["name"] for o in cluster.get(kind)]
                                    for kind in ("deployments", "statefulsets", "pvc")}
    save(state, state_file)


def run_playbook(cluster, playbook, *extra):
    proc = subprocess.run(site_argv(cluster, *extra, playbook=playbook), cwd=ROOT, env=site_env(),
                          capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-6000:])
    return proc


def anti_affinity(cluster, state_file):
    state = {}
    required = run_site(cluster, "-e", "zookeeper_anti_affinity=required", check=False)
    state["required_rc"] = required.returncode
    # Ansible prints a failed task's message and warnings on stderr.
    state["required_output"] = required.stdout[-6000:] + required.stderr[-6000:]
    namespaces = json.loads(cluster.kubectl("get", "namespaces", "-o", "json").stdout)["items"]
    state["namespace_exists_after_required"] = any(n["metadata"]["name"] == cluster.namespace for n in namespaces)
    preferred = run_site(cluster, check=False)
    state["preferred_rc"] = preferred.returncode
    state["preferred_output"] = preferred.stdout[-30000:] + preferred.stderr[-10000:]
    state["zookeeper_nodes"] = {p["metadata"]["name"]: p["spec"].get("nodeName")
                                for p in cluster.pods("app.kubernetes.io/component=zookeeper")}
    save(state, state_file)


def multi_cluster(cluster, state_file, second):
    """First cluster fails its preflight (an even ensemble): the second must not be touched."""
    inventory = os.path.join(os.path.dirname(state_file), "multi_cluster_failing_inventory.yml")
    with open(inventory, "w") as handle:
        json.dump({"kafka_clusters": {"hosts": {
            cluster.name: {"kafka_k8s_kubeconfig": cluster.kubeconfig, "zookeeper_replicas": 2},
            second.name: {"kafka_k8s_kubeconfig": second.kubeconfig, "kafka_namespace": "kafka-untouched"},
        }, "vars": {"ansible_connection": "local"}}}, handle)
    argv = [ANSIBLE_PLAYBOOK, "-i", inventory, os.path.join(ROOT, "playbooks", "multi_cluster.yml"),
            "-e", "@" + TESTBED_VARS]
    proc = subprocess.run(argv, cwd=ROOT, env=site_env(), capture_output=True, text=True, timeout=1800, check=False)
    print(proc.stdout[-4000:])
    namespaces = json.loads(Cluster(second.name, "default").kubectl("get", "namespaces", "-o", "json").stdout)
    save({"rc": proc.returncode, "output": proc.stdout[-8000:] + proc.stderr[-8000:],
          "second_namespaces": [n["metadata"]["name"] for n in namespaces["items"]]}, state_file)



# --- least_privilege: every playbook run as a ServiceAccount bound only to examples/rbac -------------------------

RBAC_DIR = os.path.join(ROOT, "examples", "rbac")
LP_SERVICE_ACCOUNT = ("kube-system", "kafka-eks")
LP_FOREIGN_NAMESPACE = "kafka-foreign"
# A broker property the rolling change sets (the Deployments' env changes, so every broker restarts).
LP_ROLL_VARS = ["-e", json.dumps({"kafka_broker_extra_config": {"log.cleaner.backoff.ms": "15001"}})]


def admin_kubectl(cluster, *args, stdin=None):
    """kubectl as the bed's admin, without a default namespace (the RBAC files name their own)."""
    proc = subprocess.run([os.path.join(CACHE, "bin", "kubectl"), "--kubeconfig", cluster.kubeconfig] + list(args),
                          input=stdin, capture_output=True, text=True, timeout=180, check=False)
    if proc.returncode != 0:
        raise AssertionError("kubectl %s failed (%d): %s%s" % (" ".join(args), proc.returncode, proc.stdout,
                                                               proc.stderr))
    return proc.stdout


def rbac_for_namespace(namespace):
    """examples/rbac/namespace.yml for another namespace (its documents name `kafka` as the namespace)."""
    import yaml
    with open(os.path.join(RBAC_DIR, "namespace.yml")) as handle:
        rbac = yaml.safe_load(handle)
    docs = rbac["items"]
    for doc in docs:
        if doc["kind"] == "Namespace":
            doc["metadata"]["name"] = namespace
        else:
            doc["metadata"]["namespace"] = namespace
        for rule in doc.get("rules", []):
            if "resourceNames" in rule:
                rule["resourceNames"] = [namespace]
    return yaml.safe_dump(rbac)


def as_service_account(cluster, token, playbook, log_path, *extra):
    """A playbook with only the ServiceAccount's token: no kubeconfig, no K8S_AUTH_* from the environment.
    The whole output (stdout and stderr) goes to log_path, for verify to search for the token."""
    ca_cert = os.path.join(CACHE, "testbeds", cluster.name, "pki", "ca.crt")
    with open(os.path.join(CACHE, "testbeds", cluster.name, "testbed.json")) as handle:
        server = json.load(handle)["apiserver"]
    argv = [ANSIBLE_PLAYBOOK, os.path.join(ROOT, playbook), "-e", "@" + TESTBED_VARS,
            "-e", "kafka_k8s_host=" + server, "-e", "kafka_k8s_ca_cert=" + ca_cert,
            "-e", "kafka_k8s_api_key=" + token] + list(extra)
    env = dict((k, v) for k, v in site_env().items() if not (k.startswith("K8S_AUTH_") or k == "KUBECONFIG"))
    # No ~/.kube/config to fall back to either.
    env["HOME"] = os.path.join(CACHE, "least-privilege-home")
    os.makedirs(env["HOME"], exist_ok=True)
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    with open(log_path, "w") as handle:
        handle.write(proc.stdout)
        handle.write(proc.stderr)
    print("%s %s: rc %d in %.1f s (log %s)" % (playbook, " ".join(extra), proc.returncode,
                                               time.monotonic() - started, log_path))
    return {"rc": proc.returncode, "log": log_path, "tail": (proc.stdout[-6000:] + proc.stderr[-3000:])}


def can_i(cluster, token, verb, resource, namespace=None):
    """What the API server says the token may do (kubectl auth can-i, as the ServiceAccount)."""
    ca_cert = os.path.join(CACHE, "testbeds", cluster.name, "pki", "ca.crt")
    with open(os.path.join(CACHE, "testbeds", cluster.name, "testbed.json")) as handle:
        server = json.load(handle)["apiserver"]
    argv = [os.path.join(CACHE, "bin", "kubectl"), "--kubeconfig", os.devnull, "--server", server,
            "--certificate-authority", ca_cert, "--token", token, "auth", "can-i", verb, resource]
    if namespace:
        argv += ["-n", namespace]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    return proc.stdout.strip()


def namespace_exists(cluster, name):
    items = json.loads(admin_kubectl(cluster, "get", "namespaces", "-o", "json"))["items"]
    return any(n["metadata"]["name"] == name for n in items)


def least_privilege(cluster, state_file):
    logs = os.path.dirname(state_file)
    state = {"namespace_before": namespace_exists(cluster, cluster.namespace)}
    started = time.monotonic()
    # The cluster-wide part only: the namespace, and with it the Role, does not exist yet.
    admin_kubectl(cluster, "apply", "-f", os.path.join(RBAC_DIR, "cluster.yml"))
    token = admin_kubectl(cluster, "-n", LP_SERVICE_ACCOUNT[0], "create", "token", LP_SERVICE_ACCOUNT[1],
                          "--duration", "3600s").strip()
    state["token"] = token
    state["can_i_before"] = {"list nodes": can_i(cluster, token, "list", "nodes"),
                             "create namespaces": can_i(cluster, token, "create", "namespaces"),
                             "create services": can_i(cluster, token, "create", "services", cluster.namespace)}

    # 1. Check mode on the fresh cluster, as the ServiceAccount: a preview, nothing created.
    state["check"] = as_service_account(cluster, token, "site.yml", os.path.join(logs, "least_privilege-check.log"),
                                        "--check", "--diff", "-vvv")
    state["namespace_after_check"] = namespace_exists(cluster, cluster.namespace)

    # 2. The namespaced part, then the real rollout at -vvv: the token is the sentinel verify looks for.
    admin_kubectl(cluster, "apply", "-f", os.path.join(RBAC_DIR, "namespace.yml"))
    state["can_i"] = {"list secrets": can_i(cluster, token, "list", "secrets", cluster.namespace),
                      "create services": can_i(cluster, token, "create", "services", cluster.namespace),
                      "create services in default": can_i(cluster, token, "create", "services", "default"),
                      "create namespaces": can_i(cluster, token, "create", "namespaces")}
    state["site"] = as_service_account(cluster, token, "site.yml", os.path.join(logs, "least_privilege-site.log"),
                                       "-vvv")
    state["topic"] = "e2e-least-privilege"
    state["messages"] = write_messages(cluster, state["topic"], count=10)

    # 3. The heal: broker 2's registration deleted from another ZooKeeper session; only its pod is replaced.
    state["before_heal"] = snapshot(cluster)
    drop_registration(cluster, 2)
    wait_for(lambda: 2 not in cluster.registered_broker_ids(), 30, "broker 2 to be missing")
    state["heal"] = as_service_account(cluster, token, "site.yml", os.path.join(logs, "least_privilege-heal.log"),
                                       "-v")
    state["after_heal"] = snapshot(cluster)
    state["registered_after_heal"] = sorted(cluster.registered_broker_ids())

    # 4. A rolling change (a broker property): every broker restarts, one at a time.
    state["roll"] = as_service_account(cluster, token, "site.yml", os.path.join(logs, "least_privilege-roll.log"),
                                       "-v", *LP_ROLL_VARS)
    state["after_roll"] = snapshot(cluster)
    state["registered_after_roll"] = sorted(cluster.registered_broker_ids())
    state["received"] = cluster.consume(state["topic"], len(state["messages"]))
    state["roll_env"] = {d["metadata"]["name"]: [e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]
                                                  .get("env", []) if e["name"] == "KAFKA_LOG_CLEANER_BACKOFF_MS"]
                         for d in cluster.get("deployments", BROKER_SELECTOR)}

    # 5. The teardown: workloads and Services go, the claims stay.
    state["teardown"] = as_service_account(cluster, token, "playbooks/teardown.yml",
                                           os.path.join(logs, "least_privilege-teardown.log"), "-v")
    state["after_teardown"] = dict((kind, sorted(o["metadata"]["name"] for o in cluster.get(kind)))
                                   for kind in ("deployments", "statefulsets", "services", "pdb", "configmaps",
                                                "pvc"))

    # 6. A namespace that holds only someone else's ConfigMap named like the collection's: left, and reported.
    admin_kubectl(cluster, "apply", "-f", "-", stdin=rbac_for_namespace(LP_FOREIGN_NAMESPACE))
    admin_kubectl(cluster, "-n", LP_FOREIGN_NAMESPACE, "create", "configmap", "kafka-client-config",
                  "--from-literal=owner=someone-else")
    foreign = Cluster(cluster.name, LP_FOREIGN_NAMESPACE)
    state["foreign_before"] = foreign.uids("configmaps", None)
    state["foreign_teardown"] = as_service_account(cluster, token, "playbooks/teardown.yml",
                                                   os.path.join(logs, "least_privilege-foreign.log"), "-v",
                                                   "-e", "kafka_namespace=" + LP_FOREIGN_NAMESPACE)
    state["foreign_after"] = foreign.uids("configmaps", None)
    state["seconds"] = round(time.monotonic() - started, 1)
    save(state, state_file)

    # Leave the bed as the other scenarios expect it (cleanup deletes the kafka namespace).
    admin_kubectl(cluster, "delete", "namespace", LP_FOREIGN_NAMESPACE, "--wait=false")
    admin_kubectl(cluster, "delete", "-f", os.path.join(RBAC_DIR, "cluster.yml"), "--ignore-not-found")

# The seed's own versions (cp-kafka 5.5.11 = Kafka 2.5, ZooKeeper 3.4.10), 3 brokers: the smallest cluster where
# an RF-3 min-ISR-2 topic keeps taking acks=all writes while one broker restarts.
SEED_VERSIONS = ["-e", json.dumps({"zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                                   "zookeeper_image_flavor": "kubernetes-zookeeper",
                                   "kafka_broker_image": "confluentinc/cp-kafka:5.5.11", "kafka_broker_count": 3})]
# The collection's defaults, the same 3 brokers.
UPGRADED = ["-e", json.dumps({"kafka_broker_count": 3})]
HOLD = ["-e", json.dumps({"kafka_broker_upgrade_bump_protocol": False})]


def protocol_of(cluster):
    """Broker id -> the inter.broker.protocol.version its Deployment pins (None when it pins none)."""
    result = {}
    for deployment in cluster.get("deployments", BROKER_SELECTOR):
        (container,) = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "broker"]
        env = dict((e["name"], e.get("value")) for e in container.get("env", []))
        result[deployment["metadata"]["labels"]["kafka-eks.cluster/broker-id"]] = env.get(
            "KAFKA_INTER_BROKER_PROTOCOL_VERSION")
    return result


def versions_of(cluster):
    """What runs: ZooKeeper servers' own version (srvr), broker Deployments' images and protocol pins."""
    servers = {}
    for address in cluster.zookeeper_addresses():
        servers[address] = srvr_version(address)
    return {"zookeeper": servers, "images": image_of(cluster), "protocols": protocol_of(cluster)}


def resource_versions(cluster):
    """Every object's resourceVersion: a refused run must leave each one as it was."""
    return dict(("%s/%s" % (kind, o["metadata"]["name"]), o["metadata"]["resourceVersion"])
                for kind in ("deployments", "statefulsets", "services", "pvc", "configmaps", "poddisruptionbudgets")
                for o in cluster.get(kind))


def zookeeper_rolled(cluster):
    """Every ZooKeeper pod off the seed's image (kubernetes-zookeeper) and ready: the ZooKeeper step is done."""
    pods = cluster.pods("app.kubernetes.io/component=zookeeper")
    return bool(pods) and all(
        "kubernetes-zookeeper" not in pod["spec"]["containers"][0]["image"]
        and any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
        for pod in pods)


def upgrade(cluster, state_file):
    """From the seed's versions to the defaults with a canary running: killed in the first broker roll and
    rerun holding the protocol, refusals that write nothing, then the raise, then a rerun that changes nothing."""
    from canary import Canary  # pylint: disable=import-outside-toplevel
    state = {"before": versions_of(cluster), "snapshot_before": snapshot(cluster)}
    state["messages"] = write_messages(cluster, "e2e-upgrade")
    canary = Canary.for_kubeconfig(cluster.kubeconfig, namespace=cluster.namespace, rate=50)
    canary.start()
    steps = state["step_seconds"] = {}
    began, began_canary = time.monotonic(), canary.now()
    try:
        # 1. Killed in the middle of the first broker roll (after ZooKeeper, once a broker got the new image).
        target = "confluentinc/cp-kafka"
        # Output to a file: a pipe nobody reads while waiting would fill and stall the run.
        killed_log = os.path.join(CACHE, "e2e-logs", "upgrade-killed-run.log")
        os.makedirs(os.path.dirname(killed_log), exist_ok=True)
        log = open(killed_log, "w")  # pylint: disable=consider-using-with
        runner = subprocess.Popen(site_argv(cluster, *(UPGRADED + HOLD)), cwd=ROOT, env=site_env(),
                                  stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        zookeeper_done = {}

        def first_broker_moved():
            if runner.poll() is not None:
                with open(killed_log) as handle:
                    raise AssertionError("site.yml ended (rc %s) before any broker got the new image:\n%s"
                                         % (runner.returncode, handle.read()[-6000:]))
            if not zookeeper_done and zookeeper_rolled(cluster):
                zookeeper_done.update(monotonic=time.monotonic(), canary=canary.now())
            return [b for b, image in image_of(cluster).items()
                    if image.startswith(target) and not image.endswith(":5.5.11")]
        try:
            wait_for(first_broker_moved, 900, "a broker Deployment with the new image", interval=0.5)
        finally:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait()
            log.close()
            with open(killed_log) as handle:
                state["killed_output"] = handle.read()[-20000:]
        killed_at = canary.now()
        state["at_kill"] = versions_of(cluster)
        steps["zookeeper_roll_and_first_broker_until_killed"] = round(time.monotonic() - began, 1)
        # The ZooKeeper roll (site.yml's start to every server ready on the new image) and what came after it
        # until the kill, apart: the first is the upgrade's ZooKeeper step, the second part of the first roll.
        zookeeper_done.setdefault("monotonic", time.monotonic())
        zookeeper_done.setdefault("canary", killed_at)
        steps["zookeeper_roll"] = round(zookeeper_done["monotonic"] - began, 1)
        steps["first_broker_roll_until_killed"] = round(time.monotonic() - zookeeper_done["monotonic"], 1)
        canary.mark_phase("zookeeper_roll", began_canary, zookeeper_done["canary"])
        canary.mark_phase("first_broker_roll_until_killed", zookeeper_done["canary"], killed_at)
        began = time.monotonic()
        # 2. Rerun, holding the protocol: every broker on the new image, the protocol still the seed's.
        with canary.phase("rerun_first_broker_roll_held"):
            proc = run_site(cluster, *(UPGRADED + HOLD), check=False)
        state["held_rc"], state["held_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["held"] = versions_of(cluster)
        steps["rerun_first_broker_roll_held"] = round(time.monotonic() - began, 1)
        # 3. Refused before any write: Kafka 4 in ZooKeeper mode, a ZooKeeper downgrade.
        refused = {}
        for name, extra in (("kafka4", {"kafka_broker_image": "confluentinc/cp-kafka:8.0.0"}),
                            ("zookeeper_downgrade", {"zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
                                                     "zookeeper_image_flavor": "kubernetes-zookeeper"})):
            before = resource_versions(cluster)
            proc = run_site(cluster, *(UPGRADED + ["-e", json.dumps(extra)]), check=False)
            # Under molecule a failed task's message goes to stderr (ANSIBLE_DISPLAY_FAILED_STDERR): keep both.
            refused[name] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                             "unchanged": resource_versions(cluster) == before}
        # 4. The raise: a second roll.
        began = time.monotonic()
        with canary.phase("second_roll_protocol_raised"):
            proc = run_site(cluster, *UPGRADED, check=False)
        state["raise_rc"], state["raise_output"] = proc.returncode, proc.stdout[-30000:] + proc.stderr[-4000:]
        state["raised"] = versions_of(cluster)
        steps["second_roll_protocol_raised"] = round(time.monotonic() - began, 1)
        # 5. After the raise, the seed's broker image is refused.
        before = resource_versions(cluster)
        proc = run_site(cluster, *(UPGRADED + ["-e", json.dumps({"kafka_broker_image": "confluentinc/cp-kafka:5.5.11"})]),
                        check=False)
        refused["downgrade_after_raise"] = {"rc": proc.returncode, "output": proc.stdout[-6000:] + proc.stderr[-4000:],
                                            "unchanged": resource_versions(cluster) == before}
        state["refused"] = refused
        # 6. A rerun after the end changes nothing.
        began = time.monotonic()
        proc = run_site(cluster, *UPGRADED, check=False)
        state["rerun_rc"], state["rerun_output"] = proc.returncode, proc.stdout[-8000:]
        steps["rerun_after_the_end"] = round(time.monotonic() - began, 1)
    finally:
        state["canary"] = canary.stop()
    state["received"] = cluster.consume("e2e-upgrade", len(state["messages"]))
    save(state, state_file)


ACTIONS = {
    "anti_affinity": anti_affinity,
    "multi_cluster": multi_cluster,
    "faults": faults,
    "heal": heal,
    "heal_refuses": heal_refuses,
    "scale_out": scale_out,
    "teardown": teardown,
    "least_privilege": least_privilege,
    "upgrade": upgrade,
    # A scenario whose whole story is in one file (tests/e2e/scenario_<name>.py).
    "default": scenario_default.faults,
    "migration": scenario_migration.faults,
}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=sorted(ACTIONS))
    parser.add_argument("--testbed", required=True)
    parser.add_argument("--namespace", default="kafka")
    parser.add_argument("--state", required=True)
    parser.add_argument("--second-testbed", help="multi_cluster: the cluster that must stay untouched")
    args = parser.parse_args()
    extra = (Cluster(args.second_testbed, args.namespace),) if args.second_testbed else ()
    ACTIONS[args.action](Cluster(args.testbed, args.namespace), args.state, *extra)


if __name__ == "__main__":
    main()
