"""The ZooKeeper-to-KRaft migration: which phase the cluster is in and the one step a run takes (pure).

Kafka's migration (KIP-866; Kafka 3.9 docs, "ZooKeeper to KRaft Migration") goes through phases that are
each read from the live cluster on every run, never from a file on the controller host, so a run stopped
anywhere continues from what it finds:

  zookeeper          no KRaft controller runs; every broker in plain ZooKeeper mode.
  controllers        a controller quorum runs in migration mode; the brokers do not know it yet.
  brokers_migrating  some broker runs with the migration settings (still a ZooKeeper-mode broker).
  migrated           every broker does, and the metadata was copied: ``/migration`` in ZooKeeper has a KRaft
                     offset and ``/controller`` is held by a KRaft controller (dual write from now on).
  brokers_kraft      some broker runs as a KRaft broker (``process.roles=broker``); ZooKeeper is still
                     written by the controllers, so the way back is open.
  kraft              every broker is a KRaft broker; the soak point. Finalizing is irreversible.
  finalized          the controllers run without the migration flag: ZooKeeper is no longer written, and
                     nothing of it is read any more (its partition states and /brokers/ids are stale): the
                     cluster id comes from the controllers' StatefulSet, partitions from the KRaft metadata.

After finalizing, ``kafka_zookeeper_remove`` removes the ZooKeeper workloads (a backup of every znode first; the
claims only with ``kafka_zookeeper_remove_volumes``), and a Kafka 4 image (KRaft only) rolls the controllers,
then the brokers, one at a time. Kafka 4 before finalizing is refused: its controllers have no migration mode.

Going back (``kafka_metadata_mode: zookeeper`` before finalizing) follows the docs' revert table: brokers in
KRaft mode return to ZooKeeper mode first *keeping* the migration flag; then the controllers are removed
(with their claims: they hold only migrated metadata), ``/controller`` and ``/migration`` are deleted, and the
brokers are rolled without the migration settings. A ``/migration`` left behind makes a later migration skip
the copy (strimzi#11262), so it is removed before any new attempt.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import broker_env
from ansible_collections.kafka_eks.cluster.plugins.module_utils.versions import (
    format_version, kafka_release)

PHASES = ("zookeeper", "controllers", "brokers_migrating", "migrated", "brokers_kraft", "kraft", "finalized")
# What a broker Deployment says it runs.
BROKER_ZOOKEEPER = "zookeeper"
BROKER_MIGRATING = "migrating"
BROKER_KRAFT = "kraft"
BROKER_CONTAINER = "broker"
CONTROLLER_CONTAINER = "controller"
CONTROLLER_LISTENER = "CONTROLLER"
MIGRATION_FLAG = "zookeeper.metadata.migration.enable"
# Kafka 3.9 docs: the brokers must run 3.9.1 or later with IBP 3.9 before a migration starts.
MIGRATION_PROTOCOL = "3.9"
# Kafka 4 runs KRaft only (no ZooKeeper mode, no migration mode).
KRAFT_ONLY_KAFKA = 4
# ZooKeeper-mode brokers keep ACLs with AclAuthorizer (in ZooKeeper); KRaft nodes with StandardAuthorizer (in the
# metadata log, where the migration copied them). Kafka 3.9 docs, "Migrating brokers to KRaft".
ZOOKEEPER_AUTHORIZER = "kafka.security.authorizer.AclAuthorizer"
KRAFT_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
# What both authorizers read, carried from the brokers' properties to the controllers'.
AUTHORIZER_SETTINGS = ("super.users", "allow.everyone.if.no.acl.found")
# Properties a KRaft broker must not have (Kafka 3.9 docs, "Migrating brokers to KRaft").
ZOOKEEPER_ONLY_PROPERTIES = ("broker.id", "zookeeper.connect", MIGRATION_FLAG, "inter.broker.protocol.version",
                             "control.plane.listener.name", "log.message.format.version")


def _env(container, name):
    for entry in (container or {}).get("env") or []:
        if entry.get("name") == name:
            return entry.get("value")
    return None


def _container(template_spec, name):
    for container in (template_spec or {}).get("containers") or []:
        if container.get("name") == name:
            return container
    return None


def _template_container(obj, name):
    return _container((((obj or {}).get("spec") or {}).get("template") or {}).get("spec"), name)


def broker_mode(deployment):
    """zookeeper | migrating | kraft: the mode a broker Deployment's pods run in, from its env."""
    container = _template_container(deployment, BROKER_CONTAINER)
    roles = (_env(container, "KAFKA_PROCESS_ROLES") or "").strip()
    if roles:
        return BROKER_KRAFT
    if (_env(container, "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE") or "").strip().lower() == "true":
        return BROKER_MIGRATING
    return BROKER_ZOOKEEPER


