"""How each supported image turns a pod's container spec into a real local process.

Pure translation, no Kubernetes calls and no process handling: ``plan_container`` takes the pod (a dict in
the API's JSON form), one of its containers, the container's resolved environment and a ``Sandbox`` (pod IP,
state directories, volume mapping) and returns a ``Launch``: the argv, env, config files and directories
that stand in for what the image's entrypoint would have done, or an error the container exits with, or
``unsupported`` (no runner for that image: the container stays Waiting).

Supported images (see tests/testbed/README.md, "Pod runner"), each tag running the version it names
(``RUNTIMES``: the jars of tests/testbed/java/pom.xml, one class path per version):
  zookeeper:3.8.* / 3.9.*                   Docker official image: /docker-entrypoint.sh + zkServer.sh
  registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10   start-zookeeper script (also gcr.io/google_samples/...)
  confluentinc/cp-kafka:5.5.* / 7.9.*       /etc/confluent/docker/run: configure (ZooKeeper mode; 7.9 also KRaft
                                            with KAFKA_PROCESS_ROLES), ensure (KRaft: kafka-storage format), launch
  confluentinc/cp-kafka:8.0.*               the same, Kafka 4.0.2: KRaft only (a ZooKeeper-mode spec stops at
                                            "KAFKA_PROCESS_ROLES is required."), log4j2
KRaft facts found on these real parts (the format step's refusals, a migrated broker's meta.properties, why
brokers need controller.quorum.voters): tests/testbed/README.md, "KRaft".
"""

import json
import os
import re
import shlex
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DEFAULT_JAVA_DIR = os.path.join(REPO, ".cache", "java")
PODBIN = os.path.abspath(os.path.join(HERE, "..", "podbin"))

# Flags every test bed JVM gets: a 2-core machine runs 3 ZooKeeper servers, 4 brokers and a control plane.
# Serial GC (no parallel GC threads), C1 only with one compiler thread (much less CPU at start-up and no C2
# compile storms), one "visible" processor so thread pools sized from the CPU count stay small, small stacks.
LOW_CPU_JVM_FLAGS = [
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:CICompilerCount=1",
    "-XX:ActiveProcessorCount=1",
    "-Xss512k",
    "-XX:-UsePerfData",
    "-Djava.net.preferIPv4Stack=true",
]


class UnsupportedImage(Exception):
    """The test bed has no runner for this image (or this way of running it)."""


@dataclass(frozen=True)
class Runtime:
    """The product version an image tag runs, and the class path tests/testbed/java/fetch.sh made for it."""

    product: str  # zookeeper | kafka
    version: str  # 3.4.10

    @property
    def name(self):
        """The pom profile and the directory under .cache/java: zookeeper-3.4.10, kafka-2.5.1."""
        return "%s-%s" % (self.product, self.version)

    @property
    def version_tuple(self):
        return tuple(int(x) for x in self.version.split("."))

    def lib_dir(self, java_dir=DEFAULT_JAVA_DIR):
        return os.path.join(java_dir, self.name, "lib")


# A suffix after the version in a tag: 3.8.4-jre-17, 7.9.0-1-ubi8.
_TAG_SUFFIX = r"(?:-[0-9A-Za-z][0-9A-Za-z.-]*)?"

# image kind -> [(tag pattern, runtime)]: the versions the test bed runs. A tag that matches none has no
# runner (ErrImagePull), as an image the bed does not know.
#  - zookeeper (Docker official): the tag is the ZooKeeper version; one patch release per line.
#  - kubernetes-zookeeper: <image version>-<ZooKeeper version>; the one published tag is 1.0-3.4.10.
#  - cp-kafka: the Confluent Platform release; its major.minor is one Apache Kafka line (Confluent's
#    "Supported Versions and Interoperability" table, docs.confluent.io/legacy/platform/5.5.15/installation/
#    versions-interoperability.html: 5.5.x is Kafka 2.5.x; likewise 7.9.x is 3.9.x). Within a line the bed
#    runs one Kafka patch release: 5.5.* -> 2.5.1 (the last 2.5 release); 7.9.* -> 3.9.2, the newest 3.9.x
#    served. Which Apache patch a cp-kafka 7.9.x carries is in confluentinc/kafka's history (no Confluent
#    page states it; docs/architecture.md, "Which Kafka a cp-kafka 7.9.x runs"): 7.9.0 and 7.9.1 Kafka
#    3.9.0, 7.9.2-7.9.5 3.9.1, 7.9.6 and later (the default, 7.9.11) 3.9.2, so the bed runs the default's own
#    patch level. For older tags the patch level changes neither the protocol (inter.broker.protocol.version
#    3.9) nor the ZooKeeper layout.
#  - cp-kafka 8.x is Kafka 4.x, KRaft only. 8.0.x is Kafka 4.0 (Confluent's announcement of CP 8.0,
#    developer.confluent.io/newsletter/announcing-confluent-platform-80: "This release builds upon Apache
#    Kafka 4.0"; its changelog's Kafka entries are Confluent's 4.0 branch, e.g. "Bump jetty to version 12.0.25
#    in 4.0" in 8.0.1, docs.confluent.io/platform/8.0/release-notes/changelog.html). The bed runs 4.0.2, the
#    newest 4.0.x on Maven Central. No stored Confluent page (the 8.x "Supported Versions and
#    Interoperability" table was not found on 2026-12-02) names the Kafka line of 8.1 and later, so those tags
#    are refused rather than guessed.
RUNTIMES = {
    "zookeeper": [
        (re.compile(r"\A3\.8(?:\.\d+)?" + _TAG_SUFFIX + r"\Z"), Runtime("zookeeper", "3.8.4")),
        (re.compile(r"\A3\.9(?:\.\d+)?" + _TAG_SUFFIX + r"\Z"), Runtime("zookeeper", "3.9.3")),
    ],
    "kubernetes-zookeeper": [
        (re.compile(r"\A1\.0-3\.4\.10\Z"), Runtime("zookeeper", "3.4.10")),
    ],
    "cp-kafka": [
        (re.compile(r"\A5\.5(?:\.\d+)?" + _TAG_SUFFIX + r"\Z"), Runtime("kafka", "2.5.1")),
        (re.compile(r"\A7\.9(?:\.\d+)?" + _TAG_SUFFIX + r"\Z"), Runtime("kafka", "3.9.2")),
        (re.compile(r"\A8\.0(?:\.\d+)?" + _TAG_SUFFIX + r"\Z"), Runtime("kafka", "4.0.2")),
    ],
}
# What the dispatchers use in a pod of another product (kafka-topics in a ZooKeeper pod), and for tests
# that run them outside any pod runner.
DEFAULT_RUNTIMES = {"zookeeper": Runtime("zookeeper", "3.9.3"), "kafka": Runtime("kafka", "3.9.2")}


