"""Storage that follows its pods (pure: no API, no clock): the StorageClasses the plan uses, and the zone of each
pod's volume against the nodes that pod can be scheduled on.

On EKS an EBS volume lives in one availability zone, and its PersistentVolume says so in its node affinity
(``topology.kubernetes.io/zone``, the older ``failure-domain.beta.kubernetes.io/zone`` or the EBS CSI driver's
``topology.ebs.csi.aws.com/zone``). A pod whose volume is in a zone without a node it can be scheduled on stays
Pending for ever; a class that binds ``Immediate`` picks the volume's zone before the pod is scheduled, which on a
multi-zone cluster can be a zone the pod cannot run in. The preflight reads the StorageClasses, the claims, their
volumes and the nodes, and refuses before any write (``storage_class_check``, ``pending_errors``); the plan holds
each volume's zone and whether it has a schedulable node (``volumes``), which the rolling restarts read before
taking a pod down. Which node a pod can be scheduled on is plan.py's one rule (``node_refusal``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import BROKER_ID_LABEL, node_refusal

DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")
# The node-affinity keys that put a PersistentVolume in a zone (operator In), and the node labels that say a node's.
ZONE_KEYS = ("topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone", "topology.ebs.csi.aws.com/zone")
ALLOW_IMMEDIATE = "kafka_storage_allow_immediate_binding"
WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer"
CLASS_FIX = ("a StorageClass with volumeBindingMode: WaitForFirstConsumer, such as the EBS CSI driver's gp3 class"
             " in the README's Storage on EKS")
# At most this many nodes are named in a message.
NAMED_NODES = 5

# Who uses a volume, per group of pods: the variables of its class, node selector and tolerations.
GROUPS = (
    ("brokers", "kafka_broker_storage_class", "kafka_broker_node_selector", "kafka_broker_tolerations"),
    ("zookeeper", "zookeeper_storage_class", "zookeeper_node_selector", "zookeeper_tolerations"),
    ("controllers", "kafka_controller_storage_class", "kafka_broker_node_selector", "kafka_broker_tolerations"),
)
WHAT = {"brokers": "broker", "zookeeper": "ZooKeeper server", "controllers": "KRaft controller"}


def _meta(obj):
    return (obj or {}).get("metadata") or {}


def _name(obj):
    return _meta(obj).get("name")


def storage_users(plan):
    """Each pod of the plan with a volume, by group: ``{group: [user]}``, a user being ``{key, who, pod, claim,
    class_variable, selector_variable, tolerations_variable, pin}``. ``key`` is what ``plan["volumes"][group]`` is
    keyed by: a broker's id (as a string; its pod's name is generated), a server's or controller's pod name."""
    users = {}
    for group, class_variable, selector_variable, tolerations_variable in GROUPS:
        common = dict(class_variable=class_variable, selector_variable=selector_variable,
                      tolerations_variable=tolerations_variable, pin=None)
        if group == "brokers":
            users[group] = [dict(common, key=str(b["id"]), who="broker %s" % b["id"], pod=None, claim=b["pvc"],
                                 pin=b.get("zone"))
                            for b in plan["brokers"]]
        elif group == "zookeeper":
            zookeeper = plan["zookeeper"]
            users[group] = [dict(common, key=s["pod"], who="ZooKeeper server %s" % s["id"], pod=s["pod"], claim=claim)
                            for s, claim in zip(zookeeper["servers"], zookeeper["claims"])]
        else:
            controller = plan["controller"]
            users[group] = [dict(common, key=pod, who="KRaft controller %s" % node_id, pod=pod, claim=claim)
                            for pod, claim, node_id in zip(controller["pods"], controller["claims"],
                                                           controller["node_ids"])]
    return users


def groups_in_use(plan, controllers_running=False):
    """The groups whose claims this run may create: the brokers; ZooKeeper unless it is removed; the controllers in
    KRaft mode or when they run."""
    used = ["brokers"]
    if not plan["zookeeper"].get("remove"):
        used.append("zookeeper")
    if controllers_running or plan["settings"].get("kafka_metadata_mode") == "kraft":
        used.append("controllers")
    return used


def is_default_class(storage_class):
    """Whether a StorageClass is marked the cluster's default (the GA or the beta annotation)."""
    annotations = _meta(storage_class).get("annotations") or {}
    return any(str(annotations.get(a, "")).lower() == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def binding_mode(storage_class):
    """A StorageClass's volumeBindingMode; unset means Immediate."""
    return (storage_class or {}).get("volumeBindingMode") or "Immediate"


def node_zones_of(node):
    """The zones a Node object is in: the values of its zone labels (``ZONE_KEYS``)."""
    labels = _meta(node).get("labels") or {}
    return set(labels[k] for k in ZONE_KEYS if isinstance(labels.get(k), str) and labels.get(k))


def volume_zones(volume):
    """The zones a PersistentVolume's required node affinity allows, sorted, or None when it is not zonal (no
    node affinity, or a term without a zone expression: the volume can be used anywhere)."""
    spec = (volume or {}).get("spec") or {}
    terms = (((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")) or []
    zones = set()
    for term in terms:
        found = None
        for expression in (term or {}).get("matchExpressions") or []:
            if expression.get("key") in ZONE_KEYS and expression.get("operator") == "In":
                values = set(expression.get("values") or [])
                found = values if found is None else found & values
        if found is None:
            return None
        zones |= found
    return sorted(zones) or None


def cluster_zones(plan, nodes, groups):
    """The zones the cluster's pods may be placed in: the plan's when zone awareness is on, else the zones of the
    nodes a pod of ``groups`` can be scheduled on."""
    if (plan.get("zones") or {}).get("enabled"):
        return list(plan["zones"]["names"])
    settings = plan["settings"]
    zones = set()
    for group, _class, selector_variable, tolerations_variable in GROUPS:
        if group not in groups:
            continue
        for node in nodes or []:
            if node_refusal(node, settings.get(selector_variable), settings.get(tolerations_variable)) is None:
                zones |= node_zones_of(node)
    return sorted(zones)


def _claims_bound(users, claims):
    """Whether every user's claim exists and is Bound."""
    return bool(users) and all(
        ((claims.get(u["claim"]) or {}).get("status") or {}).get("phase") == "Bound" for u in users)


def storage_class_check(plan, classes, claims, nodes, groups):
    """The StorageClass refusals and warnings: ``(errors, warnings)``.

    Each group's class must exist (a named one) or the cluster must have exactly one default (class variable
    empty); on a multi-zone cluster it must bind WaitForFirstConsumer unless ``kafka_storage_allow_immediate_binding``.
    When every claim the class would serve exists and is bound, a claim's class cannot change any more: a warning.

    :param classes: the StorageClass objects; :param claims: ``{name: PersistentVolumeClaim}`` of the namespace;
    :param nodes: the Node objects; :param groups: ``groups_in_use``.
    """
    settings = plan["settings"]
    users = storage_users(plan)
    by_name = dict((_name(c), c) for c in classes or [])
    defaults = sorted(_name(c) for c in classes or [] if is_default_class(c))
    zones = cluster_zones(plan, nodes, groups)
    errors, warnings = [], []

    def refuse(problem, fix, kept):
        """A refusal, or only a warning when every claim the class would serve exists and is bound."""
        if kept:
            warnings.append(problem + kept)
        else:
            errors.append("%s %s" % (problem, fix))

    for group, variable, _selector, _tolerations in GROUPS:
        if group not in groups:
            continue
        what = "the %s claims" % WHAT[group]
        kept = (" Every one of %s exists and is bound, and a claim's class cannot change: kept as it is; a new claim"
                " (more %ss) would need it." % (what, WHAT[group])) if _claims_bound(users[group], claims) else None
        value = settings.get(variable) or ""
        if value:
            chosen = by_name.get(value)
            named = "the StorageClass %s (%s)" % (value, variable)
            if chosen is None:
                problem = ("%s: the StorageClass %s does not exist (the cluster has: %s), so %s would stay Pending."
                           % (variable, value, ", ".join(sorted(by_name)) or "none", what))
                fix = ("Fix: create it (for EBS, %s) or set %s to one of the cluster's classes."
                       % (CLASS_FIX, variable))
                refuse(problem, fix, kept)
                continue
        else:
            named = "the cluster's default StorageClass %s (%s is empty)" % (", ".join(defaults), variable)
            if len(defaults) != 1:
                problem = ("%s: is empty, so %s get the cluster's default StorageClass, and the cluster has %s (the "
                           "annotation storageclass.kubernetes.io/is-default-class: \"true\")."
                           % (variable, what, "none" if not defaults else "%d: %s" % (len(defaults), ", ".join(defaults))))
                fix = ("Fix: set %s to the class to use (for EBS, %s)%s."
                       % (variable, CLASS_FIX,
                          ", or mark one class the default" if not defaults else
                          ", or keep the default annotation on one class only"))
                refuse(problem, fix, kept)
                continue
            chosen = by_name[defaults[0]]
        if len(zones) < 2 or binding_mode(chosen) == WAIT_FOR_FIRST_CONSUMER or settings.get(ALLOW_IMMEDIATE):
            continue
        problem = ("%s: %s binds volumes as soon as a claim is made (volumeBindingMode %s), so on this multi-zone "
                   "cluster (zones %s) a volume's zone is chosen before its pod is scheduled, and a pod that cannot"
                   " run in that zone (zone awareness, its node selector, a zone without room) stays Pending."
                   % (variable, named, binding_mode(chosen), ", ".join(zones)))
        fix = ("Fix: set %s to %s, or set %s=true to accept Immediate binding." % (variable, CLASS_FIX, ALLOW_IMMEDIATE))
        refuse(problem, fix, kept)
    return errors, warnings


def _node_reason(node, reason, user):
    if "node selector" in reason:
        reason += " (%s)" % user["selector_variable"]
    elif reason.endswith("not tolerated"):
        reason += " by %s" % user["tolerations_variable"]
    return "node %s is %s" % (_name(node), reason)


def volume_entry(user, claim, volume, nodes, settings):
    """What the plan says of one pod's volume: ``{who, claim, bound, volume, zone, schedulable, nodes, problem,
    fix, restart_refusal}``. ``schedulable`` is False only when the volume is zonal and none of its zones has a
    node the pod can be scheduled on; None when that is not known (no claim, not bound yet, not zonal, no nodes
    read): those never block."""
    entry = dict(who=user["who"], claim=user["claim"], bound=False, volume=None, zone=None, schedulable=None,
                 nodes=[], problem=None, fix=None, restart_refusal=None)
    if claim is None or ((claim.get("status") or {}).get("phase")) != "Bound":
        return entry
    entry.update(bound=True, volume=(claim.get("spec") or {}).get("volumeName") or None)
    zones = volume_zones(volume)
    if volume is None or zones is None or nodes is None:
        return entry
    entry["zone"] = ", ".join(zones)
    pin = user.get("pin")
    ready, refused = [], []
    for node in sorted(nodes, key=_name):
        if not node_zones_of(node) & set(zones):
            continue
        reason = node_refusal(node, settings.get(user["selector_variable"]), settings.get(user["tolerations_variable"]))
        if reason is None and pin and pin not in node_zones_of(node):
            reason = "outside zone %s, which %s is pinned to" % (pin, user["who"])
        if reason is None:
            ready.append(_name(node))
        else:
            refused.append(_node_reason(node, reason, user))
    entry.update(nodes=ready, schedulable=bool(ready))
    if ready:
        return entry
    where = "zone %s" % entry["zone"] if len(zones) == 1 else "zones %s" % entry["zone"]
    if refused:
        more = len(refused) - NAMED_NODES
        why = "; ".join(refused[:NAMED_NODES]) + ("; and %d more" % more if more > 0 else "")
    else:
        why = "the cluster has no node there"
    entry["problem"] = ("its volume %s (claim %s) is in %s, where no node is schedulable for it (%s)"
                        % (entry["volume"], user["claim"], where, why))
    if pin and pin not in zones:
        entry["fix"] = ("zone awareness pins %s to zone %s, but its data is in %s: set kafka_zones in an order that "
                        "keeps it in %s (broker N in zone N mod the number of zones), or kafka_zone_awareness='off'"
                        % (user["who"], pin, where, where))
    else:
        cordoned_only = all(r.endswith(" is cordoned") for r in refused)
        entry["fix"] = ("uncordon a node in %s or add one" % where if cordoned_only else
                        "make a node in %s schedulable for %s (as named above) or add one" % (where, user["who"]))
    entry["restart_refusal"] = (
        "%s is not restarted: %s, so its new pod could never start. Nothing was restarted. Fix: %s, then run again; "
        "the collection never deletes or moves a volume." % (user["who"], entry["problem"], entry["fix"]))
    return entry


def volumes(plan, claims, volumes_by_name, nodes):
    """``plan["volumes"]``: ``{group: {key: volume_entry}}`` for every pod of the plan with a volume (brokers by id
    as a string, ZooKeeper servers and controllers by pod name).

    :param claims: ``{name: PersistentVolumeClaim}``; :param volumes_by_name: ``{name: PersistentVolume}``;
    :param nodes: the Node objects, or None when they were not read (then nothing is known to block).
    """
    settings = plan["settings"]
    result = {}
    for group, users in storage_users(plan).items():
        result[group] = {}
        for user in users:
            claim = claims.get(user["claim"])
            volume_name = ((claim or {}).get("spec") or {}).get("volumeName")
            result[group][user["key"]] = volume_entry(user, claim, volumes_by_name.get(volume_name), nodes, settings)
    return result


def unscheduled(pod):
    """Whether a pod is Pending and the scheduler said it cannot place it (PodScheduled False)."""
    status = (pod or {}).get("status") or {}
    if status.get("phase") != "Pending" or _meta(pod).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in status.get("conditions") or [])


def pending_errors(plan, plan_volumes, pods):
    """The refusals for pods that are Pending because their volume's zone has no schedulable node, in the plan's
    order. A pod Pending for another reason (its volume's zone has a node, or the zone is not known) is not blamed
    on its volume.

    :param plan_volumes: ``volumes(...)``; :param pods: the broker, ZooKeeper and controller pods.
    """
    users = storage_users(plan)
    errors = []
    for group in ("brokers", "zookeeper", "controllers"):
        for user in users[group]:
            entry = plan_volumes.get(group, {}).get(user["key"]) or {}
            if entry.get("schedulable") is not False:
                continue
            for pod in sorted(pods or [], key=_name):
                if group == "brokers":
                    mine = (_meta(pod).get("labels") or {}).get(BROKER_ID_LABEL) == user["key"]
                else:
                    mine = _name(pod) == user["pod"]
                if mine and unscheduled(pod):
                    errors.append("%s's pod %s is Pending: %s; %s." % (user["who"], _name(pod), entry["problem"],
                                                                       entry["fix"]))
    return errors


def union_selector(*selectors):
    """One label selector matching the pods of any of ``selectors`` (dicts of label: value): the labels they share,
    ``key=value`` when all agree and ``key in (a,b)`` otherwise."""
    shared = set(selectors[0])
    for selector in selectors[1:]:
        shared &= set(selector)
    parts = []
    for key in sorted(shared):
        values = sorted(set(s[key] for s in selectors))
        parts.append("%s=%s" % (key, values[0]) if len(values) == 1 else "%s in (%s)" % (key, ",".join(values)))
    return ",".join(parts)