def controller_image(statefulset):
    """The image the controller StatefulSet's pods run (its template), or None."""
    return (_template_container(statefulset, CONTROLLER_CONTAINER) or {}).get("image")


def controller_cluster_id(statefulset):
    """The cluster id the controllers were formatted with (their CLUSTER_ID), or None."""
    return _env(_template_container(statefulset, CONTROLLER_CONTAINER), "CLUSTER_ID") or None


def controllers_finalized(statefulsets):
    """Whether a controller StatefulSet runs without the migration flag (the migration was finalized)."""
    statefulset = (statefulsets or [None])[0]
    return bool(statefulset) and controller_migration_flag(statefulset) is False


def controller_migration_flag(statefulset):
    """True/False: whether the controller StatefulSet runs in migration mode; None without a controller container."""
    container = _template_container(statefulset, CONTROLLER_CONTAINER)
    if container is None:
        return None
    return (_env(container, "KAFKA_ZOOKEEPER_METADATA_MIGRATION_ENABLE") or "").strip().lower() == "true"


def parse_json_znode(data):
    """A znode's JSON object, or None when it is missing, empty or not a JSON object."""
    if data is None:
        return None
    if isinstance(data, dict):
        return data
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def migration_completed(migration_znode, controller_znode):
    """Whether the metadata was copied and a KRaft controller leads the migration, from ZooKeeper's own znodes.

    ``/migration`` is created when a KRaft controller first leads (offset -1) and gets the KRaft log offset of
    the copy once the copy is complete; ``/controller`` is taken over by the KRaft controller (it writes
    ``kraftControllerEpoch``). Both must agree: the migration's controller epoch is the one holding /controller."""
    migration = parse_json_znode(migration_znode)
    controller = parse_json_znode(controller_znode)
    if not migration or not controller:
        return False
    offset = migration.get("kraft_metadata_offset")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        return False
    epoch = controller.get("kraftControllerEpoch")
    return isinstance(epoch, int) and not isinstance(epoch, bool) and epoch == migration.get("kraft_controller_epoch")


def kraft_holds_controller(controller_znode):
    """Whether /controller names a KRaft controller: its kraftControllerEpoch is an epoch (0 or more). A ZooKeeper
    broker of Kafka 3.9 in migration mode writes the same format with kraftControllerEpoch -1 (seen on the bed)."""
    controller = parse_json_znode(controller_znode)
    epoch = (controller or {}).get("kraftControllerEpoch")
    return isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 0


def broker_modes(deployments, broker_id_label):
    """{broker id (str): mode} for every broker Deployment."""
    modes = {}
    for deployment in deployments or []:
        labels = ((deployment.get("metadata") or {}).get("labels") or {})
        broker = labels.get(broker_id_label)
        if broker is not None and _template_container(deployment, BROKER_CONTAINER) is not None:
            modes[str(broker)] = broker_mode(deployment)
    return modes