def all_runtimes():
    """Every runtime some tag maps to (what fetch.sh must have fetched)."""
    seen = []
    for entries in RUNTIMES.values():
        for _pattern, runtime in entries:
            if runtime not in seen:
                seen.append(runtime)
    return seen


def image_tag(image):
    """The tag of an image reference ('latest' when it has none)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def image_runtime(image):
    """The Runtime the image's tag runs; UnsupportedImage when the bed has no runner for it."""
    kind = image_kind(image)
    if kind is None:
        raise UnsupportedImage("testbed has no runner for image %s" % image)
    tag = image_tag(image)
    for pattern, runtime in RUNTIMES[kind]:
        if pattern.match(tag):
            return runtime
    known = {"zookeeper": "3.8.*, 3.9.*", "kubernetes-zookeeper": "1.0-3.4.10", "cp-kafka": "5.5.*, 7.9.*, 8.0.*"}[kind]
    why = ""
    if kind == "cp-kafka" and re.match(r"\A(?:8|9)\.", tag):
        why = (": which Kafka 4.x line cp-kafka %s ships is not confirmed (no Confluent page found names it), so "
               "the test bed runs only 8.0.* (Kafka 4.0)" % tag)
    raise UnsupportedImage("testbed has no runner for image %s version %s (%s tags it runs: %s)%s"
                           % (image, tag, kind, known, why))


@dataclass
class Sandbox:
    """Where one container of one pod lives on this machine."""

    pod_ip: str
    state_dir: str
    namespace: str
    pod_name: str
    hostname: str  # the pod's hostname (spec.hostname or its name), $HOSTNAME in the container
    subdomain: str = ""  # spec.subdomain
    # container mount path -> host directory, for the container's volumeMounts
    mounts: dict = field(default_factory=dict)
    container: str = "main"
    java_dir: str = DEFAULT_JAVA_DIR
    java: str = "java"
    memory_limit_bytes: int = 0

    @property
    def pod_dir(self):
        return os.path.join(self.state_dir, "pods", self.namespace, self.pod_name)

    @property
    def container_dir(self):
        return os.path.join(self.pod_dir, self.container)

    @property
    def conf_dir(self):
        return os.path.join(self.container_dir, "conf")

    @property
    def hosts_file(self):
        return os.path.join(self.state_dir, "hosts", self.namespace)

    @property
    def log_file(self):
        return os.path.join(self.pod_dir, self.container + ".log")

    def host_path(self, container_path):
        """Host directory for a path inside the container: under the volume mounted there (longest mount
        path first), else under the container's own writable layer (lost when the pod goes)."""
        path = os.path.normpath(container_path)
        best = None
        for mount, host in self.mounts.items():
            m = os.path.normpath(mount)
            if path == m or path.startswith(m.rstrip("/") + "/"):
                if best is None or len(m) > len(best[0]):
                    best = (m, host)
        if best is None:
            return os.path.join(self.container_dir, "rootfs", path.lstrip("/"))
        rest = os.path.relpath(path, best[0])
        return best[1] if rest == "." else os.path.join(best[1], rest)


LOGIN_CONFIG_FLAG = "-Djava.security.auth.login.config="


def jvm_flags(text, sandbox):
    """JVM options as the image's scripts pass them (split like the shell does), with the JAAS file's path
    (-Djava.security.auth.login.config=, a container path) read from the volume mounted there."""
    return [LOGIN_CONFIG_FLAG + sandbox.host_path(f[len(LOGIN_CONFIG_FLAG):]) if f.startswith(LOGIN_CONFIG_FLAG)
            else f for f in shlex.split(text or "")]


@dataclass
class Launch:
    """What to run for one container."""

    kind: str  # zookeeper | kafka
    description: str
    argv: list = field(default_factory=list)
    env: dict = field(default_factory=dict)
    cwd: str = ""
    files: dict = field(default_factory=dict)  # host path -> content (written at every start)
    files_if_missing: dict = field(default_factory=dict)  # host path -> content (myid)
    dirs: list = field(default_factory=list)
    # The image's entrypoint would exit with this message (exit code 1): no process is started.
    error: str = ""
    # Extra env for `kubectl exec` into this container (the dispatchers in podbin/ read them).
    exec_env: dict = field(default_factory=dict)
    runtime: "Runtime" = None  # the version it runs
    # cp-kafka in KRaft mode: argv is the entrypoint's shell (format, then exec the server); these are its parts.
    server_argv: list = field(default_factory=list)
    format_argv: list = field(default_factory=list)


