"""The AWX material in examples/awx/ and the execution environment files, checked without an AWX server.

1. examples/awx/site_survey.json against the rules AWX applies when a survey spec is POSTed
   (JobTemplateSurveySpec._validate_spec_data in awx/api/views/__init__.py) and when a job is launched
   (SurveyJobTemplateMixin._survey_element_validation in awx/main/models/mixins.py), written out here in
   plain Python: required keys and their types, the allowed question types (SURVEY_TYPE_MAPPING in
   awx/main/constants.py), the default's type, integer min/max, choices present and holding the default,
   one default for multiplechoice, unique variable names, `$encrypted$` only for passwords.
2. Every survey variable against the roles' meta/argument_specs.yml, the contract the preflight enforces:
   the option exists, its type fits the question type, every answer the survey can give (each choice, the
   default, the integer bounds) passes Ansible's own argument-spec validation, and the survey's default is
   the role's default.
3. examples/awx/inventory.yml, job_template.json, requirements.yml and execution-environment.yml against
   the collection (variables, playbooks, versions, pins).
"""
import glob
import json
import os
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.parsing.convert_bool import boolean

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWX = os.path.join(ROOT, "examples", "awx")
SURVEY_FILE = os.path.join(AWX, "site_survey.json")

# awx/main/constants.py SURVEY_TYPE_MAPPING: the question types and the Python types their default may have.
SURVEY_TYPE_MAPPING = {
    "text": (str,), "textarea": (str,), "password": (str,), "multiplechoice": (str,), "multiselect": (str,),
    "integer": (int,), "float": (float, int),
}
# Keys a question may carry (the AWX UI writes these; anything else is a typo here).
QUESTION_KEYS = {"question_name", "question_description", "required", "type", "variable", "min", "max",
                 "default", "choices", "new_question"}
# Which argument-spec types each question type can feed. multiplechoice answers are strings: they fit a str
# option (with choices) or a bool option (Ansible turns "true"/"false" into booleans).
COMPATIBLE_SPEC_TYPES = {
    "text": {"str", "path", "raw"}, "textarea": {"str", "raw"}, "password": {"str", "raw"},
    "integer": {"int", "raw"}, "float": {"float", "raw"},
    "multiplechoice": {"str", "bool", "raw"}, "multiselect": {"list"},
}


def load_survey():
    with open(SURVEY_FILE) as handle:
        return json.load(handle)


def choice_list(question):
    """AWX accepts choices as a list or as one newline-separated string; blank lines are dropped."""
    choices = question["choices"]
    if isinstance(choices, str):
        return [c for c in choices.splitlines() if c.strip() != ""]
    return list(choices)


def default_list(question):
    default = question["default"]
    if isinstance(default, str):
        return [d for d in default.splitlines() if d.strip() != ""]
    return list(default)


