#!/usr/bin/env python3
"""The test bed's kubelet for pods bound to KWOK fake nodes, and its volume provisioner.

    podrunner.py --kubeconfig K --state-dir S --pod-cidr 10.244.I.0/24 --lb-cidr 127.X.255.0/24

* StorageClass ``standard`` (default, provisioner testbed.kafka-eks/local, Immediate, Retain); every
  Pending PVC of that class gets a hostPath PV at S/volumes/<ns>/<pvc> bound to it through claimRef. With
  --zones: ``standard`` WaitForFirstConsumer and ``immediate``, zonal PVs (storage.py).
* Every pod whose node has annotation ``kwok.x-k8s.io/node: fake`` gets an address of the pod network (stable
  per pod uid) in a network namespace of its own on the bed's bridge (testbed_lib/podnet.py: its localhost is
  its own, its address a valid endpoint), and the real process its image runs in that namespace (images.py), with the pod's env, volumes mapped to host
  directories, probes run for real, restarts with back-off, graceful deletion, and a kwok ``Exec`` object so
  ``kubectl exec`` runs the podbin/ dispatchers with the pod's env.
* S/hosts/<namespace>: the names the pods' JVMs resolve (hosts.py).
* LoadBalancer Services get an address of --lb-cidr (loopback), NodePort and LoadBalancer Services their node
  ports on 127.0.0.1, each forwarded to the ready pods for real (loadbalancer.py).

Logs of each container: S/pods/<ns>/<pod>/<container>.log. State: S/podrunner/.
Run by the test bed with .cache/venv/bin/python (kubernetes==33.1.0). SIGTERM stops every process it started.
"""

import argparse
import datetime
import http.client
import ipaddress
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))  # tests/testbed: testbed_lib.podnet

import hosts  # noqa: E402
import images  # noqa: E402
import kubeenv  # noqa: E402
import loadbalancer  # noqa: E402
import procs  # noqa: E402
import storage  # noqa: E402
from testbed_lib import podnet  # noqa: E402

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

LOG = logging.getLogger("podrunner")
FAKE_NODE_ANNOTATION = "kwok.x-k8s.io/node"
PROVISIONER = storage.PROVISIONER
STORAGE_CLASS = storage.DEFAULT_CLASS
KWOK_GROUP, KWOK_VERSION = "kwok.x-k8s.io", "v1alpha1"
PODBIN = images.PODBIN
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MAX_BACKOFF = 300.0


def now_iso(t=None):
    t = time.time() if t is None else t
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(obj, kind, type_, reason, message, source):
    """A core/v1 Event about ``obj`` (a Pod or a Service), as a kubelet or a cloud controller writes one."""
    meta = obj["metadata"]
    t = now_iso()
    return {"metadata": {"generateName": meta["name"] + ".", "namespace": meta["namespace"]},
            "involvedObject": {"kind": kind, "namespace": meta["namespace"], "name": meta["name"],
                               "uid": meta["uid"], "apiVersion": "v1"},
            "reason": reason, "message": message[:1000], "type": type_, "source": source,
            "firstTimestamp": t, "lastTimestamp": t, "count": 1}


class Kube:
    """Thin access to the API: raw JSON lists (fast) and typed clients for writes."""

    def __init__(self, kubeconfig):
        cfg = client.Configuration()
        config.load_kube_config(config_file=kubeconfig, client_configuration=cfg)
        cfg.connection_pool_maxsize = 32
        self.api = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api)
        self.storage = client.StorageV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def get(self, path):
        resp = self.api.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False,
                                 _return_http_data_only=True, _request_timeout=30)
        return json.loads(resp.data)

    def items(self, path):
        return self.get(path).get("items", [])

    def get_or_none(self, path):
        try:
            return self.get(path)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise


# ----------------------------------------------------------------------------------------------------------
# Probes

def _probe_port(port, container):
    if isinstance(port, int) or str(port).isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError("port %r is not a port of the container" % port)


def run_probe(probe, container, pod_ip, exec_env, cwd):
    """(ok, message) of one probe attempt against the real process."""
    timeout = float(probe.get("timeoutSeconds") or 1)
    try:
        if "tcpSocket" in probe:
            spec = probe["tcpSocket"]
            port = _probe_port(spec["port"], container)
            host = spec.get("host") or pod_ip
            with socket.create_connection((host, port), timeout=timeout):
                return True, ""
        if "exec" in probe:
            # In the pod's network namespace: a probe's localhost is the pod's own.
            cmd = podnet.enter_argv(pod_ip, probe["exec"].get("command") or [])
            r = subprocess.run(cmd, env=exec_env, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=timeout)
            out = (r.stdout + r.stderr).decode(errors="replace").strip()
            return r.returncode == 0, out[-500:]
        if "httpGet" in probe:
            spec = probe["httpGet"]
            port = _probe_port(spec["port"], container)
            conn = http.client.HTTPConnection(spec.get("host") or pod_ip, port, timeout=timeout)
            headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
            conn.request("GET", spec.get("path", "/"), headers=headers)
            status = conn.getresponse().status
            conn.close()
            return 200 <= status < 400, "HTTP probe failed with statuscode: %d" % status
        return False, "testbed pod runner: unsupported probe %s" % sorted(probe)
    except subprocess.TimeoutExpired:
        return False, "command timed out after %ss" % timeout
    except (OSError, ValueError) as exc:
        return False, str(exc)


