"""render.yml: the manifests site.yml would apply, checked as a reviewer would read them.

Each test runs the real playbook (same preflight, same templates as site.yml) without a cluster, then
asserts on the rendered objects and validates every one against the Kubernetes 1.34 OpenAPI schema.
"""
import collections
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
K8S_VERSION = "1.34"

Rendered = collections.namedtuple("Rendered", "proc objects out")


def render(tmp_path, **extra):
    out = tmp_path / "out"
    extra.setdefault("kafka_render_dir", str(out))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "playbooks/render.yml",
         "-e", "@%s" % vars_file],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    objects = []
    if out.is_dir():
        for name in sorted(os.listdir(out)):
            with open(out / name) as handle:
                objects.extend(d for d in yaml.safe_load_all(handle) if d)
    return Rendered(proc, objects, out)


def by_kind(objects, kind):
    return [o for o in objects if o["kind"] == kind]


def named(objects, kind, name):
    (obj,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return obj


def env_of(container):
    return {e["name"]: e["value"] for e in container.get("env", [])}


@pytest.fixture(scope="module")
def default_render(tmp_path_factory):
    rendered = render(tmp_path_factory.mktemp("default"))
    assert rendered.proc.returncode == 0, rendered.proc.stdout + rendered.proc.stderr
    return rendered


def test_default_is_the_seed_cluster(default_render):
    objects, out = default_render.objects, default_render.out
    assert sorted(os.listdir(out)) == ["kafka_broker.yml", "zookeeper.yml"]
    kinds = sorted(o["kind"] for o in objects)
    assert kinds.count("Deployment") == 4 and kinds.count("PersistentVolumeClaim") == 4
    assert kinds.count("StatefulSet") == 1 and kinds.count("PodDisruptionBudget") == 2
    assert kinds.count("Service") == 6 and kinds.count("ConfigMap") == 1 and kinds.count("Namespace") == 1
    assert {o["metadata"].get("namespace", "kafka") for o in objects} == {"kafka"}


def test_brokers_have_a_disruption_budget_a_startup_budget_and_zookeeper_answers_cons(default_render):
    objects = default_render.objects
    pdb = named(objects, "PodDisruptionBudget", "kafka-broker-pdb")
    assert pdb["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": {
        "app.kubernetes.io/component": "broker", "app.kubernetes.io/instance": "kafka"}}}
    zk_pdb = named(objects, "PodDisruptionBudget", "zk-pdb")
    assert zk_pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] == "zookeeper"
    for index in range(4):
        (container,) = named(objects, "Deployment", "kafka-broker-%d" % index)["spec"]["template"]["spec"]["containers"]
        # 1800 s (kafka_broker_startup_timeout) for the logs to load before the liveness probe may act
        assert container["startupProbe"] == {"tcpSocket": {"port": "client"}, "periodSeconds": 10,
                                             "timeoutSeconds": 5, "failureThreshold": 180}
    sts = named(objects, "StatefulSet", "zookeeper")
    assert sts["metadata"]["annotations"]["kafka-eks.cluster/zookeeper-ensemble"] == "3"
    (zk,) = sts["spec"]["template"]["spec"]["containers"]
    assert "cons" in env_of(zk)["ZOO_4LW_COMMANDS_WHITELIST"].split(",")


def test_every_manifest_is_valid_against_the_kubernetes_schema(default_render):
    objects = default_render.objects
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_schema_check_catches_a_misspelled_field(default_render):
    """The validation above can fail: a typo in a field name is refused in strict mode."""
    objects = default_render.objects
    bad = json.loads(json.dumps(named(objects, "StatefulSet", "zookeeper")))
    bad["spec"]["volumeClaimTemplate"] = bad["spec"].pop("volumeClaimTemplates")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_broker_ids_are_unique_and_listeners_use_each_service(default_render):
    objects = default_render.objects
    ids = []
    for index in range(4):
        deployment = named(objects, "Deployment", "kafka-broker-%d" % index)
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = env_of(container)
        ids.append(env["KAFKA_BROKER_ID"])
        service = "kafka-service-%d" % index
        assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://%s:9092,INTERNAL://%s:9093" % (service, service)
        assert env["KAFKA_LISTENERS"] == "PLAINTEXT://:9092,INTERNAL://:9093"
        assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] == "INTERNAL"
        assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "PLAINTEXT:PLAINTEXT,INTERNAL:PLAINTEXT"
        assert env["KAFKA_ZOOKEEPER_CONNECT"] == "zk-cs:2181"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert container["image"] == "confluentinc/cp-kafka:7.9.11"
        # The Service selects exactly this broker's pod.
        svc = named(objects, "Service", service)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert all(pod_labels.get(k) == v for k, v in svc["spec"]["selector"].items())
        assert svc["spec"]["selector"]["kafka-eks.cluster/broker-id"] == str(index)
        assert {p["port"] for p in svc["spec"]["ports"]} == {9092, 9093}
    assert ids == ["0", "1", "2", "3"]


def test_brokers_have_their_own_volume_with_data_in_a_subdirectory(default_render):
    objects = default_render.objects
    claims = set()
    for index in range(4):
        spec = named(objects, "Deployment", "kafka-broker-%d" % index)["spec"]
        assert spec["replicas"] == 1 and spec["strategy"] == {"type": "Recreate"}
        pod = spec["template"]["spec"]
        assert pod["enableServiceLinks"] is False
        (volume,) = pod["volumes"]
        claims.add(volume["persistentVolumeClaim"]["claimName"])
        (mount,) = pod["containers"][0]["volumeMounts"]
        assert mount["mountPath"] == "/var/lib/kafka"
        log_dirs = env_of(pod["containers"][0])["KAFKA_LOG_DIRS"]
        assert log_dirs.startswith(mount["mountPath"] + "/") and log_dirs != mount["mountPath"]
        assert pod["containers"][0]["readinessProbe"]["tcpSocket"]["port"] == "client"
        assert pod["containers"][0]["livenessProbe"]["tcpSocket"]["port"] == "client"
    assert claims == {"kafka-data-%d" % i for i in range(4)}
    assert {o["metadata"]["name"] for o in by_kind(objects, "PersistentVolumeClaim")} == claims


