"""scripts/gen-role-docs.py: Ansible doc markup rendered as Markdown, and the hand-written text of a role README
kept around its generated block."""
import importlib.util
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load():
    spec = importlib.util.spec_from_file_location("gen_role_docs", os.path.join(ROOT, "scripts", "gen-role-docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = load()


@pytest.mark.parametrize("text, expected", [
    ("C(kafka_plan)", "`kafka_plan`"),
    ("I(kafka_broker_count)", "*kafka_broker_count*"),
    ("B(irreversible)", "**irreversible**"),
    ("V(required)", "`required`"),
    ("O(zookeeper_access=exec)", "`zookeeper_access=exec`"),
    ("O(kafka_eks.cluster.zookeeper_quorum#module:zookeeper_hosts)", "`zookeeper_hosts`"),
    ("RV(servers)", "`servers`"),
    ("E(K8S_AUTH_KUBECONFIG)", "`K8S_AUTH_KUBECONFIG`"),
    ("M(kafka_eks.cluster.cluster_preflight)", "`kafka_eks.cluster.cluster_preflight`"),
    ("U(https://kafka.apache.org/)", "[https://kafka.apache.org/](https://kafka.apache.org/)"),
    ("L(KIP-866,https://cwiki.apache.org/KIP-866)", "[KIP-866](https://cwiki.apache.org/KIP-866)"),
    ("V(a\\)b)", "`a)b`"),
    # Markdown would read <name> as an HTML tag outside a code span.
    ("pods C(<name>-0) to C(<name>-N)", "pods `<name>-0` to `<name>-N`"),
    ("C([registry[:port]/]repository:tag[@sha256:digest])", "`[registry[:port]/]repository:tag[@sha256:digest]`"),
    ("with I(a=1) and C(b), then B(c).", "with *a=1* and `b`, then **c**."),
    ("C(a `tick`)", "`` a `tick` ``"),
    # Not markup: no word boundary before the letter, or no parenthesis.
    ("SUM(x) and ROLL(y), plain C and (C)", "SUM(x) and ROLL(y), plain C and (C)"),
])
def test_markup_as_markdown(text, expected):
    assert gen.markdown(text) == expected


def test_a_table_cell_is_one_line_with_pipes_escaped():
    assert gen.cell(["C(a|b) first,", "I(x) second"]) == "`a\\|b` first, *x* second"


def test_the_checked_in_role_readmes_carry_no_markup():
    leftover = re.compile(r"\b(?:[CIBUMOVEPL]|RV)\([^)]*\)")
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        with open(os.path.join(ROOT, "roles", role, "README.md")) as handle:
            parts = gen.split(handle.read())
        assert parts is not None, "%s: README has no generated block" % role
        assert leftover.findall(parts[1]) == [], role


SPEC = """\
argument_specs:
  main:
    short_description: Do I(one) thing.
    description:
      - Uses C(kafka_plan).
    options:
      demo_count:
        type: int
        default: 3
        description: How many; see B(below).
"""


@pytest.fixture
def tree(tmp_path, monkeypatch):
    meta = tmp_path / "roles" / "demo" / "meta"
    meta.mkdir(parents=True)
    (meta / "argument_specs.yml").write_text(SPEC)
    monkeypatch.setattr(gen, "ROOT", str(tmp_path))
    return tmp_path / "roles" / "demo" / "README.md"


def test_a_readme_is_written_with_markdown(tree):
    assert gen.main([]) == 0
    text = tree.read_text()
    assert text.startswith(gen.BEGIN) and text.rstrip().endswith(gen.END)
    assert "Do *one* thing." in text and "Uses `kafka_plan`." in text
    assert "| `demo_count` | int | `3` | How many; see **below**. |" in text
    assert gen.main(["--check"]) == 0


def test_hand_written_text_around_the_block_is_kept(tree, capsys):
    gen.main([])
    block = gen.split(tree.read_text())[1]
    before, after = "Intro by hand.\n\n", "\n\n## Notes\n\nKept, C(not rendered) here.\n"
    # An old generated block (the spec changed since): regenerating replaces the block only.
    tree.write_text(before + block.replace("How many", "Old text") + after)
    assert gen.main(["--check"]) == 1
    assert "demo/README.md" in capsys.readouterr().out
    assert gen.main([]) == 0
    assert tree.read_text() == before + block + after
    assert gen.main(["--check"]) == 0


def test_check_compares_only_the_generated_block(tree):
    gen.main([])
    tree.write_text(tree.read_text() + "\nEdited by hand, any time.\n")
    assert gen.main(["--check"]) == 0


def test_a_readme_without_markers_is_replaced_by_the_block(tree):
    tree.write_text("# An old, fully generated README\n")
    assert gen.main(["--check"]) == 1
    assert tree.read_text() == "# An old, fully generated README\n"
    gen.main([])
    assert tree.read_text() == gen.generated("demo") + "\n"
