"""Each molecule scenario (molecule/<name>/molecule.yml) has its whole story in one module,
tests/e2e/scenarios/<name>.py, with a side_effect and a verify; and each such module has its molecule scenario.
molecule runs them by name (python -m scenarios side_effect|verify NAME), test_scenarios.py finds them by their
molecule.yml: nothing else lists them, so this is what catches one without the other. Needs no test bed."""
import glob
import importlib
import inspect
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
E2E = os.path.join(ROOT, "tests", "e2e")
STORIES = os.path.join(E2E, "scenarios")


def molecule_scenarios():
    return sorted(os.path.basename(os.path.dirname(path))
                  for path in glob.glob(os.path.join(ROOT, "molecule", "*", "molecule.yml"))
                  if os.path.basename(os.path.dirname(path)) != "resources")


def scenario_modules():
    """The stories: scenarios/*.py but the package's own (__init__, __main__) and private (_*) modules."""
    return sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(STORIES, "*.py"))
                  if not os.path.basename(path).startswith("_"))


def story(name):
    if E2E not in sys.path:
        sys.path.insert(0, E2E)
    return importlib.import_module("scenarios." + name)


def test_there_are_scenarios_and_stories():
    assert "default" in molecule_scenarios() and "default" in scenario_modules()


def test_every_molecule_scenario_has_its_story():
    missing = sorted(set(molecule_scenarios()) - set(scenario_modules()))
    assert missing == [], "molecule scenarios without tests/e2e/scenarios/<name>.py: %s" % ", ".join(missing)


def test_every_story_has_its_molecule_scenario():
    orphans = sorted(set(scenario_modules()) - set(molecule_scenarios()))
    assert orphans == [], "tests/e2e/scenarios/ modules without molecule/<name>/molecule.yml: %s" % ", ".join(orphans)


@pytest.mark.parametrize("name", scenario_modules())
def test_a_story_has_side_effect_and_verify(name):
    module = story(name)
    for step in ("side_effect", "verify"):
        function = getattr(module, step, None)
        assert inspect.isfunction(function), "tests/e2e/scenarios/%s.py has no function %s" % (name, step)
        assert function.__module__ == module.__name__, (
            "tests/e2e/scenarios/%s.py's %s is %s's: a story's steps are its own" % (name, step, function.__module__))
        params = list(inspect.signature(function).parameters)
        assert params[:2] == ["cluster", "state_file"], (name, step, params)


@pytest.mark.parametrize("name", scenario_modules())
def test_a_story_says_how_it_is_run(name):
    """SLOW and TIMEOUT, when a story sets them, are what test_scenarios.py reads."""
    module = story(name)
    assert isinstance(getattr(module, "SLOW", False), bool), name
    timeout = getattr(module, "TIMEOUT", 2400)
    assert isinstance(timeout, int) and 600 <= timeout <= 7200, (name, timeout)
