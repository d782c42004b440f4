#!/usr/bin/env python3
"""Exec dispatchers of the local test bed: what `kubectl exec POD -- <cmd>` runs for a test bed pod.

KWOK starts the command as a local process with the pod's env plus TESTBED_POD_IP, TESTBED_POD_NAME,
TESTBED_POD_NAMESPACE and TESTBED_STATE_DIR (from the pod's kwok Exec object); this directory comes first
on its PATH. Each command name is a symlink to this file; it first enters the pod's network namespace (the one
of TESTBED_POD_IP, testbed_lib/podnet.py), so localhost is the pod's own as inside the container, then behaves
like the image's own command. The pod runner's exec probes run them the same way.
Standard library only (any python3 runs it).
"""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.dirname(HERE))
from testbed_lib import podnet  # noqa: E402  (standard library only, like this file)

JAVA_DIR = os.environ.get("TESTBED_JAVA_DIR", os.path.join(REPO, ".cache", "java"))
TOOL_JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:CICompilerCount=1",
                  "-XX:ActiveProcessorCount=1", "-Xss512k", "-XX:-UsePerfData", "-Xshare:auto",
                  "-Djava.net.preferIPv4Stack=true", "-Dsun.net.inetaddr.ttl=0",
                  "-Dsun.net.inetaddr.negative.ttl=0"]

# The pod runner tells which version the pod runs (TESTBED_RUNTIME, e.g. kafka-2.5.1 or zookeeper-3.4.10):
# the tools come from that version's jars, as the image's own scripts would. In a pod of the other product
# (kafka-topics in a ZooKeeper pod, zkCli.sh in a broker pod), or outside a pod runner, the defaults.
DEFAULT_RUNTIMES = {"zookeeper": "zookeeper-3.9.3", "kafka": "kafka-3.9.2"}

# command -> [(first Kafka version with this class, main class)], newest first: what bin/<command>.sh runs.
# None: that version has no such command (zookeeper-shell is gone in Kafka 4; the KRaft tools came in 2.8+).
KAFKA_TOOLS = {
    "kafka-topics": [((3, 5), "org.apache.kafka.tools.TopicCommand"), ((0,), "kafka.admin.TopicCommand")],
    "kafka-console-producer": [((4, 0), "org.apache.kafka.tools.ConsoleProducer"), ((0,), "kafka.tools.ConsoleProducer")],
    "kafka-console-consumer": [((3, 7), "org.apache.kafka.tools.consumer.ConsoleConsumer"),
                               ((0,), "kafka.tools.ConsoleConsumer")],
    "kafka-broker-api-versions": [((4, 0), "org.apache.kafka.tools.BrokerApiVersionsCommand"),
                                  ((0,), "kafka.admin.BrokerApiVersionsCommand")],
    "kafka-configs": [((0,), "kafka.admin.ConfigCommand")],
    # kafka-acls: --bootstrap-server (the admin client) in 3.9; the class moved to the tools in 4.0.
    "kafka-acls": [((4, 0), "org.apache.kafka.tools.AclCommand"), ((0,), "kafka.admin.AclCommand")],
    # Kafka's own zookeeper-shell (ZooKeeper's ZooKeeperMain with Kafka's TLS options, 2.5+), with the
    # ZooKeeper client that Kafka version bundles. Kafka 4 has no ZooKeeper client and no zookeeper-shell.
    "zookeeper-shell": [((4, 0), None), ((0,), "org.apache.zookeeper.ZooKeeperMainWithTlsSupportForKafka")],
    # zookeeper-security-migration.sh: the ACLs of Kafka's znodes set (secure) or opened (unsecure); gone in Kafka 4.
    "zookeeper-security-migration": [((4, 0), None), ((0,), "kafka.admin.ZkSecurityMigrator")],
    # KRaft: kafka-metadata-quorum (--bootstrap-server, or --bootstrap-controller since 3.7), kafka-storage
    # (info/format), kafka-features, kafka-cluster (cluster-id): the same classes in 3.9 and 4.0.
    "kafka-metadata-quorum": [((3, 4), "org.apache.kafka.tools.MetadataQuorumCommand"), ((0,), None)],
    "kafka-storage": [((2, 8), "kafka.tools.StorageTool"), ((0,), None)],
    "kafka-features": [((3, 7), "org.apache.kafka.tools.FeatureCommand"), ((2, 8), "kafka.admin.FeatureCommand"),
                       ((0,), None)],
    "kafka-cluster": [((3, 5), "org.apache.kafka.tools.ClusterTool"), ((2, 8), "kafka.tools.ClusterTool"),
                      ((0,), None)],
}
# Options whose value is a file the image keeps in /etc/kafka (kafka-storage info -c /etc/kafka/kafka.properties):
# in a test bed pod that directory is the container's conf dir, where the runner wrote kafka.properties.
CONFIG_FILE_OPTIONS = ("-c", "--config", "--command-config", "--producer.config", "--consumer.config",
                       "--admin.config")


