"""Scenario least_privilege (molecule/least_privilege): every playbook run as a ServiceAccount bound only to
examples/rbac. --check --diff on a cluster without the namespace names every object it would create and creates
nothing; site.yml at -vvv, a heal (lost registration), a rolling change (a broker property) and the teardown pass;
the token is in none of their outputs; the teardown leaves a same-named ConfigMap it did not create and says so.
"""
import json
import os
import subprocess
import time

from lib import BROKER_SELECTOR, CACHE, ROOT, Cluster, drop_registration, wait_for
from scenarios import (ANSIBLE_PLAYBOOK, TESTBED_VARS, admin_kubectl, load, namespace_exists, save, site_env, snapshot,
                       write_messages)


RBAC_DIR = os.path.join(ROOT, "examples", "rbac")
LP_SERVICE_ACCOUNT = ("kube-system", "kafka-eks")
LP_FOREIGN_NAMESPACE = "kafka-foreign"
# A broker property the rolling change sets (the Deployments' env changes, so every broker restarts).
LP_ROLL_VARS = ["-e", json.dumps({"kafka_broker_extra_config": {"log.cleaner.backoff.ms": "15001"}})]


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


def side_effect(cluster, state_file):
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


# Every object site.yml creates for 4 brokers, as "Kind name" (the check-mode preview must name each one).
LP_OBJECTS = (["Namespace kafka", "Service kafka/zk-hs", "Service kafka/zk-cs", "PodDisruptionBudget kafka/zk-pdb",
               "StatefulSet kafka/zookeeper", "PodDisruptionBudget kafka/kafka-broker-pdb",
               "ConfigMap kafka/kafka-client-config"]
              + ["PersistentVolumeClaim kafka/kafka-data-%d" % i for i in range(4)]
              + ["Service kafka/kafka-service-%d" % i for i in range(4)]
              + ["Deployment kafka/kafka-broker-%d" % i for i in range(4)])


def verify(cluster, state_file):
    state = load(state_file)
    token = state["token"]
    assert len(token) > 100 and token.count(".") == 2, "not a ServiceAccount token: %r" % token[:20]
    # The token is the ServiceAccount's and only what examples/rbac grants (the API server's own answers).
    assert state["can_i_before"] == {"list nodes": "yes", "create namespaces": "no", "create services": "no"}, (
        state["can_i_before"])
    assert state["can_i"] == {"list secrets": "no", "create services": "yes", "create services in default": "no",
                              "create namespaces": "no"}, state["can_i"]
    runs = ("check", "site", "heal", "roll", "teardown", "foreign_teardown")
    for run in runs:
        assert state[run]["rc"] == 0, "%s as the ServiceAccount failed:\n%s" % (run, state[run]["tail"])
    # Secrets never print: the token (and its signature alone) is nowhere in any run's stdout+stderr, -vvv included.
    signature = token.rsplit(".", 1)[1]
    for run in runs:
        with open(state[run]["log"]) as handle:
            output = handle.read()
        assert output, "empty log %s" % state[run]["log"]
        assert token not in output and signature not in output, "the token is in %s" % state[run]["log"]
    with open(state["site"]["log"]) as handle:
        site_output = handle.read()
    assert "<127.0.0.1> EXEC" in site_output or "ESTABLISH LOCAL CONNECTION" in site_output, "site.yml ran below -vvv"
    # Check mode on a cluster without the namespace: passed, named every object, created nothing.
    assert state["namespace_before"] is False, "the namespace existed before the check-mode run"
    assert state["namespace_after_check"] is False, "check mode created the namespace"
    with open(state["check"]["log"]) as handle:
        check_output = handle.read()
    missing = [ref for ref in LP_OBJECTS if "+ " + ref not in check_output]
    assert not missing, "check mode did not name: %s" % missing
    # Heal: only broker 2's pod was replaced; Deployments, claims, StatefulSet untouched.
    before, after = state["before_heal"], state["after_heal"]
    assert after["broker_pods"]["2"] != before["broker_pods"]["2"], "broker 2's pod was not replaced"
    for broker in ("0", "1", "3"):
        assert after["broker_pods"][broker] == before["broker_pods"][broker], "broker %s's pod was touched" % broker
    for kind in ("deployments", "pvcs", "statefulsets"):
        assert after[kind] == before[kind], "%s changed in the heal" % kind
    assert state["registered_after_heal"] == [0, 1, 2, 3], state["registered_after_heal"]
    # Rolling change: every broker restarted with the property, same Deployments and claims, no message lost.
    rolled = state["after_roll"]
    assert all(rolled["broker_pods"][b] != after["broker_pods"][b] for b in "0123"), "not every broker restarted"
    assert rolled["deployments"] == after["deployments"] and rolled["pvcs"] == after["pvcs"]
    assert state["roll_env"] == {"kafka-broker-%d" % i: ["15001"] for i in range(4)}, state["roll_env"]
    assert state["registered_after_roll"] == [0, 1, 2, 3], state["registered_after_roll"]
    assert sorted(state["received"]) == sorted(state["messages"]), "messages lost in the roll"
    # Teardown: workloads, Services, PDBs and the client ConfigMap gone, claims kept (read live as well).
    gone = state["after_teardown"]
    for kind in ("deployments", "statefulsets", "services", "pdb"):
        assert gone[kind] == [], "%s left by the teardown: %s" % (kind, gone[kind])
    assert "kafka-client-config" not in gone["configmaps"], gone["configmaps"]
    assert set(gone["pvc"]) == {"kafka-data-%d" % i for i in range(4)} | {"data-zookeeper-%d" % i for i in range(3)}
    assert cluster.get("deployments") == [] and cluster.get("statefulsets") == []
    # A same-named ConfigMap the collection did not create: left (same uid) and reported.
    assert "kafka-client-config" in state["foreign_before"]
    assert state["foreign_after"] == state["foreign_before"], "the teardown deleted an object it did not create"
    with open(state["foreign_teardown"]["log"]) as handle:
        # The YAML callback wraps long messages: compare with the line breaks folded.
        foreign_output = " ".join(handle.read().split())
    assert "so were not created by it: ConfigMap kafka-foreign/kafka-client-config." in foreign_output, (
        state["foreign_teardown"]["tail"][-3000:])
    print("least_privilege: check mode previewed %d objects and created nothing; site.yml, heal, rolling change "
          "and teardown ran with the ServiceAccount token only; the token is in none of %d outputs; a foreign "
          "ConfigMap was left and reported (scenario %.0f s)" % (len(LP_OBJECTS), len(runs), state["seconds"]))