class ProbeState:
    def __init__(self, kind, probe, start):
        self.kind, self.probe = kind, probe
        self.period = float(probe.get("periodSeconds") or 10)
        self.failure_threshold = int(probe.get("failureThreshold") or 3)
        self.success_threshold = int(probe.get("successThreshold") or 1)
        self.next_at = start + float(probe.get("initialDelaySeconds") or 0)
        self.failures = 0
        self.successes = 0
        self.last_message = ""

    def due(self, t):
        return t >= self.next_at

    def record(self, ok, message, t):
        self.next_at = t + self.period
        self.last_message = message
        if ok:
            self.successes += 1
            self.failures = 0
        else:
            self.failures += 1
            self.successes = 0


# ----------------------------------------------------------------------------------------------------------
# One container of one pod

class ContainerRunner:
    def __init__(self, worker, spec, index):
        self.worker = worker
        self.spec = spec
        self.name = spec["name"]
        self.index = index
        self.launch = None
        self.unsupported = ""
        self.config_error = ""
        self.process = None
        self.exit_seen = False
        self.restart_count = 0
        self.backoff_until = 0.0
        self.backoff_delay = 0.0
        self.last_terminated = None  # dict for lastState.terminated
        self.ready = False
        self.started = False
        self.probes = {}
        self.exec_env = {}
        self.waiting_reason = "ContainerCreating"
        self.waiting_message = ""

    # -- state
    def running(self):
        return self.process is not None and self.process.alive()

    def status(self, image_id_prefix="testbed://"):
        spec = self.spec
        st = {"name": self.name, "image": spec.get("image", ""), "imageID": "",
              "ready": bool(self.ready and self.running()), "restartCount": self.restart_count,
              "started": bool(self.started and self.running())}
        if self.running():
            st["state"] = {"running": {"startedAt": now_iso(self.process.started_at)}}
            st["containerID"] = "%s%s/%d" % (image_id_prefix, self.worker.ip, self.process.pid)
            st["imageID"] = image_id_prefix + spec.get("image", "")
        elif self.process is not None and self.process.exit_code is not None and self.worker.finishing:
            st["state"] = {"terminated": self._terminated(self.process)}
        else:
            waiting = {"reason": self.waiting_reason}
            if self.waiting_message:
                waiting["message"] = self.waiting_message
            st["state"] = {"waiting": waiting}
        if self.last_terminated:
            st["lastState"] = {"terminated": self.last_terminated}
        return st

    def _terminated(self, p):
        t = {"exitCode": p.exit_status() if p.exit_status() is not None else 1,
             "reason": p.termination_reason(),
             "startedAt": now_iso(p.started_at), "finishedAt": now_iso(p.finished_at or time.time())}
        if p.launch.error:
            t["message"] = p.launch.error[-1000:]
        return t

    # -- lifecycle
    def prepare(self):
        """Work out env, volumes and the Launch. False while it cannot start yet."""
        w = self.worker
        try:
            env = kubeenv.container_env(w.pod, self.spec, w.ip, w.host_ip, w.ctrl.services,
                                        w.ctrl.get_configmap, w.ctrl.get_secret)
        except kubeenv.ConfigError as exc:
            self.waiting_reason, self.waiting_message = "CreateContainerConfigError", str(exc)
            return False
        spec = kubeenv.expand_command(self.spec, env)
        try:
            mounts = w.mounts_for(self.spec)
        except kubeenv.ConfigError as exc:
            self.waiting_reason, self.waiting_message = "ContainerCreating", str(exc)
            return False
        limits = (self.spec.get("resources") or {}).get("limits") or {}
        sandbox = images.Sandbox(
            pod_ip=w.ip, state_dir=w.ctrl.state_dir, namespace=w.namespace, pod_name=w.name,
            hostname=w.hostname, subdomain=w.pod["spec"].get("subdomain", ""), mounts=mounts,
            container=self.name, java_dir=w.ctrl.java_dir, java=w.ctrl.java,
            memory_limit_bytes=kubeenv.quantity_bytes(limits.get("memory")))
        try:
            self.launch = images.plan_container(w.pod, spec, env, sandbox)
        except images.UnsupportedImage as exc:
            self.unsupported = str(exc)
            self.waiting_reason, self.waiting_message = "ErrImagePull", str(exc)
            return False
        self.sandbox = sandbox
        self.exec_env = w.exec_env_for(self, env)
        # The container's process lives in the pod's network namespace (nsenter execs it: the pid is its own).
        self.launch.argv = podnet.enter_argv(w.ip, self.launch.argv)
        return True

    def start(self):
        w = self.worker
        self.exit_seen = False
        self.process = procs.Process(self.launch, self.sandbox.log_file,
                                     os.path.join(w.pod_dir, self.name + ".pid")).start()
        t = time.time()
        self.ready = False
        self.started = False
        self.probes = {}
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            if self.spec.get(kind):
                self.probes[kind] = ProbeState(kind, self.spec[kind], t)
        if "startupProbe" not in self.probes:
            self.started = True
        if self.process.exit_code is None:
            LOG.info("%s/%s: started %s pid %s on %s", w.namespace, w.name, self.name, self.process.pid, w.ip)
            w.event("Normal", "Started", "Started container %s (pid %d): %s" % (
                self.name, self.process.pid, self.launch.description))

    def _after_exit(self, reason_event):
        """The process ended (by itself or killed for a failed probe): remember it, plan the restart."""
        p = self.process
        self.exit_seen = True
        self.last_terminated = self._terminated(p)
        self.ready = False
        self.started = False
        run_for = (p.finished_at or time.time()) - p.started_at
        if run_for > 2 * MAX_BACKOFF:
            self.backoff_delay = 0.0
        self.backoff_delay = 10.0 if self.backoff_delay == 0 else min(MAX_BACKOFF, self.backoff_delay * 2)
        # The first restart is immediate; later ones wait 10 s, 20 s, ... up to 5 min (the kubelet's back-off).
        delay = 0.0 if self.restart_count == 0 else self.backoff_delay
        self.backoff_until = time.time() + delay
        self.waiting_reason = "CrashLoopBackOff"
        self.waiting_message = "back-off %ds restarting failed container=%s pod=%s_%s(%s)" % (
            delay, self.name, self.worker.name, self.worker.namespace, self.worker.uid)
        LOG.info("%s/%s: container %s exited %s (%s); restart in %.0fs", self.worker.namespace, self.worker.name,
                 self.name, p.exit_status(), reason_event, delay)
        if p.exit_status():
            # The pod's directory (and this log) goes with the pod: keep the end of it where it stays.
            LOG.info("%s/%s: last lines of container %s's log:\n%s", self.worker.namespace, self.worker.name,
                     self.name, log_tail(self.sandbox.log_file))

    def step(self, t):
        """Advance this container; True when its status changed."""
        w = self.worker
        if self.process is None:
            # First start: wait for what it needs (config, volumes); an image without a runner stays Waiting.
            before = (self.waiting_reason, self.waiting_message)
            if self.unsupported or not self.prepare():
                return before != (self.waiting_reason, self.waiting_message)
            self.start()
            return True
        if not self.exit_seen and not self.running():
            self._after_exit("exited")
            return True
        if not self.running():
            if t < self.backoff_until:
                return False
            # Restart: the container is created anew (env and config read again).
            before = (self.waiting_reason, self.waiting_message)
            if not self.prepare():
                return before != (self.waiting_reason, self.waiting_message)
            self.restart_count += 1
            self.start()
            return True
        changed = False
        # Probes, as the kubelet runs them: startup first, then liveness and readiness.
        sp = self.probes.get("startupProbe")
        if sp and not self.started and sp.due(t):
            ok, msg = run_probe(sp.probe, self.spec, w.ip, self.exec_env, w.pod_dir)
            sp.record(ok, msg, time.time())
            if ok:
                self.started = True
                changed = True
                t0 = time.time()
                for k in ("readinessProbe", "livenessProbe"):
                    if k in self.probes:
                        self.probes[k].next_at = max(self.probes[k].next_at, t0)
            elif sp.failures >= sp.failure_threshold:
                self._kill_for_probe("Startup", sp)
                return True
        if not self.started:
            return changed
        lp = self.probes.get("livenessProbe")
        if lp and lp.due(t):
            ok, msg = run_probe(lp.probe, self.spec, w.ip, self.exec_env, w.pod_dir)
            lp.record(ok, msg, time.time())
            if not ok:
                w.event("Warning", "Unhealthy", "Liveness probe failed: %s" % msg)
            if lp.failures >= lp.failure_threshold:
                self._kill_for_probe("Liveness", lp)
                return True
        rp = self.probes.get("readinessProbe")
        if rp is None:
            if not self.ready:
                self.ready = True
                changed = True
        elif rp.due(t):
            ok, msg = run_probe(rp.probe, self.spec, w.ip, self.exec_env, w.pod_dir)
            rp.record(ok, msg, time.time())
            if ok and not self.ready and rp.successes >= rp.success_threshold:
                self.ready = True
                changed = True
            elif not ok and self.ready and rp.failures >= rp.failure_threshold:
                self.ready = False
                changed = True
            if not ok and rp.failures in (1, rp.failure_threshold):
                w.event("Warning", "Unhealthy", "Readiness probe failed: %s" % msg)
        return changed

    def _kill_for_probe(self, what, state):
        w = self.worker
        grace = state.probe.get("terminationGracePeriodSeconds")
        if grace is None:
            grace = w.pod["spec"].get("terminationGracePeriodSeconds", 30)
        msg = "Container %s failed %s probe, will be restarted" % (self.name, what.lower())
        LOG.info("%s/%s: %s (%s)", w.namespace, w.name, msg, state.last_message)
        w.event("Normal", "Killing", msg)
        with open(self.sandbox.log_file, "a") as f:
            f.write("\n==== testbed podrunner: %s probe failed %d times (%s): stopping the process\n"
                    % (what, state.failures, state.last_message))
        self.process.stop(grace)
        self._after_exit("%s probe" % what.lower())

    def stop(self, grace):
        if self.process is not None and self.process.popen is not None:
            self.process.stop(grace)


