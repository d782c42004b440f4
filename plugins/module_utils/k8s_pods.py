# -*- coding: utf-8 -*-
# Copyright: kafka_eks.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pods through the Kubernetes API: list by selector, delete one pod with a uid precondition, exec a command;
and ``pod_facts()``, the pure summary of a pod that ``membership.decide()`` works on. This layer reads,
deletes and reports; what a pod's state means for the heal (what deleting it would cure) is decided in
``membership.py``.

The API client comes from kubernetes.core (``k8s.client.get_api_client``) so the modules take the same auth
options, with the same ``K8S_AUTH_*`` environment fallbacks, as ``kubernetes.core.k8s``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import json
import re
import time
import traceback

try:
    from kubernetes.client import CoreV1Api, V1DeleteOptions, V1Preconditions
    from kubernetes.client.exceptions import ApiException
    from kubernetes.stream import stream as k8s_stream

    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError:
    CoreV1Api = V1DeleteOptions = V1Preconditions = k8s_stream = None
    ApiException = Exception
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = traceback.format_exc()

# What a dropped connection or a timeout raises below the kubernetes client: urllib3 for REST calls,
# websocket-client for exec streams; both libraries come with the kubernetes client.
try:
    from urllib3.exceptions import HTTPError as Urllib3Error
except ImportError:
    Urllib3Error = OSError
try:
    import websocket as websocket_client
    from websocket import WebSocketException
except ImportError:
    websocket_client = None
    WebSocketException = OSError

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client


class PodApiError(Exception):
    """A pod API call failed; the message names the pod and the call.

    ``transient`` is True when the same call may well succeed if made again (connection dropped or refused,
    request timed out, HTTP 429 or 5xx): a wait that polls the API retries those until its own deadline
    (``PodApi.retry_transient``); anything else (403, 404, 422, ...) says something a retry will not change."""

    def __init__(self, message, transient=False):
        super(PodApiError, self).__init__(message)
        self.transient = transient


class PodChanged(PodApiError):
    """The pod's uid differs from the one given: it was replaced meanwhile (nothing was deleted)."""


