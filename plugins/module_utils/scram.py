# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""SASL/SCRAM-SHA-512 credentials of ZooKeeper-mode Kafka, computed and compared without writing anything.

In ZooKeeper mode a user's SCRAM credential is the ``SCRAM-SHA-512`` entry of its entity config, the znode
``/config/users/<name>`` holding ``{"version": 1, "config": {"SCRAM-SHA-512": "salt=..,stored_key=..,
server_key=..,iterations=N"}}``; the brokers reload it after a sequential znode
``/config/changes/config_change_`` holding ``{"version": 2, "entity_path": "users/<name>"}``. That is what
``kafka-configs --zookeeper ... --alter --add-config 'SCRAM-SHA-512=[password=...]' --entity-type users`` writes
(Kafka 3.9: ``ConfigEntityZNode``, ``ConfigEntityChangeNotificationSequenceZNode`` in ``kafka/zk/ZkData.scala``,
``ScramCredentialUtils.credentialToString``, ``ScramFormatter.generateCredential``).

A stored credential is compared with a Secret's password by computing the credential again with the stored salt
and iterations (:func:`credential_matches`): a second run changes nothing, a changed password is found. Passwords
are arguments of these functions only: nothing here returns, logs or formats one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import hashlib
import hmac
import json
import os
import re

MECHANISM = "SCRAM-SHA-512"
# Kafka's own default (kafka-configs) and the minimum it accepts for SCRAM-SHA-512.
ITERATIONS = 4096
MIN_ITERATIONS = 4096
SALT_BYTES = 32
USERS_PATH = "/config/users"
CHANGES_PATH = "/config/changes"
CHANGE_PREFIX = "config_change_"
# The key of a user's Secret that holds the password (Strimzi's KafkaUser Secrets use the same key).
PASSWORD_KEY = "password"
# The env entry (secretKeyRef) the brokers' JAAS value reads the inter-broker password from. Not KAFKA_*: the
# cp-kafka image turns every KAFKA_* variable into a broker property.
PASSWORD_ENV = "SCRAM_INTER_BROKER_PASSWORD"
LOGIN_MODULE = "org.apache.kafka.common.security.scram.ScramLoginModule"
# A user name is a znode name (Kafka url-encodes it: these characters stay as they are), a principal in
# super.users and a JAAS value: letters, digits, '.', '_' and '-' only.
USER_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
# A password is printable ASCII without '"' and '\': it is written inside a JAAS string (double quotes) and a
# Java properties file (backslash escapes, ISO-8859-1) by the image.
PASSWORD_FORBIDDEN = ('"', "\\")


class ForeignData(Exception):
    """A user's znode holds something that is not a Kafka entity config: it is not overwritten."""


def user_name_problem(name):
    """Why ``name`` cannot be a SCRAM user of the collection, or None."""
    if not isinstance(name, str) or not USER_NAME.match(name):
        return ("%r is not a user name of letters, digits, '.', '_' and '-' (starting with a letter or digit, at "
                "most 64 characters)" % (name,))
    return None


def password_problem(password):
    """Why a Secret's password cannot be used (never the password itself), or None."""
    if not isinstance(password, str) or not password:
        return "is empty"
    if any(ord(c) < 0x20 or ord(c) > 0x7e for c in password):
        return "holds a character that is not printable ASCII (a newline, a tab, a non-ASCII letter)"
    if any(c in password for c in PASSWORD_FORBIDDEN):
        return "holds a double quote or a backslash, which would end or escape the JAAS string the brokers read"
    return None


def decode_password(secret, key):
    """``(password, problem)`` from a Secret object as the API returns it (``data`` in base64): the password, or
    None with why it cannot be used (never the value itself)."""
    data = (secret or {}).get("data") or {}
    if key not in data:
        return None, "has no key %s" % key
    try:
        password = base64.b64decode(data[key], validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError):
        return None, "key %s is not UTF-8 text" % key
    problem = password_problem(password)
    if problem:
        return None, "key %s %s" % (key, problem)
    return password, None


def summarize_secret(secret, key=PASSWORD_KEY):
    """Facts about a password Secret for the preflight, never its content."""
    if secret is None:
        return {"found": False, "key": key, "problem": None}
    dummy, problem = decode_password(secret, key)
    return {"found": True, "key": key, "problem": problem}


def secret_errors(summary, secret, namespace, variable):
    """The preflight's refusals of one password Secret (from :func:`summarize_secret`)."""
    summary = summary or {"found": False, "key": PASSWORD_KEY}
    key = summary.get("key") or PASSWORD_KEY
    if not summary.get("found"):
        return ["%s: Secret %s in namespace %s does not exist. Fix: create it with the password in key %s (kubectl "
                "create secret generic %s -n %s --from-literal=%s=...), or name another Secret."
                % (variable, secret, namespace, key, secret, namespace, key)]
    if summary.get("problem"):
        return ["%s: Secret %s in namespace %s %s. Fix: put a password of printable ASCII characters without '\"' "
                "and '\\' in key %s." % (variable, secret, namespace, summary["problem"], key)]
    return []


def credential(password, salt, iterations=ITERATIONS, hash_name="sha512"):
    """The stored credential of ``password``: ``{salt, stored_key, server_key, iterations}`` (bytes, int).
    RFC 5802: Hi() is PBKDF2 with HMAC; Kafka's ScramFormatter.normalize is plain UTF-8 (no SASLprep).
    ``hash_name`` other than sha512 only for tests against RFC 7677's SCRAM-SHA-256 example."""
    digest = getattr(hashlib, hash_name)
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode("utf-8"), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    return {"salt": salt, "stored_key": digest(client_key).digest(),
            "server_key": hmac.new(salted, b"Server Key", digest).digest(), "iterations": iterations}


def new_credential(password, iterations=ITERATIONS, random_bytes=os.urandom):
    """A credential with a fresh random salt."""
    return credential(password, random_bytes(SALT_BYTES), iterations)


def format_credential(cred):
    """Kafka's text form (ScramCredentialUtils.credentialToString)."""
    return "salt=%s,stored_key=%s,server_key=%s,iterations=%d" % (
        base64.b64encode(cred["salt"]).decode("ascii"), base64.b64encode(cred["stored_key"]).decode("ascii"),
        base64.b64encode(cred["server_key"]).decode("ascii"), cred["iterations"])


def parse_credential(text):
    """The credential of Kafka's text form, or None when it is not one (as credentialFromString refuses it)."""
    if not isinstance(text, str):
        return None
    fields = {}
    for token in text.split(","):
        index = token.find("=")
        if index <= 0:
            return None
        fields[token[:index]] = token[index + 1:]
    if sorted(fields) != ["iterations", "salt", "server_key", "stored_key"]:
        return None
    try:
        iterations = int(fields["iterations"])
        parsed = dict((k, base64.b64decode(fields[k], validate=True)) for k in ("salt", "stored_key", "server_key"))
    except (ValueError, binascii.Error):
        return None
    if iterations < 1 or not parsed["salt"]:
        return None
    parsed["iterations"] = iterations
    return parsed


def credential_matches(text, password):
    """Whether the stored credential ``text`` is ``password``'s: computed again with its salt and iterations and
    compared in constant time. False for anything that is not a credential."""
    stored = parse_credential(text)
    if stored is None or stored["iterations"] < MIN_ITERATIONS:
        return False
    again = credential(password, stored["salt"], stored["iterations"])
    return (hmac.compare_digest(again["stored_key"], stored["stored_key"])
            and hmac.compare_digest(again["server_key"], stored["server_key"]))


def user_path(name):
    return "%s/%s" % (USERS_PATH, name)


def entity_config(data):
    """The config map of a ``/config/users/<name>`` znode's data (bytes or text; None or empty: no znode data).
    Raises ForeignData for data that is not Kafka's ``{"version": 1, "config": {string: string}}``."""
    if data is None or data in (b"", ""):
        return {}
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ForeignData("not UTF-8")
    try:
        parsed = json.loads(data)
    except ValueError:
        raise ForeignData("not JSON")
    if not isinstance(parsed, dict) or parsed.get("version") != 1 or not isinstance(parsed.get("config"), dict):
        raise ForeignData("not a Kafka entity config (version 1 with a config object)")
    config = parsed["config"]
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in config.items()):
        raise ForeignData("a config value is not a string")
    return dict(config)


def entity_data(config):
    """The znode data of an entity config (ConfigEntityZNode.encode), compact and in a stable order."""
    return json.dumps({"version": 1, "config": config}, sort_keys=True, separators=(",", ":"))


def change_notification(name):
    """The data of the ``/config/changes/config_change_`` znode that makes the brokers reload user ``name``."""
    return json.dumps({"version": 2, "entity_path": "users/%s" % name}, sort_keys=True, separators=(",", ":"))


def decide(user, password, existing, locked=False):
    """What to do for one user: ``{"user", "action"}`` where action is ``unchanged``, ``create`` (no
    znode), ``update`` (a znode without this password's credential: its other settings, quotas or other
    mechanisms, are kept; ``config`` is what it holds now) or ``refuse`` (``reason`` says why; nothing is written).

    :param existing: None when ``/config/users/<user>`` does not exist, else its data.
    :param locked: brokers that run authenticate as this user (the inter-broker user): its password cannot change
        under them, since Kafka keeps one credential per user and mechanism, so restarted brokers and brokers not
        restarted yet could not authenticate to each other.
    """
    try:
        config = entity_config(existing)
    except ForeignData as exc:
        return {"user": user, "action": "refuse",
                "reason": "znode %s holds data that is not Kafka's (%s); it is left as it is" % (user_path(user), exc)}
    current = config.get(MECHANISM)
    if current is not None and credential_matches(current, password):
        return {"user": user, "action": "unchanged"}
    if current is not None and locked:
        return {"user": user, "action": "refuse",
                "reason": "the running brokers authenticate to each other as %s, and its Secret now holds another "
                          "password: Kafka keeps one %s credential per user, so brokers restarted with the new "
                          "password and those not restarted yet could not talk" % (user, MECHANISM)}
    action = "create" if existing is None else "update"
    return {"user": user, "action": action, "config": config}


def with_credential(config, password, iterations=ITERATIONS, random_bytes=os.urandom):
    """The znode data of ``config`` with ``password``'s new credential (a fresh salt)."""
    return entity_data(dict(config, **{MECHANISM: format_credential(new_credential(password, iterations,
                                                                                   random_bytes))}))


def jaas_config(username=None, password_env=None):
    """A listener's ``scram-sha-512.sasl.jaas.config``: the login module alone on a listener brokers only accept
    on; with the inter-broker user's name and ``$(password_env)``, expanded by the kubelet from a secretKeyRef
    entry, on the inter-broker listener."""
    if username is None:
        return "%s required;" % LOGIN_MODULE
    return '%s required username="%s" password="$(%s)";' % (LOGIN_MODULE, username, password_env)


_JAAS_USER = re.compile(r'username="([^"]*)"')


def running_users(deployments, listener="INTERNAL"):
    """The users the running brokers' ``listener`` authenticates as, from their Deployments' JAAS entries."""
    env_name = "KAFKA_LISTENER_NAME_%s_SCRAM___SHA___512_SASL_JAAS_CONFIG" % listener.upper()
    users = set()
    for deployment in deployments or []:
        containers = (((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")
        for container in containers or []:
            for item in container.get("env") or []:
                if item.get("name") == env_name and isinstance(item.get("value"), str):
                    users.update(_JAAS_USER.findall(item["value"]))
    return sorted(users)
