# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The preflight in one task, on the controller: gather the roles' variables, check their types, derive the plan
(``module_utils/plan.py``), read what runs through ``kubernetes.core.k8s_info`` and apply it to the plan
(``module_utils/upgrade.py``). Every refusal happens here, before anything is written. Documented in
``plugins/modules/cluster_preflight.py``."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.validation import check_type_bool
from ansible.plugins.action import ActionBase

from ansible_collections.kafka_eks.cluster.plugins.filter.zookeeper_ensemble import zookeeper_ensemble
from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import (
    CREDENTIAL_PREFIX,
    PlanError,
    build_plan,
    load_balancer_address,
    zone_move_error,
)
from ansible_collections.kafka_eks.cluster.plugins.module_utils.migration import controllers_finalized
from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram, storage, tls, zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.upgrade import apply_to_plan

# The collection's roles/ directory: the argument specs are read from the roles this plugin ships with.
ROLES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "roles")
DEFAULT_ROLES = ("preflight", "zookeeper", "kafka_broker")
# The connection options of kubernetes.core's modules that module_defaults (group/kafka_eks.cluster.k8s) give
# this action; handed to each k8s_info read as they are, never returned.
AUTH_OPTIONS = ("kubeconfig", "context", "host", "api_key", "validate_certs", "ca_cert", "client_cert",
                "client_key", "username", "password", "proxy", "no_proxy", "proxy_headers", "persist_config",
                "impersonate_user", "impersonate_groups")
SECRET_OPTIONS = ("api_key", "password", "client_key", "proxy_headers")
TYPE_FIX = ("Fix: give each variable named above a value of its type in the roles' meta/argument_specs.yml "
            "(README, Variables): a whole number such as 4 for an int, true or false (yes/no, on/off, 1/0) for "
            "a bool, exactly one of the listed choices (nothing around it, not even a space or a newline) for "
            "a choice.")


def _escape(text):
    """A message on one line: newlines and tabs in a value shown as \\n and \\t (got: apache\\n)."""
    return str(text).replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


FINALIZED_REFUSAL = (
    "The cluster variables are not valid for what runs; nothing was written. kafka_metadata_mode: is %r, but the "
    "migration to KRaft was finalized: the controllers no longer write ZooKeeper, whose metadata is out of date. "
    "Fix: keep kafka_metadata_mode=kraft; a finalized migration cannot be undone.")


def type_errors_message(errors):
    """The refusal of values of the wrong type or outside their choices: every error, then the fix."""
    return "The cluster variables are not valid; nothing was created. %s. %s" % (
        "; ".join(_escape(e) for e in errors), TYPE_FIX)


def upgrade_message(plan):
    """What this run does of an upgrade, for the steps that are one (None for ``new`` and ``steady``)."""
    upgrade = plan.get("upgrade") or {}
    step = upgrade.get("step")
    if step in (None, "new", "steady"):
        return None
    target = upgrade.get("target_version")
    if step == "kraft":
        if all(b.get("runs_target") for b in (upgrade.get("running") or {}).values()):
            return None
        return ("Upgrade: the KRaft controllers, then the brokers, roll to %s (Kafka %s) one at a time; KRaft mode"
                " has no inter-broker protocol to pin." % (plan["settings"]["kafka_broker_image"], target))
    protocol = upgrade.get("inter_broker_protocol_version")
    says = {
        "binaries": "roll the brokers to %s (Kafka %s) one at a time with inter.broker.protocol.version pinned "
                    "to %s, the protocol they speak now%s" % (
                        plan["settings"]["kafka_broker_image"], target, protocol,
                        "; then raise it to %s and roll again" % upgrade.get("target_protocol")
                        if upgrade.get("bump_after_roll")
                        else " (kafka_broker_upgrade_bump_protocol is false: the raise waits)"),
        "protocol": "every broker runs Kafka %s: raise inter.broker.protocol.version from %s to %s, one broker "
                    "at a time. After this, the older image cannot rejoin" % (
                        target, upgrade.get("running_protocol"), upgrade.get("target_protocol")),
        "held": "every broker runs Kafka %s; inter.broker.protocol.version stays %s "
                "(kafka_broker_upgrade_bump_protocol is false). The older image can still come back; set "
                "kafka_broker_upgrade_bump_protocol=true to finish" % (target, protocol),
        "pinned": "inter.broker.protocol.version is %s, as kafka_broker_inter_broker_protocol_version says"
                  % protocol,
    }
    return "Upgrade: %s." % says.get(step, "step %s" % step)


