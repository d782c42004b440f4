"""Scenario tls (molecule/tls): TLS listeners from a Secret in cert-manager's shape, with SASL/SCRAM-SHA-512 on
them (sasl_ssl), on the smallest cluster that proves it (1 ZooKeeper server, 3 brokers, RF 3, min ISR 2).

(1) Refused before any write: the Secrets do not exist (the namespace is not even created); then a certificate
whose names miss a broker (nothing of the cluster is created). (2) With a good certificate the brokers talk
SASL_SSL to each other (INTERNAL, as the inter-broker user kafka-admin, whose password reaches them only through a
secretKeyRef) and to clients (CLIENT): a host client trusting the CA and logging in as alice creates a topic and
reads back what it produced with acks=all; the same client without the CA, with another CA, in plaintext, without
credentials or with a wrong password is refused; with the authorizer on, bob (a prefixed ACL on bob-) is refused
on alice's topic and writes to his own. (3) A second run changes nothing. (3b) bob's password changed in
his Secret: the next run writes his credential anew without restarting a broker; the new password logs in, the
old one no longer does. (3c) bob's ACLs taken off the list: the next run removes the ACL it had added, and bob
can no longer write to his topic. (4) Turning the running brokers' inter-broker listener back to plaintext is
refused, and so is a new password for the inter-broker user of running brokers; nothing written. (5) The certificate is renewed
(new key, same CA): site.yml rolls the brokers one at a time while an acks=all canary logged in as alice runs,
nothing is lost, and each broker then serves the new one. ZooKeeper authentication (zookeeper_auth: sasl) is on from
the start: its missing Secret is refused in (1); (6) a ZooKeeper client without the password can neither create,
delete nor read under /brokers, and one that logs in finds Kafka's ACLs (credentials readable by nobody else); (7) a
broker whose registration was deleted is healed through the collection's own login; (8) status.yml proves the ACLs.
"""
import datetime
import hashlib
import json
import os
import re
import time

from testbed_lib import tls_material

from lib import drop_registration, wait_for
from scenarios import (BROKER_SELECTOR, admin_kubectl, assert_recap_unchanged, assert_zookeeper_secured,
                       external_consume, load, namespace_exists, new_canary, run_playbook, run_site, save,
                       served_certificate, settled_versions, zookeeper_auth_checks)

SECRET = "kafka-tls"
BROKERS = 3
TOPIC = "tls-e2e"
# SCRAM: the inter-broker user's Secret and two users'; passwords with characters a shell or a JAAS parser would
# trip on if they were ever spliced (not '"' or '\\', which the collection refuses).
ADMIN_SECRET = "kafka-admin"
PASSWORDS = {"kafka-admin": "adm1n $(HOME) ;'x", "alice-password": "al1ce-$(id) & {}", "bob-password": "b0b `x` #1",
             "zookeeper-auth": "zk $(pw) ;'p4ss"}
BOB_NEW_PASSWORD = "b0b-rotated ;$x"
# ZooKeeper authentication from the start: the brokers and the collection log in as kafka, znodes carry ACLs, and
# ZooKeeper refuses clients that did not log in (the way there from an open cluster: scenario zookeeper_auth).
ZK_SECRET = "zookeeper-auth"
ZK_PASSWORD = PASSWORDS[ZK_SECRET]
# ACLs: alice may do anything with any topic; bob only with topics whose names start with bob-.
ALICE_ACLS = [{"resource_type": "topic", "name": "*", "operations": ["all"]}]
BOB_ACLS = [{"resource_type": "topic", "name": "bob-", "pattern_type": "prefixed", "operations": ["all"]}]
TLS_VARS = {"kafka_broker_listener_security": {"client": "sasl_ssl", "internal": "sasl_ssl"},
            "kafka_broker_tls_secret": SECRET, "kafka_broker_admin_secret": ADMIN_SECRET,
            "kafka_broker_authorizer": True,
            "kafka_users": [{"name": "alice", "secret": "alice-password", "acls": ALICE_ACLS},
                            {"name": "bob", "secret": "bob-password", "acls": BOB_ACLS}],
            "kafka_broker_count": BROKERS, "zookeeper_replicas": 1,
            "zookeeper_auth": "sasl", "zookeeper_auth_secret": ZK_SECRET}


def site(cluster, check=True, **overrides):
    return run_site(cluster, "-e", json.dumps(dict(TLS_VARS, **overrides)), check=check)