def awx_spec_errors(spec):
    """The errors AWX's survey_spec POST would answer 400 with (all of them, not just the first)."""
    errors = []
    for field, expect in (("name", str), ("description", str), ("spec", list)):
        if field not in spec:
            errors.append("Field '%s' is missing from survey spec." % field)
        elif not isinstance(spec[field], expect):
            errors.append("Expected %s for field '%s'." % (expect.__name__, field))
    if errors:
        return errors
    if not spec["spec"]:
        return ["'spec' doesn't contain any items."]
    variables = set()
    for idx, question in enumerate(spec["spec"]):
        where = "question %d" % idx
        if not isinstance(question, dict):
            errors.append("%s is not a json object" % where)
            continue
        missing = [k for k in ("type", "question_name", "variable", "required") if k not in question]
        if missing:
            errors.append("%s: %s missing" % (where, ", ".join(missing)))
            continue
        where = "question %d (%s)" % (idx, question["variable"])
        for key in ("type", "question_name", "variable"):
            if not isinstance(question[key], str):
                errors.append("%s: '%s' must be a string" % (where, key))
        if not isinstance(question["required"], bool):
            errors.append("%s: 'required' must be a boolean" % where)
        unknown = set(question) - QUESTION_KEYS
        if unknown:
            errors.append("%s: unknown keys %s" % (where, sorted(unknown)))
        if question["variable"] in variables:
            errors.append("%s: variable duplicated" % where)
        variables.add(question["variable"])
        qtype = question["type"]
        if qtype not in SURVEY_TYPE_MAPPING:
            errors.append("%s: type %r is not one of %s" % (where, qtype, sorted(SURVEY_TYPE_MAPPING)))
            continue
        if "default" in question and question["default"] != "":
            default = question["default"]
            # AWX uses isinstance, under which True is an int; a boolean default is still a mistake.
            if isinstance(default, bool) or not isinstance(default, SURVEY_TYPE_MAPPING[qtype]):
                errors.append("%s: default %r is not of the %s type" % (where, default, qtype))
        for key in ("min", "max"):
            value = question.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                errors.append("%s: %s must be an integer or null" % (where, key))
        if qtype in ("multiplechoice", "multiselect"):
            if "choices" not in question:
                errors.append("%s: a %s question must list choices" % (where, qtype))
                continue
            if not isinstance(question["choices"], (str, list)):
                errors.append("%s: choices must be a list or a newline-separated string" % where)
                continue
            choices = choice_list(question)
            if len(set(choices)) != len(choices):
                errors.append("%s: choices repeat" % where)
            if "default" in question:
                defaults = default_list(question)
                if qtype == "multiplechoice" and len(defaults) > 1:
                    errors.append("%s: a multiplechoice question has one default" % where)
                # AWX tests `item in choices`, a substring test when choices is a string: compare whole lines.
                if any(d not in choices for d in defaults):
                    errors.append("%s: default %r is not among the choices %s" % (where, defaults, choices))
        default = question.get("default")
        if isinstance(default, str) and default.startswith("$encrypted$") and qtype != "password":
            errors.append("%s: $encrypted$ is reserved for password defaults" % where)
    return errors


def awx_launch_errors(question, value):
    """The errors AWX's launch-time check gives for `value` as the answer to `question`."""
    qtype, low, high = question["type"], question.get("min"), question.get("max")
    if qtype in ("text", "textarea", "password"):
        if not isinstance(value, str):
            return ["expected a string"]
        errors = []
        if low not in ("", None) and len(value) < int(low):
            errors.append("shorter than %s" % low)
        if high not in ("", None) and len(value) > int(high):
            errors.append("longer than %s" % high)
        return errors
    if qtype == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return ["expected an integer"]
        errors = []
        if low not in ("", None) and value < int(low):
            errors.append("below %s" % low)
        if high not in ("", None) and value > int(high):
            errors.append("above %s" % high)
        return errors
    if qtype == "float":
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else ["expected a number"]
    if qtype == "multiselect":
        if not isinstance(value, list):
            return ["expected a list"]
        return ["%r not a choice" % v for v in value if v not in choice_list(question)]
    if qtype == "multiplechoice":
        return [] if value in choice_list(question) else ["%r not a choice" % value]
    return ["unknown type"]


def role_options():
    """{variable: [(role, option spec), ...]} from every role's main entry point."""
    files = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))
    assert files, "no roles/*/meta/argument_specs.yml found: the survey has nothing to be checked against"
    options = {}
    for path in files:
        role = path.split(os.sep)[-3]
        with open(path) as handle:
            spec = yaml.safe_load(handle) or {}
        main = spec.get("argument_specs", {}).get("main", {})
        for name, option in (main.get("options") or {}).items():
            options.setdefault(name, []).append((role, option))
    return options


def spec_for(options, variable):
    if variable not in options:
        pytest.fail("survey variable %r is not an option of any role's meta/argument_specs.yml (the roles: %s). "
                    "Either the survey uses a wrong name or the role has not declared it yet."
                    % (variable, ", ".join(sorted(os.listdir(os.path.join(ROOT, "roles"))))))
    declared = options[variable]
    types = {pair[1].get("type", "str") for pair in declared}
    assert len(types) == 1, "%s is declared with different types: %s" % (variable, declared)
    return declared[0]


def validate_against_spec(variable, option, value):
    """Ansible's own argument-spec validation, as validate_argument_spec runs it: (errors, converted value)."""
    result = ArgumentSpecValidator({variable: option}).validate({variable: value})
    return result.error_messages, result.validated_parameters.get(variable)