def detect_phase(evidence):
    """The phase (see the module docstring) from the evidence; also says what is half-way.

    :param evidence: ``{"brokers": {id: mode}, "controllers": None | {"migration": bool}, "zookeeper":
        {"migration": data | None, "controller": data | None}}``.
    :returns: ``{"phase", "brokers_by_mode", "reverting"}``: ``reverting`` when no controller runs but a broker
        still has the migration settings or /migration exists (a rollback stopped half-way)."""
    modes = evidence.get("brokers") or {}
    controllers = evidence.get("controllers")
    zookeeper = evidence.get("zookeeper") or {}
    by_mode = dict((m, sorted(b for b, v in modes.items() if v == m))
                   for m in (BROKER_ZOOKEEPER, BROKER_MIGRATING, BROKER_KRAFT))
    counts = dict((m, len(v)) for m, v in by_mode.items())
    total = len(modes)
    completed = migration_completed(zookeeper.get("migration"), zookeeper.get("controller"))
    reverting = False
    if controllers is None:
        phase = "zookeeper"
        reverting = counts[BROKER_MIGRATING] > 0 or bool(zookeeper.get("migration_exists")) \
            or zookeeper.get("migration") is not None
        if counts[BROKER_KRAFT]:
            # KRaft brokers without any controller: not a state this collection leaves behind.
            phase = "brokers_kraft"
    elif not controllers.get("migration"):
        phase = "finalized"
    elif counts[BROKER_KRAFT] and counts[BROKER_KRAFT] == total:
        phase = "kraft"
    elif counts[BROKER_KRAFT]:
        phase = "brokers_kraft"
    elif counts[BROKER_MIGRATING] and counts[BROKER_MIGRATING] == total and completed:
        phase = "migrated"
    elif counts[BROKER_MIGRATING]:
        phase = "brokers_migrating"
    else:
        phase = "controllers"
    return {"phase": phase, "brokers_by_mode": by_mode, "reverting": reverting, "migration_completed": completed}


def with_controller_listener(protocol_map):
    entries = [e for e in protocol_map.split(",") if e.strip()]
    if not any(e.split(":", 1)[0].strip() == CONTROLLER_LISTENER for e in entries):
        entries.append("%s:PLAINTEXT" % CONTROLLER_LISTENER)
    return ",".join(entries)


def broker_properties_for_mode(properties, mode, voters):
    """A broker's properties in a mode: ZooKeeper (as planned), migrating (ZooKeeper mode plus the migration
    settings) or KRaft (``process.roles=broker``, ``node.id`` = the old ``broker.id``, no ZooKeeper settings)."""
    props = dict(properties)
    if mode == BROKER_ZOOKEEPER:
        return props
    props["controller.quorum.voters"] = voters
    props["controller.listener.names"] = CONTROLLER_LISTENER
    props["listener.security.protocol.map"] = with_controller_listener(props["listener.security.protocol.map"])
    if mode == BROKER_MIGRATING:
        props[MIGRATION_FLAG] = "true"
        return props
    node_id = props["broker.id"]
    for name in ZOOKEEPER_ONLY_PROPERTIES:
        props.pop(name, None)
    props["process.roles"] = "broker"
    props["node.id"] = node_id
    if (props.get("authorizer.class.name") or "").strip() == ZOOKEEPER_AUTHORIZER:
        props["authorizer.class.name"] = KRAFT_AUTHORIZER
    return props


def controller_properties(plan, controller, voters, migration):
    """The controllers' shared properties (node.id is set per pod from its ordinal, see the StatefulSet)."""
    port = int(controller["port"])
    first_broker = plan["brokers"][0]["properties"] if plan["brokers"] else {}
    props = {
        "process.roles": "controller",
        "controller.quorum.voters": voters,
        "controller.listener.names": CONTROLLER_LISTENER,
        "listeners": "%s://:%d" % (CONTROLLER_LISTENER, port),
        # The controllers send their requests to the brokers on the brokers' inter-broker listener.
        "inter.broker.listener.name": first_broker.get("inter.broker.listener.name", "INTERNAL"),
        "listener.security.protocol.map": with_controller_listener(
            first_broker.get("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT")),
        "log.dirs": controller["log_dir"],
    }
    if first_broker.get("authorizer.class.name"):
        # The controllers authorize the brokers' and the admin tools' requests too: the same ACLs, from the log.
        props["authorizer.class.name"] = KRAFT_AUTHORIZER
        for name in AUTHORIZER_SETTINGS:
            if first_broker.get(name) is not None:
                props[name] = first_broker[name]
    if migration:
        props[MIGRATION_FLAG] = "true"
        props["zookeeper.connect"] = plan["zookeeper"]["connect"]
    return props


def _error(variable, problem, fix):
    return "%s: %s Fix: %s" % (variable, problem, fix)