def runtime_for(product):
    """'kafka-2.5.1': the pod's own version when it runs ``product``, else the default."""
    rt = os.environ.get("TESTBED_RUNTIME", "")
    return rt if rt.startswith(product + "-") else DEFAULT_RUNTIMES[product]


def runtime_version(runtime):
    return tuple(int(x) for x in runtime.split("-", 1)[1].split("."))


def kafka_main_class(name, runtime):
    """The class bin/<name>.sh runs in that version, or None when that version has no such command."""
    version = runtime_version(runtime)
    for since, main in KAFKA_TOOLS[name]:
        if version >= since:
            return main
    return None


def die(msg, code=1):
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.exit(code)


def pod_ip():
    ip = os.environ.get("TESTBED_POD_IP")
    if not ip:
        die("%s (test bed dispatcher): TESTBED_POD_IP is not set. This command stands in for the image's own "
            "and runs only inside a test bed pod (kubectl exec, or the pod runner's probes)."
            % os.path.basename(sys.argv[0]), 126)
    return ip


def enter_pod_network():
    """Run this very command again inside the pod's network namespace, unless it already is there."""
    ip = os.environ.get("TESTBED_POD_IP")
    if not ip or podnet.in_netns(ip):
        return
    if not os.path.exists(podnet.netns_path(ip)):
        die("%s (test bed dispatcher): pod %s has no network namespace %s (is its pod runner running?)"
            % (os.path.basename(sys.argv[0]), ip, podnet.netns_path(ip)), 126)
    argv = podnet.enter_argv(ip, [sys.executable, os.path.abspath(sys.argv[0])] + sys.argv[1:])
    os.execvp(argv[0], argv)


def four_letter_word(host, port, word, timeout=5.0):
    """Send a four-letter word, return the whole answer ('' when nothing answers)."""
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


def read_zoo_cfg():
    conf_dir = os.environ.get("ZOOCFGDIR", "")
    path = os.path.join(conf_dir, "zoo.cfg") if conf_dir else ""
    cfg = {}
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    cfg[k.strip()] = v.strip()
    return path, cfg


def zk_client_port(cfg):
    if cfg.get("clientPort", "").isdigit():
        return cfg["clientPort"]
    my_id = ""
    data_dir = cfg.get("dataDir")
    if data_dir and os.path.exists(os.path.join(data_dir, "myid")):
        with open(os.path.join(data_dir, "myid")) as f:
            my_id = f.read().strip()
    line = cfg.get("server.%s" % my_id, "")
    if ";" in line:
        return line.rsplit(";", 1)[1].rsplit(":", 1)[-1]
    return "2181"