def image_kind(image):
    """zookeeper | kubernetes-zookeeper | cp-kafka | None, from the image reference."""
    ref = image.split("@", 1)[0]
    name = ref
    # strip the tag (a ':' after the last '/')
    if ":" in ref.rsplit("/", 1)[-1]:
        name = ref.rsplit(":", 1)[0]
    for prefix in ("docker.io/library/", "docker.io/", "library/", "index.docker.io/library/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name == "zookeeper":
        return "zookeeper"
    if name.endswith("/kubernetes-zookeeper") or name == "kubernetes-zookeeper":
        return "kubernetes-zookeeper"
    if name in ("confluentinc/cp-kafka", "confluentinc/cp-server"):
        return "cp-kafka"
    return None


def plan_container(pod, container, env, sandbox):
    """The Launch for ``container`` of ``pod``; raises UnsupportedImage when there is no runner."""
    image = container.get("image", "")
    kind = image_kind(image)
    runtime = image_runtime(image)
    if kind == "zookeeper":
        launch = plan_apache_zookeeper(container, env, sandbox, runtime)
    elif kind == "kubernetes-zookeeper":
        launch = plan_kubernetes_zookeeper(container, env, sandbox, runtime)
    else:
        launch = plan_cp_kafka(container, env, sandbox, runtime)
    launch.runtime = runtime
    # The dispatchers (podbin/) run the tools of the version this pod runs.
    # The dispatchers read files of the pod's volumes (a JAAS file in JVMFLAGS or KAFKA_OPTS) where they are mounted.
    launch.exec_env.update({"TESTBED_RUNTIME": runtime.name, "TESTBED_JAVA_DIR": sandbox.java_dir,
                            "TESTBED_MOUNTS": json.dumps(sandbox.mounts, sort_keys=True)})
    return launch


def _java_cmd(sandbox, runtime, flags, main, args):
    return ([sandbox.java] + LOW_CPU_JVM_FLAGS
            + ["-Djdk.net.hosts.file=" + sandbox.hosts_file,
               "-Dsun.net.inetaddr.ttl=0", "-Dsun.net.inetaddr.negative.ttl=0"]
            + flags + ["-cp", os.path.join(runtime.lib_dir(sandbox.java_dir), "*"), main] + list(args))


def _base_env(env, sandbox):
    out = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": sandbox.container_dir}
    if os.environ.get("JAVA_HOME"):
        out["JAVA_HOME"] = os.environ["JAVA_HOME"]
    out.update(env)
    out["HOSTNAME"] = sandbox.hostname
    return out


def _command_text(container):
    return " ".join(list(container.get("command") or []) + list(container.get("args") or []))


# ----------------------------------------------------------------------------------------------------------
# ZooKeeper, Docker official image

APACHE_ZK_DEFAULTS = {
    "ZOO_CONF_DIR": "/conf",
    "ZOO_DATA_DIR": "/data",
    "ZOO_DATA_LOG_DIR": "/datalog",
    "ZOO_LOG_DIR": "/logs",
    "ZOO_TICK_TIME": "2000",
    "ZOO_INIT_LIMIT": "5",
    "ZOO_SYNC_LIMIT": "2",
    "ZOO_AUTOPURGE_PURGEINTERVAL": "0",
    "ZOO_AUTOPURGE_SNAPRETAINCOUNT": "3",
    "ZOO_MAX_CLIENT_CNXNS": "60",
    "ZOO_STANDALONE_ENABLED": "true",
    "ZOO_ADMINSERVER_ENABLED": "true",
}

# export ZOO_MY_ID=$((${HOSTNAME##*-}+1))  (any spacing, any offset)
_MYID_FROM_HOSTNAME = re.compile(r"ZOO_MY_ID=\$\(\(\s*\$\{HOSTNAME##\*-\}\s*\+\s*(\d+)\s*\)\)")
_MYID_LITERAL = re.compile(r"ZOO_MY_ID=(\d+)(?:\s|;|&|$)")

LOGBACK_XML = """<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern></encoder>
  </appender>
  <root level="{level}"><appender-ref ref="CONSOLE"/></root>
</configuration>
"""


def zookeeper_my_id(container, env, hostname):
    """ZOO_MY_ID as the container would see it: exported by its command from $HOSTNAME, or from env."""
    text = _command_text(container)
    m = _MYID_FROM_HOSTNAME.search(text)
    if m:
        ordinal = hostname.rsplit("-", 1)[-1]
        if not ordinal.isdigit():
            raise ValueError("ZOO_MY_ID: $((${HOSTNAME##*-}+%s)) with HOSTNAME=%s is not a number"
                             % (m.group(1), hostname))
        return str(int(ordinal) + int(m.group(1)))
    m = _MYID_LITERAL.search(text)
    if m:
        return m.group(1)
    return env.get("ZOO_MY_ID", "1")


def plan_apache_zookeeper(container, env, sandbox, runtime=DEFAULT_RUNTIMES["zookeeper"]):
    text = _command_text(container)
    if text and "zkServer.sh" not in text and "docker-entrypoint.sh" not in text:
        raise UnsupportedImage("testbed runs the zookeeper image only as `zkServer.sh start-foreground` "
                               "(command was %r)" % text)
    e = dict(APACHE_ZK_DEFAULTS)
    e.update(env)
    launch = Launch(kind="zookeeper", description="ZooKeeper (zookeeper image)")
    try:
        my_id = zookeeper_my_id(container, env, sandbox.hostname)
    except ValueError as exc:
        launch.error = "bash: %s" % exc
        return launch
    data_dir = sandbox.host_path(e["ZOO_DATA_DIR"])
    data_log_dir = sandbox.host_path(e["ZOO_DATA_LOG_DIR"])
    servers = e.get("ZOO_SERVERS") or "server.1=localhost:2888:3888;2181"
    lines = [
        "dataDir=" + data_dir,
        "dataLogDir=" + data_log_dir,
        "tickTime=" + e["ZOO_TICK_TIME"],
        "initLimit=" + e["ZOO_INIT_LIMIT"],
        "syncLimit=" + e["ZOO_SYNC_LIMIT"],
        "autopurge.snapRetainCount=" + e["ZOO_AUTOPURGE_SNAPRETAINCOUNT"],
        "autopurge.purgeInterval=" + e["ZOO_AUTOPURGE_PURGEINTERVAL"],
        "maxClientCnxns=" + e["ZOO_MAX_CLIENT_CNXNS"],
        "standaloneEnabled=" + e["ZOO_STANDALONE_ENABLED"],
        # The AdminServer (Jetty) is not on the test bed's class path; it would bind 0.0.0.0:8080.
        "admin.enableServer=false",
    ]
    lines += servers.split()
    if e.get("ZOO_4LW_COMMANDS_WHITELIST"):
        lines.append("4lw.commands.whitelist=" + e["ZOO_4LW_COMMANDS_WHITELIST"])
    for extra in e.get("ZOO_CFG_EXTRA", "").split():
        lines.append(extra)
    conf = os.path.join(sandbox.conf_dir, "zoo.cfg")
    launch.files[conf] = "\n".join(lines) + "\n"
    launch.files[os.path.join(sandbox.conf_dir, "logback.xml")] = LOGBACK_XML.replace("{level}", "INFO")
    launch.files_if_missing[os.path.join(data_dir, "myid")] = my_id + "\n"
    launch.dirs += [data_dir, data_log_dir]
    heap = e.get("ZK_SERVER_HEAP", "1000")
    flags = ["-Xmx%sm" % heap] + jvm_flags(e.get("SERVER_JVMFLAGS"), sandbox) + jvm_flags(e.get("JVMFLAGS"), sandbox)
    flags += ["-Dzookeeper.log.dir=" + sandbox.container_dir,
              "-Dlogback.configurationFile=" + os.path.join(sandbox.conf_dir, "logback.xml"),
              "-Dzookeeper.jmx.log4j.disable=true", "-XX:+HeapDumpOnOutOfMemoryError",
              "-XX:HeapDumpPath=" + sandbox.container_dir]
    launch.argv = _java_cmd(sandbox, runtime, flags, "org.apache.zookeeper.server.quorum.QuorumPeerMain", [conf])
    env_out = _base_env(env, sandbox)
    env_out["ZOO_MY_ID"] = my_id
    env_out["ZOOCFGDIR"] = sandbox.conf_dir
    launch.env = env_out
    launch.cwd = sandbox.container_dir
    launch.exec_env = {"ZOOCFGDIR": sandbox.conf_dir, "ZOO_MY_ID": my_id}
    launch.description = "ZooKeeper %s server %s (zookeeper image), client %s" % (runtime.version, my_id, sandbox.pod_ip)
    return launch


# ----------------------------------------------------------------------------------------------------------
# ZooKeeper, registry.k8s.io/kubernetes-zookeeper (start-zookeeper)

K8S_ZK_OPTIONS = {
    "servers": "1", "data_dir": "/var/lib/zookeeper/data", "data_log_dir": "/var/lib/zookeeper/data/log",
    "log_dir": "/var/log/zookeeper", "conf_dir": "/opt/zookeeper/conf", "client_port": "2181",
    "election_port": "3888", "server_port": "2888", "tick_time": "2000", "init_limit": "10",
    "sync_limit": "5", "heap": "2G", "max_client_cnxns": "60", "snap_retain_count": "3",
    "purge_interval": "0", "max_session_timeout": "", "min_session_timeout": "", "log_level": "INFO",
    "percentage": "", "quorum_listen_on_all_ips": "false",
}


def parse_start_zookeeper(container):
    """Options of the start-zookeeper call in the container's command (``sh -c 'start-zookeeper ...'``)."""
    parts = list(container.get("command") or []) + list(container.get("args") or [])
    words = []
    for i, p in enumerate(parts):
        if p in ("-c",) and i > 0 and os.path.basename(parts[i - 1]) in ("sh", "bash"):
            continue
        if os.path.basename(p) in ("sh", "bash") and i == 0:
            continue
        words += shlex.split(p)
    if "start-zookeeper" not in [os.path.basename(w) for w in words]:
        raise UnsupportedImage("testbed runs the kubernetes-zookeeper image only through start-zookeeper "
                               "(command was %r)" % " ".join(parts))
    start = [os.path.basename(w) for w in words].index("start-zookeeper")
    opts = dict(K8S_ZK_OPTIONS)
    for w in words[start + 1:]:
        if w in ("&&", ";", "|", "||"):
            break
        if not w.startswith("--") or "=" not in w:
            raise ValueError("Unknown option %s" % w)
        k, v = w[2:].split("=", 1)
        if k not in K8S_ZK_OPTIONS:
            raise ValueError("Unknown option --%s" % w[2:])
        opts[k] = v
    return opts


LOG4J_ZK_PROPERTIES = """log4j.rootLogger={level}, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Threshold={level}
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n
"""


def plan_kubernetes_zookeeper(container, env, sandbox, runtime=Runtime("zookeeper", "3.4.10")):
    launch = Launch(kind="zookeeper", description="ZooKeeper (kubernetes-zookeeper image)")
    try:
        o = parse_start_zookeeper(container)
    except ValueError as exc:
        launch.error = str(exc)
        return launch
    m = re.match(r"^(.*)-([0-9]+)$", sandbox.hostname)
    if not m:
        launch.error = "Failed to parse name and ordinal of Pod"
        return launch
    name, ordinal = m.group(1), int(m.group(2))
    my_id = ordinal + 1
    domain = "%s.%s.svc.cluster.local" % (sandbox.subdomain, sandbox.namespace) if sandbox.subdomain else ""
    tick = int(o["tick_time"])
    data_dir = sandbox.host_path(o["data_dir"])
    data_log_dir = sandbox.host_path(o["data_log_dir"])
    lines = [
        "clientPort=" + o["client_port"],
        "dataDir=" + data_dir,
        "dataLogDir=" + data_log_dir,
        "tickTime=%d" % tick,
        "initLimit=" + o["init_limit"],
        "syncLimit=" + o["sync_limit"],
        "maxClientCnxns=" + o["max_client_cnxns"],
        "minSessionTimeout=" + (o["min_session_timeout"] or str(tick * 2)),
        "maxSessionTimeout=" + (o["max_session_timeout"] or str(tick * 20)),
        "autopurge.snapRetainCount=" + o["snap_retain_count"],
    ]
    old = runtime.version_tuple < (3, 5)
    if old:
        # The image's start-zookeeper writes the key misspelt ("purgeInteval"): ZooKeeper ignores it, so its
        # servers never purge old snapshots and transaction logs, whatever --purge_interval says. Same here.
        lines.append("autopurge.purgeInteval=" + o["purge_interval"])
    else:
        lines.append("autopurge.purgeInterval=" + o["purge_interval"])
    lines.append("quorumListenOnAllIPs=" + o["quorum_listen_on_all_ips"])
    if not old:
        # ZooKeeper 3.4 answers every four-letter word and has no AdminServer (neither key exists there);
        # 3.5+ needs the words listed and the AdminServer off (Jetty is not on the class path).
        lines += ["4lw.commands.whitelist=*", "admin.enableServer=false"]
    servers = int(o["servers"])
    if servers > 1:
        for i in range(1, servers + 1):
            lines.append("server.%d=%s-%d.%s:%s:%s" % (i, name, i - 1, domain, o["server_port"], o["election_port"]))
        launch.files_if_missing[os.path.join(data_dir, "myid")] = "%d\n" % my_id
    conf = os.path.join(sandbox.conf_dir, "zoo.cfg")
    launch.files[conf] = "\n".join(lines) + "\n"
    if old:  # 3.4 logs through log4j 1.2 (slf4j-log4j12), as the image's log4j.properties: to the console
        log_conf = os.path.join(sandbox.conf_dir, "log4j.properties")
        launch.files[log_conf] = LOG4J_ZK_PROPERTIES.replace("{level}", o["log_level"])
        log_flag = "-Dlog4j.configuration=file:" + log_conf
    else:
        log_conf = os.path.join(sandbox.conf_dir, "logback.xml")
        launch.files[log_conf] = LOGBACK_XML.replace("{level}", o["log_level"])
        log_flag = "-Dlogback.configurationFile=" + log_conf
    launch.dirs += [data_dir, data_log_dir]
    flags = []
    if o["percentage"] and sandbox.memory_limit_bytes:
        flags.append("-Xmx%dm" % (sandbox.memory_limit_bytes * int(o["percentage"]) // 100 // 2 ** 20))
    else:
        flags.append("-Xmx" + o["heap"])
    flags += ["-Dzookeeper.log.dir=" + sandbox.container_dir, log_flag, "-Dzookeeper.jmx.log4j.disable=true"]
    launch.argv = _java_cmd(sandbox, runtime, flags, "org.apache.zookeeper.server.quorum.QuorumPeerMain", [conf])
    launch.env = _base_env(env, sandbox)
    launch.env["ZOOCFGDIR"] = sandbox.conf_dir
    launch.cwd = sandbox.container_dir
    launch.exec_env = {"ZOOCFGDIR": sandbox.conf_dir}
    launch.description = "ZooKeeper %s server %d (kubernetes-zookeeper image), client %s" % (
        runtime.version, my_id, sandbox.pod_ip)
    return launch


# ----------------------------------------------------------------------------------------------------------
# Kafka, confluentinc/cp-kafka (ZooKeeper mode)

CP_KAFKA_EXCLUDED = {
    "KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS", "KAFKA_JMX_OPTS",
    "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS", "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS",
    "KAFKA_TOOLS_LOG4J_LOGLEVEL", "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET",
}


def env_to_property(env_name, prefix="KAFKA_"):
    """Confluent's rule: strip the prefix, lower-case, `_` -> `.`, then `...` -> `-`, `..` -> `_`."""
    raw = env_name[len(prefix):].lower()
    dotted = ".".join(raw.split("_"))
    dashed = "-".join(dotted.split("..."))
    return "_".join(dashed.split(".."))


def kafka_properties(env):
    """server.properties keys from the container's KAFKA_* variables, as cp-kafka's template does."""
    props = {}
    for k, v in env.items():
        if not k.startswith("KAFKA_") or k in CP_KAFKA_EXCLUDED or k.startswith("KAFKA_JMX_") \
                or k.startswith("KAFKA_LOG4J_"):
            continue
        props[env_to_property(k)] = v
    if "KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET" in env:
        props["zookeeper.clientCnxnSocket"] = env["KAFKA_ZOOKEEPER_CLIENT_CNXN_SOCKET"]
    for k, v in env.items():
        if k.startswith("CONFLUENT_SUPPORT_"):
            props["confluent.support." + env_to_property(k, "CONFLUENT_SUPPORT_")] = v
    return props


# What the image itself sets with ENV (kafka-images, kafka/Dockerfile.ubi8 of 7.9.x, Dockerfile.ubi9 of 8.0.x:
# `ARG X` + `ENV X=${X}`, built without a value): these variables exist, empty, in every container unless the
# pod sets them. The entrypoint's `dub ensure` treats an empty one as missing; its template turns each empty
# KAFKA_* into an empty property (7.9 writes `zookeeper.connect=` for a KRaft node that does not set it).
CP_KAFKA_IMAGE_ENV = {
    (3,): {"KAFKA_ZOOKEEPER_CONNECT": "", "KAFKA_ADVERTISED_LISTENERS": "", "CLUSTER_ID": ""},
    (4,): {"KAFKA_ADVERTISED_LISTENERS": "", "CLUSTER_ID": ""},
}


def cp_kafka_mode(env, runtime):
    """'kraft' or 'zookeeper': which branch of the image's configure script runs.

    cp-kafka 7.x (Kafka 3.x) goes KRaft when KAFKA_PROCESS_ROLES is non-empty, else ZooKeeper; cp-kafka 8
    (Kafka 4) is KRaft only; cp-kafka 5.5 (Kafka 2.5) knows no KRaft (its script is the ZooKeeper one)."""
    if runtime.version_tuple >= (4,):
        return "kraft"
    if runtime.version_tuple >= (3,) and env.get("KAFKA_PROCESS_ROLES"):
        return "kraft"
    return "zookeeper"


def cp_kafka_config_error(env, runtime):
    """What /etc/confluent/docker/configure prints before it exits 1 ('' when it goes on), from the env the
    container sees (image ENV included). `dub ensure X` prints "X is required." for a missing or empty X."""
    mode = cp_kafka_mode(env, runtime)
    out = []
    if runtime.version_tuple >= (4,):
        # 8.0.x: `dub ensure KAFKA_PROCESS_ROLES`, `dub ensure CLUSTER_ID`, no "Running in ..." line. Without
        # KAFKA_PROCESS_ROLES (a ZooKeeper-mode pod spec) this is where the image stops: Kafka 4 has no
        # ZooKeeper mode.
        for required in ("KAFKA_PROCESS_ROLES", "CLUSTER_ID"):
            if not env.get(required):
                return "%s is required." % required
    elif mode == "kraft":
        out.append("Running in KRaft mode...")
        if not env.get("CLUSTER_ID"):
            return "\n".join(out + ["CLUSTER_ID is required."])
    else:
        out.append("Running in Zookeeper mode...")
        for required in ("KAFKA_ZOOKEEPER_CONNECT", "KAFKA_ADVERTISED_LISTENERS"):
            if not env.get(required):
                return "\n".join(out + ["%s is required." % required])
    if mode == "kraft":
        # A pure controller must not set advertised listeners (checked with [[ -n ]]: the image's empty ENV
        # passes); any other role list (broker, broker,controller) needs them.
        if env.get("KAFKA_PROCESS_ROLES") == "controller":
            if env.get("KAFKA_ADVERTISED_LISTENERS"):
                return "\n".join(out + ["KAFKA_ADVERTISED_LISTENERS is not supported on a KRaft controller."])
        elif not env.get("KAFKA_ADVERTISED_LISTENERS"):
            return "\n".join(out + ["KAFKA_ADVERTISED_LISTENERS is required."])
    for deprecated, what in (("KAFKA_ADVERTISED_PORT", "advertised.port"), ("KAFKA_ADVERTISED_HOST", "advertised.host"),
                             ("KAFKA_HOST", "host"), ("KAFKA_PORT", "port")):
        if env.get(deprecated):
            return "\n".join(out + ["%s is deprecated. Please use KAFKA_ADVERTISED_LISTENERS instead." % what])
    advertised = env.get("KAFKA_ADVERTISED_LISTENERS") or ""
    if "SSL://" in advertised:
        # A listener *named* SSL or SASL_SSL: the script wants Java key stores under /etc/kafka/secrets and files
        # with their passwords. A listener named otherwise (CLIENT, mapped to SSL) skips this branch.
        out.append("SSL is enabled.")
        for required in ("KAFKA_SSL_KEYSTORE_FILENAME", "KAFKA_SSL_KEY_CREDENTIALS", "KAFKA_SSL_KEYSTORE_CREDENTIALS"):
            if not env.get(required):
                return "\n".join(out + ["%s is required." % required])
    if re.search(r"SASL_.*://", advertised) and not env.get("KAFKA_OPTS"):
        return "\n".join(out + ["SASL is enabled.", "KAFKA_OPTS is required."])
    return ""


def cp_kafka_image_env(env, runtime):
    """The env the container starts with: the image's own ENV, then the pod's."""
    e = {}
    for since, defaults in sorted(CP_KAFKA_IMAGE_ENV.items()):
        if runtime.version_tuple[:len(since)] == since:
            e.update(defaults)
    e.update(env)
    return e


def cub_listeners(advertised):
    """Confluent's `cub listeners`: each advertised listener NAME://host:port as NAME://0.0.0.0:port."""
    return ",".join("%s://0.0.0.0:%s" % (item.split("://", 1)[0].strip(), item.rsplit(":", 1)[1].strip())
                    for item in advertised.split(",") if "://" in item)


def cp_kafka_env(env, runtime):
    """The container's env as configure leaves it for the template (after its checks passed): the 7.9
    controller's `unset KAFKA_ADVERTISED_LISTENERS`, the KAFKA_LISTENERS and KAFKA_LOG_DIRS defaults."""
    e = cp_kafka_image_env(env, runtime)
    controller_only = cp_kafka_mode(e, runtime) == "kraft" and e.get("KAFKA_PROCESS_ROLES") == "controller"
    if controller_only and runtime.version_tuple < (4,):
        e.pop("KAFKA_ADVERTISED_LISTENERS", None)  # 7.9's configure unsets it; 8.0's does not (empty stays)
    if not e.get("KAFKA_LISTENERS") and not controller_only:
        # `cub listeners`: the advertised ones with host 0.0.0.0 (the pod has a network namespace of its own).
        e["KAFKA_LISTENERS"] = cub_listeners(e.get("KAFKA_ADVERTISED_LISTENERS", ""))
    if not e.get("KAFKA_LOG_DIRS"):
        e["KAFKA_LOG_DIRS"] = "/var/lib/kafka/data"
    return e


LOG4J2_YAML = """Configuration:
  name: "Log4j2"
  Appenders:
    Console:
      name: {name}
      target: {target}
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: "{level}"
      AppenderRef:
        - ref: {name}
"""


def log4j2_yaml(level, loggers=(), target="SYSTEM_OUT"):
    """The image's log4j2.yaml (Kafka 4 logs through log4j2): the root at ``level``, then each
    KAFKA_LOG4J_LOGGERS entry as a logger of its own (it logs through the root's appender, once)."""
    name = "STDOUT" if target == "SYSTEM_OUT" else "STDERR"
    text = LOG4J2_YAML.format(name=name, target=target, level=level)
    if loggers:
        text += "    Logger:\n" + "".join('      - name: "%s"\n        level: "%s"\n' % kv for kv in loggers)
    return text


def _log4j_loggers(value):
    out = []
    for item in (value or "").split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            out.append((k.strip(), v.strip()))
    return out


def kafka_log_flags(runtime, conf_dir, env, tools=False):
    """The logging config a Kafka JVM of this version gets (file content by path, and its flag): log4j 1
    (reload4j) properties up to 3.9, log4j2 YAML from 4.0 (what kafka-server-start.sh / kafka-run-class.sh
    pass there: -Dlog4j.configuration=file:... / -Dlog4j2.configurationFile=...)."""
    if tools:
        level, loggers, target = env.get("KAFKA_TOOLS_LOG4J_LOGLEVEL", "WARN"), [], "SYSTEM_ERR"
    else:
        level, loggers, target = env.get("KAFKA_LOG4J_ROOT_LOGLEVEL", "INFO"), _log4j_loggers(
            env.get("KAFKA_LOG4J_LOGGERS")), "SYSTEM_OUT"
    if runtime.version_tuple >= (4,):
        path = os.path.join(conf_dir, "tools-log4j2.yaml" if tools else "log4j2.yaml")
        return {path: log4j2_yaml(level, loggers, target)}, "-Dlog4j2.configurationFile=" + path
    appender = "stderr" if tools else "stdout"
    lines = [
        "log4j.rootLogger=%s, %s" % (level, appender),
        "log4j.appender.%s=org.apache.log4j.ConsoleAppender" % appender,
        "log4j.appender.%s.layout=org.apache.log4j.PatternLayout" % appender,
        "log4j.appender.%s.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n" % appender,
    ]
    if tools:
        lines.append("log4j.appender.stderr.Target=System.err")
    lines += ["log4j.logger.%s=%s" % kv for kv in loggers]
    path = os.path.join(conf_dir, "tools-log4j.properties" if tools else "log4j.properties")
    return {path: "\n".join(lines) + "\n"}, "-Dlog4j.configuration=file:" + path


# `export NAME=$((N + ${HOSTNAME##*-}))` (or `$((${HOSTNAME##*-} + N))`, or a plain value) in a `bash -c`
# command before `exec /etc/confluent/docker/run`: what the StatefulSet's controllers do for KAFKA_NODE_ID.
_EXPORT_FROM_ORDINAL = re.compile(r"export\s+([A-Za-z_][A-Za-z0-9_]*)=\$\(\(\s*(?:(\d+)\s*\+\s*\$\{HOSTNAME##\*-\}"
                                  r"|\$\{HOSTNAME##\*-\}\s*\+\s*(\d+))\s*\)\)")
_EXPORT_LITERAL = re.compile(r"export\s+([A-Za-z_][A-Za-z0-9_]*)=([A-Za-z0-9_.:,/@-]*)(?=\s|;|&|$)")


def shell_exports(container, hostname):
    """The variables a container's shell command exports before it execs the entrypoint."""
    text = _command_text(container)
    out = {}
    for m in _EXPORT_LITERAL.finditer(text):
        out[m.group(1)] = m.group(2)
    for m in _EXPORT_FROM_ORDINAL.finditer(text):
        ordinal = hostname.rsplit("-", 1)[-1]
        if not ordinal.isdigit():
            raise ValueError("%s: $((... ${HOSTNAME##*-} ...)) with HOSTNAME=%s is not a number" % (m.group(1), hostname))
        out[m.group(1)] = str(int(ordinal) + int(m.group(2) or m.group(3)))
    return out


def plan_cp_kafka(container, env, sandbox, runtime=DEFAULT_RUNTIMES["kafka"]):
    text = _command_text(container)
    if text and "/etc/confluent/docker/run" not in text:
        raise UnsupportedImage("testbed runs the cp-kafka image only through its entrypoint "
                               "/etc/confluent/docker/run (command was %r)" % text)
    launch = Launch(kind="kafka", description="Kafka (cp-kafka image)")
    try:
        env = dict(env, **shell_exports(container, sandbox.hostname))
    except ValueError as exc:
        launch.error = "bash: %s" % exc
        return launch
    launch.error = cp_kafka_config_error(cp_kafka_image_env(env, runtime), runtime)
    if launch.error:
        return launch
    e = cp_kafka_env(env, runtime)
    mode = cp_kafka_mode(e, runtime)
    advertised = e.get("KAFKA_ADVERTISED_LISTENERS", "") + "," + e.get("KAFKA_LISTENERS", "")
    if "SSL://" in advertised or "SASL_" in advertised:
        raise UnsupportedImage("testbed cp-kafka runner has no Java key stores or SASL: TLS runs with listeners named "
                               "otherwise (CLIENT:SSL) and PEM files (ssl.keystore.type=PEM)")
    props = kafka_properties(e)
    for key in props:
        if key.endswith(".location") and props[key].startswith("/"):
            # ssl.keystore.location and the like: the file of the volume mounted there (a Secret's, for TLS).
            props[key] = sandbox.host_path(props[key])
    log_dirs = [sandbox.host_path(d.strip()) for d in props["log.dirs"].split(",") if d.strip()]
    props["log.dirs"] = ",".join(log_dirs)
    if props.get("metadata.log.dir"):
        props["metadata.log.dir"] = sandbox.host_path(props["metadata.log.dir"])
        launch.dirs.append(props["metadata.log.dir"])
    launch.dirs += log_dirs
    conf = os.path.join(sandbox.conf_dir, "kafka.properties")
    launch.files[conf] = "".join("%s=%s\n" % (k, _escape_prop(v)) for k, v in sorted(props.items()))
    log_files, log_flag = kafka_log_flags(runtime, sandbox.conf_dir, e)
    launch.files.update(log_files)
    heap = shlex.split(e.get("KAFKA_HEAP_OPTS") or "-Xmx1G -Xms1G")
    perf = shlex.split(e.get("KAFKA_JVM_PERFORMANCE_OPTS", ""))
    flags = heap + perf + jvm_flags(e.get("KAFKA_OPTS"), sandbox) + [
        log_flag, "-Dkafka.logs.dir=" + sandbox.container_dir, "-Djava.awt.headless=true"]
    server = _java_cmd(sandbox, runtime, flags, "kafka.Kafka", [conf])
    if perf and any(f.startswith("-XX:+Use") and f.endswith("GC") for f in perf):
        server = [a for a in server if a != "-XX:+UseSerialGC"]
    launch.server_argv = server
    launch.argv = server
    if mode == "kraft":
        # /etc/confluent/docker/ensure: `kafka-storage format --cluster-id=$CLUSTER_ID -c kafka.properties`
        # before every start; an "already formatted" answer is fine (its text is printed), any other failure
        # prints the tool's output and the container exits 1. Then launch execs the server (same pid).
        tool_files, tool_log_flag = kafka_log_flags(runtime, sandbox.conf_dir, e, tools=True)
        launch.files.update(tool_files)
        tool_heap = shlex.split(e.get("KAFKA_HEAP_OPTS") or "-Xmx256M")  # kafka-run-class.sh's default
        launch.format_argv = _java_cmd(sandbox, runtime, tool_heap + perf + jvm_flags(e.get("KAFKA_OPTS"), sandbox)
                                       + [tool_log_flag], "kafka.tools.StorageTool",
                                       ["format", "--cluster-id=$CLUSTER_ID", "-c", conf])
        fmt = " ".join("--cluster-id=$CLUSTER_ID" if a == "--cluster-id=$CLUSTER_ID" else shlex.quote(a)
                       for a in launch.format_argv)
        script = "\n".join([
            "set -o nounset -o errexit",
            'echo "===> Using provided cluster id $CLUSTER_ID ..."',
            'result=$(%s 2>&1) || \\' % fmt,
            '    echo $result | grep -i "already formatted" || \\',
            "    { echo $result && (exit 1) }",
            'echo "===> Launching kafka ... "',
            "exec " + " ".join(shlex.quote(a) for a in server),
        ])
        launch.argv = ["/bin/bash", "-c", script]
    launch.env = _base_env(e, sandbox)
    launch.cwd = sandbox.container_dir
    launch.exec_env = {"KAFKA_CONFIG": conf}
    if mode == "kraft":
        what = "KRaft %s %s" % (props.get("process.roles", "?"), props.get("node.id", "?"))
    else:
        what = "broker %s" % props.get("broker.id", "?")
        if props.get("zookeeper.metadata.migration.enable") == "true":
            what += " (ZooKeeper mode, migration enabled)"
    launch.description = "Kafka %s %s (cp-kafka image), listeners %s" % (
        runtime.version, what, props.get("listeners", "-"))
    return launch


def _escape_prop(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n")