def parse_time_ms(value):
    """RFC 3339 (``2026-11-25T07:00:00Z``, fractions and offsets allowed) or datetime -> epoch ms; None."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    match = re.match(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$",
                     str(value).strip())
    if not match:
        return None
    seconds = calendar.timegm(tuple(int(match.group(i)) for i in range(1, 7)) + (0, 0, 0))
    millis = int(float(match.group(7)) * 1000) if match.group(7) else 0
    zone = match.group(8)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        seconds -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    return seconds * 1000 + millis


def _describe_state(state):
    """``{"terminated": {"reason": "Error", "exitCode": 1, ...}}`` -> ``terminated (Error, exit 1)``."""
    if not state:
        return None
    for kind in ("running", "waiting", "terminated"):
        detail = state.get(kind)
        if detail is None:
            continue
        bits = []
        if detail.get("reason"):
            bits.append(detail["reason"])
        if detail.get("exitCode") is not None:
            bits.append("exit %s" % detail["exitCode"])
        if kind == "running" and detail.get("startedAt"):
            bits.append("since %s" % detail["startedAt"])
        if detail.get("message"):
            bits.append(str(detail["message"]).strip().splitlines()[0][:200])
        return "%s (%s)" % (kind, ", ".join(bits)) if bits else kind
    return None


def pod_facts(pod, id_label=None, container=None):
    """The facts of one pod (its API JSON) that the membership decision needs.

    Returns ``name``, ``uid``, ``broker_id`` (int from ``id_label``, or None), ``phase``, ``deleting``,
    ``created_at`` (ms), ``started_at`` (ms the running container started, or None), ``running``,
    ``ready``, ``restart_count``, ``unschedulable`` (the scheduler's message, or None), ``waiting_reason``,
    ``last_started_at`` (ms of the last terminated run), ``state`` and ``last_state`` (text),
    ``node`` (node name); of the container named ``container`` (never simply the first: sidecars exist):
    ``container`` (its name), ``container_found`` (False when the pod has no such container),
    ``started`` (its startup probe passed; None when not reported), ``startup_budget_ms`` (how long its
    startup probe allows, or None without one) and ``advertised_listeners`` (its
    ``KAFKA_ADVERTISED_LISTENERS`` value, or None).
    """
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    labels = meta.get("labels") or {}
    broker_id = None
    if id_label and labels.get(id_label) is not None:
        try:
            broker_id = int(str(labels[id_label]).strip())
        except ValueError:
            broker_id = None
    statuses = status.get("containerStatuses") or []
    chosen = None
    for item in statuses:
        if container is None or item.get("name") == container:
            chosen = item
            break
    container_spec = None
    for item in spec.get("containers") or []:
        if container is None or item.get("name") == container:
            container_spec = item
            break
    state = (chosen or {}).get("state") or {}
    last_state = (chosen or {}).get("lastState") or {}
    running = state.get("running")
    waiting = state.get("waiting")
    unschedulable = None
    for cond in status.get("conditions") or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            unschedulable = "%s: %s" % (cond.get("reason") or "Unschedulable", cond.get("message") or "")
    terminated_last = last_state.get("terminated") or state.get("terminated") or {}
    return {
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "broker_id": broker_id,
        "phase": status.get("phase"),
        "deleting": bool(meta.get("deletionTimestamp")),
        "created_at": parse_time_ms(meta.get("creationTimestamp")),
        "started_at": parse_time_ms(running.get("startedAt")) if running else None,
        "running": running is not None,
        "ready": bool((chosen or {}).get("ready")),
        "restart_count": int((chosen or {}).get("restartCount") or 0),
        "unschedulable": unschedulable,
        "waiting_reason": (waiting or {}).get("reason"),
        "last_started_at": parse_time_ms(terminated_last.get("startedAt")),
        "state": _describe_state(state) or status.get("reason") or status.get("phase"),
        "last_state": _describe_state(last_state),
        "node": spec.get("nodeName"),
        "container": container,
        "container_found": container is None or container_spec is not None or chosen is not None,
        "started": chosen.get("started") if chosen and isinstance(chosen.get("started"), bool) else None,
        "startup_budget_ms": startup_budget_ms((container_spec or {}).get("startupProbe")),
        "advertised_listeners": _env_value(container_spec, "KAFKA_ADVERTISED_LISTENERS", pod),
    }


def startup_budget_ms(probe):
    """How long a startup probe lets a container start before the kubelet kills it (ms), or None."""
    if not isinstance(probe, dict):
        return None
    try:
        return 1000 * (int(probe.get("initialDelaySeconds") or 0)
                       + int(probe.get("periodSeconds") or 10) * int(probe.get("failureThreshold") or 3))
    except (TypeError, ValueError):
        return None


# The downward API fields a container's env may read (valueFrom.fieldRef), where they are in the pod's JSON.
FIELD_PATHS = {
    "status.hostIP": ("status", "hostIP"),
    "status.podIP": ("status", "podIP"),
    "spec.nodeName": ("spec", "nodeName"),
    "metadata.name": ("metadata", "name"),
    "metadata.namespace": ("metadata", "namespace"),
}
_ENV_REFERENCE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_env(value, known):
    """The kubelet's expansion of an env value: ``$(NAME)`` of an entry defined before it becomes that entry's
    value, ``$$`` a ``$``; a reference to anything else stays as written (as Kubernetes leaves it)."""
    def replace(match):
        if match.group(0) == "$$":
            return "$"
        return known.get(match.group(1), match.group(0))
    return _ENV_REFERENCE.sub(replace, value)


def _env_value(container_spec, name, pod=None):
    """The value the container sees for env ``name``: literal values and, given the pod, its downward-API fields,
    with ``$(NAME)`` references expanded in order as the kubelet does; None when it is not set."""
    known = {}
    for item in (container_spec or {}).get("env") or []:
        value = item.get("value")
        if isinstance(value, str):
            value = expand_env(value, known)
        else:
            path = FIELD_PATHS.get((((item.get("valueFrom") or {}).get("fieldRef")) or {}).get("fieldPath"))
            field = ((pod or {}).get(path[0]) or {}).get(path[1]) if path else None
            value = field if isinstance(field, str) else None
        if value is not None:
            known[item.get("name")] = value
        if item.get("name") == name:
            return value
    return None


def describe_pod(facts):
    """``kafka-broker-1-abc (Running, running (since ...), last: terminated (Error, exit 1), 3 restarts)``."""
    if not facts:
        return "no pod"
    bits = [facts.get("phase") or "unknown phase"]
    if facts.get("deleting"):
        bits.append("being deleted")
    if facts.get("unschedulable"):
        bits.append(facts["unschedulable"])
    if facts.get("state"):
        bits.append(facts["state"])
    if facts.get("last_state"):
        bits.append("last: %s" % facts["last_state"])
    if facts.get("restart_count"):
        bits.append("%d restarts" % facts["restart_count"])
    return "%s (%s)" % (facts.get("name"), ", ".join(bits))


# Seconds one API request may take (connect and response): a server that stops answering fails the call with
# a PodApiError instead of hanging the module until Ansible's own timeout.
REQUEST_TIMEOUT = 30
# Transient errors are retried this often, this far apart, when a caller asks for it (retry_transient).
RETRY_INTERVAL = 2.0


def read_secret(pod_api, namespace, name):
    """A Secret as plain data, or None when it does not exist; any other API error propagates (its ``status`` says
    why). The one read of a Secret that the modules reading passwords share; what each says of a failure is its own,
    and never the Secret's content."""
    try:
        obj = pod_api.core.read_namespaced_secret(name, namespace, _request_timeout=pod_api.request_timeout)
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, "status", None) == 404:
            return None
        raise
    return pod_api.api_client.sanitize_for_serialization(obj)