def candidate_answers(question):
    """Every answer worth trying: the default, each choice, the integer bounds."""
    answers = []
    if "default" in question and question["default"] != "":
        answers.append(question["default"])
    if question["type"] in ("multiplechoice", "multiselect"):
        answers.extend(choice_list(question))
    if question["type"] == "integer":
        answers.extend(v for v in (question.get("min"), question.get("max")) if v not in ("", None))
    return answers


# --- 1. the survey as AWX sees it ------------------------------------------------------------------------

def test_survey_passes_awx_survey_spec_validation():
    assert awx_spec_errors(load_survey()) == []


def test_every_default_is_an_answer_awx_accepts_at_launch():
    for question in load_survey()["spec"]:
        if "default" in question and question["default"] != "":
            assert awx_launch_errors(question, question["default"]) == [], question["variable"]


def test_the_checker_catches_what_awx_refuses():
    base = {"question_name": "q", "variable": "v", "required": True, "type": "multiplechoice",
            "choices": "preferred\nrequired", "default": "pref"}
    assert awx_spec_errors({"name": "", "description": "", "spec": [base]})  # substring, not a choice
    assert awx_spec_errors({"name": "", "description": "", "spec": [dict(base, type="boolean")]})
    assert awx_spec_errors({"name": "", "description": "", "spec": [dict(base, default="preferred\nrequired")]})
    integer = {"question_name": "q", "variable": "v", "required": True, "type": "integer", "default": "4"}
    assert awx_spec_errors({"name": "", "description": "", "spec": [integer]})
    assert awx_spec_errors({"name": "", "description": "", "spec": [integer, dict(integer, default=4)]})
    assert awx_spec_errors({"name": "", "description": "", "spec": []})
    assert awx_spec_errors({"name": "", "spec": [dict(integer, default=4)]})
    assert awx_spec_errors({"name": "", "description": "", "spec": [dict(integer, default=4, required="yes")]})
    assert awx_launch_errors(dict(integer, min=1, max=7), 8)
    assert awx_launch_errors(dict(integer, min=1, max=7), "3")


def test_survey_asks_the_questions_the_contract_names():
    expected = {
        "kafka_namespace": "text", "kafka_broker_count": "integer", "zookeeper_replicas": "integer",
        "kafka_broker_image": "text", "zookeeper_image": "text", "zookeeper_image_flavor": "multiplechoice",
        "zookeeper_anti_affinity": "multiplechoice", "kafka_broker_membership_heal": "multiplechoice",
    }
    asked = {q["variable"]: q["type"] for q in load_survey()["spec"]}
    assert asked == expected


# --- 2. the survey against the roles' argument specs ----------------------------------------------------

@pytest.mark.parametrize("question", load_survey()["spec"], ids=lambda q: q["variable"])
def test_survey_question_matches_the_role_argument_spec(question):
    variable = question["variable"]
    role, option = spec_for(role_options(), variable)
    spec_type = option.get("type", "str")
    assert spec_type in COMPATIBLE_SPEC_TYPES[question["type"]], (
        "%s: a %s question cannot feed a %s option (roles/%s)" % (variable, question["type"], spec_type, role))

    if option.get("choices"):
        assert question["type"] in ("multiplechoice", "multiselect"), (
            "%s has choices %s in roles/%s: ask it as multiplechoice" % (variable, option["choices"], role))
        assert set(choice_list(question)) <= {str(c) for c in option["choices"]}, variable
    if spec_type == "bool":
        converted = {boolean(c, strict=True) for c in choice_list(question)}
        assert converted == {True, False}, "%s: the choices must offer both true and false" % variable

    for answer in candidate_answers(question):
        errors = validate_against_spec(variable, option, answer)[0]
        assert errors == [], "%s: the answer %r fails roles/%s: %s" % (variable, answer, role, errors)

    assert "default" in option, "%s has no default in roles/%s" % (variable, role)
    errors, converted = validate_against_spec(variable, option, question["default"])
    assert errors == [] and converted == option["default"], (
        "%s: the survey's default %r is %r for the role, whose default is %r (roles/%s)"
        % (variable, question["default"], converted, option["default"], role))


