"""The module's user data, rendered and read back the way the instances get it.

terraform/templates/cloud-config.yaml.tftpl is rendered by Terraform's templatefile() with
the map `local.cloud_config_vars` of terraform/launch_template.tf. This module does the same
without Terraform, so that the local checks (test/infra) and the rollout rehearsal
(test/rehearsal) run containers with exactly the options of the instances' systemd unit:

    import cloudconfig
    values = cloudconfig.module_values(image="micro-service-as-code", app_version="local")
    text = cloudconfig.render(values)            # the #cloud-config document
    unit = cloudconfig.app_unit(text)            # the micro-service.service entry
    argv = cloudconfig.docker_run_argv(unit)     # ["run", "--rm", "--name", ...]

Only the template syntax the module uses is implemented: `${name}` (a variable of the
map) and the `$${` / `%%{` escapes. Anything else (`${expr}`, `%{if}` directives) is
refused, so the template cannot drift into syntax these checks would render wrongly.
The values of the map come from the module itself: `module_values` reads the variables'
defaults and evaluates the map's expressions, which are kept to `var.x`, `local.x`,
numbers, `+`/`-`, a choice `var.flag ? a : b` and strings with such interpolations, for
that reason (test/infra/check_module_contract.py checks it).

Needs PyYAML and python-hcl2 (checkov's fork), both in test/requirements.txt.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = ROOT / "terraform"
TEMPLATE = MODULE_DIR / "templates" / "cloud-config.yaml.tftpl"
APP_UNIT = "micro-service.service"
VALUES_LOCAL = "cloud_config_vars"  # the locals map passed to templatefile()

# `$${` and `%%{` are escapes; `${` and `%{` open an interpolation or a directive.
_TEMPLATE_TOKEN = re.compile(r"\$\$\{|%%\{|\$\{([^}]*)\}|%\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TemplateError(ValueError):
    pass


def template_names(template: str) -> set[str]:
    """The variable names the template interpolates."""
    names = set()
    for m in _TEMPLATE_TOKEN.finditer(template):
        if m.group(1) is not None:
            names.add(m.group(1).strip())
    return names


def format_value(value) -> str:
    """A value as templatefile() writes it: whole numbers without a fraction."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, str)):
        return str(value)
    raise TemplateError(f"templatefile() cannot interpolate a {type(value).__name__}: {value!r}")


def render(values: dict, template: str | None = None) -> str:
    """Render the template (the module's by default) with `values`, like templatefile()."""
    if template is None:
        template = TEMPLATE.read_text()

    def substitute(m: re.Match) -> str:
        token = m.group(0)
        if token == "$${":
            return "${"
        if token == "%%{":
            return "%{"
        if token == "%{":
            raise TemplateError(f"template directives (%{{...}}) are not supported here: at offset {m.start()}")
        name = m.group(1).strip()
        if not _NAME.match(name):
            raise TemplateError(f"only plain ${{name}} interpolation is supported, found ${{{m.group(1)}}}")
        if name not in values:
            # templatefile() fails the same way: every name must be in the map.
            raise TemplateError(f"vars map does not contain key {name!r}")
        return format_value(values[name])

    return _TEMPLATE_TOKEN.sub(substitute, template)


def load(rendered: str) -> dict:
    """The rendered document as YAML, after checking its #cloud-config header."""
    import yaml

    first = rendered.split("\n", 1)[0]
    if first.rstrip() != "#cloud-config":
        raise TemplateError(f"coreos-cloudinit needs '#cloud-config' on the first line, found {first!r}")
    doc = yaml.safe_load(rendered)
    if not isinstance(doc, dict):
        raise TemplateError("the cloud-config is not a YAML mapping")
    return doc


def units(rendered_or_doc) -> list[dict]:
    doc = load(rendered_or_doc) if isinstance(rendered_or_doc, str) else rendered_or_doc
    return list((doc.get("coreos") or {}).get("units") or [])


def app_unit(rendered_or_doc) -> dict:
    """The entry of coreos.units that runs the service."""
    found = [u for u in units(rendered_or_doc) if u.get("name") == APP_UNIT]
    if len(found) != 1:
        raise TemplateError(f"expected exactly one unit named {APP_UNIT}, found {len(found)}")
    return found[0]