def apply_secret(cluster, cert, key, authority):
    obj = tls_material.secret(SECRET, cluster.namespace, tls_material.secret_data(cert, key, authority))
    admin_kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(obj))


def apply_password(cluster, name, password):
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": cluster.namespace},
           "type": "Opaque", "stringData": {"password": password}}
    admin_kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(obj))


def login(cafile, user, password):
    return {"security_protocol": "SASL_SSL", "ssl_cafile": cafile, "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user, "sasl_plain_password": password}


def produce_as(bootstrap, client, topic, create=False):
    """The error producing one message acks=all to ``topic`` gives (its type's name), or None when it is stored."""
    from kafka import KafkaAdminClient, KafkaProducer  # pylint: disable=import-outside-toplevel
    from kafka.admin import NewTopic  # pylint: disable=import-outside-toplevel
    try:
        if create:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="e2e-acl-admin", **client)
            try:
                admin.create_topics([NewTopic(topic, 1, 3)], timeout_ms=30000)
            finally:
                admin.close()
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="e2e-acl-producer",
                                 max_block_ms=15000, **client)
        try:
            producer.send(topic, b"acl").get(timeout=30)
        finally:
            producer.close(timeout=5)
    except Exception as error:  # pylint: disable=broad-except
        return type(error).__name__
    return None


def output(proc):
    return proc.stdout[-8000:] + proc.stderr[-4000:]


def refusal(bootstrap, **config):
    """The error a client gets (its type's name), or None when it reached the cluster."""
    from kafka import KafkaAdminClient  # pylint: disable=import-outside-toplevel
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="e2e-tls-refused", request_timeout_ms=8000,
                                 api_version_auto_timeout_ms=8000, **config)
    except Exception as error:  # pylint: disable=broad-except
        return type(error).__name__
    admin.close()
    return None


def round_trip(bootstrap, client, count=30):
    from kafka import KafkaAdminClient, KafkaProducer  # pylint: disable=import-outside-toplevel
    from kafka.admin import NewTopic  # pylint: disable=import-outside-toplevel
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="e2e-tls-admin", **client)
    try:
        admin.create_topics([NewTopic(TOPIC, 3, 3, topic_configs={"min.insync.replicas": "2"})], timeout_ms=30000)
    finally:
        admin.close()
    messages = ["tls-%d" % i for i in range(count)]
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", client_id="e2e-tls-producer", **client)
    try:
        for message in messages:
            producer.send(TOPIC, message.encode()).get(timeout=60)
    finally:
        producer.close()
    return messages, external_consume(bootstrap, count, TOPIC, "e2e-tls-consumer", **client)


