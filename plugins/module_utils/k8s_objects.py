# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only calls on the Kubernetes objects the status report looks at besides pods: the nodes (their zone
label), a ConfigMap, the broker Deployments and a StatefulSet, on the ``ApiClient`` of ``k8s_pods.PodApi``
(same auth options, same request timeout). Nothing here writes. A failure is a ``k8s_pods.PodApiError`` naming
the call; a named object that does not exist is None, not an error. The answers are the API server's JSON as it
sent it (``_preload_content=False``): no client-side model that could refuse or drop a field it does not know."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

try:
    from kubernetes.client import AppsV1Api, CoreV1Api
    from kubernetes.client.exceptions import ApiException
except ImportError:
    AppsV1Api = CoreV1Api = None
    ApiException = Exception

try:
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    Urllib3Error = OSError

from ansible_collections.kafka_eks.cluster.plugins.module_utils.k8s_pods import (
    REQUEST_TIMEOUT,
    PodApiError,
    transient_status,
)


def _error(doing, exc):
    status = getattr(exc, "status", None) if isinstance(exc, ApiException) and ApiException is not Exception else None
    if status:
        body = str(getattr(exc, "body", "") or "")
        detail = "HTTP %s %s%s" % (status, getattr(exc, "reason", "") or "", (": " + body[:400]) if body else "")
        return PodApiError("%s failed: %s" % (doing, detail), transient=transient_status(status))
    return PodApiError("%s failed: %s: %s" % (doing, type(exc).__name__, exc), transient=True)


def _not_found(exc):
    return isinstance(exc, ApiException) and ApiException is not Exception and getattr(exc, "status", None) == 404


class ObjectApi:
    """``list_nodes()``, ``get_config_map(namespace, name)``, ``list_deployments(namespace, selector)`` and
    ``get_stateful_set(namespace, name)``, each returning the objects as the API's JSON (plain dicts)."""

    def __init__(self, api_client, core_v1=None, apps_v1=None, request_timeout=REQUEST_TIMEOUT):
        self.api_client = api_client
        self.core = core_v1 or CoreV1Api(api_client)
        self.apps = apps_v1 or AppsV1Api(api_client)
        self.request_timeout = request_timeout

    def _json(self, doing, func, args, missing_ok=False, **kwargs):
        """The JSON answer of ``func(*args, **kwargs)``; with ``missing_ok``, None when the object does not exist."""
        try:
            response = func(*args, _request_timeout=self.request_timeout, _preload_content=False, **kwargs)
            data = response.data
            return json.loads(data.decode("utf-8") if isinstance(data, bytes) else data)
        except (ApiException, Urllib3Error, OSError) as exc:
            if missing_ok and _not_found(exc):
                return None
            raise _error(doing, exc)
        except ValueError as exc:
            raise PodApiError("%s failed: the answer is not JSON (%s)" % (doing, exc))

    def list_nodes(self):
        return self._json("listing the nodes", self.core.list_node, ()).get("items") or []

    def list_deployments(self, namespace, selector):
        return self._json("listing Deployments %s in namespace %s" % (selector, namespace),
                          self.apps.list_namespaced_deployment, (namespace,), label_selector=selector).get("items") or []

    def get_config_map(self, namespace, name):
        return self._json("reading ConfigMap %s/%s" % (namespace, name), self.core.read_namespaced_config_map,
                          (name, namespace), missing_ok=True)

    def get_stateful_set(self, namespace, name):
        return self._json("reading StatefulSet %s/%s" % (namespace, name), self.apps.read_namespaced_stateful_set,
                          (name, namespace), missing_ok=True)
