# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster plan: every name, id, listener and setting derived from the user's variables.

One pure function, :func:`build_plan`, turns the role variables into the plan the templates render
and checks every rule the seed's cluster broke (duplicate broker ids, an even ZooKeeper ensemble,
a required anti-affinity that cannot be met, replication factors above the broker count, names that
Kubernetes would refuse). It does no I/O, so the same checks run for ``site.yml`` and ``render.yml``
and are unit-tested without a cluster. Each error names the variable and says how to fix it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import decimal
import posixpath
import re

from ansible.module_utils.common.validation import (
    check_type_bool,
    check_type_dict,
    check_type_int,
    check_type_list,
)

from ansible_collections.kafka_eks.cluster.plugins.module_utils import acls as kafka_acls, scram
from ansible_collections.kafka_eks.cluster.plugins.module_utils import tls
from ansible_collections.kafka_eks.cluster.plugins.module_utils import zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.versions import zookeeper_version
from ansible_collections.kafka_eks.cluster.plugins.module_utils.tls import CA_KEY, KEYSTORE_KEY, MOUNT_PATH

# Every pattern is anchored with \A and \Z: Python's $ also matches before a trailing newline, so
# "kafka\n" would pass a ^...$ pattern and land in a manifest.
DNS1035_LABEL = re.compile(r"\A[a-z]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_LABEL = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
DNS1123_SUBDOMAIN = re.compile(r"\A[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")
LABEL_VALUE = re.compile(r"\A(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?\Z")
LABEL_NAME = re.compile(r"\A[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?\Z")
# A storage request: a positive amount with a unit (a bare number would be bytes, "1m" a thousandth of one).
STORAGE_QUANTITY = re.compile(r"\A([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)\Z")
# Any Kubernetes quantity that is not negative (container resources: "500m", "2Gi", "1e3", "0.5").
QUANTITY = re.compile(r"\A([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?\Z")
QUANTITY_FACTORS = {
    "": 1, "n": decimal.Decimal("1e-9"), "u": decimal.Decimal("1e-6"), "m": decimal.Decimal("1e-3"),
    "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18,
    "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
}
# The Docker / OCI reference grammar (distribution/reference): [domain[:port]/]path[:tag][@digest].
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
IMAGE_REFERENCE = re.compile(
    r"\A(?P<name>(?:" + _DOMAIN_COMPONENT + r"(?:\." + _DOMAIN_COMPONENT + r")*(?::[0-9]+)?/)?"
    + _PATH_COMPONENT + r"(?:/" + _PATH_COMPONENT + r")*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}))?\Z")
MAX_IMAGE_NAME_LENGTH = 255
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# JVM heap ceiling: the last -Xmx (or -XX:MaxHeapSize=) wins, as in the JVM.
JVM_MAX_HEAP = re.compile(r"(?:^|\s)(?:-Xmx|-XX:MaxHeapSize=)([0-9]+)([kKmMgGtT]?)(?=\s|$)")
JVM_UNITS = {"": 1, "k": 2 ** 10, "m": 2 ** 20, "g": 2 ** 30, "t": 2 ** 40}
PROPERTY_NAME = re.compile(r"\A[a-z0-9][a-z0-9._-]*\Z")
ZOOKEEPER_HOST = re.compile(r"\A[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?:[0-9]{1,5}\Z")
MAX_LABEL_LENGTH = 63
MAX_SUBDOMAIN_LENGTH = 253
# The StatefulSet controller labels each pod with controller-revision-hash=<name>-<10-character hash>, a label
# value (at most 63 characters): Kubernetes therefore refuses a StatefulSet name longer than 63 - 11.
MAX_STATEFULSET_NAME_LENGTH = MAX_LABEL_LENGTH - 11
INT32_MAX = 2 ** 31 - 1
# kafka_metadata_mode: where the cluster's metadata lives (module_utils/migration.py walks between them).
METADATA_MODES = ("zookeeper", "kraft")
# Kafka's own default for reserved.broker.max.id: a configured broker.id must not be above it.
DEFAULT_RESERVED_BROKER_MAX_ID = 1000
# Past this, a typo (40 for 4, 1000 for 10) would create that many Deployments and volumes.
LARGE_BROKER_COUNT = 256
BROKER_ID_LABEL = "kafka-eks.cluster/broker-id"
# The volumeClaimTemplates entry of ZooKeeper's and the controllers' StatefulSets: the claim of pod P is
# <CLAIM_TEMPLATE>-P (plan: zookeeper.claims, controller.claims).
CLAIM_TEMPLATE = "data"
# The well-known label of a node's availability zone (EKS sets it on every node).
ZONE_LABEL = "topology.kubernetes.io/zone"
ZONE_AWARENESS_MODES = ("auto", "off")
# ZooKeeper's and the controllers' spread over zones: at most one pod more in a zone than in the emptiest one.
ZONE_MAX_SKEW = 1
# kafka_broker_external_access: how clients outside the Kubernetes cluster reach each broker.
EXTERNAL_ACCESS_MODES = ("none", "loadbalancer", "nodeport")
EXTERNAL_LISTENER = "EXTERNAL"
# nodeport: a broker advertises the address of the node it runs on (the downward API's status.hostIP, expanded
# by the kubelet in the advertised listeners: an env entry may use $(NAME) of an entry before it).
EXTERNAL_HOST_ENV = "KAFKA_EXTERNAL_HOST"
# The API server's default --service-node-port-range.
NODE_PORT_RANGE = (30000, 32767)
# kafka_broker_listener_security: the protocol of each listener. The client listener keeps the seed's name
# PLAINTEXT while it is plaintext and is named CLIENT once it is not (a listener name never says SSL://: the cp-kafka
# image's start script would then ask for Java key stores and their password files).
LISTENER_SECURITY = ("plaintext", "ssl", "sasl_ssl", "sasl_plaintext")
LISTENER_ROLES = ("client", "internal", "external")
CLIENT_LISTENER = {"plaintext": "PLAINTEXT", "ssl": "CLIENT", "sasl_ssl": "CLIENT", "sasl_plaintext": "CLIENT"}
TLS_PROTOCOLS = ("ssl", "sasl_ssl")
# kafka_broker_tls_generate: the CA the collection makes lasts this long; no certificate it signs lasts longer.
TLS_CA_VALIDITY_DAYS = 3650
TLS_MAX_VALIDITY_DAYS = 3650
SASL_PROTOCOLS = ("sasl_ssl", "sasl_plaintext")
# The listener names of the roles (the client listener's is CLIENT_LISTENER's).
LISTENER_NAMES = {"internal": "INTERNAL", "external": "EXTERNAL"}
USER_KEYS = ("name", "secret", "secret_key", "acls")
# The ConfigMap that records the ACLs the collection added (module_utils/acls.py): only those are ever removed.
ACL_RECORD = "kafka-managed-acls"

ZOOKEEPER_FLAVORS = ("apache", "kubernetes-zookeeper")
ANTI_AFFINITY_MODES = ("required", "preferred")
ZOOKEEPER_ACCESS_MODES = ("exec", "direct")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
TOLERATION_OPERATORS = ("Equal", "Exists")
TOLERATION_EFFECTS = ("", "NoSchedule", "PreferNoSchedule", "NoExecute")
RESOURCES_KEYS = ("requests", "limits")

# Credentials never enter the plan, which is returned and printed (the templates need none of them).
CREDENTIAL_PREFIX = "kafka_k8s_"
# The variable types that are converted from their string forms (AWX survey answers, -e key=value), with
# Ansible's own argument-spec conversion, so the plan accepts exactly what validate_argument_spec accepted.
CONVERTED_TYPES = ("int", "bool", "list", "dict")

# Broker settings the roles derive themselves; overriding them through the free-form map would
# silently break the one-Service-per-broker design, so the map refuses them.
DERIVED_BROKER_PROPERTIES = {
    "broker.id": "kafka_broker_id_offset or kafka_broker_ids",
    "zookeeper.connect": "zookeeper_client_service_name and zookeeper_client_port",
    "listeners": "kafka_broker_client_port, kafka_broker_internal_port and kafka_broker_external_access",
    "advertised.listeners": "kafka_broker_service_prefix and kafka_broker_external_access",
    "listener.security.protocol.map": "kafka_broker_client_port, kafka_broker_internal_port and "
                                      "kafka_broker_external_access",
    "inter.broker.listener.name": "kafka_broker_internal_port",
    "log.dirs": "kafka_broker_log_dirs",
    "log.dir": "kafka_broker_log_dirs",
    "offsets.topic.replication.factor": "kafka_broker_offsets_topic_replication_factor",
    "transaction.state.log.replication.factor": "kafka_broker_transaction_state_log_replication_factor",
    "transaction.state.log.min.isr": "kafka_broker_transaction_state_log_min_isr",
    "default.replication.factor": "kafka_broker_default_replication_factor",
    "min.insync.replicas": "kafka_broker_min_insync_replicas",
    "auto.create.topics.enable": "kafka_broker_auto_create_topics_enable",
    # Pinned during an upgrade from what runs (module_utils/upgrade.py).
    "inter.broker.protocol.version": "kafka_broker_inter_broker_protocol_version (or nothing: it follows the upgrade)",
    # Set per phase of the migration to KRaft (module_utils/migration.py).
    "process.roles": "kafka_metadata_mode",
    "node.id": "kafka_broker_id_offset or kafka_broker_ids (a KRaft broker keeps its broker.id as node.id)",
    "controller.quorum.voters": "kafka_controller_replicas and kafka_controller_node_id_offset",
    "controller.quorum.bootstrap.servers": "kafka_controller_replicas and kafka_controller_node_id_offset",
    "controller.listener.names": "kafka_metadata_mode",
    "zookeeper.metadata.migration.enable": "kafka_metadata_mode",
    # The brokers' TLS files: the Secret kafka_broker_tls_secret mounted at MOUNT_PATH (module_utils/tls.py).
    "ssl.keystore.type": "kafka_broker_tls_secret",
    "ssl.keystore.location": "kafka_broker_tls_secret",
    "ssl.truststore.type": "kafka_broker_tls_secret",
    "ssl.truststore.location": "kafka_broker_tls_secret",
    # SCRAM (module_utils/scram.py): the mechanisms follow kafka_broker_listener_security; the JAAS entries
    # (refused by suffix below, listener.name.*.sasl.jaas.config too) hold the inter-broker user's password only as
    # a reference to its Secret.
    "sasl.enabled.mechanisms": "kafka_broker_listener_security",
    "sasl.mechanism.inter.broker.protocol": "kafka_broker_listener_security",
    "sasl.jaas.config": "kafka_broker_admin_user and kafka_broker_admin_secret",
}
# Set by kafka_broker_authorizer; through kafka_broker_extra_config only while it is off (a migration's own ACL setup).
AUTHORIZER_PROPERTIES = ("authorizer.class.name", "super.users")
# A property whose key ends so is a JAAS configuration (listener.name.<l>.<mechanism>.sasl.jaas.config): a password
# there would be a literal value in every Deployment.
JAAS_SUFFIX = "sasl.jaas.config"
# Keys whose KAFKA_* variable the cp-kafka image reads as a JVM or start-script setting, not as a broker
# property: through the free-form map they would add JVM options (an agent, a debugger port) to every broker.
CP_KAFKA_SCRIPT_SETTINGS = (
    "heap.opts", "opts", "jmx.opts", "jmx.port", "jmx.hostname", "jvm.performance.opts", "gc.log.opts",
    "log4j.opts", "log4j.root.loglevel", "log4j.loggers", "tools.log4j.loglevel", "version", "debug",
)
RESERVED_BROKER_MAX_ID = "reserved.broker.max.id"

# Kafka's ZooKeeper-mode broker settings are passed to the cp-kafka image as environment variables.
PROPERTY_ENV_PREFIX = "KAFKA_"

# Marks a variable whose conversion failed (already reported): later checks skip it.
_INVALID = object()


class PlanError(Exception):
    """Raised with every problem found, so a user fixes them all in one go."""

    def __init__(self, errors):
        self.errors = list(errors)
        super(PlanError, self).__init__("\n".join(self.errors))


def property_to_env(name):
    """Name of the cp-kafka environment variable for a broker property.

    The image's configure script maps ``KAFKA_FOO_BAR`` to ``foo.bar``, ``__`` to ``_`` and ``___`` to
    ``-``; this is the inverse.
    """
    escaped = name.replace("-", "\0").replace("_", "__").replace(".", "_").replace("\0", "___")
    return PROPERTY_ENV_PREFIX + escaped.upper()


def broker_env(properties):
    """The cp-kafka environment of a broker's properties, in a stable order."""
    return [{"name": property_to_env(k), "value": v} for k, v in sorted(properties.items())]


def _kafka_bool(value):
    return "true" if value else "false"


def normalise_property(key):
    """The form a broker property key is compared in: cp-kafka's environment variables lose case, and
    ``_`` and ``.`` are easily confused, so `` Broker_ID `` is the same property as ``broker.id``."""
    return key.strip().lower().replace("_", ".")


def quantity_value(text):
    """A Kubernetes quantity as a Decimal (``2Gi`` -> 2147483648), or None when it is not one."""
    match = QUANTITY.match(text) if isinstance(text, str) else None
    if not match:
        return None
    number, suffix = match.group(1), match.group(2) or ""
    if suffix[:1] in ("e", "E") and suffix not in QUANTITY_FACTORS:
        return decimal.Decimal(number + suffix)
    return decimal.Decimal(number) * QUANTITY_FACTORS[suffix]


def jvm_max_heap(options):
    """Bytes of the last -Xmx / -XX:MaxHeapSize= in a JVM option string, or None."""
    found = JVM_MAX_HEAP.findall(options)
    if not found:
        return None
    number, unit = found[-1]
    return int(number) * JVM_UNITS[unit.lower()]


def _control(value):
    return isinstance(value, str) and CONTROL_CHARACTERS.search(value) is not None


class _Checker:
    """Collects errors; each message says which variable is wrong and what to do."""

    def __init__(self):
        self.errors = []

    def fail(self, variable, problem, fix):
        self.errors.append("%s: %s Fix: %s" % (variable, problem, fix))

    def integer(self, cfg, variable, minimum=None, maximum=None):
        value = cfg.get(variable)
        if value is _INVALID:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            try:
                value = check_type_int(value)
            except TypeError:
                self.fail(variable, "must be an integer, got %r." % (value,), "set it to a whole number.")
                return None
        if minimum is not None and value < minimum:
            self.fail(variable, "must be at least %d, got %d." % (minimum, value), "set it to %d or more." % minimum)
            return None
        if maximum is not None and value > maximum:
            self.fail(variable, "must be at most %d, got %d." % (maximum, value), "set it to %d or less." % maximum)
            return None
        return value

    def choice(self, cfg, variable, choices):
        value = cfg.get(variable)
        if value is _INVALID:
            return None
        if not isinstance(value, str) or value not in choices:
            self.fail(variable, "must be one of %s, got %r." % (", ".join(choices), value),
                      "set it to one of %s." % ", ".join(choices))
            return None
        return value

    def dns_label(self, variable, name, what, rfc1035=True):
        pattern = DNS1035_LABEL if rfc1035 else DNS1123_LABEL
        if not isinstance(name, str) or len(name) > MAX_LABEL_LENGTH or not pattern.match(name):
            rule = ("lower-case letters, digits and '-', starting with a letter" if rfc1035
                    else "lower-case letters, digits and '-', starting with a letter or digit")
            self.fail(variable, "%s name %r is not a valid DNS label (%s, ending with a letter or digit,"
                      " at most %d characters)." % (what, name, rule, MAX_LABEL_LENGTH),
                      "choose a name that follows that rule.")
            return False
        return True

    def statefulset_name(self, variable, name):
        """A StatefulSet name short enough for its pods' controller-revision-hash label."""
        if isinstance(name, str) and len(name) > MAX_STATEFULSET_NAME_LENGTH:
            self.fail(variable, "%r has %d characters; Kubernetes refuses a StatefulSet name longer than %d (its pods"
                      " carry controller-revision-hash=<name>-<hash>, at most 63 characters)."
                      % (name, len(name), MAX_STATEFULSET_NAME_LENGTH),
                      "use a name of at most %d characters." % MAX_STATEFULSET_NAME_LENGTH)

    def subdomain(self, variable, name, what):
        if (not isinstance(name, str) or not name or len(name) > MAX_SUBDOMAIN_LENGTH
                or not DNS1123_SUBDOMAIN.match(name)):
            self.fail(variable, "%s %r is not a valid DNS name (dot-separated labels of lower-case letters, digits"
                      " and '-', each starting and ending with a letter or digit; at most %d characters)."
                      % (what, name, MAX_SUBDOMAIN_LENGTH), "use a name such as gp3 or cluster.local.")
            return False
        return True

    def quantity(self, cfg, variable):
        """A storage size: a positive quantity with a unit."""
        value = cfg.get(variable)
        if value is _INVALID:
            return
        match = STORAGE_QUANTITY.match(value) if isinstance(value, str) else None
        if not match:
            self.fail(variable, "%r is not a Kubernetes storage quantity with a unit." % (value,),
                      "use a value such as 10Gi (units Ki, Mi, Gi, Ti, Pi, Ei or k, M, G, T, P, E).")
        elif decimal.Decimal(match.group(1)) <= 0:
            self.fail(variable, "is %r: a volume must be larger than zero." % (value,), "use a value such as 10Gi.")

    def text(self, cfg, variable, what, allow_empty=False):
        """A string with no control character (a newline in a value is how YAML gets added)."""
        value = cfg.get(variable)
        if value is _INVALID:
            return None
        if not isinstance(value, str):
            self.fail(variable, "must be a string (%s), got %r." % (what, value), "set it to a string.")
            return None
        if _control(value):
            self.fail(variable, "%r contains a control character (newline, tab, ...)." % (value,),
                      "remove it: %s is one line of plain text." % what)
            return None
        if not allow_empty and not value.strip():
            self.fail(variable, "is empty (%s)." % what, "set it.")
            return None
        return value

    def path(self, variable, value, what):
        """An absolute path, no '..', no control character, no surrounding whitespace."""
        if not isinstance(value, str) or not value.strip():
            self.fail(variable, "%s must be a non-empty string, got %r." % (what, value),
                      "set it to an absolute path such as /var/lib/kafka.")
            return None
        problem = None
        if _control(value):
            problem = "contains a control character"
        elif value != value.strip():
            problem = "starts or ends with whitespace"
        elif not value.startswith("/"):
            problem = "is not absolute"
        elif ".." in value.split("/"):
            problem = "has a '..' component"
        if problem:
            self.fail(variable, "%s %r %s." % (what, value, problem),
                      "use an absolute path without '..', such as /var/lib/kafka.")
            return None
        return posixpath.normpath(value)


def variable_types(argument_spec):
    """{variable: (type, elements)} from an argument spec (the roles' meta/argument_specs.yml options)."""
    return dict((name, (option.get("type", "str"), option.get("elements")))
                for name, option in (argument_spec or {}).items())


def _convert_one(kind, value):
    """One value converted as the argument spec's type would convert it; TypeError/ValueError if it cannot be."""
    if kind == "int":
        if isinstance(value, bool):  # True is an int to Python, never a count or a port here
            raise TypeError(value)
        return check_type_int(value.strip() if isinstance(value, str) else value)
    if kind == "bool":
        return check_type_bool(value.strip() if isinstance(value, str) else value)
    if kind == "dict":
        converted = check_type_dict(value)
        if not isinstance(converted, dict):
            raise TypeError(converted)
        return converted
    if kind == "str":
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(value)
        return value if isinstance(value, str) else str(value)
    return value


TYPE_WORDS = {"int": "an integer", "bool": "a boolean", "dict": "a mapping", "str": "a string", "list": "a list"}
TYPE_FIXES = {
    "int": "set it to a whole number, such as 4.",
    "bool": "set it to true or false (yes/no, on/off and 1/0 are accepted too).",
    "dict": "write it as a mapping, or in a survey as JSON such as {\"key\": \"value\"}.",
    "list": "write it as a list, or in a survey as comma-separated values.",
}


def _convert(check, cfg, types):
    """A copy of cfg with every int, bool, list and dict variable converted (an empty value is the empty one)."""
    cfg = dict(cfg)
    for variable, (kind, elements) in sorted(types.items()):
        if variable not in cfg or kind not in CONVERTED_TYPES:
            continue
        value = cfg[variable]
        if value is None:
            if kind in ("list", "dict"):
                cfg[variable] = [] if kind == "list" else {}
            continue
        try:
            if kind != "list":
                cfg[variable] = _convert_one(kind, value)
                continue
            items = check_type_list(value)
        except (TypeError, ValueError):
            check.fail(variable, "must be %s, got %r." % (TYPE_WORDS[kind], value), TYPE_FIXES[kind])
            cfg[variable] = _INVALID
            continue
        converted = []
        for item in items:
            try:
                converted.append(_convert_one(elements or "raw", item))
            except (TypeError, ValueError):
                check.fail(variable, "%r in %r is not %s." % (item, value, TYPE_WORDS[elements]),
                           "list only %s values." % {"int": "whole-number", "dict": "mapping", "str": "string",
                                                     "bool": "boolean"}[elements])
                converted = _INVALID
                break
        cfg[variable] = converted
    return cfg


def _check_ports(check, cfg, variables):
    ports = {}
    for variable in variables:
        port = check.integer(cfg, variable, 1, 65535)
        if port is None:
            continue
        if port in ports:
            check.fail(variable, "port %d is also used by %s." % (port, ports[port]),
                       "give each port its own number.")
        ports[port] = variable


def _broker_ids(check, cfg, count, max_id):
    """Broker ids are unique by construction (offset + index) unless the user lists them."""
    explicit = cfg.get("kafka_broker_ids") or []
    if explicit is _INVALID:
        return None
    if not explicit:
        offset = check.integer(cfg, "kafka_broker_id_offset", 0)
        if offset is None or count is None:
            return None
        ids = [offset + index for index in range(count)]
        if max_id is not None and ids[-1] > max_id:
            check.fail("kafka_broker_id_offset", "is %d, so the last of %d brokers gets id %d, above Kafka's"
                       " reserved.broker.max.id (%d): the broker would refuse to start."
                       % (offset, count, ids[-1], max_id),
                       "lower it to %d or less, or raise reserved.broker.max.id in kafka_broker_extra_config."
                       % max(max_id - count + 1, 0))
            return None
        return ids
    if not isinstance(explicit, (list, tuple)):
        check.fail("kafka_broker_ids", "must be a list of integers, got %r." % (explicit,),
                   "list one id per broker, or leave it empty to use kafka_broker_id_offset + index.")
        return None
    ids = []
    for value in explicit:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            check.fail("kafka_broker_ids", "%r is not a non-negative integer." % (value,),
                       "list whole numbers >= 0.")
            return None
        ids.append(value)
    if max_id is not None and any(i > max_id for i in ids):
        check.fail("kafka_broker_ids", "%s above Kafka's reserved.broker.max.id (%d): such a broker would refuse"
                   " to start." % (", ".join(str(i) for i in ids if i > max_id), max_id),
                   "use ids from 0 to %d, or raise reserved.broker.max.id in kafka_broker_extra_config." % max_id)
        return None
    duplicates = sorted(set(i for i in ids if ids.count(i) > 1))
    if duplicates:
        check.fail("kafka_broker_ids", "broker ids must be unique; %s appear more than once in %s"
                   " (the seed's cluster gave every broker id 0, so only one could register)."
                   % (", ".join(str(d) for d in duplicates), ids),
                   "give each broker its own id, or leave kafka_broker_ids empty to use"
                   " kafka_broker_id_offset + index.")
        return None
    if count is not None and len(ids) != count:
        check.fail("kafka_broker_ids", "lists %d ids but kafka_broker_count is %d." % (len(ids), count),
                   "list exactly one id per broker, or leave it empty.")
        return None
    return ids


def _broker_count(check, cfg):
    count = check.integer(cfg, "kafka_broker_count", 1)
    allow = cfg.get("kafka_broker_count_allow_large", False)
    if count is not None and count > LARGE_BROKER_COUNT and allow is not True:
        if allow is not _INVALID:
            check.fail("kafka_broker_count", "is %d, more than %d brokers (one Deployment, Service and volume each)."
                       % (count, LARGE_BROKER_COUNT),
                       "check the number; if you do mean it, also set kafka_broker_count_allow_large=true.")
        return None
    return count


def _check_replication(check, cfg, broker_count):
    pairs = (
        ("kafka_broker_offsets_topic_replication_factor", None),
        ("kafka_broker_transaction_state_log_replication_factor", "kafka_broker_transaction_state_log_min_isr"),
        ("kafka_broker_default_replication_factor", "kafka_broker_min_insync_replicas"),
    )
    values = {}
    for factor_var, isr_var in pairs:
        factor = check.integer(cfg, factor_var, 1)
        values[factor_var] = factor
        if factor is not None and broker_count is not None and factor > broker_count:
            check.fail(factor_var, "is %d but there are only %d brokers (kafka_broker_count); Kafka could"
                       " not place that many replicas." % (factor, broker_count),
                       "lower it to %d or less, or raise kafka_broker_count." % broker_count)
        if isr_var is None:
            continue
        isr = check.integer(cfg, isr_var, 1)
        values[isr_var] = isr
        if isr is not None and factor is not None and isr >= factor:
            check.fail(isr_var, "is %d, not below its replication factor %s=%d: a single broker down would"
                       " stop writes." % (isr, factor_var, factor),
                       "set it to at most %d." % max(factor - 1, 1))
    return values


def _tolerates(taint, tolerations):
    for toleration in tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration.get("key") == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get("value", ""):
            return True
    return False


def schedulable_node_names(nodes, node_selector=None, tolerations=None):
    """Names of the nodes a pod with this node selector and these tolerations can be scheduled on.

    :param nodes: Node objects as the Kubernetes API returns them (k8s_info's ``resources``).
    """
    return sorted(node_zones(nodes, node_selector, tolerations))


def node_zone(node):
    """A Node object's zone (its topology.kubernetes.io/zone label), or None."""
    zone = ((node or {}).get("metadata") or {}).get("labels", {}) or {}
    zone = zone.get(ZONE_LABEL)
    return zone if isinstance(zone, str) and zone else None


# The taints the node controller puts on a cordoned or failing node: states that pass, unlike a taint of a user's.
TRANSIENT_TAINTS = ("node.kubernetes.io/unschedulable", "node.kubernetes.io/not-ready",
                    "node.kubernetes.io/unreachable")


def node_refusal(node, node_selector=None, tolerations=None, now=True):
    """Why a pod with this node selector and these tolerations cannot be scheduled on this Node object (cordoned,
    not Ready, a label of the node selector missing, a NoSchedule/NoExecute taint not tolerated), or None when it
    can: the one rule of a schedulable node, for the node counts, the zones and the volumes' zones.

    With ``now=False``, only what keeps the pod off the node for good (its node selector, a taint that is not one
    of a cordoned or failing node's): whether the node is one of the pod's own, cordoned or down at the moment."""
    metadata = (node or {}).get("metadata") or {}
    spec = (node or {}).get("spec") or {}
    status = (node or {}).get("status") or {}
    if now and spec.get("unschedulable"):
        return "cordoned"
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    if now and (not ready or ready[0].get("status") != "True"):
        return "NotReady"
    labels = metadata.get("labels") or {}
    missing = sorted("%s=%s" % (k, v) for k, v in (node_selector or {}).items() if labels.get(k) != v)
    if missing:
        return "without the label %s of the node selector" % ", ".join(missing)
    blocking = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")
                and (now or t.get("key") not in TRANSIENT_TAINTS)]
    untolerated = ["%s%s:%s" % (t.get("key"), "=%s" % t["value"] if t.get("value") else "", t.get("effect"))
                   for t in blocking if not _tolerates(t, tolerations or [])]
    if untolerated:
        return "tainted %s, not tolerated" % ", ".join(untolerated)
    return None


