"""Role READMEs are generated from the argument specs; a stale README fails here."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_role_readmes_match_their_argument_specs():
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen-role-docs.py"), "--check"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout


def test_every_default_is_documented_in_the_argument_spec():
    import yaml
    for role in os.listdir(os.path.join(ROOT, "roles")):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        defaults_file = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        with open(defaults_file) as handle:
            defaults = yaml.safe_load(handle) or {}
        for name, value in defaults.items():
            assert name in options, "%s: %s has no entry in meta/argument_specs.yml" % (role, name)
            assert options[name].get("default") == value, "%s: default of %s differs from the spec" % (role, name)
