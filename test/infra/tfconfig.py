"""A Terraform module as the checks see it: its blocks parsed with python-hcl2, and the
references its expressions make. No Terraform binary is needed (nor available in CI).

python-hcl2 here is checkov's fork (bc-python-hcl2): attribute values come wrapped in a
one-element list, and expressions come back as their source text, "${...}".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
# A reference starts an expression word: not preceded by a letter, digit, '_' or '.'.
_START = r"(?<![\w.])"
REF_PATTERNS = {
    "var": re.compile(_START + rf"var\.({IDENT})"),
    "local": re.compile(_START + rf"local\.({IDENT})"),
    "module": re.compile(_START + rf"module\.({IDENT})(?:\.({IDENT}))?"),
    "data": re.compile(_START + rf"data\.({IDENT})\.({IDENT})"),
    # Managed resources of the providers used here; other words with a dot (each.key,
    # path.module, a dynamic block's iterator) are not resources.
    "resource": re.compile(_START + rf"(aws_[a-z0-9_]+)\.({IDENT})"),
    "output": re.compile(_START + rf"output\.({IDENT})"),
    "run": re.compile(_START + rf"run\.({IDENT})\.({IDENT})"),
}


def parse(path: Path) -> dict:
    with open(path) as f:
        return hcl2.load(f)


def unwrap(value):
    """bc-python-hcl2 wraps attribute values in a one-element list."""
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def expressions(obj):
    """Every string in a parsed block that holds an interpolation, recursively."""
    if isinstance(obj, str):
        if "${" in obj:
            yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            if not str(key).startswith("__"):
                yield from expressions(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from expressions(value)


def references(obj, kind: str, ignore: set[str] = frozenset()) -> set[tuple]:
    """References of one kind ('var', 'resource', ...) made anywhere in `obj`."""
    found = set()
    for text in expressions(obj):
        for m in REF_PATTERNS[kind].finditer(text):
            if m.group(1) not in ignore:
                found.add(tuple(g for g in m.groups() if g is not None))
    return found


def dynamic_labels(obj) -> set[str]:
    """Labels of dynamic blocks: inside them the label is an iterator, not a reference."""
    labels = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "dynamic" and isinstance(value, list):
                for block in value:
                    labels.update(block.keys())
            labels |= dynamic_labels(value)
    elif isinstance(obj, list):
        for value in obj:
            labels |= dynamic_labels(value)
    return labels


@dataclass
class Module:
    path: Path
    files: list[Path] = field(default_factory=list)
    variables: dict = field(default_factory=dict)  # name -> body
    locals: dict = field(default_factory=dict)  # name -> value
    resources: dict = field(default_factory=dict)  # (type, name) -> body
    data: dict = field(default_factory=dict)  # (type, name) -> body
    modules: dict = field(default_factory=dict)  # name -> body
    outputs: dict = field(default_factory=dict)  # name -> body
    blocks: list = field(default_factory=list)  # every parsed file, for reference scans

    def required_variables(self) -> set[str]:
        return {n for n, b in self.variables.items() if "default" not in b}

    def defaults(self) -> dict:
        return {n: unwrap(b["default"]) for n, b in self.variables.items() if "default" in b}


def load_module(path: Path) -> Module:
    """Every *.tf file of a directory (not its subdirectories), as Terraform reads it."""
    mod = Module(path=path)
    for file in sorted(path.glob("*.tf")):
        doc = parse(file)
        mod.files.append(file)
        mod.blocks.append(doc)
        for block in doc.get("variable", []):
            mod.variables.update(block)
        for block in doc.get("locals", []):
            mod.locals.update({k: unwrap(v) for k, v in block.items() if not k.startswith("__")})
        for block in doc.get("resource", []):
            for rtype, named in block.items():
                for name, body in named.items():
                    mod.resources[(rtype, name)] = body
        for block in doc.get("data", []):
            for dtype, named in block.items():
                for name, body in named.items():
                    mod.data[(dtype, name)] = body
        for block in doc.get("module", []):
            mod.modules.update(block)
        for block in doc.get("output", []):
            mod.outputs.update(block)
    return mod