def node_zones(nodes, node_selector=None, tolerations=None, now=True):
    """{name: zone or None} of the nodes a pod with this node selector and these tolerations can be scheduled
    on (ready, not cordoned, every NoSchedule/NoExecute taint tolerated: ``node_refusal``); with ``now=False``, of
    the nodes it belongs on, cordoned or not ready at the moment included."""
    zones = {}
    for node in nodes or []:
        if node_refusal(node, node_selector, tolerations, now) is None:
            zones[(node.get("metadata") or {}).get("name")] = node_zone(node)
    return zones


def _check_controllers(check, cfg, broker_ids, max_id):
    """The KRaft controller quorum's size and node ids (used from the first step of a migration)."""
    mode = check.choice(cfg, "kafka_metadata_mode", METADATA_MODES)
    replicas = check.integer(cfg, "kafka_controller_replicas", 1)
    if replicas is not None and replicas % 2 == 0:
        check.fail("kafka_controller_replicas", "is %d, an even number. A KRaft quorum needs a majority: %d"
                   " controllers tolerate only %d failure(s), the same as %d." % (replicas, replicas,
                                                                                  (replicas - 1) // 2, replicas - 1),
                   "use an odd number: %d or %d." % (replicas - 1, replicas + 1))
        replicas = None
    offset = check.integer(cfg, "kafka_controller_node_id_offset", 0, INT32_MAX - 64)
    check.integer(cfg, "kafka_migration_timeout", 1)
    _check_ports(check, cfg, ("kafka_controller_port",))
    if replicas is None or offset is None:
        return None
    ids = list(range(offset, offset + replicas))
    clashes = sorted(set(ids) & set(broker_ids or []))
    if mode != "kraft":
        # The ids only matter once controllers run; a ZooKeeper-mode cluster may raise reserved.broker.max.id.
        pass
    elif clashes:
        check.fail("kafka_controller_node_id_offset", "is %d: controller node id(s) %s are also broker ids; in KRaft"
                   " every node id is unique across brokers and controllers." % (offset, ", ".join(map(str, clashes))),
                   "set it above the highest broker id, such as %d." % max(3000, max(broker_ids or [0]) + 1))
    elif max_id is not None and offset <= max_id and broker_ids is not None:
        # Brokers may be given any id up to reserved.broker.max.id later (a new broker): keep controllers above.
        check.fail("kafka_controller_node_id_offset", "is %d, within the broker ids 0..%d (reserved.broker.max.id);"
                   " a broker added later could take a controller's node id." % (offset, max_id),
                   "set it above %d, such as %d." % (max_id, max(3000, max_id + 1)))
    if cfg.get("kafka_zookeeper_remove") and (mode != "kraft" or not cfg.get("kafka_migration_finalize")):
        check.fail("kafka_zookeeper_remove", "is true, but ZooKeeper is removed only after a finalized migration"
                   " to KRaft (kafka_metadata_mode is %r, kafka_migration_finalize is %r): until then the cluster's"
                   " metadata is in ZooKeeper, or written to it for the way back."
                   % (mode, bool(cfg.get("kafka_migration_finalize"))),
                   "set kafka_metadata_mode=kraft and kafka_migration_finalize=true with it, or leave it false.")
    if cfg.get("kafka_zookeeper_remove_volumes") and not cfg.get("kafka_zookeeper_remove"):
        check.fail("kafka_zookeeper_remove_volumes", "is true, but kafka_zookeeper_remove is not: the claims of a"
                   " ZooKeeper that runs are never deleted.", "set kafka_zookeeper_remove=true too, or leave it false.")
    for variable, what in (("kafka_controller_statefulset_name", "StatefulSet"),
                           ("kafka_controller_headless_service_name", "Service"),
                           ("kafka_controller_pdb_name", "PodDisruptionBudget")):
        check.dns_label(variable, cfg.get(variable), what)
    check.statefulset_name("kafka_controller_statefulset_name", cfg.get("kafka_controller_statefulset_name"))
    return ids


def _check_zookeeper(check, cfg, schedulable_nodes, warnings):
    replicas = check.integer(cfg, "zookeeper_replicas", 1)
    if replicas is not None and replicas % 2 == 0:
        check.fail("zookeeper_replicas", "is %d, an even number. A ZooKeeper ensemble needs a majority:"
                   " %d servers tolerate only %d failure(s), the same as %d, and split evenly they cannot"
                   " elect a leader." % (replicas, replicas, (replicas - 1) // 2, replicas - 1),
                   "use an odd number: %d or %d." % (replicas - 1, replicas + 1))
    mode = check.choice(cfg, "zookeeper_anti_affinity", ANTI_AFFINITY_MODES)
    check.choice(cfg, "zookeeper_image_flavor", ZOOKEEPER_FLAVORS)
    if replicas is None or mode is None or schedulable_nodes is None:
        return replicas
    nodes = sorted(schedulable_nodes)
    if len(nodes) < replicas:
        if mode == "required":
            check.fail("zookeeper_anti_affinity",
                       "is 'required' (one ZooKeeper pod per node) but the cluster has %d schedulable node(s)"
                       " (%s) for %d ZooKeeper pods: pod %d would stay Pending and nothing was created."
                       % (len(nodes), ", ".join(nodes) or "none", replicas, len(nodes) + 1),
                       "add %d node(s) to the cluster, or set zookeeper_anti_affinity=preferred (pods may then"
                       " share a node, and losing that node loses the quorum)." % (replicas - len(nodes)))
        else:
            warnings.append("zookeeper_anti_affinity is 'preferred' and the cluster has %d schedulable node(s)"
                            " for %d ZooKeeper pods: some pods will share a node, and losing that node can"
                            " lose the quorum." % (len(nodes), replicas))
    return replicas


def _zone_awareness(check, cfg):
    """kafka_zone_awareness; YAML 1.1 reads a bare ``off`` as false, which Ansible's argument-spec check takes
    back to ``off`` (its one false-like choice): so does the plan."""
    value = cfg.get("kafka_zone_awareness", "auto")
    if value is False or value == "False":
        return "off"
    return check.choice(dict(cfg, kafka_zone_awareness=value), "kafka_zone_awareness", ZONE_AWARENESS_MODES)


def _listed_zones(check, cfg):
    """kafka_zones, checked: distinct, non-empty label values (a node's zone label is one); None if invalid."""
    listed = cfg.get("kafka_zones") or []
    if listed is _INVALID:
        return None
    if not isinstance(listed, (list, tuple)):
        check.fail("kafka_zones", "must be a list of zone names, got %r." % (listed,),
                   "list the zones as their nodes' %s label shows them, such as [eu-west-1a, eu-west-1b]." % ZONE_LABEL)
        return None
    zones = []
    for zone in listed:
        if not _label_value(zone) or not zone:
            check.fail("kafka_zones", "%r is not a zone name: the %s label of a node is a label value (letters, digits,"
                       " '-', '_' and '.', starting and ending with a letter or digit, at most %d characters)."
                       % (zone, ZONE_LABEL, MAX_LABEL_LENGTH),
                       "use the zone names kubectl get nodes -L %s shows." % ZONE_LABEL)
            return None
        if zone in zones:
            check.fail("kafka_zones", "lists %r more than once (%r): brokers are placed in zone N mod the number of"
                       " zones, so that zone would get more of them." % (zone, listed), "list each zone once.")
            return None
        zones.append(zone)
    return zones


def _zones(check, cfg, broker_nodes, warnings):
    """The zones brokers are pinned to, in order (broker N in zone N mod Z), and whether zone awareness is on.

    :param broker_nodes: ``{name: zone or None}`` of the nodes a broker belongs on (cordoned or not ready at the
        moment included), or None when the
        cluster's nodes are not known (``render.yml``): the zones then come from kafka_zones only.
    """
    awareness = _zone_awareness(check, cfg)
    listed = _listed_zones(check, cfg)
    mode = cfg.get("zookeeper_anti_affinity")
    result = {
        "enabled": False,
        "awareness": awareness,
        "names": [],
        "source": None,
        "topology_key": ZONE_LABEL,
        "max_skew": ZONE_MAX_SKEW,
        # required: the spread is as hard as the per-node anti-affinity; preferred: a wish, as that one is.
        "when_unsatisfiable": "DoNotSchedule" if mode == "required" else "ScheduleAnyway",
    }
    if awareness is None or listed is None:
        return result
    known = sorted(set(z for z in (broker_nodes or {}).values() if z))
    if listed:
        zones, source = listed, "kafka_zones"
        if awareness == "auto" and broker_nodes is not None:
            missing = [z for z in listed if z not in known]
            if missing:
                check.fail("kafka_zones", "lists %s, the zone (%s) of no node a broker can be placed on"
                           " (kafka_broker_node_selector and kafka_broker_tolerations; their zones: %s): a"
                           " broker pinned there would stay Pending."
                           % (", ".join(repr(z) for z in missing), ZONE_LABEL, ", ".join(known) or "none"),
                           "list only zones with nodes the brokers can use, or leave kafka_zones empty to use the nodes' zones.")
                return result
        if awareness == "auto" and len(listed) == 1:
            warnings.append("kafka_zones lists one zone (%s): zone awareness stays off, it needs more than one."
                            % listed[0])
    elif broker_nodes is not None:
        zones, source = known, "nodes"
    else:
        return result
    result.update(names=zones, source=source)
    result["enabled"] = awareness == "auto" and len(zones) > 1
    return result


def _check_zone_spread(check, zk_nodes, replicas):
    """Under required anti-affinity, can ZooKeeper's servers be spread over the zones (DoNotSchedule, maxSkew 1)?

    maxSkew 1 allows at most one server more in a zone than in the emptiest zone that has a schedulable node,
    so R servers over Z zones are placed floor(R/Z) or ceil(R/Z) per zone (3 over 2 zones: 2 and 1, which is
    fine); with one server per node, a zone needs that many nodes. Nodes without a zone label take no server
    (the spread filters them out). Refused only when no such placement exists.
    """
    per_zone = {}
    for zone in zk_nodes.values():
        if zone:
            per_zone[zone] = per_zone.get(zone, 0) + 1
    counts = ", ".join("%s %d" % kv for kv in sorted(per_zone.items())) or "none"
    fix_off = "or set zookeeper_anti_affinity=preferred (the spread becomes ScheduleAnyway), or kafka_zone_awareness=off."
    if not per_zone:
        check.fail("zookeeper_anti_affinity", "is 'required' and zone awareness is on, so the ZooKeeper servers are"
                   " spread over zones with whenUnsatisfiable DoNotSchedule, but none of the %d node(s) ZooKeeper can"
                   " be scheduled on has a %s label: every server would stay Pending and nothing was created."
                   % (len(zk_nodes), ZONE_LABEL), "label those nodes with their zone, " + fix_off)
        return
    base, extra = divmod(replicas, len(per_zone))
    short = sorted(z for z, n in per_zone.items() if n < base)
    roomy = [z for z, n in per_zone.items() if n >= base + 1]
    if not short and len(roomy) >= extra:
        return
    need = ("%d node(s) in every zone" % base) + (" and %d in %d of them" % (base + 1, extra) if extra else "")
    where = ("zone(s) %s" % ", ".join(short)) if short else "%d more zone(s)" % (extra - len(roomy))
    check.fail("zookeeper_anti_affinity", "is 'required' (one ZooKeeper server per node) and zone awareness spreads the"
               " servers over zones with maxSkew %d and DoNotSchedule: %d servers over %d zone(s) need %s, and the"
               " nodes ZooKeeper can be scheduled on per zone are: %s. A server would stay Pending; nothing was"
               " created." % (ZONE_MAX_SKEW, replicas, len(per_zone), need, counts),
               "add nodes in %s, %s" % (where, fix_off))


def _fitting_zone_order(zones, placed):
    """An order of ``zones`` that keeps every broker index of ``placed`` ({index: zone}) in its zone with broker N in
    zone N mod Z, or None when there is none."""
    count = len(zones)
    slots = {}
    for index, zone in placed.items():
        if zone not in zones or slots.setdefault(index % count, zone) != zone:
            return None
    if len(set(slots.values())) != len(slots):
        return None
    spare = iter(z for z in zones if z not in slots.values())
    return [slots[k] if k in slots else next(spare) for k in range(count)]


def zone_move_error(plan, pods, nodes):
    """The refusal when zone awareness would pin a running broker to another zone than the one it runs in, or None.

    A broker's volume is zonal (EBS): its pod pinned to another zone would stay Pending, and the collection does not
    move a broker's data. The zone a broker runs in is its pod's node's zone label.

    :param pods: the broker pods that run (k8s_info's ``resources``); :param nodes: the cluster's Node objects.
    """
    zones = plan.get("zones") or {}
    if not zones.get("enabled") or not pods or not nodes:
        return None
    node_zone_of = dict((((n.get("metadata") or {}).get("name")), node_zone(n)) for n in nodes)
    by_id = dict((str(b["id"]), b) for b in plan["brokers"])
    placed, moves = {}, []
    for pod in sorted(pods, key=lambda p: (p.get("metadata") or {}).get("name") or ""):
        broker = by_id.get(((pod.get("metadata") or {}).get("labels") or {}).get(BROKER_ID_LABEL))
        node_name = (pod.get("spec") or {}).get("nodeName")
        current = node_zone_of.get(node_name)
        if broker is None or current is None:
            continue
        placed[broker["index"]] = current
        if current != broker["zone"]:
            moves.append("broker %s from %s to %s (pod %s on node %s; volume %s)"
                         % (broker["id"], current, broker["zone"], pod["metadata"]["name"], node_name, broker["pvc"]))
    if not moves:
        return None
    order = _fitting_zone_order(zones["names"], placed)
    keep = ("set kafka_zones=[%s] (broker N in zone N mod %d: every running broker stays in its zone), or "
            % (", ".join(order), len(order))) if order else ""
    return ("kafka_zone_awareness: zone awareness (zones %s, from %s) would pin running brokers to another zone: %s."
            " A broker's volume stays in its zone (an EBS volume is zonal), so its new pod would stay Pending."
            " Nothing was written. Fix: %sset kafka_zone_awareness=off; the collection does not move a broker to"
            " another zone (that needs a new, empty volume and a re-replication)."
            % (", ".join(zones["names"]), "kafka_zones" if zones.get("source") == "kafka_zones" else "the nodes' labels",
               "; ".join(moves), keep))


def _names(check, cfg, broker_ids):
    namespace = cfg.get("kafka_namespace")
    check.dns_label("kafka_namespace", namespace, "namespace", rfc1035=False)
    cluster = cfg.get("kafka_cluster_name")
    if not isinstance(cluster, str) or not cluster or len(cluster) > MAX_LABEL_LENGTH or not LABEL_VALUE.match(cluster):
        check.fail("kafka_cluster_name", "%r is not a valid label value." % (cluster,),
                   "use letters, digits, '-', '_' or '.', at most 63 characters.")
    check.subdomain("kafka_cluster_domain", cfg.get("kafka_cluster_domain"), "cluster domain")
    for variable, what in (("zookeeper_statefulset_name", "StatefulSet"),
                           ("zookeeper_headless_service_name", "Service"),
                           ("zookeeper_client_service_name", "Service"),
                           ("zookeeper_pdb_name", "PodDisruptionBudget"),
                           ("kafka_broker_client_config_name", "ConfigMap")):
        check.dns_label(variable, cfg.get(variable), what)
    sts = cfg.get("zookeeper_statefulset_name")
    check.statefulset_name("zookeeper_statefulset_name", sts)
    if broker_ids is None:
        return
    last = len(broker_ids) - 1
    for variable, what in (("kafka_broker_service_prefix", "Service"),
                           ("kafka_broker_deployment_prefix", "Deployment"),
                           ("kafka_broker_pvc_prefix", "PersistentVolumeClaim")):
        prefix = cfg.get(variable)
        if not isinstance(prefix, str):
            check.fail(variable, "must be a string, got %r." % (prefix,), "set it to a name prefix such as kafka-service-.")
            continue
        # The first and the last broker's names bound every other one (same prefix, digits only).
        for index in sorted({0, last}):
            if not check.dns_label(variable, "%s%d" % (prefix, index), what):
                break
    if isinstance(sts, str) and sts and isinstance(cfg.get("zookeeper_replicas"), int):
        last_pod = "%s-%d" % (sts, max(cfg["zookeeper_replicas"] - 1, 0))
        check.dns_label("zookeeper_statefulset_name", last_pod, "ZooKeeper pod")


def _broker_properties(cfg, broker_id, service, zookeeper_connect, rf, extra, external=None, security=None,
                       admin_user=None):
    client_port = cfg["kafka_broker_client_port"]
    internal_port = cfg["kafka_broker_internal_port"]
    security = security or dict((role, "plaintext") for role in LISTENER_ROLES)
    client = CLIENT_LISTENER[security["client"]]
    listeners = ["%s://:%d" % (client, client_port), "INTERNAL://:%d" % internal_port]
    # Clients use the client listener, brokers talk to each other on INTERNAL; both are advertised under the broker's
    # own Service name, which is why each broker has a Service of its own.
    advertised = ["%s://%s:%d" % (client, service, client_port), "INTERNAL://%s:%d" % (service, internal_port)]
    protocols = ["%s:%s" % (client, security["client"].upper()), "INTERNAL:%s" % security["internal"].upper()]
    if external and external.get("advertised"):
        # Clients outside the cluster: the address they reach this broker at (its LoadBalancer's, or its node's).
        listeners.append("%s://:%d" % (EXTERNAL_LISTENER, external["container_port"]))
        advertised.append("%s://%s" % (EXTERNAL_LISTENER, external["advertised"]))
        protocols.append("%s:%s" % (EXTERNAL_LISTENER, security["external"].upper()))
    properties = {
        "broker.id": str(broker_id),
        "zookeeper.connect": zookeeper_connect,
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "listener.security.protocol.map": ",".join(protocols),
        "inter.broker.listener.name": "INTERNAL",
        "log.dirs": cfg["kafka_broker_log_dirs"],
        "auto.create.topics.enable": _kafka_bool(cfg["kafka_broker_auto_create_topics_enable"]),
        "offsets.topic.replication.factor": str(rf["kafka_broker_offsets_topic_replication_factor"]),
        "transaction.state.log.replication.factor": str(rf["kafka_broker_transaction_state_log_replication_factor"]),
        "transaction.state.log.min.isr": str(rf["kafka_broker_transaction_state_log_min_isr"]),
        "default.replication.factor": str(rf["kafka_broker_default_replication_factor"]),
        "min.insync.replicas": str(rf["kafka_broker_min_insync_replicas"]),
    }
    if any(p in TLS_PROTOCOLS for p in security.values()):
        # Kafka's own PEM support reads the Secret's files as they are: no Java key store, no password.
        properties.update({
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": posixpath.join(MOUNT_PATH, KEYSTORE_KEY),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": posixpath.join(MOUNT_PATH, CA_KEY),
        })
    properties.update(_sasl_properties(security, client, bool(external and external.get("advertised")), admin_user,
                                       cfg.get("kafka_broker_authorizer") is True))
    properties.update(extra)
    return properties


def _sasl_properties(security, client, external, admin_user, authorizer=False):
    """SCRAM-SHA-512 on the listeners that use SASL: each one's JAAS entry, the inter-broker user's name with its
    password as $(PASSWORD_ENV) (a secretKeyRef entry before it) on INTERNAL, the login module alone elsewhere."""
    names = {"client": client, "internal": LISTENER_NAMES["internal"],
             "external": LISTENER_NAMES["external"] if external else None}
    properties = {}
    for role in LISTENER_ROLES:
        if security[role] not in SASL_PROTOCOLS or names[role] is None:
            continue
        key = "listener.name.%s.%s.%s" % (names[role].lower(), scram.MECHANISM.lower(), JAAS_SUFFIX)
        properties[key] = (scram.jaas_config(admin_user, scram.PASSWORD_ENV) if role == "internal"
                           else scram.jaas_config())
    if properties:
        properties["sasl.enabled.mechanisms"] = scram.MECHANISM
    if security["internal"] in SASL_PROTOCOLS:
        properties["sasl.mechanism.inter.broker.protocol"] = scram.MECHANISM
        if authorizer:
            # ACLs from ZooKeeper (kafka_users[].acls); the brokers' own user may do everything.
            properties["authorizer.class.name"] = kafka_acls.AUTHORIZER
            properties["super.users"] = "User:%s" % admin_user
    return properties


def _check_external(check, cfg, broker_count):
    """kafka_broker_external_*: the mode, or None when invalid."""
    mode = check.choice(cfg, "kafka_broker_external_access", EXTERNAL_ACCESS_MODES)
    if mode in (None, "none"):
        return mode
    prefix = cfg.get("kafka_broker_external_service_prefix")
    if not isinstance(prefix, str):
        check.fail("kafka_broker_external_service_prefix", "must be a string, got %r." % (prefix,),
                   "set it to a name prefix such as kafka-external-.")
    elif broker_count:
        for index in sorted({0, broker_count - 1}):
            if not check.dns_label("kafka_broker_external_service_prefix", "%s%d" % (prefix, index), "Service"):
                break
        if prefix == cfg.get("kafka_broker_service_prefix"):
            check.fail("kafka_broker_external_service_prefix", "is the same as kafka_broker_service_prefix (%r): the "
                       "external Services would replace the brokers' own." % prefix,
                       "give the external Services a prefix of their own, such as kafka-external-.")
    annotations = cfg.get("kafka_broker_external_service_annotations")
    if annotations is not _INVALID and annotations:
        if not isinstance(annotations, dict):
            check.fail("kafka_broker_external_service_annotations", "must be a mapping of annotation to string "
                       "value, got %r." % (annotations,),
                       "write it as {'service.beta.kubernetes.io/aws-load-balancer-scheme': 'internal'}.")
        else:
            for key, value in annotations.items():
                if not _label_key(key) or not isinstance(value, str) or CONTROL_CHARACTERS.search(value):
                    check.fail("kafka_broker_external_service_annotations", "%r: %r is not an annotation key and a "
                               "string value without control characters." % (key, value),
                               "use keys such as service.beta.kubernetes.io/aws-load-balancer-scheme and quote "
                               "every value (numbers and booleans too: 'true').")
    if mode == "nodeport":
        base = check.integer(cfg, "kafka_broker_external_node_port_base", NODE_PORT_RANGE[0], NODE_PORT_RANGE[1])
        if base is not None and broker_count and base + broker_count - 1 > NODE_PORT_RANGE[1]:
            check.fail("kafka_broker_external_node_port_base", "%d + %d brokers goes past %d, the end of the node port "
                       "range." % (base, broker_count, NODE_PORT_RANGE[1]),
                       "use a base of at most %d." % (NODE_PORT_RANGE[1] - broker_count + 1))
    return mode


def _check_listener_security(check, cfg, external_mode):
    """kafka_broker_listener_security, kafka_broker_tls_secret and the SASL variables: each listener's protocol, or
    None when invalid."""
    value = cfg.get("kafka_broker_listener_security")
    if value is _INVALID:
        return None
    if not isinstance(value, dict):
        check.fail("kafka_broker_listener_security", "must be a mapping of listener to protocol, got %r." % (value,),
                   "write it as {client: ssl, internal: ssl, external: ssl}.")
        return None
    security = {}
    for role in LISTENER_ROLES:
        protocol = value.get(role, "plaintext")
        if protocol not in LISTENER_SECURITY:
            check.fail("kafka_broker_listener_security", "%s: must be one of %s, got %r." % (
                role, ", ".join(LISTENER_SECURITY), protocol), "set it to one of %s." % ", ".join(LISTENER_SECURITY))
        security[role] = protocol
    unknown = sorted(str(k) for k in value if k not in LISTENER_ROLES)
    if unknown:
        check.fail("kafka_broker_listener_security", "has no listener %s." % ", ".join(unknown),
                   "use the keys %s." % ", ".join(LISTENER_ROLES))
    if len(security) != len(LISTENER_ROLES) or unknown or any(p not in LISTENER_SECURITY for p in security.values()):
        return None
    if external_mode in (None, "none"):
        security["external"] = "plaintext"  # no external listener: nothing to secure
    secret = cfg.get("kafka_broker_tls_secret")
    tls_roles = [r for r in LISTENER_ROLES if security[r] in TLS_PROTOCOLS]
    sasl_roles = [r for r in LISTENER_ROLES if security[r] in SASL_PROTOCOLS]
    ok = True
    generate = cfg.get("kafka_broker_tls_generate") is True
    if tls_roles:
        if not isinstance(secret, str) or not secret:
            check.fail("kafka_broker_tls_secret", "is empty, but kafka_broker_listener_security asks for TLS (%s)." % (
                ", ".join(tls_roles)),
                "name the Secret the collection creates and keeps (kafka_broker_tls_generate is true), such as "
                "kafka-tls." if generate else
                "name the Secret in the brokers' namespace that holds tls.crt, ca.crt and tls-combined.pem "
                "(cert-manager: a Certificate with additionalOutputFormats CombinedPEM), or set "
                "kafka_broker_tls_generate=true to let the collection make it.")
            ok = False
        elif not check.subdomain("kafka_broker_tls_secret", secret, "Secret"):
            ok = False
        elif generate and not check.subdomain("kafka_broker_tls_secret", tls.ca_secret_name(secret),
                                              "Secret (its CA Secret)"):
            ok = False
    if generate:
        ok = _check_tls_generate(check, cfg, security, tls_roles, external_mode) and ok
    clear = [r for r in LISTENER_ROLES if security[r] == "sasl_plaintext"]
    if clear and cfg.get("kafka_broker_allow_sasl_plaintext") is not True:
        outside = " to clients outside the cluster" if "external" in clear else ""
        check.fail("kafka_broker_listener_security", "%s: sasl_plaintext sends SCRAM logins and every message "
                   "unencrypted%s." % (", ".join(clear), outside),
                   "use sasl_ssl (with kafka_broker_tls_secret), or set kafka_broker_allow_sasl_plaintext=true if "
                   "the network is trusted.")
        ok = False
    if security["internal"] in SASL_PROTOCOLS:
        ok = _check_admin(check, cfg) and ok
    elif cfg.get("kafka_broker_authorizer") is True:
        check.fail("kafka_broker_authorizer", "is true, but the internal listener is %s: the brokers would reach each "
                   "other as User:ANONYMOUS, which would have to be a super user, and so would every client of a "
                   "listener without SASL." % security["internal"],
                   "set kafka_broker_listener_security internal to sasl_ssl (with kafka_broker_admin_secret).")
        ok = False
    if (tls_roles or sasl_roles) and cfg.get("kafka_metadata_mode") == "kraft":
        check.fail("kafka_broker_listener_security", "asks for %s, but kafka_metadata_mode is 'kraft': the KRaft "
                   "controllers do not take the TLS and SASL settings yet." % ("TLS" if tls_roles else "SASL"),
                   "migrate to KRaft with plaintext listeners, or keep kafka_metadata_mode=zookeeper with TLS.")
        ok = False
    return security if ok else None


def _check_tls_generate(check, cfg, security, tls_roles, external_mode):
    """kafka_broker_tls_generate and its windows: only with a TLS listener, and only where the names are known."""
    ok = True
    if not tls_roles:
        check.fail("kafka_broker_tls_generate", "is true, but every listener of kafka_broker_listener_security is "
                   "without TLS (%s): nothing would use the certificate." % ", ".join(
                       "%s: %s" % (r, security[r]) for r in LISTENER_ROLES),
                   "set a listener to ssl or sasl_ssl, or set kafka_broker_tls_generate=false.")
        ok = False
    if security["external"] in TLS_PROTOCOLS and external_mode == "nodeport":
        check.fail("kafka_broker_tls_generate", "is true with an ssl external listener on nodeport: each broker "
                   "advertises its node's address, which the collection cannot know to put in the certificate.",
                   "use kafka_broker_external_access=loadbalancer, or a certificate of your own that names the "
                   "nodes' addresses (kafka_broker_tls_generate=false).")
        ok = False
    validity = check.integer(cfg, "kafka_broker_tls_validity_days", 2, TLS_MAX_VALIDITY_DAYS)
    renew = check.integer(cfg, "kafka_broker_tls_renew_days", 1, TLS_MAX_VALIDITY_DAYS - 1)
    if validity is None or renew is None:
        ok = False
    elif renew >= validity:
        check.fail("kafka_broker_tls_renew_days", "is %d, not less than kafka_broker_tls_validity_days (%d): every "
                   "run would issue a new certificate and roll the brokers." % (renew, validity),
                   "set it well below kafka_broker_tls_validity_days, such as a third of it.")
        ok = False
    return ok


def _check_admin(check, cfg):
    """kafka_broker_admin_user and kafka_broker_admin_secret: the inter-broker user and its password's Secret."""
    ok = True
    problem = scram.user_name_problem(cfg.get("kafka_broker_admin_user"))
    if problem:
        check.fail("kafka_broker_admin_user", "%s." % problem, "name the user the brokers authenticate to each other "
                   "as, such as kafka-admin.")
        ok = False
    secret = cfg.get("kafka_broker_admin_secret")
    if not isinstance(secret, str) or not secret:
        check.fail("kafka_broker_admin_secret", "is empty, but the inter-broker listener uses SASL "
                   "(kafka_broker_listener_security internal).",
                   "name the Secret in the brokers' namespace whose key %s holds the inter-broker user's password "
                   "(kubectl create secret generic kafka-admin --from-literal=%s=...)."
                   % (scram.PASSWORD_KEY, scram.PASSWORD_KEY))
        ok = False
    elif not check.subdomain("kafka_broker_admin_secret", secret, "Secret"):
        ok = False
    return ok


def _check_users(check, cfg, security):
    """kafka_users: [{name, secret, secret_key}], or None when invalid."""
    users = cfg.get("kafka_users") or []
    if users is _INVALID:
        return None
    if not users:
        return []
    if not isinstance(users, list):
        check.fail("kafka_users", "must be a list of users, got %r." % (users,),
                   "write it as [{name: alice, secret: alice-password}].")
        return None
    if security is not None and not any(p in SASL_PROTOCOLS for p in security.values()):
        check.fail("kafka_users", "lists %d users, but no listener uses SASL (kafka_broker_listener_security): "
                   "nothing would ask for their passwords." % len(users),
                   "set a listener to sasl_ssl, or leave kafka_users empty.")
        return None
    result, seen = [], {}
    # Checked even when the listeners are not valid (security None), so that every error is said in one run.
    admin = cfg.get("kafka_broker_admin_user") if security is None or security["internal"] in SASL_PROTOCOLS else None
    for index, user in enumerate(users):
        where = "kafka_users[%d]" % index
        if not isinstance(user, dict):
            check.fail("kafka_users", "%s is %r, not a mapping." % (where, user), "write it as {name: alice, "
                       "secret: alice-password}.")
            continue
        extra = sorted(str(k) for k in user if k not in USER_KEYS)
        if extra:
            check.fail("kafka_users", "%s has %s; a user has only %s." % (where, ", ".join(extra), ", ".join(USER_KEYS)),
                       "remove %s." % ", ".join(extra))
            continue
        acls = user.get("acls") or []
        if acls and cfg.get("kafka_broker_authorizer") is not True:
            check.fail("kafka_users", "%s has ACLs, but kafka_broker_authorizer is off: nothing would enforce them."
                       % where, "set kafka_broker_authorizer=true (users without ACLs then may do nothing), or "
                       "remove the ACLs.")
            continue
        if not isinstance(acls, list):
            check.fail("kafka_users", "%s: acls must be a list, got %r." % (where, acls),
                       "write it as [{resource_type: topic, name: orders, operations: [read, describe]}].")
            continue
        problems = ["acls[%d] %s" % (i, p) for i, acl in enumerate(acls) for p in kafka_acls.acl_problems(acl)]
        if problems:
            check.fail("kafka_users", "%s: %s." % (where, "; ".join(problems)),
                       "use resource_type topic, group, cluster or transactional_id, pattern_type literal or "
                       "prefixed, the operations Kafka has for that type, permission allow or deny, host * or an IP.")
            continue
        name, secret = user.get("name"), user.get("secret")
        key = user.get("secret_key") or scram.PASSWORD_KEY
        problem = scram.user_name_problem(name)
        if problem:
            check.fail("kafka_users", "%s: %s." % (where, problem), "use a name such as alice or orders-service.")
            continue
        if name in seen:
            check.fail("kafka_users", "%s and %s are both user %s." % (seen[name], where, name),
                       "list each user once.")
            continue
        seen[name] = where
        if name == admin:
            check.fail("kafka_users", "%s is %s, the inter-broker user (kafka_broker_admin_user)." % (where, name),
                       "give clients users of their own; the inter-broker user's password is kafka_broker_admin_secret.")
            continue
        if not check.subdomain("kafka_users", secret, "%s: Secret" % where):
            continue
        if not isinstance(key, str) or not re.match(r"\A[-._a-zA-Z0-9]{1,253}\Z", key):
            check.fail("kafka_users", "%s: secret_key %r is not a Secret key." % (where, key),
                       "use letters, digits, '-', '_' and '.', such as password.")
            continue
        result.append({"name": name, "secret": secret, "key": key, "acls": kafka_acls.entries(name, acls)})
    return result


def _sasl(cfg, security, users):
    """plan["sasl"]: which listeners use SCRAM, the inter-broker user and its Secret, the users and their Secrets
    (names only: the passwords are read where they are used, by cluster_read's summary and scram_credentials)."""
    roles = [r for r in LISTENER_ROLES if security[r] in SASL_PROTOCOLS]
    internal = security["internal"] in SASL_PROTOCOLS
    admin = ({"name": cfg["kafka_broker_admin_user"], "secret": cfg["kafka_broker_admin_secret"],
              "key": scram.PASSWORD_KEY, "env": scram.PASSWORD_ENV} if internal else None)
    return {
        "enabled": bool(roles),
        "mechanism": scram.MECHANISM,
        "listeners": roles,
        # Whether clients of the client listener log in (kafka-client-config says sasl.mechanism then).
        "client": security["client"] in SASL_PROTOCOLS,
        "admin": admin,
        "users": users or [],
        # What scram_credentials writes to ZooKeeper before any broker is applied: the inter-broker user first.
        "credentials": [dict((k, u[k]) for k in ("name", "secret", "key"))
                        for u in ([admin] if admin else []) + list(users or [])],
        # kafka_broker_authorizer: ACLs enforced; kafka_acls writes these (one entry per operation) before any
        # broker is applied, and records those it added in the ConfigMap acl_record.
        "authorizer": bool(internal and cfg.get("kafka_broker_authorizer") is True),
        "acls": sorted((e for u in users or [] for e in u["acls"]), key=kafka_acls.entry_key),
        "acl_record": ACL_RECORD,
        # Set by the preflight from the running brokers' Deployments: the users they authenticate as.
        "running_users": [],
    }


def _tls(cfg, security, namespace, brokers):
    """plan["tls"]: the Secret, where it is mounted, and every name a certificate must cover (each name a broker
    advertises on a TLS listener, and its Service's full name). The preflight adds the Secret's fingerprint."""
    enabled = any(p in TLS_PROTOCOLS for p in security.values())
    names = []
    if enabled:
        for broker in brokers:
            if security["client"] in TLS_PROTOCOLS or security["internal"] in TLS_PROTOCOLS:
                names += [broker["service"], "%s.%s.svc.%s" % (broker["service"], namespace, cfg["kafka_cluster_domain"])]
            external = broker["external"]
            if security["external"] in TLS_PROTOCOLS and external and external["address"]:
                names.append(external["address"])
    return {
        "enabled": enabled,
        "listeners": security,
        "client_listener": CLIENT_LISTENER[security["client"]],
        "client_protocol": security["client"].upper(),
        "secret": cfg.get("kafka_broker_tls_secret") if enabled else None,
        "mount_path": MOUNT_PATH,
        "names": names,
        # nodeport: a broker advertises its node's address, which no preflight can know for every node.
        "unchecked_external": bool(enabled and security["external"] in TLS_PROTOCOLS and any(
            b["external"] and b["external"]["type"] == "NodePort" for b in brokers)),
        "fingerprint": None,
        # kafka_broker_tls_generate: the collection makes the Secret, signed by its CA in generate.ca_secret. The
        # preflight decides the actions (tls.generation_plan) from what the Secrets hold; the kafka_broker role
        # takes them (tasks/certificates.yml).
        "generate": {
            "enabled": bool(enabled and cfg.get("kafka_broker_tls_generate") is True),
            "ca_secret": tls.ca_secret_name(cfg["kafka_broker_tls_secret"])
            if enabled and cfg.get("kafka_broker_tls_generate") is True else None,
            "subject_alt_names": tls.subject_alt_names(names),
            "common_name": ("kafka brokers %s" % namespace)[:64],
            "ca_common_name": ("kafka_eks.cluster CA %s" % namespace)[:64],
            "validity_days": cfg.get("kafka_broker_tls_validity_days"),
            "renew_days": cfg.get("kafka_broker_tls_renew_days"),
            "ca_validity_days": TLS_CA_VALIDITY_DAYS,
            "ca": None,
            "certificate": None,
            "reasons": [],
        },
    }


def _external(cfg, mode, index, addresses):
    """How clients outside the cluster reach broker ``index``: its Service, ports and advertised address (None
    while its LoadBalancer has no address yet)."""
    if mode not in ("loadbalancer", "nodeport"):
        return None
    port = int(cfg["kafka_broker_external_port"])
    service = "%s%d" % (cfg["kafka_broker_external_service_prefix"], index)
    if mode == "nodeport":
        node_port = int(cfg["kafka_broker_external_node_port_base"]) + index
        return {"service": service, "type": "NodePort", "container_port": port, "port": port,
                "node_port": node_port, "address": None,
                "advertised": "$(%s):%d" % (EXTERNAL_HOST_ENV, node_port)}
    address = (addresses or {}).get(service)
    return {"service": service, "type": "LoadBalancer", "container_port": port, "port": port, "node_port": None,
            "address": address, "advertised": "%s:%d" % (address, port) if address else None}


def _external_summary(mode, brokers):
    """Clients outside the cluster: the mode, the Services still waiting for a LoadBalancer address, and the
    external bootstrap servers once every broker has one (nodeport: none, each broker advertises its node)."""
    externals = [b["external"] for b in brokers if b.get("external")]
    pending = [e["service"] for e in externals if e["type"] == "LoadBalancer" and not e["address"]]
    bootstrap = None
    if mode == "loadbalancer" and externals and not pending:
        bootstrap = ",".join(e["advertised"] for e in externals)
    return {"mode": mode or "none", "services": [e["service"] for e in externals], "pending": pending,
            "bootstrap_servers": bootstrap}


def load_balancer_address(service):
    """The address a LoadBalancer Service received (``status.loadBalancer.ingress``: an IP, or a host name such as
    an AWS NLB's), or None while it has none or it is not a LoadBalancer."""
    if not isinstance(service, dict) or (service.get("spec") or {}).get("type") != "LoadBalancer":
        return None
    for ingress in ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        address = (ingress or {}).get("hostname") or (ingress or {}).get("ip")
        if isinstance(address, str) and address:
            return address
    return None


def _check_extra_config(check, cfg):
    """The free-form broker properties as {key: string value}, keys stripped and lower-cased; None if invalid."""
    variable = "kafka_broker_extra_config"
    extra = cfg.get(variable) or {}
    if extra is _INVALID:
        return None
    if not isinstance(extra, dict):
        check.fail(variable, "must be a mapping of broker property to value, got %r." % (extra,),
                   "write it as {'log.retention.hours': 168}.")
        return None
    result = {}
    seen = {}
    for key in sorted(extra, key=str):
        value = extra[key]
        if not isinstance(key, str) or _control(key) or not PROPERTY_NAME.match(key.strip().lower()):
            check.fail(variable, "key %r is not a broker property name (letters, digits, '.', '_' and '-')." % (key,),
                       "use Kafka's property name, such as log.retention.hours.")
            continue
        name = key.strip().lower()
        normal = normalise_property(key)
        # Compared after normalising, so ' Broker_ID ' cannot slip past the refusal of broker.id.
        if normal in DERIVED_BROKER_PROPERTIES or normal.endswith("." + JAAS_SUFFIX):
            check.fail(variable, "sets %r, which the role derives for every broker." % key,
                       "remove it and set %s instead." % DERIVED_BROKER_PROPERTIES[
                           JAAS_SUFFIX if normal.endswith(JAAS_SUFFIX) else normal])
            continue
        if normal in CP_KAFKA_SCRIPT_SETTINGS:
            check.fail(variable, "sets %r, which the cp-kafka image reads as %s (a JVM or start-script setting), not"
                       " a broker property." % (key, property_to_env(normal)),
                       "remove it; the heap is kafka_broker_heap_opts.")
            continue
        if normal in seen:
            check.fail(variable, "sets %r and %r, the same property." % (seen[normal], key), "keep one of them.")
            continue
        seen[normal] = key
        if isinstance(value, bool):
            value = _kafka_bool(value)
        elif isinstance(value, (int, float)):
            value = str(value)
        elif not isinstance(value, str) or _control(value):
            check.fail(variable, "%r is set to %r; a broker property is one line of text, a number or a boolean."
                       % (key, value), "give it a plain value, without newlines or control characters.")
            continue
        if "$(%s)" % scram.PASSWORD_ENV in value:
            # The kubelet would expand it: the inter-broker password in a property Kafka logs in clear.
            check.fail(variable, "%r refers to $(%s), the inter-broker password." % (key, scram.PASSWORD_ENV),
                       "remove the reference; only the inter-broker listener's JAAS entry reads it.")
            continue
        result[name] = value
    return result


def _reserved_max_id(check, extra):
    """reserved.broker.max.id from the extra config (Kafka's default 1000); None when it is not valid."""
    for key, value in (extra or {}).items():
        if isinstance(key, str) and normalise_property(key) == RESERVED_BROKER_MAX_ID:
            try:
                max_id = -1 if isinstance(value, bool) else check_type_int(value)
            except TypeError:
                max_id = -1
            if not 0 <= max_id <= INT32_MAX:
                check.fail("kafka_broker_extra_config", "%s is %r, not an integer from 0 to %d."
                           % (key, value, INT32_MAX), "set it to a whole number in that range, or remove it.")
                return None
            return max_id
    return DEFAULT_RESERVED_BROKER_MAX_ID


def _check_images(check, cfg):
    for variable in ("zookeeper_image", "kafka_broker_image"):
        image = check.text(cfg, variable, "an image reference")
        if image is None:
            continue
        match = IMAGE_REFERENCE.match(image)
        if not match or len(match.group("name")) > MAX_IMAGE_NAME_LENGTH:
            check.fail(variable, "%r is not an image reference ([registry[:port]/]repository:tag[@sha256:digest],"
                       " lower-case repository, no whitespace)." % (image,),
                       "use a reference such as confluentinc/cp-kafka:7.9.0.")
        elif not match.group("tag") and not match.group("digest"):
            check.fail(variable, "%r names no tag or digest, so what runs would change with the registry's"
                       " 'latest'." % (image,), "pin a tag (%s:<version>) or a digest (@sha256:...)." % image)
    check.choice(cfg, "zookeeper_image_pull_policy", PULL_POLICIES)
    check.choice(cfg, "kafka_broker_image_pull_policy", PULL_POLICIES)


def _check_storage(check, cfg):
    check.quantity(cfg, "zookeeper_storage_size")
    check.quantity(cfg, "kafka_broker_storage_size")
    check.quantity(cfg, "kafka_controller_storage_size")
    for variable in ("zookeeper_storage_class", "kafka_broker_storage_class", "kafka_controller_storage_class"):
        value = cfg.get(variable)
        if value is None or value == "":
            continue
        check.subdomain(variable, value, "StorageClass name")


def _check_broker_paths(check, cfg):
    mount = check.path("kafka_broker_data_mount_path", cfg.get("kafka_broker_data_mount_path"), "the mount path")
    log_dirs = cfg.get("kafka_broker_log_dirs")
    if not isinstance(log_dirs, str) or _control(log_dirs):
        check.fail("kafka_broker_log_dirs", "must be one line of comma-separated paths, got %r." % (log_dirs,),
                   "set it to a directory under kafka_broker_data_mount_path, such as /var/lib/kafka/data.")
        return
    for entry in log_dirs.split(","):
        path = check.path("kafka_broker_log_dirs", entry.strip(), "the log directory")
        if path is None or mount is None:
            continue
        if not path.startswith(mount.rstrip("/") + "/"):
            check.fail("kafka_broker_log_dirs", "%r is not a subdirectory of kafka_broker_data_mount_path %r: data"
                       " there is off the volume and lost at every restart (the mount's root itself holds"
                       " lost+found, which Kafka refuses as a log directory)." % (entry.strip(), mount),
                       "use a directory under %s, such as %s/data." % (mount, mount.rstrip("/")))


def _check_backup_dir(check, cfg):
    """kafka_backup_dir (the ZooKeeper backups' directory on the controller), as templated: an absolute path."""
    if "kafka_backup_dir" not in cfg:
        return
    value = cfg["kafka_backup_dir"]
    problem = None
    if not isinstance(value, str) or not value.strip():
        problem = "is empty or not a string (%r)" % (value,)
    elif _control(value):
        problem = "%r contains a control character" % (value,)
    elif not value.startswith("/"):
        problem = "%r is not an absolute path (after templating; ~ is not expanded)" % (value,)
    elif ".." in value.split("/"):
        problem = "%r has a '..' component" % (value,)
    if problem:
        check.fail("kafka_backup_dir", problem + ".",
                   "set it to an absolute directory on the controller, such as /var/backups/kafka or "
                   "\"{{ lookup('ansible.builtin.env', 'HOME') }}/kafka-backups\".")


def _memory_limit(cfg, variable):
    resources = cfg.get(variable)
    if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
        return None
    value = resources["limits"].get("memory")
    return quantity_value(value if isinstance(value, str) else str(value))


def _check_heap(check, cfg):
    for who, prefix in (("broker", "kafka_broker"), ("controller", "kafka_controller")):
        opts = check.text(cfg, prefix + "_heap_opts", "JVM options", allow_empty=True)
        limit = _memory_limit(cfg, prefix + "_resources")
        if opts is not None and limit is not None:
            heap = jvm_max_heap(opts)
            if heap is not None and heap >= limit:
                check.fail(prefix + "_heap_opts", "sets a heap of %d MiB, not below the container's memory limit"
                           " (%s_resources.limits.memory, %d MiB): the kernel would kill the %s."
                           % (heap // 2 ** 20, prefix, limit // 2 ** 20, who),
                           "lower -Xmx (to about half the limit) or raise the limit.")
    heap_mb = check.integer(cfg, "zookeeper_heap_mb", 1)
    limit = _memory_limit(cfg, "zookeeper_resources")
    if heap_mb is not None and limit is not None and heap_mb * 2 ** 20 >= limit:
        check.fail("zookeeper_heap_mb", "is %d MiB, not below the container's memory limit"
                   " (zookeeper_resources.limits.memory, %d MiB): the kernel would kill the server."
                   % (heap_mb, limit // 2 ** 20), "lower it (to about half the limit) or raise the limit.")


def _label_key(key):
    if not isinstance(key, str):
        return False
    prefix, name = key.rpartition("/")[::2]
    if prefix and (len(prefix) > MAX_SUBDOMAIN_LENGTH or not DNS1123_SUBDOMAIN.match(prefix)):
        return False
    return len(name) <= MAX_LABEL_LENGTH and LABEL_NAME.match(name) is not None


def _label_value(value):
    return isinstance(value, str) and len(value) <= MAX_LABEL_LENGTH and LABEL_VALUE.match(value) is not None


def _check_node_selector(check, cfg, variable):
    selector = cfg.get(variable)
    if selector is _INVALID or not selector:
        return
    if not isinstance(selector, dict):
        check.fail(variable, "must be a mapping of node label to value, got %r." % (selector,),
                   "write it as {'kubernetes.io/os': 'linux'}.")
        return
    for key, value in selector.items():
        if not _label_key(key) or not _label_value(value):
            check.fail(variable, "%r: %r is not a node label and a string label value (letters, digits, '-', '_',"
                       " '.', at most 63 characters; keys may have a DNS prefix and '/')." % (key, value),
                       "use label keys and values as kubectl get nodes --show-labels shows them; quote numbers.")


def _check_tolerations(check, cfg, variable):
    tolerations = cfg.get(variable)
    if tolerations is _INVALID or not tolerations:
        return
    if not isinstance(tolerations, list):
        check.fail(variable, "must be a list of tolerations, got %r." % (tolerations,),
                   "write it as [{'key': 'dedicated', 'operator': 'Equal', 'value': 'kafka', 'effect': 'NoSchedule'}].")
        return
    fix = ("give each toleration only key, operator (Equal or Exists), value, effect (NoSchedule,"
           " PreferNoSchedule or NoExecute) and tolerationSeconds, as in a pod spec.")
    for toleration in tolerations:
        problem = None
        if not isinstance(toleration, dict):
            problem = "is not a mapping"
        elif set(toleration) - set(TOLERATION_KEYS):
            problem = "has unknown fields %s" % ", ".join(sorted(str(k) for k in set(toleration) - set(TOLERATION_KEYS)))
        else:
            key = toleration.get("key", "")
            operator = toleration.get("operator", "Equal")
            value = toleration.get("value", "")
            seconds = toleration.get("tolerationSeconds")
            if key != "" and not _label_key(key):
                problem = "has key %r, not a label key" % (key,)
            elif operator not in TOLERATION_OPERATORS:
                problem = "has operator %r" % (operator,)
            elif not _label_value(value):
                problem = "has value %r, not a label value" % (value,)
            elif operator == "Exists" and value != "":
                problem = "has operator Exists and a value"
            elif key == "" and operator != "Exists":
                problem = "has no key, which needs operator Exists"
            elif toleration.get("effect", "") not in TOLERATION_EFFECTS:
                problem = "has effect %r" % (toleration.get("effect"),)
            elif seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, int)):
                problem = "has tolerationSeconds %r, not an integer" % (seconds,)
        if problem:
            check.fail(variable, "the toleration %r %s." % (toleration, problem), fix)


def _check_resources(check, cfg, variable):
    resources = cfg.get(variable)
    if resources is _INVALID:
        return
    fix = "write it as {'requests': {'cpu': '500m', 'memory': '2Gi'}, 'limits': {'memory': '2Gi'}}."
    if not isinstance(resources, dict):
        check.fail(variable, "must be a mapping with requests and limits, got %r." % (resources,), fix)
        return
    for section, amounts in resources.items():
        if section not in RESOURCES_KEYS:
            check.fail(variable, "has %r; container resources have only requests and limits." % (section,), fix)
            continue
        if not isinstance(amounts, dict):
            check.fail(variable, "%s must be a mapping of resource name to quantity, got %r." % (section, amounts), fix)
            continue
        for name, amount in amounts.items():
            text = amount if isinstance(amount, str) else (
                str(amount) if isinstance(amount, (int, float)) and not isinstance(amount, bool) else None)
            if not _label_key(name) or text is None or quantity_value(text) is None:
                check.fail(variable, "%s.%s is %r: not a resource name with a non-negative Kubernetes quantity."
                           % (section, name, amount), fix)


def _check_zookeeper_settings(check, cfg):
    for variable, minimum in (("zookeeper_tick_time", 1), ("zookeeper_init_limit", 1), ("zookeeper_sync_limit", 1),
                              ("zookeeper_max_client_cnxns", 0), ("zookeeper_snap_retain_count", 3),
                              ("zookeeper_purge_interval", 0)):
        check.integer(cfg, variable, minimum)
    for variable in ("zookeeper_run_as_user", "zookeeper_fs_group", "kafka_broker_run_as_user",
                     "kafka_broker_fs_group"):
        check.integer(cfg, variable, 0, INT32_MAX)


def _check_zookeeper_auth(check, cfg, extra):
    """zookeeper_auth, _user, _secret: plan["zookeeper"]["auth"] for a new cluster (the preflight stages it on a
    running one: zookeeper_auth.stage), or None when invalid."""
    mode = check.choice(cfg, "zookeeper_auth", zookeeper_auth.MODES)
    if mode != zookeeper_auth.SASL:
        return zookeeper_auth.disabled() if mode else None
    ok = True
    problem = zookeeper_auth.user_problem(cfg.get("zookeeper_auth_user"))
    if problem:
        check.fail("zookeeper_auth_user", problem + ".", "name the user the brokers log in to ZooKeeper as, such as "
                   "kafka.")
        ok = False
    secret = cfg.get("zookeeper_auth_secret")
    if not isinstance(secret, str) or not secret:
        check.fail("zookeeper_auth_secret", "is empty, but zookeeper_auth is 'sasl'.",
                   "name the Secret in the cluster's namespace whose key %s holds the ZooKeeper password "
                   "(kubectl create secret generic zookeeper-auth --from-literal=%s=...)."
                   % (scram.PASSWORD_KEY, scram.PASSWORD_KEY))
        ok = False
    else:
        check.subdomain("zookeeper_auth_secret", secret, "Secret")
    if cfg.get("zookeeper_image_flavor") != "apache":
        check.fail("zookeeper_auth", "is 'sasl', but zookeeper_image_flavor is %r: its start script takes no SASL "
                   "settings (and ZooKeeper 3.4 cannot refuse clients that did not log in)."
                   % cfg.get("zookeeper_image_flavor"),
                   "move to the official image first (zookeeper_image_flavor=apache, see the upgrade guide), or set "
                   "zookeeper_auth=none.")
        ok = False
    else:
        version = zookeeper_version(cfg.get("zookeeper_image") or "")
        if version is not None and tuple(version[:2]) < (3, 7):
            check.fail("zookeeper_auth", "is 'sasl', but zookeeper_image %r is older than 3.7, which cannot refuse "
                       "clients that did not log in (enforce.auth.enabled)." % cfg.get("zookeeper_image"),
                       "upgrade ZooKeeper to 3.8 or later first, or set zookeeper_auth=none.")
            ok = False
    if cfg.get("kafka_metadata_mode", "zookeeper") != "zookeeper":
        check.fail("zookeeper_auth", "is 'sasl', but kafka_metadata_mode is %r: the KRaft controllers of a migration "
                   "do not log in to ZooKeeper yet." % cfg.get("kafka_metadata_mode"),
                   "migrate to KRaft with zookeeper_auth=none, or keep kafka_metadata_mode=zookeeper.")
        ok = False
    for key in sorted(k for k in (extra or {}) if normalise_property(k) == "zookeeper.set.acl"):
        check.fail("kafka_broker_extra_config", "sets %r, which zookeeper_auth sets (step by step)." % key,
                   "remove it.")
        ok = False
    if not ok:
        return None
    jaas_secret = "%s-jaas" % cfg["zookeeper_statefulset_name"]
    return zookeeper_auth.target(cfg["zookeeper_auth_user"], secret, scram.PASSWORD_KEY, jaas_secret)


def _check_zookeeper_hosts(check, cfg):
    hosts = cfg.get("kafka_zookeeper_hosts") or []
    if hosts is _INVALID:
        return
    for host in hosts:
        if not isinstance(host, str) or not ZOOKEEPER_HOST.match(host):
            check.fail("kafka_zookeeper_hosts", "%r is not host:port." % (host,),
                       "list the servers as host:port, such as zk-0.example.com:2181.")


def build_plan(cfg, schedulable_nodes=None, nodes=None, argument_spec=None, external_addresses=None):
    """Check the variables and derive everything the manifests need.

    :param cfg: the role variables (``zookeeper_*``, ``kafka_*``), defaults already applied. Typed variables
        may be strings (AWX survey answers, ``-e key=value``): they are converted as Ansible's argument-spec
        validation converts them, and the plan holds the converted values.
    :param schedulable_nodes: names of the nodes ZooKeeper pods can run on, or None when the
        cluster is not consulted (``render.yml``).
    :param nodes: instead of ``schedulable_nodes``, the cluster's Node objects; the names are then found
        with the node selector and tolerations after they were converted and checked.
    :param argument_spec: the roles' argument-spec options; they give the type each variable is converted to.
    :param external_addresses: external Service name -> the address its LoadBalancer received (read by the
        preflight; see :func:`load_balancer_address`); a broker whose Service has none is not advertised
        externally yet.
    :returns: the plan as plain data for the templates and the modules.
    :raises PlanError: with every problem found.
    """
    check = _Checker()
    warnings = []
    cfg = _convert(check, cfg, variable_types(argument_spec))
    _check_node_selector(check, cfg, "zookeeper_node_selector")
    _check_tolerations(check, cfg, "zookeeper_tolerations")
    zookeeper_nodes = None
    if nodes is not None and not check.errors:
        zookeeper_nodes = node_zones(nodes, cfg.get("zookeeper_node_selector"), cfg.get("zookeeper_tolerations"))
        schedulable_nodes = sorted(zookeeper_nodes)
    zk_replicas = _check_zookeeper(check, cfg, schedulable_nodes, warnings)
    broker_count = _broker_count(check, cfg)
    extra = _check_extra_config(check, cfg)
    max_id = _reserved_max_id(check, cfg.get("kafka_broker_extra_config") if extra is not None else None)
    broker_ids = _broker_ids(check, cfg, broker_count, max_id)
    rf = _check_replication(check, cfg, broker_count)
    _check_ports(check, cfg, ("zookeeper_client_port", "zookeeper_server_port", "zookeeper_election_port"))
    external_mode = _check_external(check, cfg, broker_count)
    security = _check_listener_security(check, cfg, external_mode)
    users = _check_users(check, cfg, security)
    if cfg.get("kafka_broker_authorizer") is True:
        for key in sorted(k for k in (extra or {}) if normalise_property(k) in AUTHORIZER_PROPERTIES):
            check.fail("kafka_broker_extra_config", "sets %r, which kafka_broker_authorizer sets." % key,
                       "remove it (the super user is kafka_broker_admin_user), or set kafka_broker_authorizer=false.")
    _check_ports(check, cfg, ("kafka_broker_client_port", "kafka_broker_internal_port")
                 + (("kafka_broker_external_port",) if external_mode in ("loadbalancer", "nodeport") else ()))
    _names(check, cfg, broker_ids)
    _check_images(check, cfg)
    _check_storage(check, cfg)
    _check_broker_paths(check, cfg)
    _check_backup_dir(check, cfg)
    _check_heap(check, cfg)
    _check_zookeeper_settings(check, cfg)
    auth = _check_zookeeper_auth(check, cfg, extra)
    before = len(check.errors)
    _check_node_selector(check, cfg, "kafka_broker_node_selector")
    _check_tolerations(check, cfg, "kafka_broker_tolerations")
    broker_nodes = None
    if nodes is not None and len(check.errors) == before:
        # The zones are those of the nodes the brokers belong on, cordoned or not ready at the moment included: a
        # node group being upgraded (its nodes cordoned, drained, replaced) must not change the zones, which would
        # pin running brokers elsewhere. A zone without a node a broker can be scheduled on now is said.
        broker_nodes = node_zones(nodes, cfg.get("kafka_broker_node_selector"), cfg.get("kafka_broker_tolerations"),
                                  now=False)
    zones = _zones(check, cfg, broker_nodes, warnings)
    if zones["enabled"] and broker_nodes is not None:
        usable = set(node_zones(nodes, cfg.get("kafka_broker_node_selector"),
                                cfg.get("kafka_broker_tolerations")).values())
        for zone in zones["names"]:
            if zone not in usable:
                warnings.append("zone %s has no node a broker can be scheduled on now (every one of its nodes is "
                                "cordoned, not ready or tainted): a broker pinned there cannot start or restart "
                                "until one is back." % zone)
    if zones["enabled"]:
        rack = sorted(k for k in (extra or {}) if normalise_property(k) == "broker.rack")
        if rack:
            check.fail("kafka_broker_extra_config", "sets %r, but zone awareness is on (zones %s) and sets broker.rack"
                       " of each broker to the zone it is pinned to." % (rack[0], ", ".join(zones["names"])),
                       "remove it, or set kafka_zone_awareness=off to set broker.rack yourself.")
        if (zookeeper_nodes is not None and zk_replicas is not None and len(zookeeper_nodes) >= zk_replicas
                and cfg.get("zookeeper_anti_affinity") == "required"):
            _check_zone_spread(check, zookeeper_nodes, zk_replicas)
    _check_resources(check, cfg, "zookeeper_resources")
    _check_resources(check, cfg, "kafka_broker_resources")
    _check_resources(check, cfg, "kafka_controller_resources")
    controller_ids = _check_controllers(check, cfg, broker_ids, max_id)
    access = check.choice(cfg, "kafka_zookeeper_access", ZOOKEEPER_ACCESS_MODES)
    _check_zookeeper_hosts(check, cfg)
    if access == "direct" and cfg.get("kafka_network_policy") is True:
        warnings.append("kafka_network_policy lets only the brokers and the KRaft controllers reach ZooKeeper's client "
                        "port: kafka_zookeeper_access=direct works only from a pod it admits (use exec, the default).")
    if access == "direct" and not cfg.get("kafka_zookeeper_hosts"):
        check.fail("kafka_zookeeper_hosts", "is empty but kafka_zookeeper_access is 'direct'.",
                   "list the ZooKeeper servers as host:port, or use kafka_zookeeper_access=exec.")
    if check.errors:
        raise PlanError(check.errors)

    namespace = cfg["kafka_namespace"]
    domain = cfg["kafka_cluster_domain"]
    sts = cfg["zookeeper_statefulset_name"]
    headless = cfg["zookeeper_headless_service_name"]
    client_port = int(cfg["zookeeper_client_port"])
    zk_servers = []
    for ordinal in range(zk_replicas):
        pod = "%s-%d" % (sts, ordinal)
        zk_servers.append({
            "id": ordinal + 1,
            "pod": pod,
            "host": "%s.%s.%s.svc.%s" % (pod, headless, namespace, domain),
        })
    zookeeper_connect = "%s:%d" % (cfg["zookeeper_client_service_name"], client_port)
    common_labels = {
        "app.kubernetes.io/part-of": "kafka",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
        "app.kubernetes.io/managed-by": "kafka_eks.cluster",
    }
    zookeeper_selector = {
        "app.kubernetes.io/component": "zookeeper",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
    }
    broker_selector = {
        "app.kubernetes.io/component": "broker",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
    }
    zookeeper_labels = dict(common_labels, **{"app.kubernetes.io/name": "zookeeper",
                                              "app.kubernetes.io/component": "zookeeper"})
    broker_labels = dict(common_labels, **{"app.kubernetes.io/name": "kafka",
                                           "app.kubernetes.io/component": "broker"})
    brokers = []
    for index, broker_id in enumerate(broker_ids):
        service = "%s%d" % (cfg["kafka_broker_service_prefix"], index)
        external = _external(cfg, external_mode, index, external_addresses)
        admin = cfg.get("kafka_broker_admin_user") if security["internal"] in SASL_PROTOCOLS else None
        properties = _broker_properties(cfg, broker_id, service, zookeeper_connect, rf, extra, external, security,
                                        admin)
        # Zone awareness: broker N in zone N mod Z (node affinity), its rack that zone, so Kafka's rack-aware
        # assignment puts a partition's replicas in different zones.
        zone = zones["names"][index % len(zones["names"])] if zones["enabled"] else None
        if zone is not None:
            properties["broker.rack"] = zone
        id_label = {BROKER_ID_LABEL: str(broker_id)}
        brokers.append({
            "index": index,
            "id": broker_id,
            "deployment": "%s%d" % (cfg["kafka_broker_deployment_prefix"], index),
            "service": service,
            "pvc": "%s%d" % (cfg["kafka_broker_pvc_prefix"], index),
            "address": "%s:%d" % (service, int(cfg["kafka_broker_client_port"])),
            "zone": zone,
            "properties": properties,
            "env": broker_env(properties),
            # Env entries from the downward API, rendered before "env" (whose values may use $(NAME) of them).
            "field_env": ([{"name": EXTERNAL_HOST_ENV, "field_path": "status.hostIP"}]
                          if external_mode == "nodeport" else []),
            # Env entries from Secrets (secretKeyRef), rendered before "env", whose JAAS entry uses $(NAME) of them:
            # the Deployment holds the reference, never the password.
            "secret_env": ([{"name": scram.PASSWORD_ENV, "secret": cfg["kafka_broker_admin_secret"],
                             "key": scram.PASSWORD_KEY}] if admin else []),
            "external": external,
            "labels": dict(broker_labels, **id_label),
            "selector": dict(broker_selector, **id_label),
        })
    controller_sts = cfg["kafka_controller_statefulset_name"]
    controller_headless = cfg["kafka_controller_headless_service_name"]
    controller_port = int(cfg["kafka_controller_port"])
    controller_selector = {
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/instance": cfg["kafka_cluster_name"],
    }
    controller = {
        "replicas": len(controller_ids),
        "node_ids": controller_ids,
        "node_id_offset": controller_ids[0],
        "statefulset": controller_sts,
        "headless_service": controller_headless,
        "pdb": cfg["kafka_controller_pdb_name"],
        "port": controller_port,
        "pods": ["%s-%d" % (controller_sts, ordinal) for ordinal in range(len(controller_ids))],
        "claim_template": CLAIM_TEMPLATE,
        "claims": ["%s-%s-%d" % (CLAIM_TEMPLATE, controller_sts, ordinal) for ordinal in range(len(controller_ids))],
        "voters": ",".join(
            "%d@%s-%d.%s.%s.svc.%s:%d" % (node_id, controller_sts, ordinal, controller_headless, namespace, domain,
                                          controller_port)
            for ordinal, node_id in enumerate(controller_ids)),
        # The metadata log lives on the controller's own claim, in a directory under the mount (never its root).
        "log_dir": posixpath.join(cfg["kafka_broker_data_mount_path"], "metadata"),
        "labels": dict(common_labels, **{"app.kubernetes.io/name": "kafka",
                                         "app.kubernetes.io/component": "controller"}),
        "selector": controller_selector,
        "selector_string": ",".join("%s=%s" % kv for kv in sorted(controller_selector.items())),
    }
    return {
        "namespace": namespace,
        "cluster_name": cfg["kafka_cluster_name"],
        "controller": controller,
        "common_labels": common_labels,
        # Zone awareness (enabled, the zones in order, where they came from, the spread of ZooKeeper and the
        # controllers): the templates render from it, the brokers' zones are in brokers[].zone.
        "zones": zones,
        "zookeeper": {
            "replicas": zk_replicas,
            "servers": zk_servers,
            # The official image's ZOO_SERVERS format: server.<id>=<host>:<server>:<election>;<client>
            "zoo_servers": " ".join(
                "server.%d=%s:%d:%d;%d" % (s["id"], s["host"], int(cfg["zookeeper_server_port"]),
                                           int(cfg["zookeeper_election_port"]), client_port)
                for s in zk_servers),
            "connect": zookeeper_connect,
            "client_port": client_port,
            "labels": zookeeper_labels,
            "selector": zookeeper_selector,
            # Each server's claim, from the StatefulSet's volumeClaimTemplates entry (claim_template).
            "claim_template": CLAIM_TEMPLATE,
            "claims": ["%s-%s" % (CLAIM_TEMPLATE, s["pod"]) for s in zk_servers],
            "selector_string": ",".join("%s=%s" % kv for kv in sorted(zookeeper_selector.items())),
            # Set by the preflight from what runs: kafka_zookeeper_remove with the controllers finalized.
            "remove": False,
            # zookeeper_auth: the JAAS Secret and the steps this run takes (module_utils/zookeeper_auth.py; the
            # preflight stages a running cluster). Names only: the password is read where the JAAS file is made.
            "auth": auth,
        },
        "brokers": brokers,
        "broker_ids": [b["id"] for b in brokers],
        "broker_labels": broker_labels,
        "broker_selector": broker_selector,
        "broker_id_label": BROKER_ID_LABEL,
        "broker_selector_string": ",".join("%s=%s" % kv for kv in sorted(broker_selector.items())),
        "bootstrap_servers": ",".join(b["address"] for b in brokers),
        "external": _external_summary(external_mode, brokers),
        "tls": _tls(cfg, security, namespace, brokers),
        "sasl": _sasl(cfg, security, users),
        # kafka_network_policy: one NetworkPolicy each for ZooKeeper, the brokers and the KRaft controllers.
        "network_policy": {
            "enabled": bool(cfg.get("kafka_network_policy")),
            "zookeeper": "%s-network-policy" % sts,
            "brokers": "%snetwork-policy" % cfg["kafka_broker_deployment_prefix"],
            "controllers": "%s-network-policy" % controller_sts,
        },
        # The variables, converted and checked, that the templates read (never a role variable directly); the
        # templates render each one as data.
        "settings": dict((k, v) for k, v in cfg.items() if not k.startswith(CREDENTIAL_PREFIX)),
        "schedulable_nodes": schedulable_nodes,
        "warnings": warnings,
    }
