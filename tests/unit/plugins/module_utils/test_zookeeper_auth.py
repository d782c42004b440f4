"""ZooKeeper authentication's pure parts: the JAAS files, the step a cluster stands at (proven from what runs, never
from the variables alone), Kafka's ACL for a znode and which znodes are open."""
import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth as za
from ansible_collections.kafka_eks.cluster.plugins.module_utils.zookeeper import SEQUENTIAL, zkcli_write_script

BROKERS = ["kafka-broker-0", "kafka-broker-1", "kafka-broker-2"]
WANTED = za.target("kafka", "zk-auth", "password", "zookeeper-jaas")


def statefulset(server=True, enforce=False, rolled=True, replicas=3):
    extra = ([za.SASL_PROVIDER] if server else []) + (list(za.ENFORCE) if enforce else [])
    env = [{"name": "ZOO_SERVERS", "value": "server.1=..."}] + (
        [{"name": "ZOO_CFG_EXTRA", "value": " ".join(["snapshot.trust.empty=true"] + extra)}])
    return {"metadata": {"name": "zookeeper", "generation": 4},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "zookeeper", "env": env}]}}},
            "status": {"observedGeneration": 4, "replicas": replicas, "readyReplicas": replicas,
                       "updatedReplicas": replicas if rolled else replicas - 1}}


