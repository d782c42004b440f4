"""Scenario zookeeper_auth (molecule/zookeeper_auth): an open running cluster moved to ZooKeeper authentication,
Kafka's documented way, under an acks=all canary; the smallest cluster that proves it (1 ZooKeeper server, 3 brokers,
RF 3, min ISR 2; the brokers talk TLS to each other with a certificate the collection made, kafka_broker_tls_generate,
and clients use plaintext).

(1) The open cluster runs and holds messages. (2) site.yml with zookeeper_auth: sasl is killed once the first broker
restarted logging in; (3) the next run continues from what runs: the servers already accept SASL, the brokers not yet
logged in roll, every broker rolls again with zookeeper.set.acl, zookeeper-security-migration secures the znodes (proven
by their ACLs), ZooKeeper rolls to refuse clients that did not log in. The canary loses nothing, no two brokers are down
at once. (4) A client without the password can neither create, delete nor read under /brokers; logged in, it finds
Kafka's ACLs. (5) A rerun changes nothing; status.yml says healthy, proving the ACLs. Every message written before is
read back; each broker shows the generated certificate on its inter-broker listener, verified with the CA the
collection made. Slow (about 10 minutes): `make test-slow SCENARIO=zookeeper_auth`.
"""
import base64
import json
import os
import signal
import subprocess
import time

from lib import BROKER_SELECTOR, ROOT, wait_for
from scenarios import (admin_kubectl, assert_recap_unchanged, assert_zookeeper_secured, load, new_canary,
                       run_playbook, run_site, save, served_certificate, site_argv, site_env, write_messages,
                       zookeeper_auth_checks)

SLOW = True
BROKERS = 3
SECRET = "zookeeper-auth"
PASSWORD = "zk $(pw) ;'p4ss"
# The inter-broker listener on TLS with a certificate the collection makes (the brokers verify each other with it).
OPEN = {"kafka_broker_count": BROKERS, "zookeeper_replicas": 1, "kafka_broker_listener_security": {"internal": "ssl"},
        "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_tls_generate": True}
SECURED = dict(OPEN, zookeeper_auth="sasl", zookeeper_auth_secret=SECRET)
TOPIC = "e2e-zookeeper-auth"


def site(cluster, variables, check=True):
    return run_site(cluster, "-e", json.dumps(variables), check=check)


def output(proc):
    return proc.stdout[-8000:] + proc.stderr[-4000:]


def broker_generations(cluster):
    """{broker id: (Deployment generation, whether its pod of that generation is available)}."""
    found = {}
    for deployment in cluster.get("deployments", BROKER_SELECTOR):
        status = deployment.get("status") or {}
        found[deployment["metadata"]["labels"]["kafka-eks.cluster/broker-id"]] = (
            deployment["metadata"]["generation"],
            status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == 1 and status.get("availableReplicas") == 1)
    return found


def logged_in(deployment):
    env = deployment["spec"]["template"]["spec"]["containers"][0].get("env") or []
    return any(e.get("name") == "KAFKA_OPTS" for e in env)


