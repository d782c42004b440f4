"""The upgrade step a run takes, decided from what runs (pure: no API, no clock).

Kafka's rolling upgrade in ZooKeeper mode is two rolls (Kafka docs, "Upgrading ZooKeeper-based clusters"):
first the new binaries with ``inter.broker.protocol.version`` (IBP) pinned to the version that runs, then,
once every broker runs the new binaries, IBP raised to the new version and a second roll. After that bump
the old binaries cannot rejoin. Each run reads the brokers' Deployments and pods, so a run interrupted
anywhere continues from what it finds, and a run after the end renders exactly what runs (no roll).

Steps (``step``):
  new       no broker runs yet: IBP is the target's.
  steady    the brokers speak the target's protocol; an image change within the line is one roll.
  binaries  some broker does not run the target image yet: roll the image, IBP pinned to the lowest that runs.
  protocol  every broker runs the target image and is ready: raise IBP to the target's (the second roll).
  held      as ``protocol``, but ``kafka_broker_upgrade_bump_protocol`` is false: IBP stays pinned (a soak).
  pinned    the user set ``kafka_broker_inter_broker_protocol_version``: that value, whatever runs.
  kraft     a Kafka 4 image (KRaft only) for brokers that all run in KRaft mode: no protocol to pin; whether
            the migration was finalized is the migration's to check (``module_utils/migration.py``).

ZooKeeper: Kafka 3.5+ ships a ZooKeeper 3.8 client that cannot talk to 3.4 servers (KIP-902), and the
Kafka 3.9 docs ask for ZooKeeper 3.8.3 or later first; a ZooKeeper downgrade is refused (a newer server's
snapshot need not load in an older one). A server moving from 3.4 data to 3.5+ may find transaction logs
without a snapshot and refuse to start (ZOOKEEPER-3056): ``snapshot.trust.empty`` is set for that data.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import BROKER_KRAFT, broker_mode
from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import broker_env
from ansible_collections.kafka_eks.cluster.plugins.module_utils.versions import (
    at_least, format_version, kafka_version, major_minor, parse_version, zookeeper_version)

IBP_ENV = "KAFKA_INTER_BROKER_PROTOCOL_VERSION"
BROKER_CONTAINER = "broker"
ZOOKEEPER_CONTAINER = "zookeeper"
# ZooKeeper-mode brokers end with Kafka 3.9: Kafka 4 runs KRaft only.
LAST_ZOOKEEPER_KAFKA = (3, 9)
ZOOKEEPER_FOR_KAFKA_3_5 = (3, 8, 3)
ZOOKEEPER_TRUSTS_EMPTY_SNAPSHOT_FROM = (3, 5, 0)
# The volume layouts the two ZooKeeper images write (mount path, data dir, transaction log dir).
ZOOKEEPER_LAYOUTS = {
    "apache": {"mount": "/data", "data_dir": "/data", "log_dir": "/data/log"},
    "kubernetes-zookeeper": {"mount": "/var/lib/zookeeper", "data_dir": "/var/lib/zookeeper/data",
                             "log_dir": "/var/lib/zookeeper/data/log"},
}


def _container(spec, name):
    for container in (spec or {}).get("containers") or []:
        if container.get("name") == name:
            return container
    return None


def _env_value(container, name):
    for entry in (container or {}).get("env") or []:
        if entry.get("name") == name:
            return entry.get("value")
    return None


def _listener_protocol(protocol_map, listener):
    for entry in (protocol_map or "").split(","):
        name, separator, protocol = entry.strip().partition(":")
        if separator and name == listener:
            return protocol
    return None


def inter_broker_security_errors(plan, deployments):
    """A running broker whose inter-broker listener has another protocol than planned: a rolling restart cannot
    change it (a restarted broker and one not yet restarted could not reach each other), so it is refused."""
    planned = plan["tls"]["listeners"]["internal"].upper()
    differ = []
    for deployment in deployments or []:
        container = _container(((deployment.get("spec") or {}).get("template") or {}).get("spec"), BROKER_CONTAINER)
        listener = _env_value(container, "KAFKA_INTER_BROKER_LISTENER_NAME") or "INTERNAL"
        running = _listener_protocol(_env_value(container, "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"), listener)
        if running and running != planned:
            differ.append("%s (%s)" % (deployment["metadata"]["name"], running))
    if not differ:
        return []
    return [("kafka_broker_listener_security", "internal is %s, but the brokers run their inter-broker listener with "
             "another protocol: %s. A rolling restart cannot change it: a restarted broker and one not yet restarted "
             "could not reach each other." % (planned.lower(), ", ".join(sorted(differ))),
             "keep internal as it runs; change the client and external listeners only (each rolls safely).")]


def running_brokers(deployments, pods, broker_id_label):
    """{broker id (str): {image, protocol, pod_image, ready}} from the broker Deployments and their pods.

    ``image`` and ``protocol`` come from the Deployment (what the next pod runs); ``pod_image`` and ``ready``
    from its newest pod that is not being deleted: the evidence that the image really runs."""
    result = {}
    for deployment in deployments or []:
        labels = ((deployment.get("metadata") or {}).get("labels") or {})
        broker = labels.get(broker_id_label)
        container = _container(((deployment.get("spec") or {}).get("template") or {}).get("spec"),
                               BROKER_CONTAINER)
        if broker is None or container is None:
            continue
        result[str(broker)] = {"image": container.get("image"), "protocol": _env_value(container, IBP_ENV),
                               "pod_image": None, "ready": False,
                               "kraft": broker_mode(deployment) == BROKER_KRAFT}
    newest = {}
    for pod in pods or []:
        meta = pod.get("metadata") or {}
        broker = (meta.get("labels") or {}).get(broker_id_label)
        if broker not in result or meta.get("deletionTimestamp"):
            continue
        created = meta.get("creationTimestamp") or ""
        if broker in newest and newest[broker] >= created:
            continue
        newest[broker] = created
        container = _container(pod.get("spec"), BROKER_CONTAINER)
        statuses = [s for s in ((pod.get("status") or {}).get("containerStatuses") or [])
                    if s.get("name") == BROKER_CONTAINER]
        result[broker]["pod_image"] = container.get("image") if container else None
        result[broker]["ready"] = bool(statuses and statuses[0].get("ready"))
    return result


def _protocol_of(broker):
    """The IBP a running broker speaks: its pin, else its binaries' line; None when neither is known."""
    pinned = parse_version(broker.get("protocol"))
    if pinned is not None:
        return major_minor(pinned)
    return major_minor(kafka_version(broker.get("image")))