# ----------------------------------------------------------------------------------------------------------
# One pod

class PodWorker(threading.Thread):
    def __init__(self, ctrl, pod, ip):
        super().__init__(name="pod-%s/%s" % (pod["metadata"]["namespace"], pod["metadata"]["name"]), daemon=True)
        self.ctrl = ctrl
        self.pod = pod
        self.uid = pod["metadata"]["uid"]
        self.name = pod["metadata"]["name"]
        self.namespace = pod["metadata"]["namespace"]
        self.hostname = pod["spec"].get("hostname") or self.name
        self.ip = ip
        self.host_ip = ctrl.node_ips.get(pod["spec"]["nodeName"], "127.0.0.1")
        self.pod_dir = os.path.join(ctrl.state_dir, "pods", self.namespace, self.name)
        self.lock = threading.Lock()
        self.gone = False
        self.finishing = False
        self.done = False
        self.shutdown = False  # the pod runner itself stops
        self.start_time = pod.get("status", {}).get("startTime") or now_iso()
        previous = {s["name"]: s for s in pod.get("status", {}).get("containerStatuses") or []}
        self.containers = []
        for i, c in enumerate(pod["spec"].get("containers", [])):
            r = ContainerRunner(self, c, i)
            if c["name"] in previous:
                # The pod runner was restarted: the processes it had are gone, so this start is a restart.
                prev = previous[c["name"]]
                state = prev.get("state") or {}
                r.restart_count = prev.get("restartCount", 0) + (1 if ("running" in state or "terminated" in state) else 0)
                r.last_terminated = state.get("terminated") or (prev.get("lastState") or {}).get("terminated")
            self.containers.append(r)
        self.init_unsupported = [c.get("image", "") for c in pod["spec"].get("initContainers") or []]
        self.last_status = None

    # -- called by the controller thread
    def update(self, pod):
        with self.lock:
            self.pod = pod

    def mark_gone(self):
        with self.lock:
            self.gone = True

    @property
    def ready(self):
        return bool(self.containers) and all(c.ready and c.running() for c in self.containers)

    @property
    def deleting(self):
        return bool(self.pod["metadata"].get("deletionTimestamp"))

    # -- helpers for the containers
    def mounts_for(self, container):
        volumes = {v["name"]: v for v in self.pod["spec"].get("volumes") or []}
        mounts = {}
        for m in container.get("volumeMounts") or []:
            vol = volumes.get(m["name"])
            if vol is None:
                raise kubeenv.ConfigError("volume %s is not defined" % m["name"])
            host = self.ctrl.volume_dir(self, vol)
            if m.get("subPath"):
                host = os.path.join(host, m["subPath"])
            os.makedirs(host, exist_ok=True)
            mounts[m["mountPath"]] = host
        return mounts

    def exec_env_for(self, runner, env):
        e = {"PATH": PODBIN + ":" + DEFAULT_PATH}
        e.update({k: v for k, v in env.items() if k != "PATH"})
        e.update({"TESTBED_POD_IP": self.ip, "TESTBED_POD_NAME": self.name, "TESTBED_POD_NAMESPACE": self.namespace,
                  "TESTBED_STATE_DIR": self.ctrl.state_dir, "TESTBED_CONTAINER": runner.name,
                  "HOSTNAME": self.hostname})
        if runner.launch is not None:
            e.update(runner.launch.exec_env)
        if os.environ.get("JAVA_HOME"):
            e.setdefault("JAVA_HOME", os.environ["JAVA_HOME"])
        return e

    def event(self, type_, reason, message):
        self.ctrl.event(self.pod, type_, reason, message)

    # -- status
    def status(self):
        cs = [c.status() for c in self.containers]
        all_ready = all(s["ready"] for s in cs) and bool(cs)
        t = now_iso()
        any_started = any(c.process is not None for c in self.containers)
        phase = "Running" if any_started else "Pending"

        def cond(type_, ok, reason=None):
            c = {"type": type_, "status": "True" if ok else "False", "lastProbeTime": None}
            if reason and not ok:
                c["reason"] = reason
            return c
        st = {
            "phase": phase,
            "podIP": self.ip, "podIPs": [{"ip": self.ip}],
            "hostIP": self.host_ip, "hostIPs": [{"ip": self.host_ip}],
            "startTime": self.start_time,
            "containerStatuses": cs,
            "conditions": [cond("PodReadyToStartContainers", True), cond("Initialized", True),
                           cond("ContainersReady", all_ready, "ContainersNotReady"),
                           cond("Ready", all_ready, "ContainersNotReady")],
        }
        return st

    def publish(self, force=False):
        st = self.status()
        key = json.dumps(st, sort_keys=True)
        if not force and key == self.last_status:
            return
        t = now_iso()
        old = {c["type"]: c for c in self.pod.get("status", {}).get("conditions") or []}
        for c in st["conditions"]:
            prev = old.get(c["type"])
            c["lastTransitionTime"] = prev.get("lastTransitionTime", t) if prev and prev.get("status") == c["status"] else t
        try:
            self.ctrl.kube.core.patch_namespaced_pod_status(self.name, self.namespace, {"status": st})
            self.last_status = key
        except ApiException as exc:
            if exc.status == 404:
                self.gone = True
            else:
                LOG.warning("%s/%s: status update failed: %s", self.namespace, self.name, exc.reason)

    # -- thread
    def run(self):
        try:
            self._run()
        except Exception:  # noqa: BLE001 -- a broken pod must not take the runner down
            LOG.exception("%s/%s: pod worker failed", self.namespace, self.name)
            self._stop_all(5)
        finally:
            self.done = True

    def _run(self):
        os.makedirs(self.pod_dir, exist_ok=True)
        try:
            podnet.attach(self.ctrl.pod_net, self.ip)
        except (podnet.NetError, ValueError) as exc:
            # The kubelet's FailedCreatePodSandBox: nothing starts; the pod is tried again as a new worker.
            LOG.warning("%s/%s: no pod network: %s", self.namespace, self.name, exc)
            self.event("Warning", "FailedCreatePodSandBox", "Failed to create pod sandbox: %s" % exc)
            for c in self.containers:
                c.unsupported = "no pod network: %s" % exc
                c.waiting_reason, c.waiting_message = "ContainerCreating", c.unsupported
        if self.init_unsupported:
            msg = "testbed has no runner for init containers (images %s)" % ", ".join(self.init_unsupported)
            for c in self.containers:
                c.unsupported = msg
                c.waiting_reason, c.waiting_message = "PodInitializing", msg
        self.publish(force=True)
        exec_made, exec_next = False, 0.0
        while True:
            with self.lock:
                gone, deleting = self.gone, self.deleting
            if self.shutdown:
                return
            if gone or deleting:
                self._terminate(gone)
                return
            changed = False
            t = time.time()
            for c in self.containers:
                changed |= c.step(t)
            if not exec_made and t >= exec_next and any(c.launch is not None for c in self.containers):
                exec_made = self.ctrl.ensure_exec(self)
                exec_next = t + 10
            if changed:
                self.ctrl.wake()
            self.publish()
            time.sleep(0.3)

    def grace_seconds(self):
        meta = self.pod["metadata"]
        g = meta.get("deletionGracePeriodSeconds")
        if g is None:
            g = self.pod["spec"].get("terminationGracePeriodSeconds", 30)
        return max(0, int(g))

    def _stop_all(self, grace):
        threads = [threading.Thread(target=c.stop, args=(grace,)) for c in self.containers]
        for th in threads:
            th.start()
        for th in threads:
            th.join()

    def _terminate(self, gone):
        grace = self.grace_seconds()
        LOG.info("%s/%s: %s, stopping its processes (grace %ds)", self.namespace, self.name,
                 "pod object gone" if gone else "deleting", grace)
        if any(c.running() for c in self.containers):
            self.event("Normal", "Killing", "Stopping containers (grace period %ds)" % grace)
        self._stop_all(grace)
        for c in self.containers:
            c.ready = False
        self.finishing = True
        self._remove_network()
        self.ctrl.wake()
        self.ctrl.delete_exec(self.namespace, self.name, self.uid)
        if not gone:
            self.publish(force=True)
            try:
                self.ctrl.kube.core.delete_namespaced_pod(
                    self.name, self.namespace,
                    body=client.V1DeleteOptions(grace_period_seconds=0, preconditions=client.V1Preconditions(uid=self.uid)))
            except ApiException as exc:
                if exc.status not in (404, 409):
                    LOG.warning("%s/%s: final delete failed: %s", self.namespace, self.name, exc.reason)
        LOG.info("%s/%s: stopped and removed", self.namespace, self.name)

    def _remove_network(self):
        """The pod's network namespace goes with its processes (a process still inside is ended first)."""
        try:
            left = podnet.detach(self.ip)
            if left:
                LOG.warning("%s/%s: processes still in its network namespace were ended: %s", self.namespace,
                            self.name, left)
        except (podnet.NetError, ValueError, OSError) as exc:
            LOG.warning("%s/%s: removing its network namespace failed: %s", self.namespace, self.name, exc)

    def stop_for_shutdown(self, grace):
        self.shutdown = True
        self._stop_all(grace)
        for c in self.containers:
            c.ready = False
        self.finishing = True
        self._remove_network()
        try:
            st = self.status()
            for s in st["containerStatuses"]:
                if "terminated" in s["state"]:
                    s["state"]["terminated"]["reason"] = "TestbedPodRunnerStopped"
            self.ctrl.kube.core.patch_namespaced_pod_status(self.name, self.namespace, {"status": st},
                                                            _request_timeout=5)
        except Exception:  # noqa: BLE001 -- best effort on the way out
            pass


