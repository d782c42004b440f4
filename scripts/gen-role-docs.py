#!/usr/bin/env python3
"""Write each role's README.md from its meta/argument_specs.yml, the one place variables are described.

    scripts/gen-role-docs.py          rewrite the generated block of every role README
    scripts/gen-role-docs.py --check  exit 1 if a README's generated block is out of date (run by the unit tests)

Only the block between BEGIN and END (below) is generated; text before and after it is the role's own,
written by hand, and kept as it is. A README without the markers is replaced by the block.
Ansible's doc markup (C(), I(), B(), V(), O(), RV(), E(), M(), P(), U(), L()) is rendered as Markdown.
"""
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BEGIN = "<!-- BEGIN GENERATED: argument_specs -->"
END = "<!-- END GENERATED -->"
NOTE = ("<!-- Generated from meta/argument_specs.yml by scripts/gen-role-docs.py: edit the spec, not this block. "
        "Text outside BEGIN/END is written by hand and kept. -->")

# Ansible's markup, as ansible-doc and antsibull-docs read it: a macro starts at a word boundary; the classic
# ones (C, I, B, U, M, L) end at the first ")", the semantic ones (O, V, RV, E, P) take "\)" and "\\" escapes.
MARKUP = re.compile(r"\b(?:(?P<classic>[CIBUM])\((?P<text>[^)]*)\)"
                    r"|L\((?P<label>[^,)]*),(?P<url>[^)]*)\)"
                    r"|(?P<semantic>RV|[OVEP])\((?P<value>(?:\\[\\)]|[^\\)])*)\)"
                    r"|(?P<rule>HORIZONTALLINE))")


def code(text):
    """`text` as a Markdown code span (longer fences when the text holds backticks)."""
    fence = "`" * (max([len(run) for run in re.findall("`+", text)] + [0]) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return "%s%s%s%s%s" % (fence, pad, text, pad, fence)


def _macro(match):
    if match.group("rule"):
        return "\n\n---\n\n"
    if match.group("url") is not None:
        return "[%s](%s)" % (match.group("label").strip(), match.group("url").strip())
    if match.group("semantic"):
        value = re.sub(r"\\([\\)])", r"\1", match.group("value"))
        if match.group("semantic") in ("O", "RV"):
            # O(fqcn#type:name=value): the option's own name (and value) only.
            value = re.sub(r"^[\w.]+#[\w]+:", "", value)
        return code(value)
    kind, text = match.group("classic"), match.group("text")
    if kind in ("C", "M"):
        return code(text)
    if kind == "I":
        return "*%s*" % text
    if kind == "B":
        return "**%s**" % text
    return "[%s](%s)" % (text, text)  # U(url)


def markdown(text):
    """Ansible doc markup in ``text`` rendered as Markdown; everything else left as it is."""
    return MARKUP.sub(_macro, text)


def cell(value):
    """One table cell: a description (a string or a list of paragraphs) on one line, ``|`` escaped."""
    text = " ".join(str(v) for v in value) if isinstance(value, list) else str(value)
    return markdown(text).replace("|", "\\|").replace("\n", " ")


def paragraphs(value):
    """A description (a string or a list of them) as Markdown paragraphs."""
    return [markdown(str(p)) for p in (value if isinstance(value, list) else [value])]


def generated(role):
    """The generated block of the role's README, markers included."""
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]
    lines = [BEGIN, NOTE, "", "# Role `kafka_eks.cluster.%s`" % role, ""]
    for paragraph in paragraphs(spec["short_description"]) + paragraphs(spec.get("description", [])):
        lines += [paragraph, ""]
    lines += [
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, option in spec.get("options", {}).items():
        kind = option.get("type", "str")
        if option.get("elements"):
            kind += " of " + option["elements"]
        if option.get("choices"):
            kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
        if "default" in option:
            default = code(yaml.safe_dump(option["default"], default_flow_style=True).strip()
                           .removesuffix("...").strip())
        else:
            default = "(unset)"
        lines.append("| `%s` | %s | %s | %s |" % (name, kind, default.replace("|", "\\|").replace("\n", " "),
                                                  cell(option.get("description", ""))))
    lines += ["", "See the collection's [README](../../README.md) for how the roles fit together.", END]
    return "\n".join(lines)


def split(text):
    """(before, block, after) of a README; None when it has no complete generated block."""
    start = text.find(BEGIN)
    end = text.find(END, start + len(BEGIN)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    end += len(END)
    return text[:start], text[start:end], text[end:]


def updated(current, block):
    """The README with ``block`` as its generated block, the hand-written text around it kept."""
    parts = split(current) if current is not None else None
    if parts is None:
        return block + "\n"
    before, _, after = parts
    return before + block + after


def main(argv=None):
    """Rewrite (or, with --check, compare) the generated block of every role README; 1 when one was stale."""
    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    stale = []
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        if not os.path.exists(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")):
            continue
        path = os.path.join(ROOT, "roles", role, "README.md")
        block = generated(role)
        current = open(path).read() if os.path.exists(path) else None
        parts = split(current) if current is not None else None
        if parts is None or parts[1] != block:
            stale.append(path)
            if not check:
                with open(path, "w") as handle:
                    handle.write(updated(current, block))
    if stale and check:
        print("out of date, run scripts/gen-role-docs.py: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