def ensemble_resize_error(plan, statefulsets):
    """The refusal to resize a running ZooKeeper ensemble, or None: every server's configuration lists the
    others, so a StatefulSet resized by this collection would leave servers counting members that are gone."""
    if not statefulsets:
        return None
    running = zookeeper_ensemble(statefulsets[0]) or 0
    wanted = plan["zookeeper"]["replicas"]
    if running == wanted:
        return None
    return (
        "zookeeper_replicas: the running ensemble %s/%s has %s servers and zookeeper_replicas asks for %s. The "
        "collection does not resize a running ensemble: each server's configuration lists every other, and a "
        "scale-down can lose the quorum and its data. Nothing was written. Fix: set zookeeper_replicas=%s; to "
        "resize, move the data to a new ensemble of the size you want (a new kafka_namespace, or ZooKeeper's own "
        "dynamic reconfiguration, done by hand) first."
        % (plan["namespace"], plan["settings"]["zookeeper_statefulset_name"], running, wanted, running))


def password_secrets(plan):
    """``(read key, variable, {secret, key})`` of each password Secret the plan names: the inter-broker user's,
    then each user's (one read per Secret and key)."""
    sasl = plan["sasl"]
    found = []
    if sasl["admin"]:
        found.append(("kafka_broker_admin_secret", sasl["admin"]))
    found += [("kafka_users (%s)" % user["name"], user) for user in sasl["users"]]
    auth = plan["zookeeper"]["auth"]
    if auth["enabled"]:
        found.append(("zookeeper_auth_secret", auth))
    out, seen = [], set()
    for variable, secret in found:
        if (secret["secret"], secret["key"]) in seen:
            continue
        seen.add((secret["secret"], secret["key"]))
        out.append(("password_secret_%d" % len(out), variable, secret))
    return out


# kafka_broker_tls_generate in check mode: the pod template's digest of a certificate not issued yet.
PENDING_CERTIFICATE = "to-be-issued"


def generation(plan, summary, ca_found, now):
    """kafka_broker_tls_generate: ``(plan["tls"]["generate"] with the actions decided, errors, warnings)`` from the
    facts about the TLS Secret (``summary``) and the CA Secret (``ca_found``, the read's result or None). A kept
    certificate is checked as a Secret of the user's would be."""
    generate = plan["tls"]["generate"]
    ca_summary = (ca_found or [tls.summarize_ca_secret(None)])[0]
    decision = tls.generation_plan(summary, ca_summary, plan["tls"]["secret"], plan["namespace"],
                                   plan["tls"]["names"], now, generate["renew_days"])
    errors, warnings = list(decision["errors"]), []
    if not errors and decision["certificate"] == "keep":
        errors, warnings = tls.secret_errors(summary, plan["tls"]["secret"], plan["namespace"], plan["tls"]["names"],
                                             now)
    return dict(generate, ca=decision["ca"], certificate=decision["certificate"],
                reasons=decision["reasons"]), errors, warnings