# ----------------------------------------------------------------------------------------------------------
# The controller

class IPAllocator:
    """Pod addresses from the pod network (.10 up; .1 is the bridge's), stable per pod uid, handed out
    round-robin (a freed address is reused last). Persisted in S/podrunner/ips.json."""

    def __init__(self, cidr, path):
        self.net = ipaddress.ip_network(cidr, strict=False)
        if not self.net.subnet_of(podnet.POD_NETWORKS):
            raise SystemExit("--pod-cidr must be inside %s (got %s)" % (podnet.POD_NETWORKS, cidr))
        self.path = path
        self.by_uid = {}
        # .10 up to the last before the broadcast address (.1 is the bridge's: podnet.gateway)
        self.first, self.last = int(self.net.network_address) + 10, int(self.net.broadcast_address) - 1
        self.cursor = self.first
        if os.path.exists(path):
            with open(path) as f:
                data = json.load(f)
            self.by_uid = data.get("by_uid", {})
            self.cursor = data.get("cursor", self.cursor)

    def _save(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path + ".tmp", "w") as f:
            json.dump({"by_uid": self.by_uid, "cursor": self.cursor}, f)
        os.replace(self.path + ".tmp", self.path)

    def get(self, uid, hint=None):
        if uid in self.by_uid:
            return self.by_uid[uid]
        used = set(self.by_uid.values())
        if hint and hint not in used and self.first <= int(ipaddress.ip_address(hint)) <= self.last:
            ip = hint
        else:
            span = self.last - self.first + 1
            for i in range(span):
                cand = self.first + (self.cursor - self.first + i) % span
                if str(ipaddress.ip_address(cand)) not in used:
                    ip = str(ipaddress.ip_address(cand))
                    self.cursor = cand + 1
                    break
            else:
                raise RuntimeError("pod CIDR %s is exhausted" % self.net)
        self.by_uid[uid] = ip
        self._save()
        return ip

    def release(self, uid):
        if self.by_uid.pop(uid, None) is not None:
            self._save()