_HANDSHAKE_STATUS = re.compile(r"Handshake status (\d{3})")


def transient_status(status):
    """True for the HTTP statuses a retry may cure: 429 (throttled), 5xx (server or its etcd in trouble)."""
    return status == 429 or (status is not None and 500 <= status <= 599)


def _api_status(exc):
    """HTTP status of an ApiException; an exec whose WebSocket handshake was refused carries status 0 and
    the real status only in its reason (``Handshake status 403 Forbidden``)."""
    status = getattr(exc, "status", None)
    if not status:
        match = _HANDSHAKE_STATUS.search(str(getattr(exc, "reason", None) or exc))
        status = int(match.group(1)) if match else None
    return status


def _failure(doing, exc):
    """A PodApiError saying what was being done and why it failed, marked transient when a retry may help."""
    if isinstance(exc, ApiException) and ApiException is not Exception:
        status = _api_status(exc)
        # Status 0 without a handshake status: the client could not talk to the server at all.
        return PodApiError("%s failed: %s" % (doing, _api_error(exc)), transient=status is None or transient_status(status))
    return PodApiError("%s failed: %s: %s (the API server did not answer in time, or the connection dropped)"
                       % (doing, type(exc).__name__, exc), transient=True)


class PodApi:
    """The few pod calls the modules make, on a ``kubernetes.client.ApiClient``.

    Every request has a timeout (``request_timeout`` seconds); every failure is a PodApiError that names the
    call, the pod or selector and the namespace, with ``transient`` set when a retry may help."""

    def __init__(self, api_client, core_v1=None, stream=None, request_timeout=REQUEST_TIMEOUT):
        self.api_client = api_client
        self.core = core_v1 or CoreV1Api(api_client)
        self._stream = stream or k8s_stream
        self.request_timeout = request_timeout

    def _plain(self, obj):
        return self.api_client.sanitize_for_serialization(obj)

    def list_pods(self, namespace, selector):
        doing = "listing pods %s in namespace %s" % (selector, namespace)
        try:
            result = self.core.list_namespaced_pod(namespace, label_selector=selector,
                                                   _request_timeout=self.request_timeout)
        except (ApiException, Urllib3Error, WebSocketException, OSError) as exc:
            raise _failure(doing, exc)
        return [self._plain(item) for item in result.items]

    def delete_pod(self, namespace, name, uid):
        """Delete one pod, only if it still has ``uid``, with its normal grace period (never forced).

        Returns True when deleted, False when it was already gone; raises PodChanged on another uid. Never
        retried here: after a lost answer, "already gone" could not tell whether this call deleted it."""
        body = V1DeleteOptions(preconditions=V1Preconditions(uid=uid))
        try:
            self.core.delete_namespaced_pod(name, namespace, body=body, _request_timeout=self.request_timeout)
        except (ApiException, Urllib3Error, WebSocketException, OSError) as exc:  # anything else is a bug
            status = getattr(exc, "status", None) if isinstance(exc, ApiException) else None
            if status == 404:
                return False
            if status == 409:
                raise PodChanged("pod %s/%s no longer has uid %s (replaced meanwhile); not deleted"
                                 % (namespace, name, uid))
            raise _failure("deleting pod %s/%s" % (namespace, name), exc)
        return True

    def exec(self, namespace, name, argv, container=None, timeout=60, clock=time.monotonic, stdin=None):
        """Run ``argv`` in the pod (no shell, no tty); returns ``(rc, stdout, stderr)``.

        ``stdin`` (text) is sent to its standard input, which stays open: the command reads what it needs (a
        known length, up to a command that ends it). What travels there is in no URL, audit log or process list,
        unlike ``argv``. Opening the stream may take ``request_timeout`` seconds, the whole command ``timeout``.
        Never retried here: the command may have run."""
        doing = "exec `%s` in pod %s/%s" % (" ".join(argv), namespace, name)
        kwargs = {}
        if container:
            kwargs["container"] = container
        # The client's exec stream ignores _request_timeout when it does not preload the output: the socket
        # timeout for the connection and the handshake comes from websocket-client's default.
        previous = websocket_client.getdefaulttimeout() if websocket_client else None
        try:
            if websocket_client:
                websocket_client.setdefaulttimeout(self.request_timeout)
            resp = self._stream(self.core.connect_get_namespaced_pod_exec, name, namespace, command=list(argv),
                                stdout=True, stderr=True, stdin=stdin is not None, tty=False,
                                _preload_content=False, _request_timeout=self.request_timeout, **kwargs)
            if stdin is not None:
                resp.write_stdin(stdin)
        except Exception as exc:  # the stream wraps whatever it meets in ApiException(status=0); see _failure
            raise _failure(doing, exc)
        finally:
            if websocket_client:
                websocket_client.setdefaulttimeout(previous)
        out, err = [], []
        deadline = clock() + timeout
        try:
            while resp.is_open():
                if clock() >= deadline:
                    raise PodApiError("%s did not finish within %ss" % (doing, timeout), transient=True)
                resp.update(timeout=1)
                if resp.peek_stdout():
                    out.append(resp.read_stdout())
                if resp.peek_stderr():
                    err.append(resp.read_stderr())
            rc = exit_code(resp.read_channel(ERROR_CHANNEL))
        except (Urllib3Error, WebSocketException, OSError) as exc:  # no answer; anything else is a bug
            raise PodApiError("%s lost its connection: %s: %s" % (doing, type(exc).__name__, exc), transient=True)
        finally:
            try:
                resp.close()
            except Exception:  # closing is best effort
                pass
        return rc, "".join(out), "".join(err)

    @staticmethod
    def retry_transient(call, deadline, clock=time.monotonic, sleep=time.sleep, interval=RETRY_INTERVAL):
        """``call()`` again after a transient PodApiError until ``deadline`` (a ``clock()`` value); then, or on
        any other error, the last error is raised with how long it was retried. For reads only (list_pods):
        a delete or an exec may have happened before its answer was lost."""
        tries = 0
        while True:
            tries += 1
            try:
                return call()
            except PodApiError as exc:
                if not exc.transient or clock() + interval >= deadline:
                    if tries > 1:
                        raise PodApiError("%s (after %d tries)" % (exc, tries), transient=exc.transient)
                    raise
            sleep(interval)