def unit_sections(content: str) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit file as {section: [(key, value), ...]}, in order, with
    backslash-continued lines joined and comment lines dropped (as systemd reads it)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    logical = ""
    for raw in content.splitlines():
        line = raw.strip()
        if not logical and (not line or line.startswith(("#", ";"))):
            continue
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        line = logical + line
        logical = ""
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            sections.setdefault(current, [])
            continue
        if current is None or "=" not in line:
            raise TemplateError(f"not a unit file line: {line!r}")
        key, value = line.split("=", 1)
        sections[current].append((key.strip(), value.strip()))
    if logical:
        raise TemplateError("the unit ends in a line continuation")
    return sections


def directive(sections: dict, section: str, key: str) -> list[str]:
    return [v for k, v in sections.get(section, []) if k == key]


def docker_run_argv(unit: dict) -> list[str]:
    """The unit's ExecStart as `docker` arguments, starting at `run`."""
    sections = unit_sections(unit["content"])
    starts = directive(sections, "Service", "ExecStart")
    if len(starts) != 1:
        raise TemplateError(f"{APP_UNIT} must have exactly one ExecStart, has {len(starts)}")
    words = shlex.split(starts[0])
    if words[:2] != ["/usr/bin/docker", "run"]:
        raise TemplateError(f"ExecStart is not '/usr/bin/docker run ...': {starts[0]!r}")
    return words[1:]


def option_values(argv: list[str], *names: str) -> list[str]:
    """Values of a `docker run` option, written `--opt value` or `--opt=value`."""
    out = []
    for i, word in enumerate(argv):
        key, eq, val = word.partition("=")
        if key in names:
            out.append(val if eq else argv[i + 1])
    return out


def stop_timeout(argv: list[str]) -> int:
    """Seconds docker waits after SIGTERM before SIGKILL (`--stop-timeout`)."""
    values = option_values(argv, "--stop-timeout")
    if len(values) != 1:
        raise TemplateError("the docker run line must set --stop-timeout once")
    return int(values[0])


def env(argv: list[str]) -> dict[str, str]:
    pairs = option_values(argv, "-e", "--env")
    return dict(p.split("=", 1) for p in pairs)


# ---- The module's values --------------------------------------------------------------

def _hcl(path: Path) -> dict:
    import hcl2  # checkov's fork (bc-python-hcl2): every attribute value comes in a list

    with open(path) as f:
        return hcl2.load(f)


def _unwrap(value):
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def variable_defaults(module_dir: Path = MODULE_DIR) -> dict:
    defaults = {}
    for path in sorted(module_dir.glob("*.tf")):
        for block in _hcl(path).get("variable", []):
            for name, body in block.items():
                if "default" in body:
                    defaults[name] = _unwrap(body["default"])
    return defaults


def module_locals(module_dir: Path = MODULE_DIR) -> dict:
    out = {}
    for path in sorted(module_dir.glob("*.tf")):
        for block in _hcl(path).get("locals", []):
            for name, value in block.items():
                if not name.startswith("__"):
                    out[name] = _unwrap(value)
    return out


_EXPR_TOKEN = re.compile(r"\s*(?:(var|local)\.([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d+)?)|([+-]))")


