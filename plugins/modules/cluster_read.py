#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cluster_read
short_description: Read several kinds of Kubernetes objects in one module run
version_added: 0.1.0
description:
  - Lists or gets each object kind in I(reads), in order, as C(kubernetes.core.k8s_info) would (same connection
    options, same client, same lookup), in one process. The preflight reads the nodes, StorageClasses,
    StatefulSets, Deployments, pods, Services, claims and volumes with two runs of this module instead of one
    C(k8s_info) run each (about a second apiece).
  - Reads only; never reports a change. A read that fails stops the module, naming it.
author:
  - kafka_eks.cluster maintainers (@kafka-eks)
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  reads:
    description: What to read, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      key:
        description: Name of this read in RETURN C(objects); unique.
        type: str
        required: true
      what:
        description: What is read, in words, for the message when the read fails.
        type: str
      kind:
        description: Kind of the objects.
        type: str
        required: true
      api_version:
        description: API version of the kind.
        type: str
        default: v1
      namespace:
        description: Namespace to read in; none for cluster-scoped kinds.
        type: str
      name:
        description: One object by name (a list with that object, or empty when it does not exist).
        type: str
      label_selectors:
        description: Label selectors the objects must match.
        type: list
        elements: str
        default: []
      only_if_found:
        description:
          - The I(key) of an earlier read; this read is skipped (listed in RETURN C(skipped)) when that one found
            nothing. The preflight reads inside a namespace only when the namespace exists, in check mode.
        type: str
      summary:
        description:
          - C(tls_secret) - instead of each Secret read, facts about the TLS material it holds
            (C(summarize_secret) of C(plugins/module_utils/tls.py) - which keys are missing, the certificate's
            subject, names, dates and fingerprint, whether the CA issued it and the key matches it), never the key or
            certificate text, so no secret reaches the result. Requires I(name); a Secret that does not exist is
            summarized as C(found=false).
          - C(password_secret) - instead of each Secret read, whether its key I(secret_key) holds a password the
            brokers can use (C(summarize_secret) of C(plugins/module_utils/scram.py) - C(found), C(key),
            C(problem)), never the password.
          - C(ca_secret) - instead of each Secret read, facts about the CA the collection made for
            I(kafka_broker_tls_generate) (C(summarize_ca_secret) of C(plugins/module_utils/tls.py) - its mark, which
            keys are missing, whether it is a CA and its key matches, its dates and fingerprint), never its key.
        type: str
        choices: [tls_secret, password_secret, ca_secret]
      secret_key:
        description: With I(summary=password_secret), the key of the Secret that holds the password.
        type: str
        default: password
requirements:
  - kubernetes >= 24.2.0 (the Python client, as kubernetes.core needs)
  - cryptography (with I(summary=tls_secret) or I(summary=ca_secret); ansible-core requires it already)
"""

EXAMPLES = r"""
- name: Read the nodes and the StorageClasses in one go
  kafka_eks.cluster.cluster_read:
    reads:
      - {key: nodes, kind: Node}
      - {key: classes, kind: StorageClass, api_version: storage.k8s.io/v1}
  register: found

- name: What the brokers' TLS Secret holds, without its key or certificates
  kafka_eks.cluster.cluster_read:
    reads:
      - {key: tls, kind: Secret, namespace: kafka, name: kafka-tls, summary: tls_secret}

- name: Whether a user's Secret holds a usable password, without the password
  kafka_eks.cluster.cluster_read:
    reads:
      - {key: alice, kind: Secret, namespace: kafka, name: alice-password, summary: password_secret}

- name: Read the brokers only when the namespace exists
  kafka_eks.cluster.cluster_read:
    reads:
      - {key: namespace, kind: Namespace, name: kafka}
      - {key: deployments, kind: Deployment, namespace: kafka, only_if_found: namespace,
         label_selectors: ["app.kubernetes.io/component=broker"]}
"""

RETURN = r"""
objects:
  description:
    - Each read's objects (the API's JSON), by I(key); a skipped read is absent. (Not C(results), which Ansible
      keeps for loops.)
  returned: success
  type: dict
  sample: {"nodes": [{"metadata": {"name": "node-1"}}], "classes": []}
