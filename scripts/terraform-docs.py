#!/usr/bin/env python3
"""Inputs and outputs tables of each module's README, in terraform-docs' markdown table format
(terraform-docs itself is not installable offline). The tables live between
<!-- BEGIN_TF_DOCS --> and <!-- END_TF_DOCS --> and are generated from variables.tf and
outputs.tf, so they cannot drift from the code.

  terraform-docs.py [--check] MODULE_DIR...
"""
import re
import sys
from pathlib import Path

BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{\n(.*?)^\}', re.S | re.M)
ATTRIBUTE = re.compile(r"^  ([a-z_]+)\s*=\s?(.*)$")


def balance(line):
    """Open minus closed brackets outside string literals."""
    bare = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    return sum(bare.count(c) for c in "({[") - sum(bare.count(c) for c in ")}]")


def attributes(body):
    """Top-level attributes of a formatted block body (nested blocks skipped): name -> raw text."""
    found, lines, i = {}, body.splitlines(), 0
    while i < len(lines):
        attribute = ATTRIBUTE.match(lines[i])
        open_brackets = balance(lines[i])
        value = [attribute.group(2)] if attribute else None
        i += 1
        while open_brackets > 0 and i < len(lines):
            if value is not None:
                value.append(lines[i][2:])
            open_brackets += balance(lines[i])
            i += 1
        if attribute:
            found[attribute.group(1)] = "\n".join(value).strip()
    return found


def escape(name):
    return name.replace("_", "\\_")


def code(text):
    if "\n" in text:
        return "<pre>" + text.replace("|", "\\|").replace("\n", "<br/>") + "</pre>"
    return "`" + text.replace("|", "\\|") + "`"


def description(raw):
    return raw.strip('"').replace('\\"', '"').replace("|", "\\|")


def tables(module):
    variables = BLOCK.findall((module / "variables.tf").read_text())
    outputs = BLOCK.findall((module / "outputs.tf").read_text())
    lines = ["## Inputs", "", "| Name | Description | Type | Default | Required |", "|------|-------------|------|---------|:--------:|"]
    for kind, name, body in sorted(variables, key=lambda v: ("default" in attributes(v[2]), v[1])):
        attrs = attributes(body)
        default = attrs.get("default")
        lines.append(
            f'| <a name="input_{name}"></a> [{escape(name)}](#input\\_{escape(name)}) | {description(attrs.get("description", ""))} '
            f'| {code(attrs.get("type", "any"))} | {code(default) if default is not None else "n/a"} | {"no" if default is not None else "yes"} |'
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    for kind, name, body in sorted(outputs, key=lambda o: o[1]):
        lines.append(f'| <a name="output_{name}"></a> [{escape(name)}](#output\\_{escape(name)}) | {description(attributes(body).get("description", ""))} |')
    return "\n".join(lines)


def main(argv):
    check = "--check" in argv
    stale = []
    for module in (Path(a) for a in argv if a != "--check"):
        readme = module / "README.md"
        text = readme.read_text()
        if BEGIN not in text or END not in text:
            raise SystemExit(f"{readme}: no {BEGIN} ... {END} section")
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        updated = f"{head}{BEGIN}\n{tables(module)}\n{END}{tail}"
        if updated != text:
            stale.append(str(readme))
            if not check:
                readme.write_text(updated)
    if check and stale:
        raise SystemExit(f"inputs/outputs tables are stale in {', '.join(stale)}: run scripts/terraform-docs.py {' '.join(a for a in argv if a != '--check')}")


if __name__ == "__main__":
    main(sys.argv[1:])