def broker_step(target_image, running, pinned_protocol=None, bump=True, expected_ids=None):
    """The IBP to render and the step, or the problems that refuse the run.

    :param running: ``running_brokers()``' result.
    :param pinned_protocol: ``kafka_broker_inter_broker_protocol_version`` or None.
    :param expected_ids: the plan's broker ids (str); a broker not running yet gets the target image anyway.
    :returns: ``(decision, errors)``; errors are ``(variable, problem, fix)``."""
    errors = []
    target = kafka_version(target_image)
    target_protocol = major_minor(target)
    protocols = dict((b, _protocol_of(r)) for b, r in running.items())
    known = [p for p in protocols.values() if p is not None]
    lowest = min(known) if known else None
    highest = max(known) if known else None
    decision = {
        "target_version": format_version(target),
        "target_protocol": format_version(target_protocol, 2),
        "running_protocol": format_version(lowest, 2),
        "running": dict((b, {"version": format_version(kafka_version(r["image"])),
                             "protocol": format_version(protocols[b], 2), "image": r["image"],
                             "runs_target": r["image"] == target_image and r["pod_image"] == target_image
                             and r["ready"]})
                        for b, r in sorted(running.items())),
        "bump_after_roll": False,
    }
    if target is not None and target_protocol > LAST_ZOOKEEPER_KAFKA:
        if running and all(r.get("kraft") for r in running.values()):
            decision.update(step="kraft", inter_broker_protocol_version=None)
            return decision, errors
        errors.append(("kafka_broker_image", "%r is Kafka %s, which runs in KRaft mode only; this cluster keeps its"
                       " metadata in ZooKeeper." % (target_image, format_version(target)),
                       "stay on Kafka 3.9 (cp-kafka 7.9.x) until the cluster has moved off ZooKeeper"
                       " (kafka_metadata_mode=kraft, then kafka_migration_finalize=true); then change the image."))
        return decision, errors
    if pinned_protocol:
        pin = parse_version(pinned_protocol)
        if pin is None:
            errors.append(("kafka_broker_inter_broker_protocol_version", "%r is not a Kafka version."
                           % (pinned_protocol,), "give major.minor, such as '3.9' or '2.5'."))
            return decision, errors
        if target_protocol is not None and major_minor(pin) > target_protocol:
            errors.append(("kafka_broker_inter_broker_protocol_version", "%r is newer than Kafka %s, which"
                           " kafka_broker_image %r runs." % (pinned_protocol, decision["target_version"], target_image),
                           "set it to %s or lower, or use a newer image." % decision["target_protocol"]))
        if highest is not None and major_minor(pin) < highest:
            errors.append(("kafka_broker_inter_broker_protocol_version", "%r is lower than %s, the protocol"
                           " broker(s) %s speak now; Kafka does not go back after the protocol was raised."
                           % (pinned_protocol, format_version(highest, 2),
                              ", ".join(b for b, p in sorted(protocols.items()) if p == highest)),
                           "set it to %s or leave it unset." % format_version(highest, 2)))
        decision.update(step="pinned", inter_broker_protocol_version=str(pinned_protocol).strip())
        return decision, errors
    if not running:
        if target is None:
            errors.append(("kafka_broker_image", "%r does not say which Kafka version it runs (its tag is not a"
                           " release of cp-kafka, cp-server or apache/kafka)." % (target_image,),
                           "tag it with its release (confluentinc/cp-kafka:7.9.1), or set"
                           " kafka_broker_inter_broker_protocol_version to the Kafka version it runs."))
            return decision, errors
        decision.update(step="new", inter_broker_protocol_version=decision["target_protocol"])
        return decision, errors
    if target is None or None in protocols.values():
        unknown = [r["image"] for b, r in sorted(running.items()) if protocols[b] is None]
        if target is None:
            unknown = [target_image]
        errors.append(("kafka_broker_inter_broker_protocol_version", "is not set and the Kafka version of %s cannot"
                       " be read from the image tag, so the protocol to keep during a roll is not known."
                       % ", ".join(sorted(set(unknown))),
                       "set it to the major.minor of the Kafka version the brokers run now (such as '3.9')."))
        return decision, errors
    if highest > target_protocol:
        errors.append(("kafka_broker_image", "%r is Kafka %s, older than the protocol %s that broker(s) %s speak;"
                       " after the protocol was raised, older binaries cannot rejoin the cluster."
                       % (target_image, decision["target_version"], format_version(highest, 2),
                          ", ".join(b for b, p in sorted(protocols.items()) if p == highest)),
                       "keep an image of Kafka %s or newer." % format_version(highest, 2)))
        return decision, errors
    all_run_target = all(r["runs_target"] for r in decision["running"].values())
    if lowest == target_protocol:
        decision.update(step="steady", inter_broker_protocol_version=decision["target_protocol"])
    elif not all_run_target:
        decision.update(step="binaries", inter_broker_protocol_version=format_version(lowest, 2),
                        bump_after_roll=bool(bump))
    elif bump:
        decision.update(step="protocol", inter_broker_protocol_version=decision["target_protocol"])
    else:
        decision.update(step="held", inter_broker_protocol_version=format_version(lowest, 2))
    return decision, errors