def decide(plan, evidence, running_protocols=None):
    """The step this run takes toward ``kafka_metadata_mode``, from the phase found.

    :param plan: kafka_plan (after the upgrade step was applied: ``plan.upgrade``).
    :param evidence: as ``detect_phase``, plus ``cluster_id`` (ZooKeeper ``/cluster/id``'s id or None) and
        ``controller_quorum`` (``{"leader_id": n}`` or None: the controllers' own answer).
    :returns: ``(decision, errors)``. The decision: ``phase``, ``step`` (a word for the message), ``broker_mode``
        (the mode every broker Deployment is rendered in), ``controllers`` (``absent`` | ``migration`` |
        ``final``: the StatefulSet to apply or delete), ``revert_zookeeper`` (delete /controller and /migration
        now), ``wait_for_migration`` (after the brokers' roll, wait for the copy), ``soak`` (stopped before
        finalizing) and ``irreversible`` (this run finalizes)."""
    settings = plan["settings"]
    target = settings.get("kafka_metadata_mode", "zookeeper")
    finalize = bool(settings.get("kafka_migration_finalize", False))
    remove_zookeeper = bool(settings.get("kafka_zookeeper_remove", False))
    found = detect_phase(evidence)
    phase = found["phase"]
    controllers = evidence.get("controllers") or {}
    decision = dict(found, target=target, finalize_requested=finalize, controllers="absent",
                    broker_mode=BROKER_ZOOKEEPER, revert_zookeeper=False, wait_for_migration=False, soak=False,
                    irreversible=False, continue_after_roll=False, cluster_id=evidence.get("cluster_id"),
                    remove_zookeeper=False, zookeeper_runs=bool(evidence.get("zookeeper_runs", True)),
                    running_controller_image=controllers.get("image"), backup=False)
    errors = []
    image = settings["kafka_broker_image"]
    release = kafka_release(image)
    kraft_only = release is not None and release[0] >= KRAFT_ONLY_KAFKA
    brokers_exist = bool(evidence.get("brokers"))
    if target == "zookeeper":
        if phase == "finalized":
            errors.append(_error("kafka_metadata_mode", "is 'zookeeper', but the migration to KRaft was finalized:"
                                 " the controllers no longer write ZooKeeper, whose metadata is out of date.",
                                 "keep kafka_metadata_mode=kraft; a finalized migration cannot be undone."))
            return dict(decision, step="refused", controllers="final", broker_mode=BROKER_KRAFT), errors
        if phase in ("brokers_kraft", "kraft"):
            # First roll back: ZooKeeper-mode brokers that keep the migration flag (docs: "do not set it to
            # false until the second cluster roll"); the controllers stay until every broker is back.
            return dict(decision, step="revert_brokers_to_zookeeper", controllers="migration",
                        broker_mode=BROKER_MIGRATING, continue_after_roll=True, backup=True), errors
        if phase in ("controllers", "brokers_migrating", "migrated"):
            return dict(decision, step="remove_controllers", controllers="absent", revert_zookeeper=True,
                        broker_mode=BROKER_ZOOKEEPER, backup=True), errors
        if found["reverting"]:
            return dict(decision, step="finish_revert", revert_zookeeper=True, backup=True), errors
        return dict(decision, step="steady"), errors
    # target == kraft
    if phase == "finalized":
        if remove_zookeeper and decision["zookeeper_runs"]:
            # Nothing reads or writes ZooKeeper any more; its data is backed up first (tasks/migration.yml).
            return dict(decision, step="remove_zookeeper", controllers="final", broker_mode=BROKER_KRAFT,
                        remove_zookeeper=True, backup=True), errors
        if decision["running_controller_image"] not in (None, image):
            # Controllers first (tasks/migration.yml applies them before the brokers' roll), then the brokers.
            return dict(decision, step="roll_image", controllers="final", broker_mode=BROKER_KRAFT), errors
        return dict(decision, step="steady", controllers="final", broker_mode=BROKER_KRAFT), errors
    if kraft_only:
        errors.append(_error("kafka_broker_image", "%r is Kafka %s, which runs in KRaft mode only and has no"
                             " migration mode; the migration (phase %s) is not finalized yet." % (
                                 image, format_version(release), phase),
                             "finish the migration on Kafka 3.9 (kafka_migration_finalize=true), then change the"
                             " image in a later run: the controllers roll first, then the brokers."))
        return dict(decision, step="refused"), errors
    if not brokers_exist:
        errors.append(_error("kafka_metadata_mode", "is 'kraft', but no broker runs yet: a new cluster starts in"
                             " ZooKeeper mode here, and is then migrated.",
                             "create the cluster with kafka_metadata_mode=zookeeper, then set it to kraft."))
        return dict(decision, step="refused"), errors
    if phase == "zookeeper" and found["reverting"]:
        errors.append(_error("kafka_metadata_mode", "is 'kraft', but an earlier migration was rolled back half-way"
                             " (no controllers, and broker(s) %s keep the migration settings or /migration still"
                             " exists); a new migration would skip copying the metadata (strimzi#11262)."
                             % (", ".join(found["brokers_by_mode"][BROKER_MIGRATING]) or "none",),
                             "run site.yml once with kafka_metadata_mode=zookeeper to finish the rollback, then"
                             " set kraft again."))
        return dict(decision, step="refused"), errors
    if phase == "zookeeper":
        # Controllers first; once their quorum answers (tasks/migration.yml waits), the brokers get the
        # migration settings in the same run.
        upgrade = plan.get("upgrade") or {}
        version = kafka_release(settings["kafka_broker_image"])
        if version is None or version[2] is None or version < (3, 9, 1):
            known = format_version(version) if version is not None else None
            errors.append(_error("kafka_broker_image", "%r is Kafka %s; the migration to KRaft needs Kafka 3.9.1 or"
                                 " later on every broker%s." % (
                                     settings["kafka_broker_image"], known or "of an unknown version",
                                     ", and this tag does not say which 3.9 patch it carries"
                                     if version is not None and version[2] is None else ""),
                                 "upgrade first (kafka_metadata_mode=zookeeper, confluentinc/cp-kafka:7.9.2 or"
                                 " later, a full release tag), then migrate."))
        if upgrade.get("step") not in ("steady", None) or \
                upgrade.get("inter_broker_protocol_version") != MIGRATION_PROTOCOL:
            errors.append(_error("kafka_metadata_mode", "is 'kraft', but the brokers are not all on Kafka 3.9 with"
                                 " inter.broker.protocol.version 3.9 (upgrade step %r, protocol %r)."
                                 % (upgrade.get("step"), upgrade.get("inter_broker_protocol_version")),
                                 "finish the upgrade with kafka_metadata_mode=zookeeper first; never change the"
                                 " protocol during a migration."))
        if not decision["cluster_id"]:
            errors.append(_error("kafka_metadata_mode", "is 'kraft', but ZooKeeper has no /cluster/id to format"
                                 " the controllers with.", "let the brokers start once in ZooKeeper mode first."))
        if errors:
            return dict(decision, step="refused"), errors
        return dict(decision, step="deploy_controllers", controllers="migration", broker_mode=BROKER_MIGRATING,
                    wait_for_migration=True, continue_after_roll=True, backup=True), errors
    if phase in ("controllers", "brokers_migrating"):
        return dict(decision, step="brokers_to_migration", controllers="migration", broker_mode=BROKER_MIGRATING,
                    wait_for_migration=True, continue_after_roll=True), errors
    if phase in ("migrated", "brokers_kraft"):
        return dict(decision, step="brokers_to_kraft", controllers="migration", broker_mode=BROKER_KRAFT,
                    soak=not finalize, continue_after_roll=finalize, backup=phase == "migrated"), errors
    # phase == "kraft": every broker is a KRaft broker.
    if not finalize:
        return dict(decision, step="soak", controllers="migration", broker_mode=BROKER_KRAFT, soak=True), errors
    # With kafka_zookeeper_remove, the next pass (planned from what runs: finalized) removes ZooKeeper.
    return dict(decision, step="finalize", controllers="final", broker_mode=BROKER_KRAFT, irreversible=True,
                continue_after_roll=remove_zookeeper, backup=True), errors