def test_zookeeper_statefulset_has_a_volume_per_replica_and_real_probes(default_render):
    objects = default_render.objects
    sts = named(objects, "StatefulSet", "zookeeper")["spec"]
    assert sts["replicas"] == 3 and sts["serviceName"] == "zk-hs"
    assert sts["podManagementPolicy"] == "Parallel"
    assert [t["metadata"]["name"] for t in sts["volumeClaimTemplates"]] == ["data"]
    pod = sts["template"]["spec"]
    assert "volumes" not in pod, "no shared claim: each replica gets data-zookeeper-N"
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000}
    (container,) = pod["containers"]
    assert container["readinessProbe"]["exec"]["command"] == ["zkServer.sh", "status"]
    assert container["livenessProbe"]["tcpSocket"]["port"] == "client"
    assert container["resources"]["requests"]["memory"] == "1Gi"
    env = env_of(container)
    assert env["ZOO_SERVERS"].split() == [
        "server.%d=zookeeper-%d.zk-hs.kafka.svc.cluster.local:2888:3888;2181" % (i + 1, i) for i in range(3)]
    assert env["ZOO_DATA_LOG_DIR"].startswith("/data/")
    assert "srvr" in env["ZOO_4LW_COMMANDS_WHITELIST"].split(",")
    anti = pod["affinity"]["podAntiAffinity"]
    assert list(anti) == ["preferredDuringSchedulingIgnoredDuringExecution"]


def test_zookeeper_services_and_pdb(default_render):
    objects = default_render.objects
    hs = named(objects, "Service", "zk-hs")["spec"]
    assert hs["clusterIP"] == "None"
    assert {p["name"]: p["port"] for p in hs["ports"]} == {"server": 2888, "leader-election": 3888}
    cs = named(objects, "Service", "zk-cs")["spec"]
    assert {p["name"]: p["port"] for p in cs["ports"]} == {"client": 2181}
    pdb = named(objects, "PodDisruptionBudget", "zk-pdb")["spec"]
    assert pdb["maxUnavailable"] == 1
    sts_labels = named(objects, "StatefulSet", "zookeeper")["spec"]["template"]["metadata"]["labels"]
    for selector in (hs["selector"], cs["selector"], pdb["selector"]["matchLabels"]):
        assert all(sts_labels.get(k) == v for k, v in selector.items())


def test_client_config_lists_every_broker_service(default_render):
    objects = default_render.objects
    data = named(objects, "ConfigMap", "kafka-client-config")["data"]
    services = sorted(o["metadata"]["name"] for o in by_kind(objects, "Service")
                      if o["metadata"]["name"].startswith("kafka-service-"))
    assert data["bootstrap.servers"].split(",") == ["%s:9092" % s for s in services]


def test_seed_images_and_names(tmp_path):
    proc, objects = render(
        tmp_path,
        zookeeper_image="registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
        zookeeper_image_flavor="kubernetes-zookeeper",
        zookeeper_anti_affinity="required",
        kafka_broker_image="confluentinc/cp-kafka:5.5.11",
        kafka_broker_service_prefix="kafka-service-test-")[:2]
    assert proc.returncode == 0, proc.stdout
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    pod = named(objects, "StatefulSet", "zookeeper")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10"
    assert "start-zookeeper --servers=3" in container["command"][2]
    assert container["readinessProbe"]["exec"]["command"] == ["sh", "-c", "zookeeper-ready 2181"]
    assert container["volumeMounts"][0]["mountPath"] == "/var/lib/zookeeper"
    assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]
    data = named(objects, "ConfigMap", "kafka-client-config")["data"]
    assert data["bootstrap.servers"] == ",".join("kafka-service-test-%d:9092" % i for i in range(4))
    env = env_of(named(objects, "Deployment", "kafka-broker-1")["spec"]["template"]["spec"]["containers"][0])
    assert env["KAFKA_ADVERTISED_LISTENERS"] == "PLAINTEXT://kafka-service-test-1:9092,INTERNAL://kafka-service-test-1:9093"
    # A new cluster speaks its image's protocol, pinned so that a later image change cannot raise it by itself.
    assert env["KAFKA_INTER_BROKER_PROTOCOL_VERSION"] == "2.5"


def test_five_brokers_from_an_offset(tmp_path):
    proc, objects = render(tmp_path, kafka_broker_count=5, kafka_broker_id_offset=100, zookeeper_replicas=5)[:2]
    assert proc.returncode == 0, proc.stdout
    ids = [env_of(d["spec"]["template"]["spec"]["containers"][0])["KAFKA_BROKER_ID"]
           for d in by_kind(objects, "Deployment")]
    assert ids == ["100", "101", "102", "103", "104"]
    assert named(objects, "StatefulSet", "zookeeper")["spec"]["replicas"] == 5