def side_effect(cluster, state_file):
    state = {}
    here = os.path.dirname(state_file)
    now = datetime.datetime.now(datetime.timezone.utc)
    authority = tls_material.Authority("e2e CA", not_before=now - datetime.timedelta(days=1))
    other = tls_material.Authority("another CA", not_before=now - datetime.timedelta(days=1))
    hour_ago = now - datetime.timedelta(hours=1)
    names = tls_material.broker_names(BROKERS, cluster.namespace)
    cafile, other_cafile = os.path.join(here, "tls-ca.pem"), os.path.join(here, "tls-other-ca.pem")
    for path, ca in ((cafile, authority), (other_cafile, other)):
        with open(path, "w") as handle:
            handle.write(tls_material.pem(ca.cert))

    # (1) Refusals before any write.
    missing = site(cluster, check=False)
    state["missing"] = {"rc": missing.returncode, "output": output(missing),
                        "namespace_created": namespace_exists(cluster, cluster.namespace)}
    admin_kubectl(cluster, "create", "namespace", cluster.namespace)
    for name, password in PASSWORDS.items():
        apply_password(cluster, name, password)
    short, key = authority.issue(dns_names=names[:-2], not_before=hour_ago)
    apply_secret(cluster, short, key, authority)
    uncovered = site(cluster, check=False)
    state["uncovered"] = {"rc": uncovered.returncode, "output": output(uncovered),
                          "objects": [o["metadata"]["name"] for kind in ("statefulsets", "deployments", "services")
                                      for o in cluster.get(kind)]}

    # (2) A good certificate: the cluster comes up on TLS.
    first, key = authority.issue(dns_names=names, not_before=hour_ago)
    apply_secret(cluster, first, key, authority)
    started = time.monotonic()
    site(cluster)
    state["converge_seconds"] = round(time.monotonic() - started, 1)
    trusted = login(cafile, "alice", PASSWORDS["alice-password"])
    canary = new_canary(cluster, client_config=trusted)
    bootstrap = canary.bootstrap_servers
    state["messages"], state["received"] = round_trip(bootstrap, trusted)
    no_ca = dict(trusted, ssl_cafile=None)
    state["refusals"] = {
        "no_ca": refusal(bootstrap, **no_ca),
        "other_ca": refusal(bootstrap, **dict(trusted, ssl_cafile=other_cafile)),
        "plaintext": refusal(bootstrap),
        "no_credentials": refusal(bootstrap, security_protocol="SSL", ssl_cafile=cafile),
        "wrong_password": refusal(bootstrap, **login(cafile, "alice", PASSWORDS["bob-password"])),
        "unknown_user": refusal(bootstrap, **login(cafile, "mallory", PASSWORDS["alice-password"])),
        "trusted": refusal(bootstrap, **trusted),
        "bob": refusal(bootstrap, **login(cafile, "bob", PASSWORDS["bob-password"])),
    }
    bob = login(cafile, "bob", PASSWORDS["bob-password"])
    state["acls"] = {"bob_other_topic": produce_as(bootstrap, bob, TOPIC),
                     "bob_own_topic": produce_as(bootstrap, bob, "bob-e2e", create=True)}
    state["secret_in_deployment"] = [
        e for d in cluster.get("deployments", BROKER_SELECTOR) for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
        if any(p in json.dumps(e) for p in PASSWORDS.values())]
    resolve = canary.kube.resolve
    state["served_before"] = dict((s, served_certificate(resolve, s, 9092, cafile)) for s in names[::2])
    state["first_sha256"] = hashlib.sha256(tls_material.der(first)).hexdigest()

    # (3) Nothing to do: a second run changes nothing.
    state["rerun"] = output(site(cluster))

    # (3b) A user's new password: written anew, no broker restarted; the old password no longer logs in.
    pods = dict((p["metadata"]["name"], p["metadata"]["uid"]) for p in cluster.pods(BROKER_SELECTOR))
    apply_password(cluster, "bob-password", BOB_NEW_PASSWORD)
    rotated = site(cluster)
    state["bob_rotation"] = {
        "output": output(rotated), "pods_kept": pods == dict((p["metadata"]["name"], p["metadata"]["uid"])
                                                            for p in cluster.pods(BROKER_SELECTOR)),
        "new": refusal(bootstrap, **login(cafile, "bob", BOB_NEW_PASSWORD)),
        "old": refusal(bootstrap, **login(cafile, "bob", PASSWORDS["bob-password"])),
    }

    # (3c) bob's ACLs taken off the list: the ACL the collection added is removed; bob may no longer write there.
    unlisted = site(cluster, kafka_users=[{"name": "alice", "secret": "alice-password", "acls": ALICE_ACLS},
                                          {"name": "bob", "secret": "bob-password"}])
    state["acl_removed"] = {"output": output(unlisted),
                            "bob_own_topic": produce_as(bootstrap, login(cafile, "bob", BOB_NEW_PASSWORD), "bob-e2e")}

    # (4) The inter-broker listener of running brokers cannot go back to plaintext in a roll.
    before = settled_versions(cluster)
    # (The authorizer needs the SASL internal listener: off here, so that the refusal is the listener's.)
    back = site(cluster, check=False, kafka_broker_listener_security={"client": "sasl_ssl", "internal": "plaintext"},
                kafka_broker_authorizer=False, kafka_users=[{"name": "alice", "secret": "alice-password"}])
    state["internal_change"] = {"rc": back.returncode, "output": output(back),
                                "unchanged": settled_versions(cluster) == before}
    # ... nor can the inter-broker user's password change under the running brokers.
    apply_password(cluster, ADMIN_SECRET, "another admin password")
    before = settled_versions(cluster)
    admin_change = site(cluster, check=False)
    state["admin_change"] = {"rc": admin_change.returncode, "output": output(admin_change),
                             "unchanged": settled_versions(cluster) == before}
    apply_password(cluster, ADMIN_SECRET, PASSWORDS[ADMIN_SECRET])

    # (5) Renewal: same CA, new key; the brokers roll one at a time under the canary.
    renewed, new_key = authority.issue(dns_names=names, not_before=hour_ago)
    apply_secret(cluster, renewed, new_key, authority)
    pods_before = dict((p["metadata"]["labels"]["kafka-eks.cluster/broker-id"], p["metadata"]["uid"])
                       for p in cluster.pods(BROKER_SELECTOR))
    canary.start()
    try:
        with canary.phase("certificate_renewal_roll"):
            rotation = site(cluster)
    finally:
        state["canary"] = canary.stop()
    state["rotation"] = output(rotation)
    state["specs"] = json.dumps([o["spec"] for kind in ("statefulsets", "deployments") for o in cluster.get(kind)])
    state["pods_before"] = pods_before
    state["pods_after"] = dict((p["metadata"]["labels"]["kafka-eks.cluster/broker-id"], p["metadata"]["uid"])
                               for p in cluster.pods(BROKER_SELECTOR))
    state["renewed_sha256"] = hashlib.sha256(tls_material.der(renewed)).hexdigest()
    canary.kube.poll(0)
    state["served_after"] = dict((s, served_certificate(resolve, s, 9092, cafile)) for s in names[::2])

    # (6) ZooKeeper: without the password a client can neither create, delete nor read under /brokers.
    state["zookeeper"] = zookeeper_auth_checks(cluster, "kafka", ZK_PASSWORD)
    # (7) The heal on the secured cluster: broker 1's registration deleted (by a client that logged in); site.yml
    # proves it missing and replaces the pod (its own zkCli logs in), and broker 1 registers again.
    zk_login = ("kafka", ZK_PASSWORD)
    pods = dict((p["metadata"]["labels"]["kafka-eks.cluster/broker-id"], p["metadata"]["uid"])
                for p in cluster.pods(BROKER_SELECTOR))
    drop_registration(cluster, 1, zk_login)
    wait_for(lambda: 1 not in cluster.registered_broker_ids(zk_login), 30, "broker 1 to be missing")
    healed = site(cluster)
    state["heal"] = {"output": output(healed), "pods_before": pods,
                     "pods_after": dict((p["metadata"]["labels"]["kafka-eks.cluster/broker-id"], p["metadata"]["uid"])
                                        for p in cluster.pods(BROKER_SELECTOR)),
                     "registered": sorted(cluster.registered_broker_ids(zk_login))}
    # (8) status.yml (read-only) proves ZooKeeper authentication by the ACLs of Kafka's znodes.
    status = run_playbook(cluster, "playbooks/status.yml", "-e", json.dumps(TLS_VARS))
    state["status"] = {"rc": status.returncode, "output": output(status)}
    save(state, state_file)


