"""Shared set-up of the unit tests: make `ansible_collections.kafka_eks.cluster` importable (the checkout linked
as .cache/collections/ansible_collections/kafka_eks/cluster, the same link `make setup` makes), and helpers to
run a module's code with a real AnsibleModule but without exiting the interpreter."""
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
LINK = os.path.join(COLLECTIONS, "ansible_collections", "kafka_eks", "cluster")

if not os.path.exists(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(ROOT, LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
# The test bed's own package (tests/testbed/testbed_lib): certificates made like cert-manager's, for one.
TESTBED = os.path.join(ROOT, "tests", "testbed")
if TESTBED not in sys.path:
    sys.path.insert(0, TESTBED)


class ModuleExit(Exception):
    """exit_json or fail_json was called; `result` holds its arguments, `failed` says which."""

    def __init__(self, result, failed):
        super().__init__(result.get("msg", ""))
        self.result = result
        self.failed = failed


@pytest.fixture
def make_module():
    """make_module(argument_spec, args, check_mode=False, **options) -> a real AnsibleModule (built with the
    other AnsibleModule ``options``, such as ``required_if``) whose exit_json/fail_json raise ModuleExit (results
    are JSON round-tripped, as Ansible would see them); a validation failure raises it from make_module."""
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.testing import patch_module_args

    class TestModule(AnsibleModule):
        def exit_json(self, **kwargs):
            raise ModuleExit(json.loads(json.dumps(kwargs)), failed=False)

        def fail_json(self, msg, **kwargs):
            kwargs["msg"] = msg
            kwargs["failed"] = True
            raise ModuleExit(json.loads(json.dumps(kwargs)), failed=True)

    def factory(argument_spec, args, check_mode=False, **options):
        args = dict(args)
        if check_mode:
            args["_ansible_check_mode"] = True
        options.setdefault("supports_check_mode", True)
        with patch_module_args(args):
            return TestModule(argument_spec=argument_spec, **options)

    return factory