class ActionModule(ActionBase):
    """Check the cluster variables and what runs, and derive the plan; reads only."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def _argument_specs(self, roles):
        """The options of the roles' main entry points, merged (later roles win on a shared name)."""
        specs = {}
        for role in roles:
            path = os.path.join(ROLES_DIR, role, "meta", "argument_specs.yml")
            try:
                data = self._loader.load_from_file(path)
                specs.update(data["argument_specs"]["main"]["options"])
            except Exception as exc:  # pylint: disable=broad-except
                raise AnsibleActionFail("cluster_preflight: could not read the argument spec of role %s (%s): %s"
                                        % (role, path, exc))
        return specs

    def _gather(self, specs, task_vars):
        """The roles' variables that are set (role defaults included), templated as a task would see them. The
        connection variables (kafka_k8s_*, the API token among them) stay out: this is returned and printed."""
        names = [n for n in specs if not n.startswith(CREDENTIAL_PREFIX) and n in task_vars]
        return self._templar.template(dict((n, task_vars[n]) for n in names))

    def _read(self, reads, task_vars, auth, secrets):
        """The objects of each read in ``reads`` (see plugins/modules/cluster_read.py), by key, from one module run
        (it runs in check mode too: it reads); a failure stops the preflight saying what was being read."""
        if not reads:
            return {}
        result = self._execute_module(module_name="kafka_eks.cluster.cluster_read",
                                      module_args=dict(auth, reads=reads), task_vars=task_vars)
        if result.get("failed") or "objects" not in result:
            message = str(result.get("msg") or result.get("module_stderr") or result)
            for secret in secrets:
                message = message.replace(secret, "********")
            raise AnsibleActionFail(
                "The plan was derived, but reading what runs failed, so nothing was written: %s" % message)
        return result["objects"]

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # tmp no longer has any effect
        args = dict(self._task.args)
        roles = args.pop("roles", None) or list(DEFAULT_ROLES)
        auth = dict((k, args.pop(k)) for k in AUTH_OPTIONS if k in args)
        auth = dict((k, v) for k, v in auth.items() if v is not None)
        secrets = [str(auth[k]) for k in SECRET_OPTIONS if auth.get(k)]
        if args:
            raise AnsibleActionFail("cluster_preflight: unsupported options %s." % ", ".join(sorted(args)))
        result["changed"] = False

        specs = self._argument_specs(roles)
        config = self._gather(specs, task_vars)

        # validate_argument_spec's own failure prints every option of the three specs (hundreds of lines) around
        # the one line that matters, and no fix: its errors are reported here on their own, with the fix.
        gathered = dict((n, o) for n, o in specs.items() if not n.startswith(CREDENTIAL_PREFIX))
        try:
            validated = ArgumentSpecValidator(gathered).validate(dict(config), validate_role_argument_spec=True)
            errors = validated.error_messages
        except Exception as exc:  # pylint: disable=broad-except
            errors = [str(exc) or "validation failed"]
        # A failure returns the message and the errors only: a failed result is printed whole.
        if errors:
            return dict(result, failed=True, msg=type_errors_message(errors), argument_errors=errors)
        typed = validated.validated_parameters

        render = bool(typed.get("kafka_render_dir"))
        # Two reads of the cluster, each one module run: what the plan needs (the nodes, and the StorageClasses,
        # cluster-scoped), then what runs in its namespace. Like the node count, the storage reads are skipped when
        # the nodes are not read, and everything when rendering.
        check_nodes = typed.get("kafka_preflight_check_nodes", True) and not render
        found = self._read([dict(key="nodes", what="the cluster's nodes", kind="Node"),
                            dict(key="classes", what="the StorageClasses", kind="StorageClass",
                                 api_version="storage.k8s.io/v1")] if check_nodes else [],
                           task_vars, auth, secrets)
        nodes = found.get("nodes") if check_nodes else None
        classes = found.get("classes") or []
        try:
            # Survey answers arrive as strings: the argument spec gives each variable its type, and the plan holds
            # the values converted as Ansible converts them.
            plan = build_plan(config, nodes=nodes, argument_spec=specs)
        except PlanError as exc:
            return dict(result, failed=True, errors=exc.errors,
                        msg="The cluster variables are not valid; nothing was created.\n" + str(exc))
        if plan["warnings"]:
            result["warnings"] = list(plan["warnings"])

        # What runs decides the ZooKeeper ensemble size and data layout, the step of a broker upgrade, each broker's
        # external address and where the volumes are. Each run reads it afresh (never from a file on the
        # controller): a run stopped anywhere continues.
        # Check mode on a cluster that has no namespace yet: nothing in it can exist, so the reads inside it are
        # skipped (a ServiceAccount whose Role lives in that namespace could not make them) and apply_manifests
        # reports every object as to be created instead of a server-side dry run, which the API server refuses.
        check_mode = bool(self._task.check_mode) or bool(check_type_bool(task_vars.get("ansible_check_mode", False)))
        namespace = plan["namespace"]
        inside = dict(namespace=namespace, only_if_found="namespace") if check_mode else dict(namespace=namespace)
        selector = plan["broker_selector_string"]
        others = storage.union_selector(plan["zookeeper"]["selector"], plan["controller"]["selector"])
        reads = []
        if not render:
            if check_mode:
                reads.append(dict(key="namespace", what="the namespace %s" % namespace, kind="Namespace",
                                  name=namespace))
            # One read for ZooKeeper's and the KRaft controllers' StatefulSets, picked by name.
            reads += [dict(inside, key="statefulsets", what="the StatefulSets of namespace %s" % namespace,
                           kind="StatefulSet", api_version="apps/v1"),
                      dict(inside, key="deployments", what="the broker Deployments (%s)" % selector,
                           kind="Deployment", api_version="apps/v1", label_selectors=[selector]),
                      dict(inside, key="pods", what="the broker pods (%s)" % selector, kind="Pod",
                           label_selectors=[selector])]
            if plan["external"]["mode"] == "loadbalancer":
                reads.append(dict(inside, key="services", what="the brokers' Services (%s)" % selector,
                                  kind="Service", label_selectors=[selector]))
            if plan["tls"]["enabled"]:
                # Facts about the TLS Secret, never its content (plugins/module_utils/tls.py).
                reads.append(dict(inside, key="tls", what="the TLS Secret %s (kafka_broker_tls_secret)"
                                  % plan["tls"]["secret"], kind="Secret", name=plan["tls"]["secret"],
                                  summary="tls_secret"))
                if plan["tls"]["generate"]["enabled"]:
                    # kafka_broker_tls_generate: the collection's CA, facts only as well.
                    reads.append(dict(inside, key="tls_ca", what="the CA Secret %s (kafka_broker_tls_generate)"
                                      % plan["tls"]["generate"]["ca_secret"], kind="Secret",
                                      name=plan["tls"]["generate"]["ca_secret"], summary="ca_secret"))
            # Whether each password Secret holds a usable password, never the password (module_utils/scram.py).
            for key, variable, secret in password_secrets(plan):
                reads.append(dict(inside, key=key, what="the Secret %s (%s)" % (secret["secret"], variable),
                                  kind="Secret", name=secret["secret"], summary="password_secret",
                                  secret_key=secret["key"]))
            if check_nodes:
                # Storage that follows its pods: the claims, the volumes (field selectors cannot pick them by claim:
                # one list, when there is a claim) and the ZooKeeper and controller pods.
                reads += [dict(inside, key="claims", what="the PersistentVolumeClaims of namespace %s" % namespace,
                               kind="PersistentVolumeClaim"),
                          dict(key="volumes", what="the PersistentVolumes", kind="PersistentVolume",
                               only_if_found="claims"),
                          dict(inside, key="other_pods", what="the ZooKeeper and controller pods (%s)" % others,
                               kind="Pod", label_selectors=[others])]
        found = self._read(reads, task_vars, auth, secrets)
        preview_new_namespace = check_mode and not render and not found.get("namespace")
        found_sets = found.get("statefulsets") or []
        statefulsets = [s for s in found_sets if s["metadata"]["name"] == plan["settings"]["zookeeper_statefulset_name"]]
        controllers = [s for s in found_sets if s["metadata"]["name"] == plan["controller"]["statefulset"]]
        deployments = found.get("deployments") or []
        pods = found.get("pods") or []
        if found.get("services"):
            # A broker advertises its LoadBalancer's address once the Service has one: planned again with them.
            addresses = dict((s["metadata"]["name"], load_balancer_address(s)) for s in found["services"])
            plan = build_plan(config, nodes=nodes, argument_spec=specs, external_addresses=addresses)
        refused = []
        if plan["tls"]["enabled"] and not render:
            summary = (found.get("tls") or [tls.summarize_secret(None)])[0]
            now = datetime.datetime.now(datetime.timezone.utc)
            fingerprint = summary["fingerprint"]
            if plan["tls"]["generate"]["enabled"]:
                generate, errors, warnings = generation(plan, summary, found.get("tls_ca"), now)
                plan["tls"] = dict(plan["tls"], generate=generate)
                if generate["certificate"] in ("create", "reissue"):
                    # Known once issued: the kafka_broker role renders the brokers again with it (check mode
                    # previews a new one).
                    fingerprint = PENDING_CERTIFICATE if check_mode else None
            else:
                errors, warnings = tls.secret_errors(summary, plan["tls"]["secret"], namespace, plan["tls"]["names"],
                                                     now)
            if plan["tls"]["unchecked_external"]:
                warnings.append("kafka_broker_listener_security: the external listener is ssl with nodeport access; "
                                "each broker advertises its node's address, which the preflight cannot check against "
                                "the certificate: it needs those addresses as ipAddresses.")
            if not typed.get("kafka_preflight_check_tls", True):
                # status.yml and teardown.yml: said, not refused.
                warnings, errors = warnings + errors, []
            if warnings:
                result["warnings"] = list(result.get("warnings") or []) + warnings
            if errors:
                # Said with the password Secrets' refusals below: every missing Secret in one run.
                refused.append(("The brokers' TLS Secret would not work", errors))
            plan["tls"] = dict(plan["tls"], fingerprint=fingerprint)
        if password_secrets(plan) and not render:
            errors = []
            for key, variable, secret in password_secrets(plan):
                summary = (found.get(key) or [scram.summarize_secret(None, secret["key"])])[0]
                errors += scram.secret_errors(summary, secret["secret"], namespace, variable)
            if not typed.get("kafka_preflight_check_tls", True):
                result["warnings"] = list(result.get("warnings") or []) + errors
                errors = []
            if errors:
                refused.append(("A password Secret would not work", errors))
            # The users running brokers log in to each other as: their passwords do not change under them.
            plan["sasl"] = dict(plan["sasl"], running_users=scram.running_users(deployments))
        if refused:
            return dict(result, failed=True, errors=[e for dummy, errors in refused for e in errors],
                        msg=" ".join("%s; nothing was written. %s" % (what, " ".join(errors))
                                     for what, errors in refused))
        claims = dict((c["metadata"]["name"], c) for c in found.get("claims") or [])
        bound = set((c.get("spec") or {}).get("volumeName") for c in claims.values()
                    if (c.get("status") or {}).get("phase") == "Bound") - {None}
        volumes = dict((v["metadata"]["name"], v) for v in found.get("volumes") or [] if v["metadata"]["name"] in bound)
        other_pods = found.get("other_pods") or []
        plan, errors = apply_to_plan(plan, deployments, pods, statefulsets[0] if statefulsets else None)
        if errors:
            return dict(result, failed=True, errors=errors,
                        msg="The cluster variables are not valid for what runs; nothing was written. "
                            + " ".join(errors))
        resize = ensemble_resize_error(plan, statefulsets)
        if resize:
            return dict(result, failed=True, msg=resize)
        # Zone awareness pins each broker to a zone; a running broker's volume stays where it is.
        moved = zone_move_error(plan, pods, nodes)
        if moved:
            return dict(result, failed=True, msg=moved)
        # Once the controllers run finalized, ZooKeeper holds nothing the cluster uses: it is not deployed again when
        # kafka_zookeeper_remove asks for its removal or it is gone already, and the way back is refused here,
        # before the ZooKeeper role could write anything.
        finalized = controllers_finalized(controllers)
        if finalized and plan["settings"].get("kafka_metadata_mode") != "kraft":
            return dict(result, failed=True, msg=FINALIZED_REFUSAL % plan["settings"].get("kafka_metadata_mode"))
        remove = finalized and (bool(plan["settings"].get("kafka_zookeeper_remove")) or not statefulsets)
        plan["zookeeper"] = dict(plan["zookeeper"], remove=remove, running=bool(statefulsets))
        # ZooKeeper authentication, staged by what runs (module_utils/zookeeper_auth.py): each step proven first.
        auth, errors = zookeeper_auth.stage(plan["zookeeper"]["auth"], statefulsets[0] if statefulsets else None,
                                            deployments, [b["deployment"] for b in plan["brokers"]])
        if errors and not typed.get("kafka_preflight_check_tls", True):
            # status.yml and teardown.yml: said, not refused.
            result["warnings"] = list(result.get("warnings") or []) + errors
        elif errors:
            return dict(result, failed=True, errors=errors,
                        msg="The cluster variables are not valid for what runs; nothing was written. "
                            + " ".join(errors))
        if auth["step"] == "server" and plan["settings"].get("kafka_zookeeper_access") == "direct":
            errors = ["zookeeper_auth: the running ZooKeeper servers do not accept SASL yet, and kazoo "
                      "(kafka_zookeeper_access=direct) cannot log in to them before they do. Fix: take the steps with "
                      "kafka_zookeeper_access=exec (the default), then switch back."]
            return dict(result, failed=True, errors=errors, msg="Nothing was written. " + errors[0])
        plan["zookeeper"] = dict(plan["zookeeper"], auth=auth)

        # Storage: each class the run may create claims of; each pod stuck on its volume's zone
        # (module_utils/storage.py). plan["volumes"]: each volume's zone and whether it has a schedulable node,
        # which the rolling restarts read before taking a pod down.
        plan["volumes"] = storage.volumes(plan, claims, volumes, nodes)
        if nodes is not None:
            errors, warnings = storage.storage_class_check(
                plan, classes, claims, nodes, storage.groups_in_use(plan, controllers_running=bool(controllers)))
            errors += storage.pending_errors(plan, plan["volumes"], pods + other_pods)
            if warnings:
                result["warnings"] = list(result.get("warnings") or []) + warnings
            if errors:
                return dict(result, failed=True, errors=errors,
                            msg="The storage of the cluster would leave pods Pending; nothing was written. "
                                + " ".join(errors))

        result.update(
            config=config,
            plan=plan,
            preview_new_namespace=preview_new_namespace,
            # The broker Deployments as they run now (empty when none can exist yet), for the kafka_broker role:
            # fresh until something is applied.
            broker_deployments=deployments,
            # The KRaft controllers' StatefulSet, the one the finalized check above read, fresh likewise.
            controller_statefulsets=controllers,
            upgrade_message=upgrade_message(plan),
            msg="Planned %d brokers and %d ZooKeeper servers in namespace %s%s."
                % (len(plan["brokers"]), plan["zookeeper"]["replicas"], plan["namespace"],
                   ", over zones %s" % ", ".join(plan["zones"]["names"]) if plan["zones"]["enabled"] else ""),
        )
        return result