@pytest.mark.parametrize("extra, variable, words", [
    ({"zookeeper_replicas": 4}, "zookeeper_replicas", "even"),
    ({"zookeeper_replicas": 0}, "zookeeper_replicas", "at least 1"),
    ({"kafka_broker_count": 0}, "kafka_broker_count", "at least 1"),
    ({"kafka_broker_ids": [0, 0, 0, 0]}, "kafka_broker_ids", "unique"),
    ({"kafka_broker_count": 2}, "kafka_broker_offsets_topic_replication_factor", "only 2 brokers"),
    ({"kafka_broker_transaction_state_log_min_isr": 3}, "kafka_broker_transaction_state_log_min_isr", "replication factor"),
    ({"kafka_broker_service_prefix": "Kafka_Service-"}, "kafka_broker_service_prefix", "not a valid DNS label"),
    ({"kafka_namespace": "Kafka"}, "kafka_namespace", "not a valid DNS label"),
    ({"zookeeper_anti_affinity": "soft"}, "zookeeper_anti_affinity", "soft"),
    ({"kafka_broker_count": "four"}, "kafka_broker_count", "four"),
    ({"kafka_broker_image": "confluentinc/cp-kafka:8.0.0"}, "kafka_broker_image", "KRaft mode only"),
    ({"zookeeper_image": "registry.k8s.io/kubernetes-zookeeper:1.0-3.4.10",
      "zookeeper_image_flavor": "kubernetes-zookeeper"}, "zookeeper_image", "KIP-902"),
    ({"kafka_broker_inter_broker_protocol_version": "4.0"}, "kafka_broker_inter_broker_protocol_version", "newer than"),
    ({"kafka_broker_extra_config": {"Inter_Broker.Protocol.Version ": "2.5"}}, "kafka_broker_extra_config",
     "kafka_broker_inter_broker_protocol_version"),
    ({"kafka_broker_tls_generate": True}, "kafka_broker_tls_generate", "every listener of kafka_broker_listener_security"),
    ({"kafka_broker_tls_generate": True, "kafka_broker_listener_security": {"client": "ssl"},
      "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_tls_renew_days": 400}, "kafka_broker_tls_renew_days",
     "not less than kafka_broker_tls_validity_days"),
])
def test_bad_input_fails_clearly_and_writes_nothing(tmp_path, extra, variable, words):
    proc, objects, out = render(tmp_path, **extra)
    assert proc.returncode != 0
    assert variable in proc.stdout and words in proc.stdout, proc.stdout
    assert not out.exists(), "a failed validation must write nothing"
    assert objects == []


def test_render_without_a_directory_says_how(tmp_path):
    proc = render(tmp_path, kafka_render_dir="").proc
    assert proc.returncode != 0 and "kafka_render_dir is not set" in proc.stdout


# --- Trust no input (issue #9) ----------------------------------------------------------------------------

TEMPLATES = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "templates", "*.j2")))
# What a template may print: a value rendered as data. to_json for anything; to_nice_yaml + indent only for the
# label maps the plan builds itself; apply_manifests dumps whole objects that were parsed already.
DATA_EXPRESSION = re.compile(r"\A.+\|\s*(?:to_json|to_nice_yaml\(indent=2\)\s*\|\s*indent\(\d+\)"
                             r"|ansible\.builtin\.to_nice_yaml\(indent=2, sort_keys=False\) -)\Z", re.S)
ROLE_VARIABLE = re.compile(r"(?<![.\w])(?:zookeeper|kafka_broker|kafka)_\w+")


def expressions(path):
    with open(path) as handle:
        text = handle.read()
    return [m.strip() for m in re.findall(r"{{(.*?)}}", text, re.S)], \
        [m.strip() for m in re.findall(r"{%-?(.*?)-?%}", text, re.S)]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_value_in_a_template_is_rendered_as_data_from_the_plan(path):
    prints, statements = expressions(path)
    assert prints, "no expression found: the pattern above is wrong"
    for expression in prints:
        assert DATA_EXPRESSION.match(expression), "%s: {{ %s }} is spliced as text" % (path, expression)
    for expression in prints + statements:
        # Only the checked, converted values in kafka_plan: a role variable read here would skip the preflight.
        names = [n for n in ROLE_VARIABLE.findall(expression) if n != "kafka_plan"]
        assert not names, "%s: %s reads a role variable" % (path, expression)


def test_the_template_check_catches_a_spliced_value():
    assert not DATA_EXPRESSION.match("kafka_plan.settings.kafka_broker_image")
    assert not DATA_EXPRESSION.match("kafka_broker_node_selector | to_nice_yaml(indent=2)")
    assert DATA_EXPRESSION.match("kafka_plan.settings.kafka_broker_image | to_json")
    assert ROLE_VARIABLE.findall("kafka_broker_image | to_json") == ["kafka_broker_image"]
    assert ROLE_VARIABLE.findall("settings.kafka_broker_image | to_json") == []


def unsafe_vars_file(tmp_path, values):
    """Extra variables the way AWX passes survey answers: every value tagged !unsafe (never templated)."""
    path = tmp_path / "survey.yml"
    path.write_text("".join("%s: !unsafe %s\n" % (k, json.dumps(v)) for k, v in values.items()))
    return path


def run_playbook(playbook, extra_args, cwd=ROOT, env=None):
    env = dict(os.environ if env is None else env, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), playbook] + extra_args,
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