def test_survey_bounds_hold_what_the_role_defaults_to():
    options = role_options()
    for question in load_survey()["spec"]:
        if question["type"] != "integer":
            continue
        option = spec_for(options, question["variable"])[1]
        assert awx_launch_errors(question, option["default"]) == [], question["variable"]


def test_missing_variable_fails_clearly():
    with pytest.raises(pytest.fail.Exception, match="not an option of any role"):
        spec_for(role_options(), "kafka_no_such_variable")


# --- 3. inventory, job template, requirements and the execution environment ----------------------------

def test_inventory_host_variables_are_role_options():
    with open(os.path.join(AWX, "inventory.yml")) as handle:
        inventory = yaml.safe_load(handle)
    group = inventory["kafka_clusters"]
    assert group["vars"]["ansible_connection"] == "local"
    options = role_options()
    assert len(group["hosts"]) >= 2
    for host, hostvars in group["hosts"].items():
        assert "kafka_k8s_context" in hostvars, "%s: each cluster names its kubeconfig context" % host
        for variable, value in hostvars.items():
            if variable.startswith("ansible_"):
                continue
            option = spec_for(options, variable)[1]
            errors = validate_against_spec(variable, option, value)[0]
            assert errors == [], "%s: %s=%r: %s" % (host, variable, value, errors)


def test_multi_cluster_playbook_is_serial_and_stops_at_the_first_failure():
    with open(os.path.join(ROOT, "playbooks", "multi_cluster.yml")) as handle:
        multi = yaml.safe_load(handle)
    assert multi[0]["vars"]["kafka_serial"] == 1
    assert "kafka_clusters" in multi[0]["vars"]["kafka_hosts"]
    with open(os.path.join(ROOT, "playbooks", "site.yml")) as handle:
        play = yaml.safe_load(handle)[0]
    assert play["max_fail_percentage"] == 0
    assert "kafka_serial" in play["serial"]


def test_job_template_points_at_site_yml_with_the_survey_on():
    with open(os.path.join(AWX, "job_template.json")) as handle:
        template = json.load(handle)
    for field in ("name", "job_type", "inventory", "project", "playbook", "execution_environment",
                  "ask_variables_on_launch", "survey_enabled"):
        assert field in template, field
    assert template["job_type"] == "run"
    assert os.path.isfile(os.path.join(ROOT, template["playbook"]))
    assert template["survey_enabled"] is True
    assert template["ask_variables_on_launch"] is False
    assert "credentials" not in template  # attached through /credentials/, not in the body


def read_pins():
    pins = {}
    with open(os.path.join(ROOT, "tests", "requirements.txt")) as handle:
        for line in handle:
            match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line.strip())
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def test_execution_environment_is_builder_v3_and_pinned_like_the_tests():
    with open(os.path.join(ROOT, "execution-environment.yml")) as handle:
        ee = yaml.safe_load(handle)
    assert ee["version"] == 3
    assert ee["images"]["base_image"]["name"]
    pins = read_pins()
    deps = ee["dependencies"]
    assert deps["ansible_core"]["package_pip"] == "ansible-core==%s" % pins["ansible-core"]
    # AWX drives the job through ansible-runner; tests/e2e/test_awx_runner.py runs site.yml through the same one.
    assert deps["ansible_runner"]["package_pip"] == "ansible-runner==%s" % pins["ansible-runner"]
    assert deps["galaxy"] == "requirements.yml"
    python = dict(p.split("==") for p in deps["python"])
    for package in ("kubernetes", "kazoo", "jsonpatch", "requests-oauthlib"):
        assert python.get(package) == pins[package], package


def test_requirements_install_kubernetes_core_and_this_version_of_the_collection():
    with open(os.path.join(ROOT, "requirements.yml")) as handle:
        requirements = yaml.safe_load(handle)
    with open(os.path.join(ROOT, "galaxy.yml")) as handle:
        galaxy = yaml.safe_load(handle)
    collections = {c["name"]: c for c in requirements["collections"]}
    assert collections["kubernetes.core"]["version"] == "6.2.0"
    tarball = "collections/%s-%s-%s.tar.gz" % (galaxy["namespace"], galaxy["name"], galaxy["version"])
    assert tarball in collections, "requirements.yml must name %s (galaxy.yml's version)" % tarball
    assert collections[tarball]["type"] == "file"
