"""The AWX job template's survey, run the way AWX runs a job: ansible-runner over a private data directory.

AWX lays a job out as project/ (the checked-out project), inventory/, env/extravars (the extra variables, written
by awx.main.utils.safe_yaml.safe_dump: every string of a survey answer, keys included, tagged ``!unsafe``; the job
template's own extra_vars untagged), env/envvars (what the credentials inject: here a kubeconfig and its context,
as the "Kubeconfig (kafka_eks)" credential type of docs/awx.md does) and env/cmdline (``--check --diff`` for a
check job with diff mode). ``ansible_runner.run(private_data_dir=..., playbook="site.yml")`` then runs what AWX
would run. (Its ``extravars=`` argument is not AWX's form: it writes them as untagged JSON.)

Hostile answers must be refused by the preflight before any write, naming the variable, with nothing in the cluster
or in a render directory and no template in them evaluated; good answers given as strings must pass a check run
against a fresh namespace and create nothing. The evidence is ansible-runner's own: its status, its job events
(the failed task, its message, every result's ``changed``) and its stdout; and the test bed's API server.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import ansible_runner
import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lib import CACHE, KUBECTL, ROOT, kubeconfig, start_testbed, stop_testbed  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.testbed

BED = "runner"
# Ports 21143.., pod network 10.244.11.0/24: no other bed of the suite uses index 11 (7 is test_controlplane's tb-ct).
BED_INDEX = int(os.environ.get("AWX_RUNNER_INDEX", "11"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")
JOB_TEMPLATE = os.path.join(ROOT, "examples", "awx", "job_template.json")
SURVEY = os.path.join(ROOT, "examples", "awx", "site_survey.json")


@pytest.fixture(scope="module")
def bed(request):
    """One test bed for the whole module (3 nodes, no JVM is ever started: nothing is applied)."""
    start_testbed(BED, nodes=3, index=BED_INDEX)
    request.addfinalizer(lambda: stop_testbed(BED))
    return kubeconfig(BED)


def namespaces(config):
    out = subprocess.run([KUBECTL, "--kubeconfig", config, "get", "namespaces", "-o", "name"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    return set(out.split())


class _AwxExtraVarsDumper(yaml.SafeDumper):
    """awx.main.utils.safe_yaml.SafeStringDumper: every string is written with the !unsafe tag."""

    def represent_data(self, data):
        if isinstance(data, str):
            return self.represent_scalar("!unsafe", data)
        return super().represent_data(data)


def awx_extravars(template_vars, answers):
    """env/extravars as AWX's safe_dump writes it: one document per top-level key, survey answers tagged."""
    docs = [yaml.dump({key: value}, Dumper=yaml.SafeDumper, default_flow_style=False)
            for key, value in template_vars.items()]
    docs += [yaml.dump({key: value}, Dumper=_AwxExtraVarsDumper, default_flow_style=False)
             for key, value in answers.items()]
    return "".join(docs)


def job_template_extra_vars():
    with open(JOB_TEMPLATE) as handle:
        return yaml.safe_load(json.load(handle)["extra_vars"]) or {}


def survey_defaults():
    """The survey's defaults, as strings: what a launch form submits when nothing is changed."""
    with open(SURVEY) as handle:
        return {q["variable"]: str(q["default"]) for q in json.load(handle)["spec"]}