# One run, every value bad at once (the preflight lists every error): value -> the words of its message.
HOSTILE = {
    "kafka_namespace": ("kafka\n  hostPath: /", "not a valid DNS label"),
    "kafka_cluster_domain": ("cluster.local\nspec: {}", "not a valid DNS name"),
    "kafka_broker_image": ("confluentinc/cp-kafka:7.9.0\n  hostPath: /", "control character"),
    "zookeeper_image": ("{{ lookup('pipe', 'id') }}", "not an image reference"),
    "kafka_broker_storage_class": ("gp3\n  hostPath: /", "not a valid DNS name"),
    "zookeeper_storage_size": ("0Gi", "larger than zero"),
    "kafka_broker_storage_size": ("10Gi\n  hostPath: /", "with a unit"),
    "kafka_broker_data_mount_path": ("/var/lib/../../etc", "'..' component"),
    "zookeeper_statefulset_name": ("zookeeper\n", "not a valid DNS label"),
    "kafka_broker_extra_config": ({" Broker_ID ": "7", "log.retention.hours": "1\n  hostPath: /"},
                                  "derives for every broker"),
    "kafka_broker_node_selector": ({"pool": "a\n  hostPath: /"}, "not a node label"),
    "kafka_broker_tolerations": ([{"key": "a", "operator": "Exists", "hostPath": "/"}], "unknown fields"),
    "zookeeper_resources": ({"limits": {"memory": "1Gi"}, "volumes": [{"hostPath": "/"}]}, "only requests and limits"),
    "kafka_broker_ids": ("0,1,2,5000", "reserved.broker.max.id"),
    "kafka_broker_count": ("four", "four"),
}


def test_hostile_values_are_all_refused_in_one_run_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    survey = unsafe_vars_file(tmp_path, {k: v[0] for k, v in HOSTILE.items()})
    proc = run_playbook("playbooks/render.yml", ["-e", "@%s" % survey, "-e", "kafka_render_dir=%s" % out])
    assert proc.returncode != 0
    # validate_argument_spec stops at the types first ("four"); the plan then names everything else.
    assert "kafka_broker_count" in proc.stdout and "four" in proc.stdout, proc.stdout
    assert not out.exists(), "a failed validation must write nothing"
    typed_right = dict((k, v) for k, v in HOSTILE.items() if k != "kafka_broker_count")
    survey = unsafe_vars_file(tmp_path, {k: v[0] for k, v in typed_right.items()})
    proc = run_playbook("playbooks/render.yml", ["-e", "@%s" % survey, "-e", "kafka_render_dir=%s" % out])
    assert proc.returncode != 0
    for variable, (_value, words) in typed_right.items():
        assert re.search(r"\b%s: [^\n]*%s" % (re.escape(variable), re.escape(words)), proc.stdout), (variable, proc.stdout)
    assert "uid=" not in proc.stdout
    assert not out.exists(), "a failed validation must write nothing"


@pytest.mark.parametrize("variable, value, words", [
    ("kafka_broker_count", "4; rm -rf /", "unable to convert to int"),
    ("kafka_broker_membership_heal", "maybe", "not a valid boolean"),
    ("zookeeper_image_flavor", "apache\n", "must be one of: apache, kubernetes-zookeeper"),
])
def test_a_wrong_type_or_choice_is_one_short_message_with_the_fix(tmp_path, variable, value, words):
    # validate_argument_spec's own failure printed all three argument specs (about 400 lines) and no fix.
    out = tmp_path / "out"
    proc = run_playbook("playbooks/render.yml", ["-e", "@%s" % unsafe_vars_file(tmp_path, {variable: value}),
                                                 "-e", "kafka_render_dir=%s" % out])
    assert proc.returncode != 0
    error = [line for line in proc.stdout.splitlines() if line.startswith("[ERROR]")]
    assert len(error) == 1 and variable in error[0] and words in error[0] and "Fix:" in error[0], proc.stdout
    assert "argument_spec_data" not in proc.stdout and len(proc.stdout.splitlines()) < 60, proc.stdout
    assert not out.exists(), "a failed validation must write nothing"


def test_survey_strings_render_as_typed_values_and_templates_in_them_stay_inert(tmp_path):
    answers = {
        "kafka_broker_count": "5", "zookeeper_replicas": "5", "kafka_broker_ids": "10,11,12,13,14",
        "kafka_broker_auto_create_topics_enable": "false", "kafka_broker_run_as_user": "1001",
        "kafka_broker_client_port": "19092", "kafka_broker_node_selector": '{"pool": "kafka"}',
        "zookeeper_heap_mb": "256", "kafka_broker_membership_heal": "no",
        "kafka_broker_extra_config": {"log.retention.hours": "{{ lookup('pipe', 'id') }}"},
        "kafka_broker_heap_opts": "-Xmx1g -Dnote={{ lookup('pipe', 'id') }}",
    }
    out = tmp_path / "out"
    proc = run_playbook("playbooks/render.yml", ["-e", "@%s" % unsafe_vars_file(tmp_path, answers),
                                                 "-e", "kafka_render_dir=%s" % out])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    objects = []
    for name in sorted(os.listdir(out)):
        with open(out / name) as handle:
            objects.extend(d for d in yaml.safe_load_all(handle) if d)
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    assert named(objects, "StatefulSet", "zookeeper")["spec"]["replicas"] == 5
    deployments = by_kind(objects, "Deployment")
    assert len(deployments) == 5
    pod = deployments[0]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 1001
    assert pod["nodeSelector"] == {"pool": "kafka"}
    assert pod["containers"][0]["ports"][0]["containerPort"] == 19092
    env = env_of(pod["containers"][0])
    assert env["KAFKA_BROKER_ID"] == "10"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_LOG_RETENTION_HOURS"] == "{{ lookup('pipe', 'id') }}"
    assert env["KAFKA_HEAP_OPTS"] == "-Xmx1g -Dnote={{ lookup('pipe', 'id') }}"
    assert "ZK_SERVER_HEAP" in env_of(named(objects, "StatefulSet", "zookeeper")["spec"]["template"]["spec"]
                                      ["containers"][0])
    for name in os.listdir(out):
        assert "uid=" not in (out / name).read_text()


