# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The address each LoadBalancer Service received, by name: what a broker with external access advertises. The
rule is ``plan.load_balancer_address`` (one source: the preflight reads the addresses with it too)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.kafka_eks.cluster.plugins.module_utils.plan import load_balancer_address


def load_balancer_addresses(services, names=None):
    """``services``: Service objects (the ``resources`` of a ``kubernetes.core.k8s_info`` read). Returns
    ``{name: address or None}`` for each of ``names`` (default: every Service given); a name not among the
    Services maps to None."""
    if not isinstance(services, list):
        raise AnsibleFilterError("load_balancer_addresses: expected a list of Service objects, got %r"
                                 % type(services))
    found = dict(((s.get("metadata") or {}).get("name"), load_balancer_address(s))
                 for s in services if isinstance(s, dict))
    wanted = list(names) if names is not None else sorted(n for n in found if n)
    return dict((name, found.get(name)) for name in wanted)


class FilterModule(object):
    """The load_balancer_addresses filter."""

    def filters(self):
        """The filters this plugin provides, by name."""
        return {"load_balancer_addresses": load_balancer_addresses}
