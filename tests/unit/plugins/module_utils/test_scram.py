"""SCRAM-SHA-512 credentials: the derivation against RFC 5802/7677 computed independently here (a PBKDF2 loop of our
own, not hashlib.pbkdf2_hmac), Kafka's text and znode formats, the comparison that makes a second run a no-op, and
what the znodes can hold that must not be overwritten."""
import base64
import hashlib
import hmac
import json

import pytest

from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram

SALT = bytes(range(32))


def pbkdf2(hash_name, password, salt, iterations):
    """RFC 5802 Hi(): U1 = HMAC(p, salt + INT(1)), Ui = HMAC(p, Ui-1), the XOR of all."""
    digest = getattr(hashlib, hash_name)
    block = hmac.new(password, salt + b"\0\0\0\1", digest).digest()
    result = bytearray(block)
    for dummy in range(iterations - 1):
        block = hmac.new(password, block, digest).digest()
        result = bytearray(a ^ b for a, b in zip(result, block))
    return bytes(result)


def independent(password, salt, iterations, hash_name="sha512"):
    digest = getattr(hashlib, hash_name)
    salted = pbkdf2(hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    return digest(client_key).digest(), hmac.new(salted, b"Server Key", digest).digest()


def test_the_derivation_answers_rfc_7677s_exchange():
    # RFC 7677 section 3: user "user", password "pencil"; the client proof and the server signature of that exchange
    # follow from StoredKey and ServerKey, so they prove both keys.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    cred = scram.credential("pencil", salt, 4096, hash_name="sha256")
    auth_message = (b"n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    assert hashlib.sha256(client_key).digest() == cred["stored_key"]
    signature = hmac.new(cred["stored_key"], auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    assert base64.b64encode(proof) == b"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    server_signature = hmac.new(cred["server_key"], auth_message, hashlib.sha256).digest()
    assert base64.b64encode(server_signature) == b"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


@pytest.mark.parametrize("password", ["pencil", "s3cr3t-with spaces", "$(HOME)\"; '", "\u00e9t\u00e9"])
def test_scram_sha_512_keys_match_an_independent_pbkdf2(password):
    cred = scram.credential(password, SALT, 4096)
    assert (cred["stored_key"], cred["server_key"]) == independent(password, SALT, 4096)
    assert len(cred["stored_key"]) == len(cred["server_key"]) == 64


def test_kafkas_text_form_round_trips_and_is_what_credential_to_string_writes():
    cred = scram.credential("pencil", SALT, 4096)
    text = scram.format_credential(cred)
    stored, server = independent("pencil", SALT, 4096)
    assert text == "salt=%s,stored_key=%s,server_key=%s,iterations=4096" % (
        base64.b64encode(SALT).decode(), base64.b64encode(stored).decode(), base64.b64encode(server).decode())
    assert scram.parse_credential(text) == cred


def test_the_stored_credential_is_recognised_by_recomputing_it_with_its_own_salt():
    text = scram.format_credential(scram.credential("pencil", SALT, 8192))
    assert scram.credential_matches(text, "pencil")
    assert not scram.credential_matches(text, "pencil ")
    assert not scram.credential_matches(text, "Pencil")
    # Another salt, same password: a different credential that still matches (the salt is read, not assumed).
    other = scram.format_credential(scram.new_credential("pencil", random_bytes=lambda n: b"\x07" * n))
    assert other != text and scram.credential_matches(other, "pencil")


@pytest.mark.parametrize("text", [
    None, "", "salt=,stored_key=,server_key=,iterations=4096", "iterations=4096",
    "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=x",
    "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096,extra=1",
    "salt=not base64!,stored_key=AAAA,server_key=AAAA,iterations=4096",
    "=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096",
])
def test_what_is_not_a_credential_never_matches(text):
    assert scram.parse_credential(text) is None
    assert not scram.credential_matches(text, "pencil")


def test_a_credential_below_kafkas_minimum_iterations_is_written_again():
    weak = scram.format_credential(scram.credential("pencil", SALT, 1))
    assert not scram.credential_matches(weak, "pencil")


def entity(config):
    return json.dumps({"version": 1, "config": config})


def test_decide_a_missing_znode_is_created():
    assert scram.decide("alice", "pencil", None) == {"user": "alice", "action": "create", "config": {}}


def test_decide_the_same_password_leaves_it():
    data = entity({scram.MECHANISM: scram.format_credential(scram.credential("pencil", SALT))})
    assert scram.decide("alice", "pencil", data)["action"] == "unchanged"
    assert scram.decide("alice", "pencil", data, locked=True)["action"] == "unchanged"


def test_decide_a_changed_password_is_written_with_the_users_other_settings():
    config = {scram.MECHANISM: scram.format_credential(scram.credential("old", SALT)),
              "SCRAM-SHA-256": "salt=AAAA,stored_key=AAAA,server_key=AAAA,iterations=4096",
              "producer_byte_rate": "1024"}
    decision = scram.decide("alice", "new", entity(config))
    assert decision["action"] == "update" and decision["config"] == config
    data = json.loads(scram.with_credential(decision["config"], "new", random_bytes=lambda n: b"\x01" * n))
    assert data["version"] == 1
    assert data["config"]["producer_byte_rate"] == "1024" and data["config"]["SCRAM-SHA-256"] == config["SCRAM-SHA-256"]
    assert scram.credential_matches(data["config"][scram.MECHANISM], "new")
    assert not scram.credential_matches(data["config"][scram.MECHANISM], "old")


def test_decide_a_znode_without_a_scram_512_credential_gets_one():
    decision = scram.decide("alice", "pencil", entity({"consumer_byte_rate": "5"}))
    assert decision["action"] == "update" and decision["config"] == {"consumer_byte_rate": "5"}
    assert scram.decide("alice", "pencil", "")["action"] == "update"


def test_decide_the_running_brokers_user_keeps_its_password():
    data = entity({scram.MECHANISM: scram.format_credential(scram.credential("old-Pw-1", SALT))})
    decision = scram.decide("kafka-admin", "new-Pw-2", data, locked=True)
    assert decision["action"] == "refuse" and "one SCRAM-SHA-512 credential per user" in decision["reason"]
    assert "Pw-" not in json.dumps(decision)
    # Not there yet (a new inter-broker user): created even when locked.
    assert scram.decide("kafka-admin", "new", None, locked=True)["action"] == "create"


@pytest.mark.parametrize("data", [
    "not json", b"\xff\xfe", json.dumps([1, 2]), json.dumps({"version": 2, "config": {}}),
    json.dumps({"version": 1, "config": "x"}), json.dumps({"version": 1, "config": {"a": 1}}),
])
def test_decide_foreign_znode_data_is_never_overwritten(data):
    decision = scram.decide("alice", "pencil", data)
    assert decision["action"] == "refuse" and "/config/users/alice" in decision["reason"]


def test_the_znode_and_the_change_notification_are_kafkas_formats():
    data = json.loads(scram.with_credential({}, "pencil", random_bytes=lambda n: b"\x02" * n))
    assert set(data) == {"version", "config"} and list(data["config"]) == [scram.MECHANISM]
    assert json.loads(scram.change_notification("alice")) == {"version": 2, "entity_path": "users/alice"}
    assert scram.user_path("alice") == "/config/users/alice"
    # Data sent to zkCli inside single quotes: none may appear, nor whitespace (zkCli splits on it).
    for text in (scram.with_credential({}, "pencil"), scram.change_notification("a.b-c_d")):
        assert "'" not in text and not any(c.isspace() for c in text)


@pytest.mark.parametrize("name,ok", [
    ("alice", True), ("orders-service.v2", True), ("a_b", True), ("A1", True), ("x" * 64, True),
    ("", False), ("-alice", False), ("x" * 65, False), ("alice bob", False), ("alice\n", False),
    ("al/ice", False), ("al\"ice", False), ("User:alice", False), ("al@ice", False), (None, False), (7, False),
])
def test_user_names(name, ok):
    assert (scram.user_name_problem(name) is None) is ok


@pytest.mark.parametrize("password,ok", [
    ("pencil", True), ("with space and $(HOME) and ; '", True), ("~!@#%^&*()_+{}|:<>?`-=[];',./", True),
    ("", False), ('say "hi"', False), ("back\\slash", False), ("new\nline", False), ("tab\t", False),
    ("\u00e9t\u00e9", False), (None, False),
])
def test_passwords_that_a_jaas_string_and_a_properties_file_keep_as_they_are(password, ok):
    assert (scram.password_problem(password) is None) is ok


def secret(data):
    return {"metadata": {"name": "s"}, "data": dict((k, base64.b64encode(v.encode()).decode()) for k, v in data.items())}


def test_a_secrets_summary_says_facts_never_the_password():
    assert scram.summarize_secret(secret({"password": "pencil-1234"})) == {"found": True, "key": "password",
                                                                           "problem": None}
    bad = scram.summarize_secret(secret({"password": 'pen"cil-1234'}))
    assert bad["problem"] and "pen" not in json.dumps(bad)
    assert scram.summarize_secret(secret({"other": "x"}))["problem"] == "has no key password"
    assert scram.summarize_secret(secret({"pw": "pencil"}), "pw")["problem"] is None
    assert scram.summarize_secret(None) == {"found": False, "key": "password", "problem": None}
    broken = {"data": {"password": "%%%"}}
    assert "not UTF-8" in scram.summarize_secret(broken)["problem"]


def test_the_preflight_errors_name_the_variable_the_secret_and_the_fix():
    missing = scram.secret_errors(scram.summarize_secret(None), "alice-pw", "kafka", "kafka_users (alice)")
    assert len(missing) == 1 and "Fix:" in missing[0]
    assert missing[0].startswith("kafka_users (alice): Secret alice-pw in namespace kafka does not exist")
    bad = scram.secret_errors(scram.summarize_secret(secret({"password": ""})), "a", "kafka", "kafka_broker_admin_secret")
    assert "key password is empty" in bad[0] and "Fix:" in bad[0]
    assert scram.secret_errors(scram.summarize_secret(secret({"password": "pencil"})), "a", "kafka", "v") == []


def test_jaas_entries_hold_a_reference_never_a_password():
    assert scram.jaas_config() == "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    assert scram.jaas_config("kafka-admin", scram.PASSWORD_ENV) == (
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="kafka-admin" '
        'password="$(SCRAM_INTER_BROKER_PASSWORD)";')
    assert not scram.PASSWORD_ENV.startswith("KAFKA_")  # cp-kafka would make it a broker property


def test_running_users_come_from_the_deployments_jaas_entries():
    def deployment(value):
        return {"spec": {"template": {"spec": {"containers": [{"name": "broker", "env": [
            {"name": "SCRAM_INTER_BROKER_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "a", "key": "password"}}},
            {"name": "KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG", "value": value}]}]}}}}
    found = scram.running_users([deployment(scram.jaas_config("admin-1", scram.PASSWORD_ENV)),
                                 deployment(scram.jaas_config("admin-2", scram.PASSWORD_ENV)), {"spec": {}}, {}])
    assert found == ["admin-1", "admin-2"]
    assert scram.running_users([]) == [] and scram.running_users(None) == []
