"""The test bed's volume provisioner, as decisions over API-form dicts (the pod runner does the API calls).

Without zones (the default bed): StorageClass ``standard`` (default, Immediate, Retain), and every Pending claim
of it gets a hostPath PV at once, without node affinity.

With zones (``testbed.py up --zones za,zb,zc``) it behaves like the EBS CSI driver on a multi-zone EKS cluster,
through the same hand-offs as any external provisioner (sig-storage-lib-external-provisioner):

* ``standard`` (default) is ``WaitForFirstConsumer``: the PV controller leaves the claim alone until the
  scheduler's VolumeBinding plugin picked a node for the first pod using it and wrote
  ``volume.kubernetes.io/selected-node`` on the claim; the PV controller then hands the claim to the class's
  provisioner (annotation ``volume.kubernetes.io/storage-provisioner``), and only then is it provisioned, in that
  node's zone. The scheduler waits (PreBind) until the PV is bound and its node affinity matches the node.
* ``immediate`` is ``Immediate``: provisioned as soon as the PV controller hands it over, in a zone picked
  round-robin (EBS picks one of the cluster's zones), so a pod that later lands on a node of another zone is
  refused by the scheduler with "volume node affinity conflict".

Every zonal PV carries ``spec.nodeAffinity`` requiring ``topology.kubernetes.io/zone`` = its zone.
"""

PROVISIONER = "testbed.kafka-eks/local"
DEFAULT_CLASS = "standard"
IMMEDIATE_CLASS = "immediate"
ZONE_LABEL = "topology.kubernetes.io/zone"
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
WFFC = "WaitForFirstConsumer"
IMMEDIATE = "Immediate"


def storage_classes(zones, default_name=DEFAULT_CLASS):
    """name -> StorageClass body the runner keeps. Zoned: the default class waits for its first consumer,
    plus an Immediate one; unzoned: the default class alone, Immediate (as the bed always had)."""
    def sc(name, mode, default):
        meta = {"name": name}
        if default:
            meta["annotations"] = {ANN_DEFAULT_CLASS: "true"}
        return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
                "provisioner": PROVISIONER, "reclaimPolicy": "Retain", "volumeBindingMode": mode}
    if not zones:
        return {default_name: sc(default_name, IMMEDIATE, True)}
    return {default_name: sc(default_name, WFFC, True), IMMEDIATE_CLASS: sc(IMMEDIATE_CLASS, IMMEDIATE, False)}


def class_action(want, have):
    """What to do about one class: 'create', 'replace' (ours, but another binding mode: the field is immutable),
    'foreign' (someone else's class of that name: left alone) or None (as wanted)."""
    if have is None:
        return "create"
    if have.get("provisioner") != PROVISIONER:
        return "foreign"
    if have.get("volumeBindingMode", IMMEDIATE) != want["volumeBindingMode"]:
        return "replace"
    return None


class ZonePicker:
    """Round-robin over the zones, for claims that do not wait for a consumer."""

    def __init__(self, zones):
        self.zones = list(zones)
        self.next = 0

    def pick(self):
        zone = self.zones[self.next % len(self.zones)]
        self.next += 1
        return zone


def node_zone(node):
    return ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)


class Plan:
    """Provision this claim; zone None = no node affinity."""

    def __init__(self, zone=None, node=None):
        self.zone, self.node = zone, node

    def __repr__(self):
        return "Plan(zone=%r, node=%r)" % (self.zone, self.node)


def plan(pvc, classes, nodes, zones, picker, default_name=DEFAULT_CLASS):
    """A Plan for a claim the runner must provision now, else None (not ours, not yet, or already done).

    classes: name -> StorageClass; nodes: name -> Node; zones: the bed's zones ([] = unzoned); picker: a
    ZonePicker (asked only when the answer is a new Immediate zonal volume)."""
    meta, spec = pvc.get("metadata", {}), pvc.get("spec", {})
    if spec.get("volumeName") or meta.get("deletionTimestamp"):
        return None
    if (pvc.get("status") or {}).get("phase") not in (None, "Pending"):
        return None
    name = spec.get("storageClassName")
    if not zones:
        # As the bed always did: the default class's claims, at once, no topology.
        return Plan() if name == default_name else None
    cls = classes.get(name)
    if cls is None or cls.get("provisioner") != PROVISIONER:
        return None
    ann = meta.get("annotations") or {}
    # The PV controller hands a claim to an external provisioner with this annotation (for a
    # WaitForFirstConsumer class only once the scheduler selected a node).
    if PROVISIONER not in (ann.get(ANN_STORAGE_PROVISIONER), ann.get(ANN_BETA_STORAGE_PROVISIONER)):
        return None
    if cls.get("volumeBindingMode") == WFFC:
        selected = ann.get(ANN_SELECTED_NODE)
        if not selected or selected not in nodes:
            return None
        return Plan(node_zone(nodes[selected]), selected)
    return Plan(picker.pick())


def node_affinity(zone):
    return {"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}]}}


def pv_body(pvc, path, the_plan):
    """The hostPath PV for a claim, pre-bound to it through claimRef (the PV controller completes the
    binding), with the zone's node affinity when the plan has a zone."""
    meta, spec = pvc["metadata"], pvc["spec"]
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    labels = {"testbed.kafka-eks/namespace": meta["namespace"]}
    body = {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "pvc-" + meta["uid"], "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                         "labels": labels},
            "spec": {"capacity": {"storage": storage},
                     "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": spec.get("storageClassName"),
                     "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "hostPath": {"path": path, "type": "DirectoryOrCreate"},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}}}
    if the_plan.zone:
        labels[ZONE_LABEL] = the_plan.zone
        body["spec"]["nodeAffinity"] = node_affinity(the_plan.zone)
    return body
