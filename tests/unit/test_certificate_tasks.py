"""roles/kafka_broker/tasks/certificates.yml, read as a reviewer would: key material only in memory and never shown.

Every task that makes, reads, signs with or writes a key is no_log and runs with pipelining (module arguments over
stdin, no module file holding a key on the controller's disk); community.crypto is used through its *_pipe
modules only, and no task writes a file.
"""
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = os.path.join(ROOT, "roles", "kafka_broker", "tasks", "certificates.yml")
# What in a task's arguments or vars says it touches a key: a generated key, the CA's Secret read, a Secret's data.
KEY_MATERIAL = re.compile(r"privatekey|tls_ca_read|tls_ca_key|tls\.key|tls-combined\.pem|kafka_broker_tls_key")


def tasks(items=None, inherited=None):
    """Each task with the vars and no_log it inherits from its blocks."""
    out = []
    for item in items if items is not None else yaml.safe_load(open(TASKS)):
        scope = dict(inherited or {})
        scope.update(item.get("vars") or {})
        if "block" in item:
            out += tasks(item["block"], scope)
        else:
            out.append((item, scope))
    return out


def touches_keys(task):
    return bool(KEY_MATERIAL.search(yaml.safe_dump({k: v for k, v in task.items() if k not in ("name",)})))


def test_every_task_that_touches_a_key_is_no_log_and_pipelined():
    found = [(task, scope) for task, scope in tasks() if touches_keys(task)]
    # The CA's key, request, certificate and Secret, its read, the brokers' key, request, certificate and Secret.
    assert len(found) == 9, [t["name"] for t, dummy in found]
    for task, scope in found:
        assert task.get("no_log") is True, task["name"]
        assert scope.get("ansible_pipelining") is True, task["name"]


def test_community_crypto_only_through_its_pipe_modules_and_no_file_written():
    modules = [m for task, dummy in tasks() for m in task if m.startswith("community.crypto.")]
    assert sorted(set(modules)) == ["community.crypto.openssl_csr_pipe", "community.crypto.openssl_privatekey_pipe",
                                    "community.crypto.x509_certificate_pipe"]
    for task, dummy in tasks():
        assert not any(m in task for m in ("ansible.builtin.copy", "ansible.builtin.template", "ansible.builtin.file",
                                           "ansible.builtin.lineinfile")), task["name"]
        text = yaml.safe_dump(task)
        assert "_path:" not in text and "dest:" not in text, task["name"]


def test_the_check_catches_a_task_without_no_log():
    task = {"name": "x", "community.crypto.openssl_csr_pipe": {"privatekey_content": "{{ kafka_broker_tls_key.privatekey }}"}}
    assert touches_keys(task) and task.get("no_log") is not True
    assert not touches_keys({"name": "Say", "ansible.builtin.debug": {"msg": "{{ kafka_plan.tls.secret }}"}})