skipped:
  description: The keys of the reads skipped by I(only_if_found).
  returned: success
  type: list
  elements: str
  sample: ["deployments"]
reading:
  description: The I(key) of the read that failed.
  returned: failure
  type: str
  sample: nodes
"""

import copy

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.kafka_eks.cluster.plugins.module_utils import scram, tls
from ansible_collections.kubernetes.core.plugins.module_utils.ansiblemodule import AnsibleModule
from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import K8sService

READ_SPEC = dict(
    key=dict(type="str", required=True, no_log=False),
    what=dict(type="str"),
    kind=dict(type="str", required=True),
    api_version=dict(type="str", default="v1"),
    namespace=dict(type="str"),
    name=dict(type="str"),
    label_selectors=dict(type="list", elements="str", default=[]),
    only_if_found=dict(type="str"),
    summary=dict(type="str", choices=["tls_secret", "password_secret", "ca_secret"]),
    secret_key=dict(type="str", default=scram.PASSWORD_KEY, no_log=False),
)


def argspec():
    """The connection options of kubernetes.core and ``reads``."""
    args = copy.deepcopy(AUTH_ARG_SPEC)
    args["reads"] = dict(type="list", elements="dict", required=True, options=READ_SPEC)
    return args


def read_all(svc, reads):
    """Run ``reads`` in order on ``svc`` (a ``K8sService``). Returns ``(results, skipped)``; raises
    ``ReadFailed`` naming the read that failed."""
    results, skipped = {}, []
    for read in reads:
        key = read["key"]
        if key in results or key in skipped:
            raise ReadFailed(key, "the key %s is used by two reads" % key)
        depends = read.get("only_if_found")
        if depends and not results.get(depends):
            skipped.append(key)
            continue
        what = read.get("what") or "%s %s" % (read["kind"], key)
        try:
            found = svc.find(read["kind"], read.get("api_version") or "v1", name=read.get("name"),
                             namespace=read.get("namespace"), label_selectors=read.get("label_selectors") or [])
        except CoreException as exc:
            raise ReadFailed(key, "could not read %s: %s" % (what, exc))
        if not found.get("api_found", True):
            raise ReadFailed(key, "could not read %s: %s" % (what, found.get("msg") or "the API has no such kind"))
        results[key] = summarized(read, found.get("resources") or [])
    return results, skipped


def summarized(read, objects):
    """What a read returns of the objects it found: the objects, or with I(summary=tls_secret) the facts about the
    Secret only (its data never leaves this process), C(found=false) when there is none."""
    if read.get("summary") == "tls_secret":
        return [tls.summarize_secret(obj) for obj in objects] or [tls.summarize_secret(None)]
    if read.get("summary") == "ca_secret":
        return [tls.summarize_ca_secret(obj) for obj in objects] or [tls.summarize_ca_secret(None)]
    if read.get("summary") == "password_secret":
        key = read.get("secret_key") or scram.PASSWORD_KEY
        return [scram.summarize_secret(obj, key) for obj in objects] or [scram.summarize_secret(None, key)]
    return objects


class ReadFailed(Exception):
    """A read that failed: ``key`` and the message."""

    def __init__(self, key, message):
        super(ReadFailed, self).__init__(message)
        self.key = key


def main():
    """Run the reads and return what each found."""
    module = AnsibleK8SModule(module_class=AnsibleModule, argument_spec=argspec(), supports_check_mode=True)
    reads = module.params["reads"]
    if any(r.get("summary") in ("tls_secret", "ca_secret") for r in reads) and not tls.HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"))
    try:
        try:
            svc = K8sService(get_api_client(module), module)
        except CoreException as exc:
            # No client, no read: said as the failure of the first one, naming what was to be read.
            first = reads[0] if reads else {"key": "", "kind": "objects"}
            raise ReadFailed(first["key"], "could not read %s: %s" % (first.get("what") or first["kind"], exc))
        results, skipped = read_all(svc, reads)
    except ReadFailed as exc:
        module.fail_json(msg=str(exc), reading=exc.key)
    except CoreException as exc:
        module.fail_from_exception(exc)
    module.exit_json(changed=False, objects=results, skipped=skipped)


if __name__ == "__main__":
    main()