def zookeeper_step(target_image, flavor, statefulset, kafka_image):
    """The ZooKeeper data layout, whether to trust a missing snapshot, and the problems that refuse the run.

    :param statefulset: the running StatefulSet or None.
    :returns: ``(decision, errors)``."""
    errors = []
    target = zookeeper_version(target_image)
    running_image, layout = None, flavor
    if statefulset:
        container = _container((((statefulset.get("spec") or {}).get("template") or {}).get("spec")),
                               ZOOKEEPER_CONTAINER)
        running_image = container.get("image") if container else None
        for mount in (container or {}).get("volumeMounts") or []:
            if mount.get("name") == "data":
                for name, paths in sorted(ZOOKEEPER_LAYOUTS.items()):
                    if paths["mount"] == mount.get("mountPath"):
                        layout = name
    running = zookeeper_version(running_image)
    decision = dict(ZOOKEEPER_LAYOUTS.get(layout, ZOOKEEPER_LAYOUTS["apache"]), layout=layout,
                    target_version=format_version(target), running_version=format_version(running),
                    running_image=running_image,
                    # 3.4 data read by a 3.5+ server; kept while that data lives on, so reruns change nothing.
                    snapshot_trust_empty=bool(layout == "kubernetes-zookeeper" and flavor == "apache"
                                              and target is not None
                                              and at_least(target, ZOOKEEPER_TRUSTS_EMPTY_SNAPSHOT_FROM)))
    if running is not None and target is not None and not at_least(target, running):
        errors.append(("zookeeper_image", "%r is ZooKeeper %s, older than the %s the ensemble runs (%r); a newer"
                       " server's data need not load in an older one." % (target_image, format_version(target),
                                                                          format_version(running), running_image),
                       "keep ZooKeeper %s or newer." % format_version(running)))
    kafka = kafka_version(kafka_image)
    if kafka is not None and at_least(major_minor(kafka), (3, 5)) and target is not None \
            and not at_least(target, ZOOKEEPER_FOR_KAFKA_3_5):
        errors.append(("zookeeper_image", "%r is ZooKeeper %s; Kafka %s (kafka_broker_image %r) needs ZooKeeper %s"
                       " or later (its ZooKeeper 3.8 client cannot talk to older servers, KIP-902)."
                       % (target_image, format_version(target), format_version(kafka), kafka_image,
                          format_version(ZOOKEEPER_FOR_KAFKA_3_5)),
                       "upgrade ZooKeeper in the same run: zookeeper_image=zookeeper:3.9.3 with"
                       " zookeeper_image_flavor=apache (site.yml rolls ZooKeeper before the brokers)."))
    return decision, errors