def private_data_dir(base, config, answers=None, json_answers=None, cmdline=None, template_vars=None):
    """A private data dir laid out as AWX lays out a job's; returns its path."""
    pdd = base / "private_data_dir"
    shutil.rmtree(pdd, ignore_errors=True)
    project = pdd / "project"
    project.mkdir(parents=True)
    # The project checkout: the job's playbooks. Roles and modules come from the installed collection.
    for name in ("site.yml", "ansible.cfg"):
        shutil.copy(os.path.join(ROOT, name), project / name)
    shutil.copytree(os.path.join(ROOT, "playbooks"), project / "playbooks")
    (pdd / "inventory").mkdir()
    (pdd / "inventory" / "hosts").write_text("localhost ansible_connection=local\n")
    env = pdd / "env"
    env.mkdir()
    template_vars = dict(job_template_extra_vars(), **(template_vars or {}))
    if json_answers is None:
        (env / "extravars").write_text(awx_extravars(template_vars, answers or {}))
    else:
        # Strings that stay strings on the way in (JSON, untagged), to see the preflight convert them itself.
        (env / "extravars").write_text(json.dumps(dict(template_vars, **json_answers)))
    (env / "envvars").write_text(json.dumps({
        "K8S_AUTH_KUBECONFIG": config,
        "K8S_AUTH_CONTEXT": "kafka-eks-%s" % BED,
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(CACHE, "collections"),
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
    }))
    if cmdline:
        (env / "cmdline").write_text(cmdline)
    return pdd


class Job:
    """What AWX would show of one job: status, events, stdout."""

    def __init__(self, runner):
        self.status = runner.status
        self.rc = runner.rc
        self.events = list(runner.events)
        self.stdout = ANSI.sub("", runner.stdout.read())

    def results(self, kind):
        return [e["event_data"] for e in self.events if e["event"] == kind]

    def failures(self):
        return self.results("runner_on_failed")

    def changed(self):
        return [d["task"] for d in self.results("runner_on_ok") + self.results("runner_item_on_ok")
                if d.get("res", {}).get("changed")]

    def result(self, task):
        for data in self.results("runner_on_ok"):
            if data["task"] == task:
                return data["res"]
        raise AssertionError("no result of task %r in the job events:\n%s" % (task, self.stdout[-3000:]))

    def fact(self, task, name):
        return self.result(task)["ansible_facts"][name]


def run_job(pdd, playbook="site.yml"):
    runner = ansible_runner.run(private_data_dir=str(pdd), playbook=playbook, quiet=True, timeout=300)
    return Job(runner)


def test_the_id_command_prints_uid_here():
    # What the hostile cases look for when they check that a lookup('pipe', 'id') did not run.
    assert "uid=" in subprocess.run(["id"], capture_output=True, text=True, check=True).stdout


LOOKUP = "{{ lookup('pipe', 'id') }}"
# variable, answer, words of the preflight's message
HOSTILE = [
    ("kafka_broker_image", "x:1\n  command: [sh]", "control character"),
    ("kafka_broker_storage_class", "gp3\nkind: Secret", "not a valid DNS name"),
    ("zookeeper_storage_class", "gp3\nkind: Secret", "not a valid DNS name"),
    ("kafka_broker_image", LOOKUP, "not an image reference"),
    ("kafka_broker_membership_heal", LOOKUP, "not a valid boolean"),
    ("kafka_broker_count", "4; rm -rf /", "unable to convert to int"),
    ("kafka_broker_count", "abc", "unable to convert to int"),
    ("kafka_broker_membership_heal", "maybe", "not a valid boolean"),
]


def assert_refused_by_the_preflight(job, variable, answer, words):
    assert job.status == "failed" and job.rc != 0, (job.status, job.stdout[-3000:])
    failures = job.failures()
    assert len(failures) == 1, job.stdout[-3000:]
    failure = failures[0]
    assert failure["role"] == "preflight", (failure["role"], failure["task"])
    message = failure["res"]["msg"]
    assert re.search(r"\b%s\b" % variable, message) and words in message and "Fix:" in message, message
    assert "nothing was created" in message, message
    # The message reaches the job log whole; no task ran past the preflight and none changed anything.
    assert words in job.stdout and "Traceback" not in job.stdout, job.stdout[-3000:]
    assert job.changed() == [], job.changed()
    assert "uid=" not in job.stdout and all("uid=" not in e.get("stdout", "") for e in job.events)
    if answer == LOOKUP:
        # Refused as the literal text it is: the expression is in the message, unevaluated.
        assert "lookup('pipe', 'id')" in message, message


