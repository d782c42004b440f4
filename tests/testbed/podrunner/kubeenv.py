"""What the kubelet computes from a pod spec before it starts a container: environment, volume paths,
resource quantities. Pure functions over API-form dicts; lookups of ConfigMaps/Secrets/PVCs go through the
callables the caller passes."""

import base64
import re


class ConfigError(Exception):
    """The container cannot be configured yet (CreateContainerConfigError)."""


_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_SUFFIX = {"": 1, "k": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "Ki": 2 ** 10, "Mi": 2 ** 20,
           "Gi": 2 ** 30, "Ti": 2 ** 40, "m": 0.001}


def quantity_bytes(q):
    if q is None:
        return 0
    m = _QUANTITY.match(str(q).strip())
    if not m or m.group(2) not in _SUFFIX:
        return 0
    return int(float(m.group(1)) * _SUFFIX[m.group(2)])


def service_link_env(services, namespace):
    """Docker-link style variables the kubelet adds for the Services of the namespace (enableServiceLinks),
    plus the master service of the default namespace."""
    env = {}
    for svc in services:
        meta, spec = svc.get("metadata", {}), svc.get("spec", {})
        ns, name = meta.get("namespace"), meta.get("name")
        ip = spec.get("clusterIP")
        if not ip or ip == "None":
            continue
        if ns != namespace and not (ns == "default" and name == "kubernetes"):
            continue
        ports = spec.get("ports") or []
        if not ports:
            continue
        n = name.upper().replace("-", "_")
        env[n + "_SERVICE_HOST"] = ip
        env[n + "_SERVICE_PORT"] = str(ports[0]["port"])
        for p in ports:
            if p.get("name"):
                env["%s_SERVICE_PORT_%s" % (n, p["name"].upper().replace("-", "_"))] = str(p["port"])
        proto0 = ports[0].get("protocol", "TCP").lower()
        env[n + "_PORT"] = "%s://%s:%s" % (proto0, ip, ports[0]["port"])
        for p in ports:
            proto = p.get("protocol", "TCP")
            base = "%s_PORT_%s_%s" % (n, p["port"], proto.upper())
            env[base] = "%s://%s:%s" % (proto.lower(), ip, p["port"])
            env[base + "_PROTO"] = proto.lower()
            env[base + "_PORT"] = str(p["port"])
            env[base + "_ADDR"] = ip
    return env


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value, env):
    """Kubernetes' $(VAR) expansion: known names are replaced, unknown stay, $$ escapes."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR_REF.sub(sub, value)


def _field(pod, path, pod_ip, host_ip):
    meta = pod.get("metadata", {})
    m = re.match(r"^metadata\.(labels|annotations)\['(.*)'\]$", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name", ""), "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""), "spec.nodeName": pod.get("spec", {}).get("nodeName", ""),
        "spec.serviceAccountName": pod.get("spec", {}).get("serviceAccountName", ""),
        "status.podIP": pod_ip, "status.podIPs": pod_ip, "status.hostIP": host_ip, "status.hostIPs": host_ip,
    }
    if path not in simple:
        raise ConfigError("unsupported fieldRef %s" % path)
    return simple[path]


def container_env(pod, container, pod_ip, host_ip, services, get_configmap, get_secret):
    """The container's environment as the kubelet builds it: service links, envFrom, env (in that order,
    later wins), with $(VAR) expansion. get_configmap/get_secret(ns, name) return the object or None."""
    ns = pod["metadata"]["namespace"]
    env = {}
    if pod.get("spec", {}).get("enableServiceLinks", True) is not False:
        env.update(service_link_env(services, ns))
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        if "configMapRef" in src:
            ref = src["configMapRef"]
            cm = get_configmap(ns, ref["name"])
            if cm is None:
                if ref.get("optional"):
                    continue
                raise ConfigError('configmap "%s" not found' % ref["name"])
            for k, v in (cm.get("data") or {}).items():
                env[prefix + k] = v
        elif "secretRef" in src:
            ref = src["secretRef"]
            sec = get_secret(ns, ref["name"])
            if sec is None:
                if ref.get("optional"):
                    continue
                raise ConfigError('secret "%s" not found' % ref["name"])
            for k, v in (sec.get("data") or {}).items():
                env[prefix + k] = base64.b64decode(v).decode(errors="replace")
    for item in container.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand(item.get("value", ""), env)
            continue
        vf = item["valueFrom"]
        if "fieldRef" in vf:
            env[name] = _field(pod, vf["fieldRef"]["fieldPath"], pod_ip, host_ip)
        elif "configMapKeyRef" in vf:
            ref = vf["configMapKeyRef"]
            cm = get_configmap(ns, ref["name"])
            data = (cm or {}).get("data") or {}
            if ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise ConfigError('configmap "%s" key "%s" not found' % (ref["name"], ref["key"]))
            env[name] = data[ref["key"]]
        elif "secretKeyRef" in vf:
            ref = vf["secretKeyRef"]
            sec = get_secret(ns, ref["name"])
            data = (sec or {}).get("data") or {}
            if ref["key"] not in data:
                if ref.get("optional"):
                    continue
                raise ConfigError('secret "%s" key "%s" not found' % (ref["name"], ref["key"]))
            env[name] = base64.b64decode(data[ref["key"]]).decode(errors="replace")
        elif "resourceFieldRef" in vf:
            ref = vf["resourceFieldRef"]
            kind, _, res = ref["resource"].partition(".")
            q = ((container.get("resources") or {}).get(kind) or {}).get(res)
            env[name] = str(quantity_bytes(q)) if res == "memory" else str(q or "")
        else:
            raise ConfigError("unsupported valueFrom for %s" % name)
    return env


def expand_command(container, env):
    """command/args with $(VAR) expanded, as the kubelet passes them to the runtime."""
    out = dict(container)
    for key in ("command", "args"):
        if out.get(key):
            out[key] = [expand(a, env) for a in out[key]]
    return out