def side_effect(cluster, state_file):
    state = {}
    # (1) The open cluster, with messages in it.
    admin_kubectl(cluster, "create", "namespace", cluster.namespace)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": SECRET, "namespace": cluster.namespace},
              "type": "Opaque", "stringData": {"password": PASSWORD}}
    admin_kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(secret))
    site(cluster, OPEN)
    state["messages"] = write_messages(cluster, TOPIC)
    canary = new_canary(cluster)
    canary.start()
    try:
        with canary.phase("zookeeper_auth"):
            # (2) Killed once the first broker runs logged in (its new pod available).
            started = time.monotonic()
            proc = subprocess.Popen(site_argv(cluster, "-e", json.dumps(SECURED)), cwd=ROOT, env=site_env(),
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    start_new_session=True)

            def first_logged_in():
                running = [d for d in cluster.get("deployments", BROKER_SELECTOR) if logged_in(d)]
                done = broker_generations(cluster)
                return [d["metadata"]["name"] for d in running
                        if done[d["metadata"]["labels"]["kafka-eks.cluster/broker-id"]][1]]
            state["killed_after"] = wait_for(first_logged_in, 900, "a broker running logged in to ZooKeeper")
            os.killpg(proc.pid, signal.SIGKILL)
            state["interrupted_output"] = (proc.communicate()[0] or "")[-6000:]
            state["interrupted_seconds"] = round(time.monotonic() - started, 1)
            # (3) The next run continues from what runs.
            started = time.monotonic()
            state["secure"] = output(site(cluster, SECURED))
            state["secure_seconds"] = round(time.monotonic() - started, 1)
    finally:
        state["canary"] = canary.stop()
    state["deployments"] = [d["spec"] for d in cluster.get("deployments", BROKER_SELECTOR)]
    state["statefulsets"] = [s["spec"] for s in cluster.get("statefulsets")]
    # (4) What a ZooKeeper client sees now.
    state["zookeeper"] = zookeeper_auth_checks(cluster, "kafka", PASSWORD)
    # (5) Nothing left to do; status.yml proves the ACLs.
    state["rerun"] = output(site(cluster, SECURED))
    status = run_playbook(cluster, "playbooks/status.yml", "-e", json.dumps(SECURED))
    state["status"] = {"rc": status.returncode, "output": output(status)}
    state["received"] = cluster.consume(TOPIC, len(state["messages"]))
    # The generated certificate, as each broker shows it on its inter-broker listener, verified with the CA.
    ca = json.loads(cluster.kubectl("get", "secret", "kafka-tls-ca", "-o", "json").stdout)
    cafile = os.path.join(os.path.dirname(state_file), "zookeeper-auth-ca.pem")
    with open(cafile, "wb") as handle:
        handle.write(base64.b64decode(ca["data"]["tls.crt"]))
    canary.kube.poll(0)
    state["served"] = dict((s, served_certificate(canary.kube.resolve, s, 9093, cafile))
                           for s in ("kafka-service-%d" % b for b in range(BROKERS)))
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    assert state["killed_after"], "site.yml was not interrupted after a broker logged in"
    folded = " ".join(state["secure"].split())
    assert "zookeeper-security-migration ran in pod" in folded, folded[-3000:]
    report = state["canary"]
    assert report["acknowledged"] > 0 and report["lost"] == 0 and report["unanswered"] == 0, report
    windows = [w for w in report["restart_windows"] if w["closed"]]
    for earlier, later in zip(windows, windows[1:]):
        assert later["start"] >= earlier["end"], "two brokers were down at once: %s" % windows
    for deployment in state["deployments"]:
        env = dict((e["name"], e.get("value")) for e in deployment["template"]["spec"]["containers"][0]["env"])
        assert env.get("KAFKA_ZOOKEEPER_SET_ACL") == "true" and "kafka-jaas.conf" in env.get("KAFKA_OPTS", ""), env
    extra = [e.get("value") for s in state["statefulsets"] for e in s["template"]["spec"]["containers"][0]["env"]
             if e["name"] == "ZOO_CFG_EXTRA"]
    assert extra and "enforce.auth.enabled=true" in extra[0], extra
    assert_zookeeper_secured(state["zookeeper"], range(BROKERS))
    assert_recap_unchanged(state["rerun"])
    status = state["status"]
    folded = " ".join(status["output"].split())
    assert status["rc"] == 0 and "ZooKeeper authentication: Kafka's znodes carry ACLs" in folded, folded[-3000:]
    everything = json.dumps(state)
    assert PASSWORD not in everything, "the ZooKeeper password is in a spec or a playbook's output"
    assert sorted(state["received"]) == sorted(state["messages"]), (state["received"], state["messages"])
    assert len(set(state["served"].values())) == 1, state["served"]
    print("zookeeper_auth: interrupted after %s logged in (%ss), the next run secured ZooKeeper in %ss; canary %d "
          "acknowledged, %d lost, %d restarts one at a time, p99 %s ms; without the password: create %s, delete %s, "
          "read %s; rerun unchanged; status healthy; %d messages read back" % (
              ", ".join(state["killed_after"]), state["interrupted_seconds"], state["secure_seconds"],
              report["acknowledged"], report["lost"], len(windows), report.get("latency_ms", {}).get("p99"),
              state["zookeeper"]["anonymous_create"], state["zookeeper"]["anonymous_delete"],
              state["zookeeper"]["anonymous_read"], len(state["received"])))