@pytest.mark.parametrize("variable, answer, words", HOSTILE, ids=lambda v: json.dumps(v) if "\n" in v else v)
def test_a_hostile_survey_answer_is_refused_before_any_write(bed, tmp_path, variable, answer, words):
    answers = dict(survey_defaults(), kafka_namespace="awx-hostile")
    answers[variable] = answer
    before = namespaces(bed)
    job = run_job(private_data_dir(tmp_path, bed, answers))
    assert_refused_by_the_preflight(job, variable, answer, words)
    assert "namespace/awx-hostile" not in namespaces(bed)
    assert namespaces(bed) == before
    # The same answers against playbooks/render.yml: the render directory is never created.
    render_dir = tmp_path / "rendered"
    job = run_job(private_data_dir(tmp_path, bed, answers, template_vars={"kafka_render_dir": str(render_dir)}),
                  playbook="playbooks/render.yml")
    assert_refused_by_the_preflight(job, variable, answer, words)
    assert not render_dir.exists()


def test_without_the_unsafe_tag_the_lookup_would_run(bed, tmp_path):
    # The control for the cases above: the same answer as an untagged extra variable (what `-e` on a command
    # line gives) is evaluated by Ansible, and the job log then shows the id command's output.
    answers = dict(survey_defaults(), kafka_namespace="awx-hostile", kafka_broker_image=LOOKUP)
    job = run_job(private_data_dir(tmp_path, bed, json_answers=answers))
    assert job.status == "failed"
    assert "uid=" in job.stdout, job.stdout[-3000:]


GOOD = {"kafka_namespace": "awx-survey-check", "kafka_broker_count": "4", "kafka_broker_membership_heal": "true",
        "zookeeper_replicas": "3"}
PLAN_TASK = "Keep the plan and what runs for the zookeeper and kafka_broker roles"
PREFLIGHT_TASK = "Check the variables against their specs, each other and what runs, and derive the plan"


@pytest.mark.parametrize("form", ["awx-unsafe-yaml", "json-strings"])
def test_good_survey_strings_pass_a_check_run_and_create_nothing(bed, tmp_path, form):
    answers = dict(survey_defaults(), **GOOD)
    assert all(isinstance(v, str) for v in answers.values())
    before = namespaces(bed)
    if form == "awx-unsafe-yaml":
        pdd = private_data_dir(tmp_path, bed, answers, cmdline="--check --diff")
    else:
        pdd = private_data_dir(tmp_path, bed, json_answers=answers, cmdline="--check --diff")
    job = run_job(pdd)
    assert job.status == "successful" and job.rc == 0, job.stdout[-3000:]
    assert job.failures() == []
    config = job.result(PREFLIGHT_TASK)["config"]
    if form == "json-strings":
        # The preflight got the strings themselves...
        assert config["kafka_broker_count"] == "4" and config["kafka_broker_membership_heal"] == "true"
        assert config["zookeeper_replicas"] == "3"
    # ...and the plan, which the templates read, holds the converted values.
    settings = job.fact(PLAN_TASK, "kafka_plan")["settings"]
    assert settings["kafka_broker_count"] == 4 and settings["zookeeper_replicas"] == 3
    assert settings["kafka_broker_membership_heal"] is True
    assert settings["kafka_namespace"] == "awx-survey-check"
    # Check mode in a namespace that does not exist: every object is listed as one it would create...
    would_create = "\n".join(d["res"].get("msg", "") for d in job.results("runner_on_ok")
                             if d["task"].startswith("Show the objects that would be created"))
    for obj in ["Namespace awx-survey-check", "StatefulSet awx-survey-check/zookeeper"] + \
            ["Deployment awx-survey-check/kafka-broker-%d" % n for n in range(4)]:
        assert "+ %s" % obj in would_create, would_create
    assert "kafka-broker-4" not in would_create
    assert "replicas: 3" in job.stdout  # the StatefulSet's diff
    assert "bootstrap.servers=kafka-service-0:9092,kafka-service-1:9092,kafka-service-2:9092,kafka-service-3:9092" \
        in job.stdout
    # ...and nothing is created.
    assert "namespace/awx-survey-check" not in namespaces(bed)
    assert namespaces(bed) == before