def broken_collection(tmp_path):
    """A copy of the collection whose broker Deployment template fails to render."""
    root = tmp_path / "collections" / "ansible_collections" / "kafka_eks" / "cluster"
    for part in ("galaxy.yml", "meta", "plugins", "roles", "playbooks"):
        source = os.path.join(ROOT, part)
        if os.path.isdir(source):
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            os.makedirs(root, exist_ok=True)
            shutil.copy(source, root / part)
    template = root / "roles" / "kafka_broker" / "templates" / "deployments.yml.j2"
    template.write_text(template.read_text() + "{{ kafka_plan.no_such_key.not_here | to_json }}\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.pathsep.join(
        [str(tmp_path / "collections"), os.path.join(ROOT, ".cache", "collections")]))
    return root, env


def test_a_failing_broker_template_writes_nothing_to_the_render_dir_nor_the_cluster(tmp_path):
    root, env = broken_collection(tmp_path)
    out = tmp_path / "out"
    proc = run_playbook(str(root / "playbooks" / "render.yml"), ["-e", "kafka_render_dir=%s" % out], env=env)
    assert proc.returncode != 0
    assert "no_such_key" in proc.stdout, proc.stdout
    assert not out.exists(), "the ZooKeeper manifests were written before the broker templates were rendered"

    # site.yml against an API server that does not exist: had any apply been attempted, it would show. The
    # preflight reads what runs before it renders (the upgrade step and the ZooKeeper data layout depend on it),
    # so here the run stops at the first read in the namespace, after the plan, before anything is rendered.
    env = dict(env, K8S_AUTH_KUBECONFIG=str(tmp_path / "no-kubeconfig"))
    proc = run_playbook(str(root / "playbooks" / "site.yml"),
                        ["-e", "kafka_preflight_check_nodes=false", "-e", "kafka_k8s_host=https://127.0.0.1:9"],
                        env=env)
    assert proc.returncode != 0
    assert "The plan was derived, but reading what runs failed, so nothing was written: could not read the " \
        "StatefulSets of namespace kafka" in proc.stdout, proc.stdout
    assert "TASK [kafka_eks.cluster.apply_manifests" not in proc.stdout, "something was applied: " + proc.stdout


# --- Zones (issue 14) -----------------------------------------------------------------------------------------

ZONE = "topology.kubernetes.io/zone"


def render_with_controllers(tmp_path, **extra):
    """render.yml's objects, and the KRaft controllers' (rendered by the preflight on every run, written by
    render.yml only once a migration has them): a playbook that runs the same preflight and keeps both."""
    rendered = render(tmp_path, **extra)
    playbook = tmp_path / "controllers.yml"
    playbook.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "kafka_preflight_check_nodes": False},
        "tasks": [
            {"ansible.builtin.import_role": {"name": "kafka_eks.cluster.preflight"}},
            {"ansible.builtin.copy": {"content": "{{ kafka_broker_controller_manifests | to_json }}",
                                      "dest": str(tmp_path / "controllers.json"), "mode": "0644"}},
        ]}]))
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps(dict(extra, kafka_render_dir=str(tmp_path / "unused"))))
    proc = run_playbook(str(playbook), ["-e", "@%s" % vars_file])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    controllers = json.loads((tmp_path / "controllers.json").read_text())
    return rendered, controllers


@pytest.fixture(scope="module")
def zones_render(tmp_path_factory):
    return render_with_controllers(tmp_path_factory.mktemp("zones"), kafka_zones=["za", "zb", "zc"])


def pinned_zone(deployment):
    affinity = deployment["spec"]["template"]["spec"]["affinity"]
    if "nodeAffinity" not in affinity:
        return None
    (term,) = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    (expression,) = term["matchExpressions"]
    assert expression["key"] == ZONE and expression["operator"] == "In"
    (zone,) = expression["values"]
    return zone


def test_with_kafka_zones_brokers_are_pinned_in_turn_with_broker_rack(zones_render):
    rendered, controllers = zones_render
    assert rendered.proc.returncode == 0, rendered.proc.stdout
    for obj in rendered.objects + controllers:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    zones, racks = [], []
    for index in range(4):
        deployment = named(rendered.objects, "Deployment", "kafka-broker-%d" % index)
        zones.append(pinned_zone(deployment))
        racks.append(env_of(deployment["spec"]["template"]["spec"]["containers"][0])["KAFKA_BROKER_RACK"])
        # Beside the per-node anti-affinity, which stays.
        assert "podAntiAffinity" in deployment["spec"]["template"]["spec"]["affinity"]
    assert zones == ["za", "zb", "zc", "za"]
    assert racks == zones


def spread_of(statefulset):
    return statefulset["spec"]["template"]["spec"].get("topologySpreadConstraints")


