# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ZooKeeper authentication (``zookeeper_auth: sasl``): the JAAS files, the settings of each step, and the proof
of where a cluster stands.

The servers accept SASL DIGEST-MD5 logins of one user (``zookeeper_auth_user``, its password in the Secret
``zookeeper_auth_secret``); the brokers log in as that user and create their znodes with ACLs
(``zookeeper.set.acl``); the collection's own access logs in too (zkCli in the ZooKeeper pods reads the same JAAS
file, kazoo logs in with ``sasl_options``). Kafka's documented way from an open cluster, one step at a time, each
taken only once the one before is proven by what runs:

1. ``server``: the ZooKeeper servers accept SASL (rolled one at a time); open clients still work.
2. ``login``: the brokers roll with the JAAS file: they log in, but still create open znodes.
3. ``set_acl``: the brokers roll again with ``zookeeper.set.acl=true`` (only once every broker logs in: a znode one
   broker creates with ACLs must be writable by the others).
4. ``secured``: ``zookeeper-security-migration --zookeeper.acl=secure`` sets the ACLs of the znodes that exist,
   proven by reading them back (:func:`open_znodes`).
5. ``enforce``: the servers roll with ``enforce.auth.enabled``: a client that has not logged in is refused.

A new cluster starts at the last step. The passwords are never returned by anything here but :func:`jaas_files`,
whose result only the module that writes the JAAS Secret sees.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib

SASL = "sasl"
MODES = ("none", SASL)
LOGIN_MODULE = "org.apache.zookeeper.server.auth.DigestLoginModule"
SERVER_JAAS_KEY = "zookeeper-jaas.conf"
CLIENT_JAAS_KEY = "kafka-jaas.conf"
# Where the JAAS Secret is mounted in the ZooKeeper and broker pods (read-only, 0440).
SERVER_MOUNT = "/etc/zookeeper/jaas"
BROKER_MOUNT = "/etc/kafka/zookeeper-jaas"
LOGIN_CONFIG_FLAG = "-Djava.security.auth.login.config="
SASL_PROVIDER = "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider"
ENFORCE = ("enforce.auth.enabled=true", "enforce.auth.schemes=sasl")
# Kafka's ZkData.SecureRootPaths (3.9): the trees zookeeper-security-migration secures, and the brokers create with
# ACLs under zookeeper.set.acl. /controller is ephemeral, re-created by each new controller.
SECURE_ROOT_PATHS = ("/admin", "/brokers", "/cluster", "/config", "/controller", "/controller_epoch",
                     "/isr_change_notification", "/latest_producer_id_block", "/log_dir_event_notification",
                     "/delegation_token", "/kafka-acl-extended", "/migration", "/feature", "/kafka-acl",
                     "/kafka-acl-changes", "/kafka-acl-extended-changes")
# Kafka's ZkData.SensitiveRootPaths: credentials and broker secrets, not even readable by the world.
SENSITIVE_ROOT_PATHS = ("/config/users", "/config/brokers", "/delegation_token")
# What is proven after the migration tool ran (the roots and the paths under them that hold what an open
# client could abuse: broker registrations, topics, credentials, ACLs).
EVIDENCE_PATHS = SECURE_ROOT_PATHS + ("/brokers/ids", "/brokers/topics", "/config/topics", "/config/users",
                                      "/config/changes", "/admin/delete_topics")
WRITE_PERMS = "cdwa"
# Characters a JAAS file cannot hold inside a quoted value without escapes Java's parser handles inconsistently.
FORBIDDEN_PASSWORD_CHARS = ('"', "\\", "\n", "\r")
USER_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
STEPS = ("server", "login", "set_acl", "secured", "enforce")


def password_problem(password):
    """Why a password cannot go into a JAAS file (never the password itself), or None."""
    if not password:
        return "is empty"
    if any(c in password for c in FORBIDDEN_PASSWORD_CHARS):
        return "holds a double quote, a backslash or a line break, which a JAAS file cannot carry as data"
    return None


def user_problem(user):
    if not user or not set(user) <= USER_CHARS:
        return "must be letters, digits, '.', '_' or '-' (it is a JAAS option name: user_<name>)"
    return None


