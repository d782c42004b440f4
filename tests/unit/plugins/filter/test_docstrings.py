"""Every filter plugin says what it does: a module docstring, and one on each class and function in it."""
import ast
import glob
import os

import pytest

FILTERS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "filter")
FILES = sorted(glob.glob(os.path.join(FILTERS, "*.py")))


def test_there_are_filters():
    assert FILES


@pytest.mark.parametrize("path", FILES, ids=os.path.basename)
def test_module_class_and_function_docstrings(path):
    with open(path) as handle:
        tree = ast.parse(handle.read(), path)
    assert ast.get_docstring(tree), "%s has no module docstring" % path
    missing = [node.name for node in ast.walk(tree)
               if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and not ast.get_docstring(node)]
    assert missing == [], "%s: no docstring on %s" % (os.path.basename(path), ", ".join(missing))
