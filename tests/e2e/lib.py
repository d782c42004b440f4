"""What the end-to-end checks read from a running test bed: the Kubernetes API, ZooKeeper and Kafka.

The code is the test bed's own (tests/testbed/testbed_lib/client.py, which bench/ uses too); this module
re-exports its names so that the scenarios' `from lib import ...` keep working. Independent of the collection's
own modules on purpose: a scenario's verify step must not trust the code it checks.
"""
import os
import sys

_TESTBED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testbed")
if _TESTBED_DIR not in sys.path:
    sys.path.append(_TESTBED_DIR)

# pylint: disable=wrong-import-position
from testbed_lib.bed import CACHE, KUBECTL, PYTHON, REPO as ROOT  # noqa: E402
from testbed_lib.client import (  # noqa: E402
    BROKER_SELECTOR, TESTBED, ZK_SELECTOR, Cluster, drop_registration, kazoo_client, kubeconfig, registration, srvr,
    srvr_mode, srvr_version, start_testbed, stop_testbed, wait_for)

__all__ = ["BROKER_SELECTOR", "CACHE", "KUBECTL", "PYTHON", "ROOT", "TESTBED", "ZK_SELECTOR", "Cluster",
           "drop_registration", "kazoo_client", "kubeconfig", "registration", "srvr", "srvr_mode", "srvr_version",
           "start_testbed", "stop_testbed", "wait_for"]