def zk_server_sh(args):
    """zkServer.sh status (the only verb the test bed has: the server is the pod runner's business)."""
    pod_ip()
    if not args or args[0] != "status":
        die("zkServer.sh (test bed): only `zkServer.sh status` is supported; the pod runner starts and stops "
            "the server", 1)
    path, cfg = read_zoo_cfg()
    sys.stderr.write("ZooKeeper JMX enabled by default\nUsing config: %s\n" % (path or "/conf/zoo.cfg"))
    port = zk_client_port(cfg)
    print("Client port found: %s. Client address: localhost. Client SSL: false." % port)
    sys.stdout.flush()
    answer = four_letter_word("localhost", port, "srvr")
    mode = [l for l in answer.splitlines() if "Mode" in l]
    if not mode:
        print("Error contacting service. It is probably not running.")
        sys.exit(1)
    print(mode[0])
    sys.exit(0)


def zookeeper_ready(args):
    """The kubernetes-zookeeper image's probe: `zookeeper-ready <port>` passes when ruok answers imok."""
    pod_ip()
    port = args[0] if args else "2181"
    sys.exit(0 if four_letter_word("localhost", port, "ruok").strip() == "imok" else 1)


def local_hosts_file(ip):
    """The namespace's hosts file plus the pod's own hostname (as the kubelet's /etc/hosts has it)."""
    state = os.environ.get("TESTBED_STATE_DIR", "")
    ns = os.environ.get("TESTBED_POD_NAMESPACE", "default")
    src = os.path.join(state, "hosts", ns)
    lines = []
    if os.path.exists(src):
        with open(src) as f:
            for line in f:
                parts = line.split()
                lines.append(line.rstrip("\n"))
    pod = os.environ.get("TESTBED_POD_NAME")
    if pod:
        lines.append("%s %s" % (ip, os.environ.get("HOSTNAME", pod)))
    tmp_dir = os.path.join(state or "/tmp", "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    path = os.path.join(tmp_dir, "hosts-exec-%s-%s" % (ns, pod or ip))
    with open(path + ".%d" % os.getpid(), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".%d" % os.getpid(), path)
    return path


def _stdin_needs_idle_eof():
    """KWOK v0.8 copies `kubectl exec -i` input into a pipe that it never closes, so a tool reading stdin
    until EOF would never end. True when stdin is such a pipe (not a terminal, not a file)."""
    if os.environ.get("TESTBED_STDIN_IDLE_SECONDS", "5") in ("", "0"):
        return False
    try:
        import stat
        mode = os.fstat(0).st_mode
    except OSError:
        return False
    return not os.isatty(0) and (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode))


def _run_with_idle_eof(argv):
    """Run argv with our stdin forwarded; after TESTBED_STDIN_IDLE_SECONDS (default 5) without input, close
    its stdin as if the input had ended. Returns its exit code."""
    import select
    import signal
    import subprocess
    idle = float(os.environ.get("TESTBED_STDIN_IDLE_SECONDS", "5"))
    child = subprocess.Popen(argv, stdin=subprocess.PIPE)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: child.send_signal(s))
    last = time.time()
    try:
        while child.poll() is None:
            ready, _, _ = select.select([0], [], [], 0.2)
            if ready:
                data = os.read(0, 65536)
                if not data:
                    break
                child.stdin.write(data)
                child.stdin.flush()
                last = time.time()
            elif time.time() - last > idle:
                break
    except (BrokenPipeError, OSError):
        pass
    try:
        child.stdin.close()
    except OSError:
        pass
    return child.wait()


def run_java(runtime, main, args, ip, extra_flags=(), stdin_idle_eof=False):
    java = os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    lib_dir = os.path.join(JAVA_DIR, runtime, "lib")
    if not os.path.isdir(lib_dir):
        die("%s (test bed): %s is missing: run tests/testbed/java/fetch.sh" % (os.path.basename(sys.argv[0]), lib_dir))
    hosts = local_hosts_file(ip)
    argv = [java] + TOOL_JVM_FLAGS + ["-Djdk.net.hosts.file=" + hosts] + list(extra_flags) + [
        "-cp", os.path.join(lib_dir, "*"), main] + list(args)
    if stdin_idle_eof and _stdin_needs_idle_eof():
        sys.exit(_run_with_idle_eof(argv))
    # The JVM replaces this process: stdin, signals and the exit code pass straight through.
    os.execvp(argv[0], argv)