def log_tail(path, lines=15):
    """The last lines of a log file, indented (a message when there is none)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 8192))
            text = handle.read().decode("utf-8", "replace")
    except OSError as exc:
        return "    (no log: %s)" % exc
    return "\n".join("    " + line for line in text.splitlines()[-lines:]) or "    (empty)"


class Controller:
    def __init__(self, args):
        self.kube = Kube(args.kubeconfig)
        self.state_dir = os.path.abspath(args.state_dir)
        self.java_dir = os.path.abspath(args.java_dir)
        self.java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else (
            shutil.which("java") or "java")
        self.interval = args.interval
        self.storage_class = args.storage_class
        self.zones = [z for z in (args.zones or "").split(",") if z]
        self.zone_picker = storage.ZonePicker(self.zones) if self.zones else None
        self.ips = IPAllocator(args.pod_cidr, os.path.join(self.state_dir, "podrunner", "ips.json"))
        self.pod_net = args.pod_cidr
        # A pod runner that died left its pods' namespaces (and maybe processes in them): a clean start.
        removed, ended = podnet.remove_all(self.pod_net)
        if removed:
            LOG.info("removed %d network namespaces left by an earlier pod runner%s", len(removed),
                     " (ended processes still inside: %s)" % ended if ended else "")
        podnet.ensure_bridge(self.pod_net)
        self.lb = loadbalancer.Manager(args.lb_cidr, self.state_dir, self._patch_service_status, self._service_event)
        self.workers = {}
        self.services = []
        self.node_ips = {}
        self.pvcs = {}
        self.pvs = {}
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._exec_warned = 0.0
        self._sc_checked = 0.0
        self._events_lock = threading.Lock()

    def wake(self):
        self._wake.set()

    def _patch_service_status(self, ns, name, body):
        self.kube.core.patch_namespaced_service_status(name, ns, body, _request_timeout=10)

    def _service_event(self, svc, type_, reason, message):
        body = event_body(svc, "Service", type_, reason, message, {"component": "testbed-loadbalancer"})
        try:
            self.kube.core.create_namespaced_event(svc["metadata"]["namespace"], body, _request_timeout=5)
        except Exception:  # noqa: BLE001 -- events are best effort
            pass

    # -- lookups used by workers
    def get_configmap(self, ns, name):
        return self.kube.get_or_none("/api/v1/namespaces/%s/configmaps/%s" % (ns, name))

    def get_secret(self, ns, name):
        return self.kube.get_or_none("/api/v1/namespaces/%s/secrets/%s" % (ns, name))

    def volume_dir(self, worker, vol):
        if "persistentVolumeClaim" in vol:
            claim = vol["persistentVolumeClaim"]["claimName"]
            pvc = self.kube.get_or_none("/api/v1/namespaces/%s/persistentvolumeclaims/%s" % (worker.namespace, claim))
            if pvc is None:
                raise kubeenv.ConfigError('persistentvolumeclaim "%s" not found' % claim)
            pv_name = pvc["spec"].get("volumeName")
            if not pv_name or pvc.get("status", {}).get("phase") != "Bound":
                raise kubeenv.ConfigError('persistentvolumeclaim "%s" is not bound yet' % claim)
            pv = self.kube.get_or_none("/api/v1/persistentvolumes/%s" % pv_name)
            path = ((pv or {}).get("spec", {}).get("hostPath") or {}).get("path")
            if not path:
                raise kubeenv.ConfigError("volume %s: the test bed mounts only hostPath PVs" % pv_name)
            return path
        if "hostPath" in vol:
            # Never the real host path: a directory of the test bed stands in for it.
            return os.path.join(self.state_dir, "hostpath", vol["hostPath"]["path"].lstrip("/"))
        if "configMap" in vol or "secret" in vol:
            d = os.path.join(worker.pod_dir, "volumes", vol["name"])
            os.makedirs(d, exist_ok=True)
            if "configMap" in vol:
                source, name = vol["configMap"], vol["configMap"]["name"]
                obj = self.get_configmap(worker.namespace, name)
                data = (obj or {}).get("data") or {}
            else:
                import base64
                source, name = vol["secret"], vol["secret"]["secretName"]
                obj = self.get_secret(worker.namespace, name)
                data = {k: base64.b64decode(v).decode(errors="replace") for k, v in ((obj or {}).get("data") or {}).items()}
            if obj is None and not source.get("optional"):
                # The kubelet's FailedMount: the container is not created until the object exists.
                raise kubeenv.ConfigError('%s "%s" not found' % ("configmap" if "configMap" in vol else "secret", name))
            for k, v in data.items():
                with open(os.path.join(d, k), "w") as f:
                    f.write(v)
            return d
        # emptyDir, projected (service account token), downwardAPI, ...: an empty directory of the pod.
        return os.path.join(worker.pod_dir, "volumes", vol["name"])

    # -- kwok Exec objects
    def ensure_exec(self, worker):
        execs = []
        for c in worker.containers:
            env = c.exec_env or worker.exec_env_for(c, {})
            execs.append({"containers": [c.name], "local": {
                "workDir": worker.pod_dir, "envs": [{"name": k, "value": v} for k, v in sorted(env.items())]}})
        body = {"apiVersion": "%s/%s" % (KWOK_GROUP, KWOK_VERSION), "kind": "Exec",
                "metadata": {"name": worker.name, "namespace": worker.namespace,
                             "labels": {"testbed.kafka-eks/pod-uid": worker.uid},
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": worker.name,
                                                  "uid": worker.uid}]},
                "spec": {"execs": execs}}
        try:
            try:
                self.kube.custom.create_namespaced_custom_object(KWOK_GROUP, KWOK_VERSION, worker.namespace, "execs", body)
            except ApiException as exc:
                if exc.status != 409:
                    raise
                old = self.kube.custom.get_namespaced_custom_object(KWOK_GROUP, KWOK_VERSION, worker.namespace,
                                                                     "execs", worker.name)
                body["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                self.kube.custom.replace_namespaced_custom_object(KWOK_GROUP, KWOK_VERSION, worker.namespace,
                                                                  "execs", worker.name, body)
            return True
        except ApiException as exc:
            if time.time() - self._exec_warned > 60:
                self._exec_warned = time.time()
                LOG.warning("cannot create kwok Exec %s/%s (%s %s): kubectl exec into test bed pods will not work "
                            "until the Exec CRD is installed", worker.namespace, worker.name, exc.status, exc.reason)
            return False

    def delete_exec(self, ns, name, uid):
        try:
            old = self.kube.custom.get_namespaced_custom_object(KWOK_GROUP, KWOK_VERSION, ns, "execs", name)
            if old["metadata"].get("labels", {}).get("testbed.kafka-eks/pod-uid") not in (None, uid):
                return  # already taken over by the pod's successor of the same name
            self.kube.custom.delete_namespaced_custom_object(KWOK_GROUP, KWOK_VERSION, ns, "execs", name)
        except ApiException:
            pass

    def event(self, pod, type_, reason, message):
        body = event_body(pod, "Pod", type_, reason, message,
                          {"component": "testbed-podrunner", "host": pod["spec"].get("nodeName", "")})
        try:
            self.kube.core.create_namespaced_event(pod["metadata"]["namespace"], body, _request_timeout=5)
        except Exception:  # noqa: BLE001 -- events are best effort
            pass

    # -- volumes (decisions in storage.py)
    def ensure_storage_class(self):
        if time.time() - self._sc_checked < 30:
            return
        self._sc_checked = time.time()
        for name, want in storage.storage_classes(self.zones, self.storage_class).items():
            have = self.kube.get_or_none("/apis/storage.k8s.io/v1/storageclasses/%s" % name)
            action = storage.class_action(want, have)
            try:
                if action == "replace":
                    # volumeBindingMode is immutable: a bed brought up again with(out) zones gets the other mode.
                    self.kube.storage.delete_storage_class(name)
                    LOG.info("StorageClass %s was %s: replaced", name, have.get("volumeBindingMode"))
                if action in ("create", "replace"):
                    self.kube.storage.create_storage_class(want)
                    LOG.info("created StorageClass %s (%s, %s%s)", name, storage.PROVISIONER,
                             want["volumeBindingMode"], ", default" if want["metadata"].get("annotations") else "")
                elif action == "foreign":
                    LOG.warning("StorageClass %s exists with provisioner %s: not ours, its claims are not provisioned",
                                name, have.get("provisioner"))
            except ApiException as exc:
                if exc.status != 409:
                    LOG.warning("cannot create StorageClass %s: %s", name, exc.reason)

    def provision(self, pvcs, pvs, classes=None, nodes=None):
        pv_names = {pv["metadata"]["name"] for pv in pvs}
        classes = {c["metadata"]["name"]: c for c in classes or []}
        nodes = {n["metadata"]["name"]: n for n in nodes or []}
        for pvc in pvcs:
            meta = pvc["metadata"]
            name = "pvc-" + meta["uid"]
            if name in pv_names:
                continue
            the_plan = storage.plan(pvc, classes, nodes, self.zones, self.zone_picker, self.storage_class)
            if the_plan is None:
                continue
            path = os.path.join(self.state_dir, "volumes", meta["namespace"], meta["name"])
            marker = os.path.join(path, ".testbed-pvc-uid")
            if os.path.exists(path):
                owner = open(marker).read().strip() if os.path.exists(marker) else ""
                if owner != meta["uid"]:
                    # A claim of the same name existed before: keep its data aside, give this one a new volume.
                    aside = os.path.join(self.state_dir, "volumes", meta["namespace"], ".released",
                                         "%s-%s" % (meta["name"], owner or int(time.time())))
                    os.makedirs(os.path.dirname(aside), exist_ok=True)
                    os.rename(path, aside)
            os.makedirs(path, exist_ok=True)
            with open(marker, "w") as f:
                f.write(meta["uid"] + "\n")
            body = storage.pv_body(pvc, path, the_plan)
            try:
                self.kube.core.create_persistent_volume(body)
                LOG.info("provisioned %s for PVC %s/%s at %s%s", name, meta["namespace"], meta["name"], path,
                         " in zone %s%s" % (the_plan.zone, " (node %s)" % the_plan.node if the_plan.node else
                                            " (round-robin)") if the_plan.zone else "")
            except ApiException as exc:
                if exc.status != 409:
                    LOG.warning("cannot create PV for %s/%s: %s", meta["namespace"], meta["name"], exc.reason)

    # -- main loop
    def step(self):
        nodes = self.kube.items("/api/v1/nodes")
        fake = set()
        for n in nodes:
            if (n["metadata"].get("annotations") or {}).get(FAKE_NODE_ANNOTATION) == "fake":
                fake.add(n["metadata"]["name"])
                for a in n.get("status", {}).get("addresses") or []:
                    if a.get("type") == "InternalIP":
                        self.node_ips[n["metadata"]["name"]] = a["address"]
        pods = self.kube.items("/api/v1/pods")
        self.services = self.kube.items("/api/v1/services")
        self.ensure_storage_class()
        self.provision(self.kube.items("/api/v1/persistentvolumeclaims"), self.kube.items("/api/v1/persistentvolumes"),
                       self.kube.items("/apis/storage.k8s.io/v1/storageclasses") if self.zones else None, nodes)

        ours = {}
        for p in pods:
            if p["spec"].get("nodeName") in fake:
                ours[p["metadata"]["uid"]] = p
        new_workers = []
        for uid, p in ours.items():
            w = self.workers.get(uid)
            if w is not None:
                w.update(p)
                continue
            if p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            if p["metadata"].get("deletionTimestamp"):
                # Deleted before anything ran here (or left by an earlier pod runner): nothing to stop.
                self._final_delete(p)
                continue
            ip = self.ips.get(uid, p.get("status", {}).get("podIP"))
            w = PodWorker(self, p, ip)
            self.workers[uid] = w
            new_workers.append(w)
        for uid, w in list(self.workers.items()):
            if uid not in ours:
                w.mark_gone()
            if w.done:
                del self.workers[uid]
                self.ips.release(uid)
        endpoints = self.write_hosts(pods, ours)
        self.lb.reconcile(self.services, endpoints, sorted({self.node_ips[n] for n in fake if n in self.node_ips}))
        for w in new_workers:
            LOG.info("%s/%s: new pod on %s, ip %s", w.namespace, w.name, w.pod["spec"]["nodeName"], w.ip)
            w.start()
        self.write_state()

    def _final_delete(self, p):
        meta = p["metadata"]
        try:
            self.kube.core.delete_namespaced_pod(
                meta["name"], meta["namespace"],
                body=client.V1DeleteOptions(grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta["uid"])))
        except ApiException:
            pass

    def write_hosts(self, pods, ours):
        entries = []
        for p in pods:
            uid = p["metadata"]["uid"]
            w = self.workers.get(uid)
            if w is not None:
                if w.finishing:
                    continue
                ip, ready = w.ip, w.ready
            elif uid in ours:
                continue
            else:
                ip = p.get("status", {}).get("podIP")
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in p.get("status", {}).get("conditions") or [])
            if not ip:
                continue
            entries.append({"namespace": p["metadata"]["namespace"], "labels": p["metadata"].get("labels") or {},
                            "ip": ip, "ready": ready, "terminating": bool(p["metadata"].get("deletionTimestamp")),
                            "hostname": p["spec"].get("hostname") or "", "subdomain": p["spec"].get("subdomain") or "",
                            "containers": p["spec"].get("containers") or [], "phase": p.get("status", {}).get("phase")})
        namespaces = {p["metadata"]["namespace"] for p in pods} | {s["metadata"]["namespace"] for s in self.services}
        for ns in namespaces:
            text = hosts.render(hosts.hosts_entries(ns, self.services, entries))
            hosts.write_if_changed(os.path.join(self.state_dir, "hosts", ns), text)
        return entries

    def write_state(self):
        state = {}
        for uid, w in self.workers.items():
            state["%s/%s" % (w.namespace, w.name)] = {
                "uid": uid, "ip": w.ip, "ready": w.ready,
                "containers": {c.name: {"pid": c.process.pid if c.process and c.running() else None,
                                        "restartCount": c.restart_count, "log": os.path.join(w.pod_dir, c.name + ".log")}
                               for c in w.containers}}
        hosts.write_if_changed(os.path.join(self.state_dir, "podrunner", "pods.json"),
                               json.dumps(state, indent=1, sort_keys=True) + "\n")

    def run(self):
        os.makedirs(os.path.join(self.state_dir, "podrunner"), exist_ok=True)
        LOG.info("pod runner up: state %s, java %s, jars %s", self.state_dir, self.java, self.java_dir)
        heartbeat = os.path.join(self.state_dir, "podrunner", "heartbeat")
        while not self.stopping.is_set():
            try:
                self.step()
                with open(heartbeat, "w") as f:
                    f.write(now_iso() + "\n")
            except Exception as exc:  # noqa: BLE001 -- the API may come and go; keep trying
                LOG.warning("reconcile failed: %s", exc)
                LOG.debug("reconcile failed", exc_info=True)
            self._wake.wait(self.interval)
            self._wake.clear()
        self.shutdown()

    def shutdown(self, grace=20):
        workers = list(self.workers.values())
        LOG.info("stopping: %d pods' processes", len(workers))
        threads = []
        for w in workers:
            g = min(grace, w.grace_seconds())
            th = threading.Thread(target=w.stop_for_shutdown, args=(g,))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        self.lb.close()
        LOG.info("stopped")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", required=True)
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--pod-cidr", required=True, help="the pod network, inside 10.244.0.0/16, e.g. 10.244.7.0/24 "
                    "(one network namespace per pod on a bridge: testbed_lib/podnet.py)")
    ap.add_argument("--lb-cidr", required=True, help="LoadBalancer addresses, inside 127.0.0.0/8, e.g. 127.27.255.0/24")
    ap.add_argument("--java-dir", default=images.DEFAULT_JAVA_DIR, help="where tests/testbed/java/fetch.sh put the jars")
    ap.add_argument("--storage-class", default=STORAGE_CLASS)
    ap.add_argument("--zones", default="", help="the bed's zones (testbed.py up --zones): the default class waits for "
                    "its first consumer, an Immediate class 'immediate', zonal PVs (storage.py)")
    ap.add_argument("--interval", type=float, default=1.0, help="seconds between reconciles")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(threadName)s %(message)s")
    for runtime in images.all_runtimes():
        if not os.path.isdir(runtime.lib_dir(args.java_dir)):
            LOG.warning("%s jars missing under %s: run tests/testbed/java/fetch.sh", runtime.name, args.java_dir)
    pid_file = os.path.join(os.path.abspath(args.state_dir), "podrunner", "podrunner.pid")
    os.makedirs(os.path.dirname(pid_file), exist_ok=True)
    other = running_pid(pid_file)
    if other:
        LOG.error("another pod runner (pid %d) serves %s: two kubelets for one bed would fight", other, args.state_dir)
        return 1
    with open(pid_file, "w") as f:
        f.write("%d\n" % os.getpid())
    try:
        ctrl = Controller(args)
    except (podnet.NetError, OSError) as exc:
        # Network namespaces, veths and the bridge need root (CAP_NET_ADMIN) and iproute2.
        LOG.error("cannot set up the pod network %s: %s (the test bed runs as root, with iproute2's ip "
                  "and util-linux's nsenter)", args.pod_cidr, exc)
        os.unlink(pid_file)
        return 1

    def on_signal(signum, _frame):
        LOG.info("signal %d: shutting down", signum)
        ctrl.stopping.set()
        ctrl.wake()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        ctrl.run()
    finally:
        if running_pid(pid_file) == os.getpid():
            os.unlink(pid_file)
    return 0


def running_pid(pid_file):
    """The pid in pid_file if that process is alive and is a pod runner, else None."""
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return None
    return pid if b"podrunner.py" in cmdline else None


if __name__ == "__main__":
    sys.exit(main())