ERROR_CHANNEL = 3
_EXIT_STATUS = re.compile(r"exit (?:status|code)[: ]+(\d+)")


def exit_code(status_text):
    """Exit code of an exec from the status the API server sends on its error channel.

    A kubelet reports a non-zero exit as ``details.causes[{reason: ExitCode, message: "<n>"}]``; other
    runtimes (KWOK among them) only say ``... exit status <n>`` in the message, where the client library's
    own ``returncode`` fails with a KeyError. An empty channel means the stream ended without a status.
    """
    if not status_text:
        return None
    try:
        status = json.loads(status_text)
    except ValueError:
        status = {"status": "Failure", "message": status_text}
    if status.get("status") == "Success":
        return 0
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message"))
            except (TypeError, ValueError):
                break
    match = _EXIT_STATUS.search(status.get("message") or "")
    return int(match.group(1)) if match else 1


def _api_error(exc):
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    body = getattr(exc, "body", None)
    if status:
        text = "HTTP %s %s" % (status, reason or "")
        if body:
            text += ": %s" % (body if len(str(body)) < 400 else str(body)[:400] + "...")
        return text
    return str(exc)


def auth_params(params):
    """The kubernetes.core auth options out of a module's parameters."""
    return dict((key, params.get(key)) for key in AUTH_ARG_SPEC if params.get(key) is not None)


def make_pod_api(params):
    """A PodApi from the auth options (and their ``K8S_AUTH_*`` fallbacks), through kubernetes.core's
    ``get_api_client``. Raises PodApiError with the reason when no client can be made."""
    if not HAS_KUBERNETES:
        raise PodApiError("the Python library kubernetes is required on the host that runs the module "
                          "(pip install kubernetes)")
    try:
        k8s = get_api_client(**auth_params(params))
    except Exception as exc:  # CoreException, ConfigException, missing kubeconfig file, ...
        raise PodApiError("cannot create a Kubernetes API client: %s" % exc)
    return PodApi(k8s.client.client)