def jaas_files(user, password):
    """``{key: text}`` of the JAAS Secret: the servers' (Server: the one user it accepts; Client: zkCli in the pod
    logs in as that user) and the brokers' (Client). Raises ValueError naming what is wrong, never the value."""
    for what, problem in (("user", user_problem(user)), ("password", password_problem(password))):
        if problem:
            raise ValueError("the ZooKeeper %s %s" % (what, problem))
    client = 'Client {\n  %s required\n  username="%s"\n  password="%s";\n};\n' % (LOGIN_MODULE, user, password)
    server = 'Server {\n  %s required\n  user_%s="%s";\n};\n' % (LOGIN_MODULE, user, password)
    return {SERVER_JAAS_KEY: server + client, CLIENT_JAAS_KEY: client}


def fingerprint(files):
    """A digest of the JAAS files (what the Secret holds), to tell a changed password without showing it."""
    digest = hashlib.sha256()
    for key in sorted(files):
        digest.update(key.encode("utf-8") + b"\0" + files[key].encode("utf-8") + b"\0")
    return digest.hexdigest()


def with_settings(auth):
    """``auth`` with what the templates render for its steps: ``cfg_extra`` (zoo.cfg lines, ZOO_CFG_EXTRA),
    ``jvmflags`` (the servers' and zkCli's JAAS file, JVMFLAGS) and ``kafka_opts`` (the brokers', KAFKA_OPTS)."""
    cfg_extra = ([SASL_PROVIDER] if auth["server"] else []) + (list(ENFORCE) if auth["enforce"] else [])
    return dict(auth, cfg_extra=cfg_extra,
                jvmflags=LOGIN_CONFIG_FLAG + SERVER_MOUNT + "/" + SERVER_JAAS_KEY if auth["server"] else None,
                kafka_opts=LOGIN_CONFIG_FLAG + BROKER_MOUNT + "/" + CLIENT_JAAS_KEY if auth["login"] else None,
                server_mount=SERVER_MOUNT, broker_mount=BROKER_MOUNT)


def disabled():
    return with_settings({"enabled": False, "user": None, "secret": None, "key": None, "jaas_secret": None,
                          "server": False, "login": False, "set_acl": False, "enforce": False, "step": None})


def target(user, secret, key, jaas_secret):
    """plan["zookeeper"]["auth"] of a new cluster: every step taken at once."""
    return with_settings({"enabled": True, "user": user, "secret": secret, "key": key, "jaas_secret": jaas_secret,
                          "server": True, "login": True, "set_acl": True, "enforce": True, "step": None})


# ------------------------------------------------------------------------------------ what runs, proven

def _env(container):
    return dict((e.get("name"), e.get("value")) for e in container.get("env") or [] if "value" in e)


