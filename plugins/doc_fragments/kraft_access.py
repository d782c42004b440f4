# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    # Where the modules ask the KRaft side (kafka_eks.cluster.kraft_access; the spec is args_common.KRAFT_ARG_SPEC).
    DOCUMENTATION = r"""
options:
  controller_pod_selector:
    description: Label selector of the KRaft controller pods in I(namespace).
    type: str
    default: app.kubernetes.io/component=controller,app.kubernetes.io/instance=kafka
  controller_container:
    description: Name of the controller container (read by name, never as the first one).
    type: str
    default: controller
  controller_port:
    description: The controllers' C(CONTROLLER) listener port, asked from inside a controller pod.
    type: int
    default: 9093
  expected_controller_ids:
    description: The node ids the KRaft quorum must have as voters (none given - any voters).
    type: list
    elements: int
    default: []
  broker_pod_selector:
    description: Label selector of the broker pods in I(namespace).
    type: str
    default: app.kubernetes.io/component=broker,app.kubernetes.io/instance=kafka
  broker_container:
    description: Name of the broker container (read by name, never as the first one - sidecars exist).
    type: str
    default: broker
  broker_client_port:
    description: The brokers' client listener port, asked from inside a broker pod (C(localhost:<port>)).
    type: int
    default: 9092
"""