LOGIN_CONFIG_FLAG = "-Djava.security.auth.login.config="


def mounted_path(path):
    """A container path of one of the pod's volumes (TESTBED_MOUNTS: mount path -> host directory, from the pod
    runner) as the host sees it; other paths unchanged."""
    import json
    mounts = json.loads(os.environ.get("TESTBED_MOUNTS") or "{}")
    best = None
    for mount, host in mounts.items():
        m = os.path.normpath(mount)
        if path == m or path.startswith(m.rstrip("/") + "/"):
            if best is None or len(m) > len(best[0]):
                best = (m, host)
    if best is None:
        return path
    rest = os.path.relpath(path, best[0])
    return best[1] if rest == "." else os.path.join(best[1], rest)


def env_jvm_flags(*names):
    """JVM options from the env the image's scripts read (JVMFLAGS for zkCli.sh, KAFKA_OPTS for
    kafka-run-class.sh), the JAAS file's path read from its volume."""
    import shlex
    flags = []
    for name in names:
        for flag in shlex.split(os.environ.get(name, "")):
            if flag.startswith(LOGIN_CONFIG_FLAG):
                flag = LOGIN_CONFIG_FLAG + mounted_path(flag[len(LOGIN_CONFIG_FLAG):])
            flags.append(flag)
    return flags


def zk_cli(args):
    ip = pod_ip()
    args = list(args)
    if "-server" not in args:
        args = ["-server", "localhost:2181"] + args
    runtime = runtime_for("zookeeper")
    if runtime_version(runtime) < (3, 5):  # ZooKeeper 3.4 logs through log4j 1.2 (slf4j-log4j12)
        log_flag = "-Dlog4j.configuration=file:" + tools_log4j()
    else:
        logback = state_file("zkcli-logback.xml",
                             '<configuration><appender name="E" class="ch.qos.logback.core.ConsoleAppender">'
                             '<target>System.err</target><encoder><pattern>%d{ISO8601} [myid:] - %-5p [%t:%C{1}@%L]'
                             ' - %m%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="E"/></root>'
                             '</configuration>\n')
        log_flag = "-Dlogback.configurationFile=" + logback
    # bin/zkCli.sh passes $CLIENT_JVMFLAGS $JVMFLAGS to the JVM (the backup sets file.encoding with the first; the
    # pod's JAAS file, with which zkCli logs in, comes with the second).
    run_java(runtime, "org.apache.zookeeper.ZooKeeperMain", args, ip,
             ["-Xmx128m", log_flag, "-Dzookeeper.jmx.log4j.disable=true"] + env_jvm_flags("CLIENT_JVMFLAGS", "JVMFLAGS"),
             stdin_idle_eof=len([a for a in args if not a.startswith("-")]) <= 1)  # interactive: reads stdin


def tools_log4j():
    """A log4j 1.2 config: everything at KAFKA_TOOLS_LOG4J_LOGLEVEL (WARN) on stderr."""
    level = os.environ.get("KAFKA_TOOLS_LOG4J_LOGLEVEL", "WARN")
    return state_file("tools-log4j-%s.properties" % level,
                      "log4j.rootLogger=%s, stderr\nlog4j.appender.stderr=org.apache.log4j.ConsoleAppender\n"
                      "log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n"
                      "log4j.appender.stderr.layout.ConversionPattern=[%%d] %%p %%m (%%c)%%n\n"
                      "log4j.appender.stderr.Target=System.err\n" % level)


