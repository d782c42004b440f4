#!/usr/bin/env python3
"""Write each role's README.md from its meta/argument_specs.yml, the one place variables are described.

    scripts/gen-role-docs.py          rewrite the READMEs
    scripts/gen-role-docs.py --check  exit 1 if a README is out of date (run by the unit tests)
"""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cell(value):
    text = " ".join(value) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def readme(role):
    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]
    lines = [
        "# Role `kafka_eks.cluster.%s`" % role,
        "",
        spec["short_description"],
        "",
    ]
    for paragraph in spec.get("description", []):
        lines += [paragraph, ""]
    lines += [
        "<!-- Generated from meta/argument_specs.yml by scripts/gen-role-docs.py; edit the spec, not this file. -->",
        "",
        "| variable | type | default | description |",
        "|---|---|---|---|",
    ]
    for name, option in spec.get("options", {}).items():
        kind = option.get("type", "str")
        if option.get("elements"):
            kind += " of " + option["elements"]
        if option.get("choices"):
            kind += " (" + ", ".join(str(c) for c in option["choices"]) + ")"
        default = option["default"] if "default" in option else "(unset)"
        default = "`%s`" % yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...").strip() \
            if "default" in option else default
        lines.append("| `%s` | %s | %s | %s |" % (name, kind, cell(default), cell(option.get("description", ""))))
    lines += ["", "See the collection's [README](../../README.md) for how the roles fit together.", ""]
    return "\n".join(lines)


def main():
    stale = []
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        path = os.path.join(ROOT, "roles", role, "README.md")
        text = readme(role)
        current = open(path).read() if os.path.exists(path) else None
        if current != text:
            stale.append(path)
            if "--check" not in sys.argv:
                with open(path, "w") as handle:
                    handle.write(text)
    if stale and "--check" in sys.argv:
        print("out of date, run scripts/gen-role-docs.py: " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