def apply_to_plan(plan, deployments=None, pods=None, statefulset=None):
    """The plan with what runs applied: each broker's ``inter.broker.protocol.version``, ``plan.upgrade`` (the
    broker step) and the ZooKeeper data layout. Returns ``(plan, errors)``, errors as the plan's messages
    (``variable: problem Fix: fix``); the plan given is not changed."""
    settings = plan["settings"]
    running = running_brokers(deployments, pods, plan["broker_id_label"])
    broker_decision, errors = broker_step(settings["kafka_broker_image"], running,
                                          settings.get("kafka_broker_inter_broker_protocol_version") or None,
                                          settings.get("kafka_broker_upgrade_bump_protocol", True),
                                          [str(b) for b in plan["broker_ids"]])
    zookeeper_decision, zookeeper_errors = zookeeper_step(settings["zookeeper_image"],
                                                          settings["zookeeper_image_flavor"], statefulset,
                                                          settings["kafka_broker_image"])
    errors = ["%s: %s Fix: %s" % e for e in errors + zookeeper_errors + inter_broker_security_errors(plan, deployments)]
    result = dict(plan, upgrade=broker_decision, zookeeper=dict(plan["zookeeper"], **zookeeper_decision))
    protocol = broker_decision.get("inter_broker_protocol_version")
    brokers = []
    for broker in plan["brokers"]:
        properties = dict(broker["properties"])
        if protocol:
            properties["inter.broker.protocol.version"] = protocol
        brokers.append(dict(broker, properties=properties, env=broker_env(properties)))
    result["brokers"] = brokers
    return result, errors