def partitions_source(decision):
    """Where partitions' replicas and in-sync replicas are read for a roll's checks: ZooKeeper, which the
    controllers keep writing until the migration is finalized, else the KRaft metadata (a finalized cluster's
    ZooKeeper is stale, and may be gone)."""
    if decision["phase"] == "finalized" or decision["step"] == "finalize":
        return "kraft"
    return "zookeeper"


def registrations_source(decision):
    """Where brokers' registrations are read: the KRaft metadata once the controllers copied it and lead
    (every broker, ZooKeeper-mode or KRaft, is listed there; a KRaft broker never is in /brokers/ids), else
    ZooKeeper's /brokers/ids."""
    if decision["controllers"] != "absent" and decision["phase"] in ("migrated", "brokers_kraft", "kraft", "finalized"):
        return "kraft"
    return "zookeeper"


def evidence_from(deployments, statefulsets, broker_id_label, zookeeper_facts=None, zookeeper_runs=None):
    """The evidence ``decide`` reads, from k8s_info reads and the kraft_migration module's ZooKeeper facts.

    :param zookeeper_runs: whether the ZooKeeper StatefulSet exists (the preflight's read; None: taken as running)."""
    facts = zookeeper_facts or {}
    statefulset = (statefulsets or [None])[0]
    controllers = None
    if statefulset:
        controllers = {"migration": bool(controller_migration_flag(statefulset)),
                       "image": controller_image(statefulset)}
    return {
        "brokers": broker_modes(deployments, broker_id_label),
        "controllers": controllers,
        "zookeeper": {"migration": facts.get("migration_znode"), "controller": facts.get("controller_znode"),
                      "migration_exists": bool(facts.get("migration_exists"))},
        # ZooKeeper's /cluster/id; once finalized ZooKeeper is not asked: the controllers were formatted with it.
        "cluster_id": facts.get("cluster_id") or (controller_cluster_id(statefulset) if statefulset else None),
        "zookeeper_runs": True if zookeeper_runs is None else bool(zookeeper_runs),
    }