def verify(cluster, state_file):
    state = load(state_file)
    missing = state["missing"]
    assert missing["rc"] != 0 and not missing["namespace_created"], missing["output"][-3000:]
    folded = " ".join(missing["output"].split())
    assert "Secret %s in namespace %s (kafka_broker_tls_secret) does not exist" % (SECRET, cluster.namespace) in folded, \
        folded[-3000:]
    assert "kafka_broker_admin_secret: Secret %s in namespace %s does not exist" % (ADMIN_SECRET, cluster.namespace) \
        in folded, folded[-3000:]
    assert "zookeeper_auth_secret: Secret %s in namespace %s does not exist" % (ZK_SECRET, cluster.namespace) \
        in folded, folded[-3000:]
    uncovered = state["uncovered"]
    folded = " ".join(uncovered["output"].split())
    assert uncovered["rc"] != 0 and "do not cover kafka-service-2, kafka-service-2.%s.svc.cluster.local" % (
        cluster.namespace) in folded, folded[-3000:]
    assert uncovered["objects"] == [], "objects were written although the Secret was refused: %s" % uncovered["objects"]

    # Three partitions: read back partition by partition, every message once.
    assert sorted(state["received"]) == sorted(state["messages"]), (len(state["received"]), len(state["messages"]))
    refusals = state["refusals"]
    assert refusals["trusted"] is None and refusals["bob"] is None, refusals
    for case in ("no_ca", "other_ca", "plaintext", "no_credentials", "wrong_password", "unknown_user"):
        assert refusals[case] is not None, "a client with %s reached the SASL_SSL listener: %s" % (case, refusals)
    assert state["secret_in_deployment"] == [], "a password is in a Deployment: %s" % state["secret_in_deployment"]
    assert state["acls"] == {"bob_other_topic": "TopicAuthorizationFailedError", "bob_own_topic": None}, state["acls"]
    removed = state["acl_removed"]
    assert removed["bob_own_topic"] == "TopicAuthorizationFailedError", removed
    assert re.findall(r" changed=(\d+) ", removed["output"]) == ["1"], removed["output"][-3000:]
    assert set(state["served_before"].values()) == {state["first_sha256"]}, state["served_before"]
    assert_recap_unchanged(state["rerun"])

    change = state["internal_change"]
    folded = " ".join(change["output"].split())
    assert change["rc"] != 0 and "kafka_broker_listener_security" in folded and "inter-broker listener" in folded, \
        folded[-3000:]
    assert change["unchanged"], "the refused run changed objects"
    admin_change = state["admin_change"]
    folded = " ".join(admin_change["output"].split())
    assert admin_change["rc"] != 0 and "the running brokers authenticate to each other as kafka-admin" in folded, \
        folded[-3000:]
    assert admin_change["unchanged"], "the refused run changed objects"
    rotation = state["bob_rotation"]
    assert rotation["pods_kept"] and rotation["new"] is None and rotation["old"] is not None, rotation
    # One change: bob's credential (the clients above prove which password it holds; no pod was replaced).
    assert re.findall(r" changed=(\d+) ", rotation["output"]) == ["1"], rotation["output"][-3000:]
    everything = json.dumps(state)
    for password in list(PASSWORDS.values()) + [BOB_NEW_PASSWORD]:
        for text in (state["rerun"], rotation["output"], admin_change["output"], state["rotation"]):
            assert password not in text, "a password is in a playbook's output"
    assert "stored_key" not in everything and "salt=" not in everything
    # The renewal: every broker pod replaced, one at a time, nothing lost, the new certificate served.
    before, after = state["pods_before"], state["pods_after"]
    assert sorted(before) == sorted(after) == [str(b) for b in range(BROKERS)], (before, after)
    assert all(before[b] != after[b] for b in before), "a broker kept its pod through the renewal"
    report = state["canary"]
    assert report["acknowledged"] > 0 and report["lost"] == 0 and report["unanswered"] == 0, report
    windows = [w for w in report["restart_windows"] if w["closed"]]
    assert len({w["broker"] for w in windows}) == BROKERS, windows
    for earlier, later in zip(windows, windows[1:]):
        assert later["start"] >= earlier["end"], "two brokers were down at once: %s" % windows
    assert set(state["served_after"].values()) == {state["renewed_sha256"]}, state["served_after"]
    # ZooKeeper authentication: refused without the password, Kafka's ACLs on its znodes, no password in a spec.
    zookeeper = state["zookeeper"]
    assert_zookeeper_secured(zookeeper, range(BROKERS))
    assert ZK_PASSWORD not in state["specs"], "the ZooKeeper password is in a pod template"
    heal = state["heal"]
    assert heal["registered"] == [0, 1, 2], heal["registered"]
    assert heal["pods_after"]["1"] != heal["pods_before"]["1"], "broker 1's pod was not replaced by the heal"
    assert all(heal["pods_after"][b] == heal["pods_before"][b] for b in ("0", "2")), "the heal touched another broker"
    status = state["status"]
    folded = " ".join(status["output"].split())
    assert status["rc"] == 0 and "ZooKeeper authentication: Kafka's znodes carry ACLs: only kafka may change them." in \
        folded, folded[-3000:]
    for text in (heal["output"], status["output"]):
        assert ZK_PASSWORD not in text, "the ZooKeeper password is in a playbook's output"
    print("tls: refused missing Secrets and uncovered names before any write; converged in %ss; clients without the "
          "CA, with another CA, in plaintext, without credentials (%s) or with a wrong password (%s) refused; bob's "
          "new password written without a restart; bob refused on a topic without an ACL (%s), allowed on his prefix, "
          "refused again once his ACL was unlisted; the inter-broker password change refused; renewal rolled %d "
          "brokers one at a time, canary %d acknowledged, %d lost, p99 %s ms; without the ZooKeeper password: create "
          "%s, delete %s, read %s; broker 1's lost registration healed on the secured ensemble" % (
              state["converge_seconds"], refusals["no_credentials"], refusals["wrong_password"],
              state["acls"]["bob_other_topic"], BROKERS,
              report["acknowledged"], report["lost"], report.get("latency_ms", {}).get("p99"),
              zookeeper["anonymous_create"], zookeeper["anonymous_delete"], zookeeper["anonymous_read"]))
