"""The README's layout table, docs/architecture.md and the role READMEs name every file they are about, so a new
module_utils file, module, filter, end-to-end test file, molecule scenario or role task file cannot go unmentioned."""
import ast
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tracked_files():
    """Paths of the checkout's files (git's, when there is a git; else every file but caches)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return sorted(p for p in out.decode().split("\0") if p and os.path.exists(os.path.join(ROOT, p)))
    except (OSError, subprocess.CalledProcessError):
        paths = []
        for folder, dirs, files in os.walk(ROOT):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            paths += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files if not f.endswith(".pyc")]
        return sorted(paths)


FILES = tracked_files()


def files_in(folder, suffix=""):
    """Names of the files directly in ``folder`` (relative to the root)."""
    prefix = folder.rstrip("/") + "/"
    return sorted(p[len(prefix):] for p in FILES
                  if p.startswith(prefix) and "/" not in p[len(prefix):] and p.endswith(suffix))


def molecule_entries():
    """Each molecule scenario folder, each shared folder and each file directly in molecule/."""
    return sorted({p[len("molecule/"):].split("/")[0] for p in FILES if p.startswith("molecule/")})


def scenarios():
    return sorted(p.split("/")[1] for p in FILES if re.match(r"^molecule/[^/]+/molecule\.yml$", p))


def read(path):
    with open(os.path.join(ROOT, path)) as handle:
        return handle.read()


def section(text, heading):
    """The text of a ``## heading`` section, up to the next heading of that level."""
    match = re.search(r"^## %s\n(.*?)(?=^## |\Z)" % re.escape(heading), text, re.S | re.M)
    assert match, "no '## %s' section" % heading
    return match.group(1)


LAYOUT = section(read("README.md"), "Layout")
ARCHITECTURE = read("docs/architecture.md")


def layout_row(folder):
    """The layout table's row whose first cell names ``folder``."""
    rows = [line for line in LAYOUT.splitlines()
            if line.startswith("|") and "`%s`" % folder in line.split("|")[1]]
    assert len(rows) == 1, "README's layout table needs exactly one row for `%s`, has %d" % (folder, len(rows))
    return rows[0]


def named(name, text):
    return "`%s`" % name in text


def filter_names():
    """Filter name -> the .py that maps it (FilterModule.filters())."""
    names = {}
    for path in glob.glob(os.path.join(ROOT, "plugins", "filter", "*.py")):
        with open(path) as handle:
            tree = ast.parse(handle.read(), path)
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "filters":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Dict):
                        names.update((key.value, os.path.basename(path)) for key in ret.value.keys)
    return names


def test_there_is_something_to_check():
    assert files_in("plugins/module_utils", ".py") and files_in("plugins/modules", ".py")
    assert files_in("plugins/filter", ".py") and files_in("tests/e2e") and scenarios()
    assert filter_names()


@pytest.mark.parametrize("folder", ["plugins/module_utils/", "plugins/modules/"])
def test_every_python_file_is_in_the_layout_table(folder):
    row = layout_row(folder)
    missing = [name for name in files_in(folder, ".py")
               if name != "__init__.py" and not (named(name, row) or named(name[:-3], row))]
    assert missing == [], "README layout row `%s` does not name %s" % (folder, ", ".join(missing))


def test_every_filter_file_and_filter_is_in_the_layout_table():
    row = layout_row("plugins/filter/")
    missing = [name for name in files_in("plugins/filter", ".py") if not named(name, row)]
    missing += [name for name in filter_names() if not named(name, row)]
    assert missing == [], "README layout row `plugins/filter/` does not name %s" % ", ".join(missing)


def test_every_filter_has_its_documentation_and_every_documentation_a_filter():
    documented = {name[:-4] for name in files_in("plugins/filter", ".yml")}
    assert documented == set(filter_names()), (
        "filters without a plugins/filter/<name>.yml: %s; .yml without a filter: %s"
        % (sorted(set(filter_names()) - documented), sorted(documented - set(filter_names()))))


def test_every_e2e_file_is_in_the_layout_table():
    row = layout_row("tests/e2e/")
    missing = [name for name in files_in("tests/e2e") if not named(name, row)]
    assert missing == [], "README layout row `tests/e2e/` does not name %s" % ", ".join(missing)


def test_every_molecule_scenario_is_in_the_layout_table():
    row = layout_row("molecule/")
    missing = [name for name in molecule_entries()
               if not (named(name, row) or named(name + "/", row) or named("molecule/%s/" % name, row))]
    assert missing == [], "README layout row `molecule/` does not name %s" % ", ".join(missing)


def test_every_molecule_scenario_is_in_the_scenarios_table():
    table = section(read("README.md"), "End-to-end scenarios")
    missing = [name for name in scenarios() if "(molecule/%s/molecule.yml)" % name not in table]
    assert missing == [], "README's End-to-end scenarios table has no row for %s" % ", ".join(missing)


def test_architecture_names_every_plugin_file_and_filter():
    missing = ["%s/%s" % (folder, name)
               for folder in ("plugins/module_utils", "plugins/modules", "plugins/filter")
               for name in files_in(folder, ".py")
               if name != "__init__.py" and "%s/%s" % (folder, name) not in ARCHITECTURE]
    missing += [name for name in filter_names() if not named(name, ARCHITECTURE)]
    assert missing == [], "docs/architecture.md does not name %s" % ", ".join(missing)


def test_architecture_names_the_e2e_files_and_the_scenarios():
    tests = section(ARCHITECTURE, "The tests")
    missing = [name for name in files_in("tests/e2e") if name not in tests]
    missing += ["molecule/" + name for name in scenarios() if not named(name, tests)]
    assert missing == [], "docs/architecture.md (The tests) does not name %s" % ", ".join(missing)


@pytest.mark.parametrize("role", sorted({p.split("/")[1] for p in FILES if p.startswith("roles/")}))
def test_a_role_readme_names_its_task_files_and_templates(role):
    text = read("roles/%s/README.md" % role)
    own = text.split("<!-- END GENERATED -->", 1)[-1]
    files = files_in("roles/%s/tasks" % role, ".yml") + files_in("roles/%s/templates" % role, ".j2")
    missing = [name for name in files if name not in own]
    assert missing == [], "roles/%s/README.md (its hand-written part) does not name %s" % (role, ", ".join(missing))