def state_file(name, content):
    """A file under the bed's state dir with this content, written once (atomically: tools start in parallel)."""
    path = os.path.join(os.environ.get("TESTBED_STATE_DIR", "/tmp"), "tmp", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        with open(path + ".%d" % os.getpid(), "w") as f:
            f.write(content)
        os.replace(path + ".%d" % os.getpid(), path)
    return path


def tools_log_flag(runtime):
    """The tools' log config of that Kafka version: log4j 1 properties up to 3.9, log4j2 (YAML, like the
    image's tools-log4j2.yaml) from 4.0; everything at KAFKA_TOOLS_LOG4J_LOGLEVEL (WARN) on stderr."""
    if runtime_version(runtime) < (4,):
        return "-Dlog4j.configuration=file:" + tools_log4j()
    level = os.environ.get("KAFKA_TOOLS_LOG4J_LOGLEVEL", "WARN")
    return "-Dlog4j2.configurationFile=" + state_file(
        "tools-log4j2-%s.yaml" % level,
        'Configuration:\n  name: "Log4j2"\n  Appenders:\n    Console:\n      name: STDERR\n      target: SYSTEM_ERR\n'
        '      PatternLayout:\n        Pattern: "[%%d] %%p %%m (%%c)%%n"\n  Loggers:\n    Root:\n      level: "%s"\n'
        '      AppenderRef:\n        - ref: STDERR\n' % level)


def pod_config_path(path):
    """/etc/kafka/<file> (the image's config dir) -> the pod's conf dir, where kafka.properties is."""
    conf = os.environ.get("KAFKA_CONFIG", "")
    if conf and path.startswith("/etc/kafka/"):
        return os.path.join(os.path.dirname(conf), path[len("/etc/kafka/"):])
    return path


def kafka_tool(name, args):
    ip = pod_ip()
    args = list(args)
    runtime = runtime_for("kafka")
    main = kafka_main_class(name, runtime)
    if main is None:
        # As in the image of that version: the script is not there.
        die("bash: %s: command not found (test bed: Kafka %s has no %s)" % (name, runtime.split("-", 1)[1], name), 127)
    if name == "zookeeper-shell":
        # bin/zookeeper-shell.sh: `zookeeper-shell host:port[/chroot] [cmd ...]` -> the class with -server first.
        if not args:
            die("USAGE: %s zookeeper_host:port[/path] [-zk-tls-config-file file] [args...]" % name, 1)
        args = ["-server", args[0]] + args[1:]
    for i, a in enumerate(args[:-1]):
        if a in CONFIG_FILE_OPTIONS:
            args[i + 1] = pod_config_path(args[i + 1])
    args = [pod_config_path(a) if a.startswith("/etc/kafka/") else a for a in args]
    interactive = name == "zookeeper-shell" and len([a for a in args if not a.startswith("-")]) <= 1
    # kafka-run-class.sh passes $KAFKA_OPTS (the broker pod's JAAS file: zookeeper-security-migration logs in with it).
    run_java(runtime, main, args, ip, ["-Xmx256m", tools_log_flag(runtime)] + env_jvm_flags("KAFKA_OPTS"),
             stdin_idle_eof=name == "kafka-console-producer" or interactive)


def bash(args):
    """The machine's own bash, in the pod's network namespace: the collection sends four-letter words such as
    cons to the pod's own server that way (`bash -c 'exec 3<>/dev/tcp/127.0.0.1/2181 ...'`)."""
    os.execv("/bin/bash", ["bash"] + args)


def main():
    name = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    enter_pod_network()  # outside a pod (kwok's own PATH has podbin too) nothing to enter
    if name == "bash":
        bash(args)
    elif name in ("zkServer.sh", "zkServer"):
        zk_server_sh(args)
    elif name in ("zkCli.sh", "zkCli"):
        zk_cli(args)
    elif name == "zookeeper-ready":
        zookeeper_ready(args)
    elif name in KAFKA_TOOLS or name.endswith(".sh") and name[:-3] in KAFKA_TOOLS:
        kafka_tool(name[:-3] if name.endswith(".sh") else name, args)
    else:
        die("%s: not a test bed dispatcher (known: bash, zkServer.sh, zkCli.sh, zookeeper-ready, %s)"
            % (name, ", ".join(sorted(KAFKA_TOOLS))), 127)


if __name__ == "__main__":
    main()