_CONDITION = re.compile(r"\s*(var|local)\.([A-Za-z_][A-Za-z0-9_]*)\s*\?([^:?]*):([^:?]*)")
# In an HCL string: an escape (\n, \", \\ ...), `$${` (a literal `${`), or an interpolation.
_STRING_TOKEN = re.compile(r"\\([nrt\"\\])|\$\$\{|\$\{([^{}]*)\}")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def evaluate(expr, variables: dict, local_values: dict, _depth: int = 0):
    """Evaluate one of the simple expressions of the values map: a literal; "${a + b - c}"
    over var.x, local.x and numbers; "${var.flag ? a : b}" choosing one of two such
    expressions by a bool; or a string with such "${...}" in it (and HCL's escapes: `$${`,
    \n, \", \\). `expr` is HCL source as python-hcl2 gives it. Anything else raises
    TemplateError."""
    if not isinstance(expr, str):
        return expr
    if _depth > 10:
        raise TemplateError(f"{expr!r}: locals nested too deep")
    m = re.fullmatch(r"\$\{([^{}]*)\}", expr.strip())
    if not m:
        def token(t: re.Match) -> str:
            if t.group(1) is not None:
                return _ESCAPES[t.group(1)]
            if t.group(2) is None:
                return "${"
            return format_value(evaluate("${" + t.group(2) + "}", variables, local_values, _depth + 1))

        return _STRING_TOKEN.sub(token, expr)
    body = m.group(1).strip()
    c = _CONDITION.fullmatch(body)
    if c:
        flag = evaluate(f"${{{c.group(1)}.{c.group(2)}}}", variables, local_values, _depth + 1)
        if not isinstance(flag, bool):
            raise TemplateError(f"{expr!r}: the condition is not a bool: {flag!r}")
        return evaluate("${" + (c.group(3) if flag else c.group(4)) + "}", variables, local_values, _depth + 1)
    pos, total, sign, expect_operand = 0, None, 1, True
    while pos < len(body):
        t = _EXPR_TOKEN.match(body, pos)
        if not t:
            raise TemplateError(f"not a simple expression (var.x, local.x, numbers, + and -): {expr!r}")
        pos = t.end()
        if expect_operand:
            if t.group(4):
                raise TemplateError(f"not a simple expression: {expr!r}")
            if t.group(1) == "var":
                if t.group(2) not in variables:
                    raise TemplateError(f"{expr!r}: var.{t.group(2)} has no default; pass it explicitly")
                value = variables[t.group(2)]
            elif t.group(1) == "local":
                if t.group(2) not in local_values:
                    raise TemplateError(f"{expr!r}: no usable local.{t.group(2)}")
                value = evaluate(local_values[t.group(2)], variables, local_values, _depth + 1)
            else:
                value = float(t.group(3)) if "." in t.group(3) else int(t.group(3))
            if total is None:
                total = value
            elif isinstance(total, str) or isinstance(value, str):
                raise TemplateError(f"{expr!r}: arithmetic on a string")
            else:
                total = total + sign * value
            expect_operand = False
        else:
            if not t.group(4):
                raise TemplateError(f"not a simple expression: {expr!r}")
            sign = 1 if t.group(4) == "+" else -1
            expect_operand = True
    if expect_operand or total is None:
        raise TemplateError(f"not a simple expression: {expr!r}")
    return total


def module_values(module_dir: Path = MODULE_DIR, **variables) -> dict:
    """The map templatefile() gets, computed from the module: variable defaults,
    overridden by `variables` (e.g. image=..., app_version=..., which have no default)."""
    merged = {**variable_defaults(module_dir), **variables}
    local_values = module_locals(module_dir)
    if VALUES_LOCAL not in local_values or not isinstance(local_values[VALUES_LOCAL], dict):
        raise TemplateError(f"the module has no map local.{VALUES_LOCAL}")
    return {
        name: evaluate(expr, merged, local_values)
        for name, expr in local_values[VALUES_LOCAL].items()
    }


def module_local(name: str, module_dir: Path = MODULE_DIR, **variables):
    """One local of the module, evaluated like the values map (same restrictions)."""
    merged = {**variable_defaults(module_dir), **variables}
    return evaluate(f"${{local.{name}}}", merged, module_locals(module_dir))


def split_image_ref(ref: str) -> tuple[str, str]:
    """'repo/name:tag' -> ('repo/name', 'tag'); the module takes them as image and app_version."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        raise TemplateError(f"an image reference with a tag is needed, got {ref!r}")
    return name, tag


def unit_for_image(image_ref: str, module_dir: Path = MODULE_DIR, **variables) -> dict:
    """The rendered app unit for one image reference ('name:tag') and the module defaults."""
    image, version = split_image_ref(image_ref)
    values = module_values(module_dir, image=image, app_version=version, **variables)
    return app_unit(render(values))