def _first_container(obj):
    containers = (((obj.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return containers[0] if containers else {}


def statefulset_settings(statefulset):
    """``(server, enforce)``: whether the ZooKeeper StatefulSet's pod template accepts SASL and refuses clients that
    did not log in (ZOO_CFG_EXTRA), whatever its pods run."""
    if not statefulset:
        return False, False
    extra = (_env(_first_container(statefulset)).get("ZOO_CFG_EXTRA") or "").split()
    return SASL_PROVIDER in extra, all(line in extra for line in ENFORCE)


def statefulset_rolled(statefulset):
    """Every ZooKeeper pod runs the StatefulSet's current template and is ready (OnDelete: updatedReplicas counts
    the pods of the update revision)."""
    status = statefulset.get("status") or {}
    spec_replicas = (statefulset.get("spec") or {}).get("replicas", 1)
    return (status.get("observedGeneration") == (statefulset.get("metadata") or {}).get("generation")
            and status.get("updatedReplicas", 0) == spec_replicas and status.get("readyReplicas", 0) == spec_replicas)


def deployment_settings(deployment):
    """``(login, set_acl)`` of a broker Deployment's pod template: the JAAS file in KAFKA_OPTS, and
    KAFKA_ZOOKEEPER_SET_ACL."""
    env = _env(_first_container(deployment))
    login = (LOGIN_CONFIG_FLAG + BROKER_MOUNT + "/" + CLIENT_JAAS_KEY) in (env.get("KAFKA_OPTS") or "").split()
    return login, (env.get("KAFKA_ZOOKEEPER_SET_ACL") or "").lower() == "true"


def deployment_rolled(deployment):
    """The Deployment's one pod runs its current template and is available."""
    status = deployment.get("status") or {}
    return (status.get("observedGeneration") == (deployment.get("metadata") or {}).get("generation")
            and status.get("updatedReplicas", 0) >= 1 and status.get("availableReplicas", 0) >= 1
            and status.get("replicas", 0) == status.get("updatedReplicas", 0))


def stage(auth, statefulset, deployments, broker_deployments):
    """plan["zookeeper"]["auth"] for this run, from what runs (pure).

    ``statefulset``: the running ZooKeeper StatefulSet or None; ``deployments``: the running broker Deployments;
    ``broker_deployments``: the names the plan gives its brokers. Returns ``(auth, errors)``. A step is taken only
    where what runs proves the one before it: a cluster with nothing running starts secured; the servers accept SASL
    at once (the zookeeper role rolls them before any broker); the brokers log in (they are applied after the
    servers rolled); they create znodes with ACLs only once every planned broker runs logged in; the servers refuse
    open clients only once their template already says so (the kafka_broker role turns it on after
    zookeeper-security-migration proved the znodes secured). Turning authentication off on a cluster that uses it
    is refused: it would cut the brokers off from their own znodes."""
    server, enforce = statefulset_settings(statefulset)
    running = dict((d["metadata"]["name"], d) for d in deployments or [])
    logged_in = [n for n, d in running.items() if deployment_settings(d)[0]]
    with_acl = [n for n, d in running.items() if deployment_settings(d)[1]]
    if not auth.get("enabled"):
        errors = []
        evidence = ((["the servers accept SASL"] if server else [])
                    + (["brokers log in: %s" % ", ".join(sorted(logged_in))] if logged_in else [])
                    + (["brokers create znodes with ACLs: %s" % ", ".join(sorted(with_acl))] if with_acl else []))
        if evidence:
            errors.append("zookeeper_auth is 'none' but the running cluster uses ZooKeeper authentication (%s). "
                          "Fix: keep zookeeper_auth=sasl; going back would cut the brokers off from the znodes "
                          "they created with ACLs, and the collection does not do it." % "; ".join(evidence))
        return auth, errors
    new_cluster = statefulset is None and not running
    if new_cluster:
        return with_settings(dict(auth, server=True, login=True, set_acl=True, enforce=True, step=None)), []
    every_broker_logs_in = all(
        name in running and deployment_settings(running[name])[0] and deployment_rolled(running[name])
        for name in broker_deployments)
    set_acl = bool(with_acl) or every_broker_logs_in
    step = None
    if not (server and statefulset and statefulset_rolled(statefulset)):
        step = "server"
    elif len(logged_in) < len(broker_deployments):
        step = "login"
    elif not set_acl:
        step = "set_acl"
    elif not enforce:
        step = "secured"
    return with_settings(dict(auth, server=True, login=True, set_acl=set_acl, enforce=enforce, step=step)), []


def next_step(auth, step):
    """The plan's auth with ``step`` taken (``set_acl`` or ``enforce``), for the kafka_broker role's later passes."""
    if step not in ("set_acl", "enforce"):
        raise ValueError("no step %r to take in a run" % step)
    return with_settings(dict(auth, **{step: True}))


# --------------------------------------------------------------------------------------------- ACL proof

def znode_acl(user, path):
    """The ACL Kafka gives a znode it creates under zookeeper.set.acl: everything for the user it logs in as, and
    read for the world except under SENSITIVE_ROOT_PATHS."""
    acl = [{"scheme": SASL, "id": user, "perms": "cdrwa"}]
    if not any(path == root or path.startswith(root + "/") for root in SENSITIVE_ROOT_PATHS):
        acl.append({"scheme": "world", "id": "anyone", "perms": "r"})
    return acl


def acl_for(user):
    """What zookeeper.write_znodes gives each znode it creates: Kafka's ACL for ``user``, or None (open) without one."""
    if not user:
        return None
    return lambda path: znode_acl(user, path)


def zkcli_acl(acl):
    """An ACL as zkCli's create takes it: scheme:id:perms,..."""
    return ",".join("%s:%s:%s" % (e["scheme"], e["id"], e["perms"]) for e in acl)


def open_znodes(acls, user):
    """``[(path, why)]`` of the znodes an unauthenticated client could change or the user could not: ``acls`` maps
    a path to its ACL entries (``{scheme, id, perms}``), or None when the znode does not exist (skipped)."""
    problems = []
    for path in sorted(acls):
        acl = acls[path]
        if acl is None:
            continue
        world = "".join(e["perms"] for e in acl if e["scheme"] == "world" and e["id"] == "anyone")
        open_write = "".join(p for p in WRITE_PERMS if p in world)
        if open_write:
            problems.append((path, "anyone may %s" % open_write))
        elif not any(e["scheme"] == SASL and e["id"] == user and set(WRITE_PERMS) <= set(e["perms"]) for e in acl):
            problems.append((path, "the user %s may not change it" % user))
    return problems
