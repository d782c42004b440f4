#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: zookeeper_jaas
short_description: Write the JAAS Secret of ZooKeeper authentication from the password in a Kubernetes Secret
version_added: 0.1.0
description:
  - Reads the password of I(user) from the Secret I(secret) and makes the Secret I(jaas_secret) hold the two JAAS
    files ZooKeeper's SASL DIGEST-MD5 login needs - C(zookeeper-jaas.conf) for the servers (the one user they
    accept, and the login of zkCli run in their pods) and C(kafka-jaas.conf) for the brokers. The ZooKeeper and
    broker pods mount it; no pod spec holds the password.
  - Idempotent by proof - the Secret is written only when what it holds differs from the files made from the
    password (compared by digest; a second run reports no change).
  - A Secret I(jaas_secret) the collection did not write (no C(app.kubernetes.io/managed-by=kafka_eks.cluster)
    label) is refused, never overwritten. So is a changed password once the Secret exists - running servers and
    brokers would disagree during a roll - with a message that says how to go on.
  - The password is never returned, logged or shown in a diff; RV(fingerprint) is a digest of the files.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
requirements:
  - kubernetes >= 24.2.0
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespace:
    description: The namespace of both Secrets.
    type: str
    required: true
  user:
    description: The user the brokers and the collection log in to ZooKeeper as.
    type: str
    required: true
  secret:
    description: The Secret whose key I(key) holds the password.
    type: str
    required: true
  key:
    description: The key of I(secret) that holds the password.
    type: str
    default: password
  jaas_secret:
    description: The Secret the JAAS files are written to.
    type: str
    required: true
  labels:
    description: Labels of I(jaas_secret) (the collection's common labels).
    type: dict
    default: {}
attributes:
  check_mode:
    description: Reads and compares; says whether the Secret would be written, writes nothing.
    support: full
  diff_mode:
    description: The files' digest before and after (never their content).
    support: full
"""

EXAMPLES = r"""
- name: The JAAS files for the ZooKeeper user kafka
  kafka_eks.cluster.zookeeper_jaas:
    namespace: kafka
    user: kafka
    secret: zookeeper-auth
    jaas_secret: zookeeper-jaas
"""

RETURN = r"""
fingerprint:
  description: SHA-256 over the JAAS files the Secret holds after the run (never the files).
  returned: success
  type: str
created:
  description: Whether the Secret was (or in check mode would be) created.
  returned: success
  type: bool
"""

import base64
import binascii

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram, zookeeper_auth
from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    HAS_KUBERNETES,
    KUBERNETES_IMPORT_ERROR,
    make_pod_api,
    read_secret,
)
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC

MANAGED_BY = ("app.kubernetes.io/managed-by", "kafka_eks.cluster")
FINGERPRINT_ANNOTATION = "kafka-eks.cluster/jaas-fingerprint"


class Refused(Exception):
    """Nothing was written: the message says why and what to do."""


def argument_spec():
    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespace=dict(type="str", required=True),
        user=dict(type="str", required=True),
        secret=dict(type="str", required=True, no_log=False),
        key=dict(type="str", default=scram.PASSWORD_KEY, no_log=False),
        jaas_secret=dict(type="str", required=True, no_log=False),
        labels=dict(type="dict", default={}),
    )
    return spec


def _status(exc):
    return getattr(exc, "status", None)


def read(pod_api, namespace, name):
    """The Secret as plain data, or None when it does not exist; Refused when it cannot be read."""
    try:
        return read_secret(pod_api, namespace, name)
    except Exception as exc:  # pylint: disable=broad-except
        raise Refused("the Secret %s/%s cannot be read (HTTP %s). Nothing was written."
                      % (namespace, name, _status(exc)))


def held_files(secret):
    """The files the Secret holds, or None when one of them is not text."""
    files = {}
    for key in (zookeeper_auth.SERVER_JAAS_KEY, zookeeper_auth.CLIENT_JAAS_KEY):
        value = ((secret or {}).get("data") or {}).get(key)
        if value is None:
            return None
        try:
            files[key] = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError, TypeError):
            return None
    return files


def decide(params, password_secret, jaas_secret):
    """``(files to write or None, fingerprint, created)``; Refused with the fix (pure: the Secrets as read)."""
    variable = "zookeeper_auth_secret"
    if password_secret is None:
        raise Refused("the Secret %s (%s) does not exist in namespace %s. Nothing was written. Fix: create it with "
                      "the ZooKeeper password in its key %s." % (params["secret"], variable, params["namespace"],
                                                                 params["key"]))
    password, problem = scram.decode_password(password_secret, params["key"])
    if problem:
        raise Refused("the Secret %s (%s) %s. Nothing was written. Fix: put the ZooKeeper password in its key %s "
                      "(no '\"', '\\' or line break)." % (params["secret"], variable, problem, params["key"]))
    try:
        files = zookeeper_auth.jaas_files(params["user"], password)
    except ValueError as exc:
        raise Refused("%s (%s, zookeeper_auth_user). Nothing was written." % (exc, variable))
    wanted = zookeeper_auth.fingerprint(files)
    if jaas_secret is None:
        return files, wanted, True
    labels = (jaas_secret.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY[0]) != MANAGED_BY[1]:
        raise Refused("the Secret %s/%s exists and was not written by kafka_eks.cluster (no label %s=%s); it is not "
                      "overwritten. Fix: remove or rename it, or name the ZooKeeper StatefulSet otherwise "
                      "(zookeeper_statefulset_name; the JAAS Secret is <name>-jaas)."
                      % (params["namespace"], params["jaas_secret"], MANAGED_BY[0], MANAGED_BY[1]))
    held = held_files(jaas_secret)
    if held is not None and zookeeper_auth.fingerprint(held) == wanted:
        return None, wanted, False
    raise Refused("the ZooKeeper password in the Secret %s (%s) or zookeeper_auth_user is not the one the running "
                  "ZooKeeper servers and brokers log in with (the JAAS Secret %s holds other files). Nothing was "
                  "written: during a roll the servers and brokers would disagree and the brokers would lose "
                  "ZooKeeper. Fix: put the former password back in %s."
                  % (params["secret"], variable, params["jaas_secret"], params["secret"]))


def secret_object(params, files, fingerprint):
    labels = dict(params["labels"] or {})
    labels[MANAGED_BY[0]] = MANAGED_BY[1]
    return {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": params["jaas_secret"], "namespace": params["namespace"], "labels": labels,
                     "annotations": {FINGERPRINT_ANNOTATION: fingerprint}},
        "data": dict((k, base64.b64encode(v.encode("utf-8")).decode("ascii")) for k, v in files.items()),
    }


def run(module, pod_api):
    params = module.params
    password_secret = read(pod_api, params["namespace"], params["secret"])
    jaas_secret = read(pod_api, params["namespace"], params["jaas_secret"])
    files, fingerprint, created = decide(params, password_secret, jaas_secret)
    result = {"changed": files is not None, "fingerprint": fingerprint, "created": created,
              "diff": {"before": "%s: %s\n" % (params["jaas_secret"],
                                               "none" if created else "JAAS files, sha256 " + fingerprint),
                       "after": "%s: JAAS files, sha256 %s\n" % (params["jaas_secret"], fingerprint)}}
    if files is None:
        result["msg"] = "The JAAS Secret %s holds the files for user %s." % (params["jaas_secret"], params["user"])
        return result
    result["msg"] = "%s the JAAS Secret %s for user %s." % (
        "Would write" if module.check_mode else "Wrote", params["jaas_secret"], params["user"])
    if not module.check_mode:
        try:
            pod_api.core.create_namespaced_secret(params["namespace"], secret_object(params, files, fingerprint),
                                                  _request_timeout=pod_api.request_timeout)
        except Exception as exc:  # pylint: disable=broad-except
            raise Refused("creating the Secret %s/%s failed (HTTP %s); rerun."
                          % (params["namespace"], params["jaas_secret"], _status(exc)))
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=KUBERNETES_IMPORT_ERROR)
    try:
        module.exit_json(**run(module, make_pod_api(module.params)))
    except Refused as exc:
        module.fail_json(msg=str(exc), changed=False)


if __name__ == "__main__":
    main()