def deployment(name, login=True, set_acl=False, rolled=True):
    env = [{"name": "KAFKA_BROKER_ID", "value": "0"}]
    if login:
        env.append({"name": "KAFKA_OPTS", "value": "-Xss1m " + za.LOGIN_CONFIG_FLAG + za.BROKER_MOUNT + "/"
                    + za.CLIENT_JAAS_KEY})
    if set_acl:
        env.append({"name": "KAFKA_ZOOKEEPER_SET_ACL", "value": "true"})
    # A sidecar first would be the wrong container: the broker is the pod template's first container.
    return {"metadata": {"name": name, "generation": 7},
            "spec": {"template": {"spec": {"containers": [{"name": "broker", "env": env}]}}},
            "status": {"observedGeneration": 7 if rolled else 6, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": 1}}


def test_jaas_files_hold_the_server_and_client_sections_and_refuse_what_a_jaas_file_cannot_carry():
    files = za.jaas_files("kafka", "s3cr3t $(x) ;'")
    assert files[za.SERVER_JAAS_KEY].startswith("Server {\n  %s required\n  user_kafka=\"s3cr3t $(x) ;'\";" % (
        za.LOGIN_MODULE))
    assert 'Client {' in files[za.SERVER_JAAS_KEY] and files[za.CLIENT_JAAS_KEY].startswith("Client {")
    assert 'username="kafka"' in files[za.CLIENT_JAAS_KEY] and "Server" not in files[za.CLIENT_JAAS_KEY]
    for password in ('a"b', "a\\b", "a\nb", ""):
        with pytest.raises(ValueError) as caught:
            za.jaas_files("kafka", password)
        assert password == "" or password not in str(caught.value)
    with pytest.raises(ValueError, match="user"):
        za.jaas_files('kafka" user_admin="x', "pw")
    assert za.fingerprint(files) == za.fingerprint(dict(files)) != za.fingerprint(za.jaas_files("kafka", "other"))


def test_a_new_cluster_takes_every_step_at_once():
    auth, errors = za.stage(WANTED, None, [], BROKERS)
    assert errors == [] and (auth["server"], auth["login"], auth["set_acl"], auth["enforce"]) == (True,) * 4
    assert auth["cfg_extra"] == [za.SASL_PROVIDER] + list(za.ENFORCE)
    assert auth["kafka_opts"].endswith(za.BROKER_MOUNT + "/" + za.CLIENT_JAAS_KEY) and auth["step"] is None


def test_an_open_running_cluster_starts_with_the_servers_and_brokers_logging_in_without_acls_or_enforcement():
    running = [deployment(n, login=False) for n in BROKERS]
    auth, errors = za.stage(WANTED, statefulset(server=False), running, BROKERS)
    assert errors == [] and auth["step"] == "server"
    assert (auth["server"], auth["login"], auth["set_acl"], auth["enforce"]) == (True, True, False, False)
    assert auth["cfg_extra"] == [za.SASL_PROVIDER]


@pytest.mark.parametrize("case, running, expected_set_acl, step", [
    ("every broker logs in, rolled", [deployment(n) for n in BROKERS], True, "secured"),
    ("one broker's new template not rolled out yet", [deployment(n) for n in BROKERS[:2]]
     + [deployment(BROKERS[2], rolled=False)], False, "set_acl"),
    ("one broker does not log in", [deployment(n) for n in BROKERS[:2]] + [deployment(BROKERS[2], login=False)],
     False, "login"),
    ("a planned broker does not run yet (scale out before the brokers log in)", [deployment(n) for n in BROKERS[:2]],
     False, "login"),
    ("a broker already creates znodes with ACLs: never back", [deployment(BROKERS[0], set_acl=True)]
     + [deployment(n, login=False) for n in BROKERS[1:]], True, "login"),
])
def test_zookeeper_set_acl_comes_only_once_every_planned_broker_runs_logged_in(case, running, expected_set_acl, step):
    auth, errors = za.stage(WANTED, statefulset(server=True), running, BROKERS)
    assert errors == [] and auth["set_acl"] is expected_set_acl, case
    assert auth["step"] == step and auth["enforce"] is False, case


def test_enforcement_is_kept_from_the_running_template_and_never_taken_by_the_preflight_otherwise():
    running = [deployment(n, set_acl=True) for n in BROKERS]
    auth, errors = za.stage(WANTED, statefulset(server=True, enforce=True), running, BROKERS)
    assert errors == [] and auth["enforce"] and auth["step"] is None
    auth, dummy = za.stage(WANTED, statefulset(server=True, enforce=False), running, BROKERS)
    assert not auth["enforce"] and auth["step"] == "secured"
    # A ZooKeeper roll that has not reached every server is not proof that they accept SASL.
    auth, dummy = za.stage(WANTED, statefulset(server=True, rolled=False), running, BROKERS)
    assert auth["step"] == "server"


def test_turning_authentication_off_on_a_cluster_that_uses_it_is_refused():
    off = za.disabled()
    for sts, running in ((statefulset(server=True), []), (None, [deployment(BROKERS[0])]),
                         (None, [deployment(BROKERS[0], login=False, set_acl=True)])):
        # (the last: a broker that creates znodes with ACLs, named as such)
        dummy, errors = za.stage(off, sts, running, BROKERS)
        assert len(errors) == 1 and "zookeeper_auth" in errors[0] and "Fix:" in errors[0] and "()" not in errors[0]
    assert za.stage(off, statefulset(server=False), [deployment(n, login=False) for n in BROKERS], BROKERS)[1] == []


def test_next_step_takes_set_acl_and_enforce_only():
    auth = za.stage(WANTED, statefulset(server=False), [], BROKERS)[0]
    assert za.next_step(auth, "set_acl")["set_acl"] and za.next_step(auth, "enforce")["cfg_extra"][-2:] == list(
        za.ENFORCE)
    with pytest.raises(ValueError):
        za.next_step(auth, "server")


def test_kafkas_acl_for_a_znode_keeps_credentials_unreadable():
    assert za.znode_acl("kafka", "/brokers/ids") == [{"scheme": "sasl", "id": "kafka", "perms": "cdrwa"},
                                                     {"scheme": "world", "id": "anyone", "perms": "r"}]
    for path in ("/config/users", "/config/users/alice", "/config/brokers/0", "/delegation_token"):
        assert za.znode_acl("kafka", path) == [{"scheme": "sasl", "id": "kafka", "perms": "cdrwa"}], path
    assert za.znode_acl("kafka", "/config/usersx") != za.znode_acl("kafka", "/config/users")
    assert za.acl_for("") is None and za.acl_for("kafka")("/config") == za.znode_acl("kafka", "/config")


def test_open_znodes_names_world_writes_and_znodes_the_user_cannot_change():
    secured = [{"scheme": "sasl", "id": "kafka", "perms": "cdrwa"}, {"scheme": "world", "id": "anyone", "perms": "r"}]
    acls = {
        "/brokers": secured,
        "/brokers/ids": [{"scheme": "world", "id": "anyone", "perms": "cdrwa"}],
        "/config": [{"scheme": "sasl", "id": "kafka", "perms": "cdrwa"}, {"scheme": "world", "id": "anyone",
                                                                          "perms": "rw"}],
        "/admin": [{"scheme": "sasl", "id": "other", "perms": "cdrwa"}],
        "/cluster": [{"scheme": "digest", "id": "kafka:x", "perms": "cdrwa"}],
        "/feature": None,
    }
    assert za.open_znodes(acls, "kafka") == [
        ("/admin", "the user kafka may not change it"), ("/brokers/ids", "anyone may cdwa"),
        ("/cluster", "the user kafka may not change it"), ("/config", "anyone may w")]
    assert za.open_znodes({"/brokers": secured}, "kafka") == []


def test_znodes_the_collection_creates_get_the_acl_it_is_given():
    script = zkcli_write_script(["/config", "/config/users"], [("/config/users/alice", "x", None),
                                                               ("/config/changes/config_change_", "y", SEQUENTIAL),
                                                               ("/config/users/bob", "z", 3)],
                                za.acl_for("kafka"))
    assert script.splitlines() == [
        "create /config '' sasl:kafka:cdrwa,world:anyone:r", "create /config/users '' sasl:kafka:cdrwa",
        "create /config/users/alice 'x' sasl:kafka:cdrwa",
        "create -s /config/changes/config_change_ 'y' sasl:kafka:cdrwa,world:anyone:r",
        "set -v 3 /config/users/bob 'z'", "quit"]
    assert zkcli_write_script(["/a"], [], None).splitlines() == ["create /a ''", "quit"]