def test_with_kafka_zones_zookeeper_and_the_controllers_are_spread_over_zones(zones_render):
    rendered, controllers = zones_render
    zookeeper = named(rendered.objects, "StatefulSet", "zookeeper")
    (spread,) = spread_of(zookeeper)
    assert spread == {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "ScheduleAnyway",
                      "nodeTaintsPolicy": "Honor",
                      "labelSelector": {"matchLabels": zookeeper["spec"]["selector"]["matchLabels"]}}
    assert "podAntiAffinity" in zookeeper["spec"]["template"]["spec"]["affinity"]
    (sts,) = [o for o in controllers if o["kind"] == "StatefulSet"]
    (spread,) = spread_of(sts)
    assert spread["topologyKey"] == ZONE and spread["maxSkew"] == 1
    assert spread["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    assert sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]


def test_under_required_anti_affinity_the_zone_spread_is_required_too(tmp_path):
    rendered, controllers = render_with_controllers(tmp_path, kafka_zones=["za", "zb"],
                                                    zookeeper_anti_affinity="required")
    zookeeper = named(rendered.objects, "StatefulSet", "zookeeper")
    assert [s["whenUnsatisfiable"] for s in spread_of(zookeeper)] == ["DoNotSchedule"]
    (sts,) = [o for o in controllers if o["kind"] == "StatefulSet"]
    assert [s["whenUnsatisfiable"] for s in spread_of(sts)] == ["DoNotSchedule"]
    assert [pinned_zone(d) for d in by_kind(rendered.objects, "Deployment")] == ["za", "zb", "za", "zb"]


def assert_no_zones(objects, controllers):
    for deployment in by_kind(objects, "Deployment"):
        assert pinned_zone(deployment) is None
        assert "KAFKA_BROKER_RACK" not in env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert spread_of(named(objects, "StatefulSet", "zookeeper")) is None
    (sts,) = [o for o in controllers if o["kind"] == "StatefulSet"]
    assert spread_of(sts) is None


def test_with_zone_awareness_off_neither_appears(tmp_path):
    rendered, controllers = render_with_controllers(tmp_path, kafka_zones=["za", "zb", "zc"],
                                                    kafka_zone_awareness="off")
    assert rendered.proc.returncode == 0, rendered.proc.stdout
    assert_no_zones(rendered.objects, controllers)


def test_without_kafka_zones_render_has_no_zones(default_render):
    # render.yml reads no nodes: only kafka_zones can turn zone awareness on there.
    for deployment in by_kind(default_render.objects, "Deployment"):
        assert pinned_zone(deployment) is None
        assert "KAFKA_BROKER_RACK" not in env_of(deployment["spec"]["template"]["spec"]["containers"][0])
    assert spread_of(named(default_render.objects, "StatefulSet", "zookeeper")) is None


@pytest.mark.parametrize("extra, words", [
    ({"kafka_zones": ["za", "eu west"]}, "'eu west' is not a zone name"),
    ({"kafka_zones": ["za", "zb", "za"]}, "lists 'za' more than once"),
    ({"kafka_zones": ["za", "zb"], "kafka_broker_extra_config": {"broker.rack": "r1"}}, "zone awareness is on"),
    # The preflight role's own argument-spec check answers first here, in Ansible's words (no Fix: line).
    ({"kafka_zone_awareness": "on"}, "kafka_zone_awareness must be one of: auto, off, got: on"),
])
def test_bad_zone_input_fails_clearly_and_writes_nothing(tmp_path, extra, words):
    proc, objects, out = render(tmp_path, **extra)
    assert proc.returncode != 0
    assert words in proc.stdout, proc.stdout
    assert "Fix:" in proc.stdout or "must be one of" in words, proc.stdout
    assert not out.exists() and objects == []


# External access: one Service per broker and an EXTERNAL listener.

def container_env_entries(deployment):
    return deployment["spec"]["template"]["spec"]["containers"][0]["env"]


def test_loadbalancer_renders_one_annotated_service_per_broker_and_no_unknown_address(tmp_path):
    rendered = render(tmp_path, kafka_broker_external_access="loadbalancer")
    assert rendered.proc.returncode == 0, rendered.proc.stdout
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    for index in range(4):
        service = named(rendered.objects, "Service", "kafka-external-%d" % index)
        assert service["spec"]["type"] == "LoadBalancer"
        assert service["spec"]["ports"] == [{"name": "external", "protocol": "TCP", "port": 9094,
                                             "targetPort": "external"}]
        assert service["spec"]["selector"]["kafka-eks.cluster/broker-id"] == str(index)
        assert service["metadata"]["annotations"] == {
            "service.beta.kubernetes.io/aws-load-balancer-type": "external",
            "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
            "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal"}
        deployment = named(rendered.objects, "Deployment", "kafka-broker-%d" % index)
        ports = deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        assert {"name": "external", "containerPort": 9094} in ports
        # render.yml reads no cluster: no address is known, so none is advertised (site.yml waits for them).
        assert "EXTERNAL" not in env_of(deployment["spec"]["template"]["spec"]["containers"][0])[
            "KAFKA_ADVERTISED_LISTENERS"]
    assert "bootstrap.servers.external" not in named(rendered.objects, "ConfigMap", "kafka-client-config")["data"]


def test_nodeport_advertises_the_nodes_address_from_the_downward_api(tmp_path):
    rendered = render(tmp_path, kafka_broker_external_access="nodeport", kafka_broker_external_node_port_base=30500)
    assert rendered.proc.returncode == 0, rendered.proc.stdout
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    service = named(rendered.objects, "Service", "kafka-external-3")
    assert service["spec"]["type"] == "NodePort" and service["spec"]["externalTrafficPolicy"] == "Local"
    assert service["spec"]["ports"][0]["nodePort"] == 30503 and "annotations" not in service["metadata"]
    env = container_env_entries(named(rendered.objects, "Deployment", "kafka-broker-3"))
    # The downward-API entry comes first: $(NAME) only sees the entries before it.
    assert env[0] == {"name": "KAFKA_EXTERNAL_HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}
    advertised = [e["value"] for e in env if e["name"] == "KAFKA_ADVERTISED_LISTENERS"]
    assert advertised == ["PLAINTEXT://kafka-service-3:9092,INTERNAL://kafka-service-3:9093,"
                          "EXTERNAL://$(KAFKA_EXTERNAL_HOST):30503"]


def test_annotation_values_are_data(tmp_path):
    tricky = "internal\", \"x\": \"y"
    rendered = render(tmp_path, kafka_broker_external_access="loadbalancer",
                      kafka_broker_external_service_annotations={"example.com/a": tricky, "example.com/b": "true"})
    assert rendered.proc.returncode == 0, rendered.proc.stdout
    service = named(rendered.objects, "Service", "kafka-external-0")
    assert service["metadata"]["annotations"] == {"example.com/a": tricky, "example.com/b": "true"}


def test_default_render_has_no_external_services(default_render):
    assert [s["metadata"]["name"] for s in by_kind(default_render.objects, "Service")
            if s["metadata"]["name"].startswith("kafka-external-")] == []


def test_tls_mounts_the_secret_by_reference_and_renders_no_key_material(tmp_path):
    rendered = render(tmp_path, kafka_broker_listener_security={"client": "ssl", "internal": "ssl"},
                      kafka_broker_tls_secret="kafka-tls")
    assert rendered.proc.returncode == 0, rendered.proc.stdout + rendered.proc.stderr
    deployment = named(rendered.objects, "Deployment", "kafka-broker-0")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "tls", "mountPath": "/etc/kafka/tls", "readOnly": True} in container["volumeMounts"]
    assert {"name": "tls", "secret": {"secretName": "kafka-tls", "defaultMode": 0o440}} in pod["volumes"]
    env = env_of(container)
    assert env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CLIENT:SSL,INTERNAL:SSL"
    assert env["KAFKA_SSL_KEYSTORE_LOCATION"] == "/etc/kafka/tls/tls-combined.pem"
    assert env["KAFKA_SSL_TRUSTSTORE_LOCATION"] == "/etc/kafka/tls/ca.crt"
    # Rendering reads no cluster: no Secret was read, so no fingerprint annotation, and nothing secret anywhere.
    assert "annotations" not in deployment["spec"]["template"]["metadata"]
    text = "".join(p.read_text() for p in rendered.out.iterdir())
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text and "password" not in text.lower()
    assert named(rendered.objects, "ConfigMap", "kafka-client-config")["data"]["security.protocol"] == "SSL"
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_generated_tls_renders_the_same_mount_and_no_secret_object(tmp_path):
    # kafka_broker_tls_generate makes the Secrets when site.yml runs (roles/kafka_broker/tasks/certificates.yml),
    # never in a rendered file: the brokers mount the Secret by name as with cert-manager's.
    rendered = render(tmp_path, kafka_broker_listener_security={"client": "ssl", "internal": "ssl"},
                      kafka_broker_tls_secret="kafka-tls", kafka_broker_tls_generate=True)
    assert rendered.proc.returncode == 0, rendered.proc.stdout + rendered.proc.stderr
    pod = named(rendered.objects, "Deployment", "kafka-broker-0")["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "kafka-tls", "defaultMode": 0o440}} in pod["volumes"]
    assert by_kind(rendered.objects, "Secret") == []
    text = "".join(p.read_text() for p in rendered.out.iterdir())
    assert "PRIVATE KEY" not in text and "BEGIN CERTIFICATE" not in text and "kafka-tls-ca" not in text


def test_network_policies_admit_only_what_each_port_is_for(tmp_path, default_render):
    assert by_kind(default_render.objects, "NetworkPolicy") == []
    rendered = render(tmp_path, kafka_network_policy=True, kafka_broker_external_access="nodeport")
    assert rendered.proc.returncode == 0, rendered.proc.stdout + rendered.proc.stderr
    policies = dict((p["metadata"]["name"], p["spec"]) for p in by_kind(rendered.objects, "NetworkPolicy"))
    assert sorted(policies) == ["kafka-broker-network-policy", "kafka-controller-network-policy",
                                "zookeeper-network-policy"]
    zookeeper_pods = {"app.kubernetes.io/component": "zookeeper", "app.kubernetes.io/instance": "kafka"}
    brokers = {"app.kubernetes.io/component": "broker", "app.kubernetes.io/instance": "kafka"}
    controllers = {"app.kubernetes.io/component": "controller", "app.kubernetes.io/instance": "kafka"}

    def rules(spec):
        return [(sorted(tuple(sorted(f["podSelector"]["matchLabels"].items())) for f in r.get("from", [])) or "anyone",
                 sorted(p["port"] for p in r["ports"])) for r in spec["ingress"]]

    def selector(labels):
        return tuple(sorted(labels.items()))
    zookeeper = policies["zookeeper-network-policy"]
    assert zookeeper["podSelector"]["matchLabels"] == zookeeper_pods and zookeeper["policyTypes"] == ["Ingress"]
    assert rules(zookeeper) == [([selector(zookeeper_pods)], [2181, 2888, 3888]),
                                (sorted([selector(brokers), selector(controllers)]), [2181])]
    assert rules(policies["kafka-broker-network-policy"]) == [
        ("anyone", [9092, 9094]), (sorted([selector(brokers), selector(controllers)]), [9093])]
    assert rules(policies["kafka-controller-network-policy"]) == [
        (sorted([selector(brokers), selector(controllers)]), [9093])]
    for obj in by_kind(rendered.objects, "NetworkPolicy"):
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


SASL_VARS = {"kafka_broker_listener_security": {"client": "sasl_ssl", "internal": "sasl_ssl"},
             "kafka_broker_tls_secret": "kafka-tls", "kafka_broker_admin_secret": "kafka-admin",
             "kafka_users": [{"name": "alice", "secret": "alice-password"}]}


def test_scram_reads_the_inter_broker_password_by_reference_before_the_jaas_entry_that_uses_it(tmp_path):
    rendered = render(tmp_path, **SASL_VARS)
    assert rendered.proc.returncode == 0, rendered.proc.stdout + rendered.proc.stderr
    for index in range(4):
        (container,) = named(rendered.objects, "Deployment", "kafka-broker-%d" % index)["spec"]["template"]["spec"][
            "containers"]
        env = container["env"]
        names = [e["name"] for e in env]
        secret_ref = names.index("SCRAM_INTER_BROKER_PASSWORD")
        jaas = names.index("KAFKA_LISTENER_NAME_INTERNAL_SCRAM___SHA___512_SASL_JAAS_CONFIG")
        # The kubelet expands $(NAME) only from entries before it.
        assert secret_ref < jaas, names
        assert env[secret_ref] == {"name": "SCRAM_INTER_BROKER_PASSWORD",
                                   "valueFrom": {"secretKeyRef": {"name": "kafka-admin", "key": "password"}}}
        assert env[jaas]["value"] == ('org.apache.kafka.common.security.scram.ScramLoginModule required '
                                      'username="kafka-admin" password="$(SCRAM_INTER_BROKER_PASSWORD)";')
        values = dict((e["name"], e.get("value")) for e in env)
        assert values["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"] == "CLIENT:SASL_SSL,INTERNAL:SASL_SSL"
        assert values["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
        assert values["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == "SCRAM-SHA-512"
        # Every other entry is a plain value: nothing else refers to a Secret, no value names a password but the JAAS.
        assert [e for e in env if "value" not in e] == [env[secret_ref]]
        assert [e["name"] for e in env if "password" in (e.get("value") or "").lower()] == [names[jaas]]
        assert "SASL_" not in values["KAFKA_ADVERTISED_LISTENERS"] and "SSL://" not in values["KAFKA_ADVERTISED_LISTENERS"]
    client = named(rendered.objects, "ConfigMap", "kafka-client-config")["data"]
    assert client["security.protocol"] == "SASL_SSL" and client["sasl.mechanism"] == "SCRAM-SHA-512"
    assert not any("password" in k.lower() or "jaas" in k.lower() for k in client)
    assert by_kind(rendered.objects, "Secret") == []
    for obj in rendered.objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


# Values that would add a key, an env entry or a volume if spliced, or break the JAAS string: each one refused.
HOSTILE_SASL = {
    "kafka_broker_admin_user": ('admin" password="x";\n  - name: EVIL', "not a user name"),
    "kafka_broker_admin_secret": ("kafka-admin\n      key: other", "not a valid DNS name"),
    "kafka_users": ([{"name": "$(SCRAM_INTER_BROKER_PASSWORD)", "secret": "a"},
                     {"name": "bob", "secret": "b\n  volumes: []"},
                     {"name": "carol", "secret": "c", "secret_key": "password\"; x"},
                     {"name": "dave\n", "secret": "d"}], "kafka_users"),
    "kafka_broker_extra_config": ({"log.retention.hours": "$(SCRAM_INTER_BROKER_PASSWORD)"},
                                  "the inter-broker password"),
}


def test_hostile_sasl_values_are_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    values = dict(SASL_VARS, **dict((k, v[0]) for k, v in HOSTILE_SASL.items()))
    survey = unsafe_vars_file(tmp_path, values)
    proc = run_playbook("playbooks/render.yml", ["-e", "@%s" % survey, "-e", "kafka_render_dir=%s" % out])
    assert proc.returncode != 0
    for variable, (_value, words) in HOSTILE_SASL.items():
        assert re.search(r"\b%s: [^\n]*%s" % (re.escape(variable), re.escape(words)), proc.stdout), (variable, proc.stdout)
    for words in ("kafka_users[0]: '$(SCRAM_INTER_BROKER_PASSWORD)' is not a user name",
                  "kafka_users[1]: Secret 'b\\n  volumes: []' is not a valid DNS name",
                  "kafka_users[2]: secret_key 'password\"; x' is not a Secret key",
                  "kafka_users[3]: 'dave\\n' is not a user name"):
        assert words in proc.stdout, (words, proc.stdout)
    assert not out.exists(), "a failed validation must write nothing"


def test_zookeeper_auth_mounts_the_jaas_secret_and_sets_each_step_valid_against_the_schema(tmp_path):
    proc, objects = render(tmp_path, zookeeper_auth="sasl", zookeeper_auth_secret="zk-auth")[:2]
    assert proc.returncode == 0, proc.stdout
    for obj in objects:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
    pod = named(objects, "StatefulSet", "zookeeper")["spec"]["template"]["spec"]
    env = env_of(pod["containers"][0])
    assert env["JVMFLAGS"] == "-Djava.security.auth.login.config=/etc/zookeeper/jaas/zookeeper-jaas.conf"
    assert env["ZOO_CFG_EXTRA"].split() == [
        "authProvider.sasl=org.apache.zookeeper.server.auth.SASLAuthenticationProvider", "enforce.auth.enabled=true",
        "enforce.auth.schemes=sasl"]
    assert pod["volumes"] == [{"name": "jaas", "secret": {"secretName": "zookeeper-jaas", "defaultMode": 288}}]
    assert {"name": "jaas", "mountPath": "/etc/zookeeper/jaas", "readOnly": True} in pod["containers"][0]["volumeMounts"]
    for deployment in by_kind(objects, "Deployment"):
        broker = deployment["spec"]["template"]["spec"]
        env = env_of(broker["containers"][0])
        assert env["KAFKA_OPTS"] == "-Djava.security.auth.login.config=/etc/kafka/zookeeper-jaas/kafka-jaas.conf"
        assert env["KAFKA_ZOOKEEPER_SET_ACL"] == "true"
        assert {"name": "zookeeper-jaas", "secret": {"secretName": "zookeeper-jaas", "defaultMode": 288}} in (
            broker["volumes"])
    # The Secrets are the cluster's: nothing rendered holds a password or a JAAS file.
    assert not by_kind(objects, "Secret") and "DigestLoginModule" not in json.dumps(objects)