def needs_evidence(plan, deployments, statefulsets):
    """Whether ZooKeeper must be asked: a migration is wanted, or something of one is there, and it was not
    finalized (then ZooKeeper is no longer written, and may be gone)."""
    if controllers_finalized(statefulsets):
        return False
    if plan["settings"].get("kafka_metadata_mode", "zookeeper") != "zookeeper" or statefulsets:
        return True
    return any(mode != BROKER_ZOOKEEPER for mode in broker_modes(deployments, plan["broker_id_label"]).values())


def apply_to_plan(plan, evidence):
    """The plan with the migration step applied: every broker's properties in the decided mode, and
    ``plan.migration`` (the decision, the controllers' names and properties). Returns ``(plan, errors)``."""
    decision, errors = decide(plan, evidence)
    decision["registrations"] = registrations_source(decision)
    decision["partitions"] = partitions_source(decision)
    # Once finalized, ZooKeeper is not written any more (and may be gone): nothing of it is read.
    decision["read_zookeeper"] = decision["phase"] != "finalized"
    controller = plan["controller"]
    voters = controller["voters"]
    brokers = []
    for broker in plan["brokers"]:
        # Always from the ZooKeeper-mode properties the plan derived: a second pass in the same run starts from
        # a plan that already has the first pass's mode applied.
        base = broker.get("zookeeper_properties", broker["properties"])
        properties = broker_properties_for_mode(base, decision["broker_mode"], voters)
        env = broker_env(properties)
        if decision["broker_mode"] == BROKER_KRAFT:
            # cp-kafka in KRaft mode formats (or checks) its log dirs with the cluster's id before it starts.
            env.append({"name": "CLUSTER_ID", "value": decision["cluster_id"] or ""})
        brokers.append(dict(broker, properties=properties, env=env, mode=decision["broker_mode"],
                            zookeeper_properties=base))
    properties = controller_properties(plan, controller, voters, migration=decision["controllers"] == "migration")
    result = dict(plan, brokers=brokers,
                  controller=dict(controller, properties=properties, env=broker_env(properties)),
                  migration=decision)
    return result, errors
