"""The Kubernetes base (kubernetes/), rendered by kustomize and read back as objects, and
its pod translated into the `docker run` options that give a container the same settings.

    import kubemanifest as km
    objects = km.load(km.render())               # `kubectl kustomize kubernetes/`
    deployment = km.one(objects, "Deployment")
    container = km.app_container(deployment)
    km.env(container)                            # {"PORT": "8080", ...}
    argv, notes = km.docker_run_argv(deployment, image, name, host_port)

The translation covers the fields the base uses and refuses any other container or pod
field, so that a setting added to the manifest cannot silently go untested under Docker.
Needs PyYAML (test/requirements.txt) and kubectl on PATH for render().
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BASE_DIR = ROOT / "kubernetes"
CONFIG_RS = ROOT / "src" / "config.rs"


class ManifestError(ValueError):
    pass


# ---- Rendering ---------------------------------------------------------------------------

def kubectl() -> str:
    path = shutil.which("kubectl")
    if not path:
        raise ManifestError("kubectl is not installed (Debian: apt-get install kubernetes-client)")
    return path


def render(directory: Path = BASE_DIR) -> str:
    done = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise ManifestError(f"kubectl kustomize {directory} failed:\n{done.stderr.strip()}")
    return done.stdout


def kubectl_minor() -> int:
    """kubectl's minor version: the examples' components and `labels:` need kustomize
    v4.1 or later, which kubectl 1.22 brings (Debian 12's 1.20 has kustomize v2.0.3)."""
    import json

    done = subprocess.run([kubectl(), "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60)
    try:
        return int(json.loads(done.stdout)["clientVersion"]["minor"].rstrip("+"))
    except (ValueError, KeyError):
        return 0


def render_overlay(kustomization: str, base: Path = BASE_DIR, base_ref: str | None = None) -> str:
    """Render an overlay given as the text of its kustomization.yaml, in a temporary
    directory, with its reference to the base (`base_ref`, e.g. the README's remote URL)
    replaced by a relative path to `base` (kustomize refuses absolute ones)."""
    with tempfile.TemporaryDirectory(prefix="kustomize-overlay-") as tmp:
        relative = Path(os.path.relpath(base, tmp)).as_posix()
        text = kustomization if base_ref is None else kustomization.replace(base_ref, relative)
        if base_ref is not None and base_ref not in kustomization:
            raise ManifestError(f"the overlay does not refer to the base as {base_ref!r}")
        (Path(tmp) / "kustomization.yaml").write_text(text)
        return render(Path(tmp))


def load(rendered: str) -> list[dict]:
    import yaml

    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    for obj in objects:
        if not isinstance(obj, dict) or "kind" not in obj or "apiVersion" not in obj:
            raise ManifestError(f"not a Kubernetes object: {str(obj)[:80]}")
    return objects


def of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def one(objects: list[dict], kind: str) -> dict:
    found = of_kind(objects, kind)
    if len(found) != 1:
        raise ManifestError(f"expected exactly one {kind}, found {len(found)}")
    return found[0]


# ---- The pod -------------------------------------------------------------------------------

def pod_spec(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def app_container(deployment: dict) -> dict:
    containers = pod_spec(deployment).get("containers") or []
    if len(containers) != 1:
        raise ManifestError(f"expected one container in the pod, found {len(containers)}")
    return containers[0]


def env(container: dict) -> dict[str, str]:
    out = {}
    for item in container.get("env") or []:
        if "value" not in item:
            raise ManifestError(f"env {item.get('name')} is not a literal value (valueFrom is not checked here)")
        out[item["name"]] = str(item["value"])
    return out


def service_settings() -> dict[str, str]:
    """The service's environment variables and their defaults, from src/config.rs."""
    text = CONFIG_RS.read_text()
    found = re.findall(r'env:\s*"([A-Z_]+)",\s*default:\s*"([^"]*)"', text)
    if not found:
        raise ManifestError(f"no settings found in {CONFIG_RS}")
    return dict(found)


def setting(container: dict, name: str) -> str:
    """A service setting as the container gets it: its env entry, else the default."""
    value = env(container).get(name)
    return value if value is not None else service_settings()[name]


def security(deployment: dict) -> dict:
    """The container's effective security context: the pod's, overridden by the
    container's, as the kubelet merges them."""
    merged = dict(pod_spec(deployment).get("securityContext") or {})
    merged.update(app_container(deployment).get("securityContext") or {})
    return merged


def container_port(container: dict, port) -> int:
    """A probe's or a Service's port (a number or a port name) as a number."""
    if isinstance(port, int):
        return port
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    if str(port).isdigit():
        return int(port)
    raise ManifestError(f"no container port named {port!r}")


def probe(container: dict, kind: str) -> dict | None:
    """A probe with the kubelet's defaults filled in."""
    p = container.get(kind)
    if p is None:
        return None
    defaults = {"periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1,
                "initialDelaySeconds": 0}
    return {**defaults, **p}


def prestop_sleep(container: dict) -> int | None:
    pre = ((container.get("lifecycle") or {}).get("preStop")) or {}
    sleep = pre.get("sleep")
    return int(sleep["seconds"]) if sleep else None


def grace_period(deployment: dict) -> int:
    return int(pod_spec(deployment).get("terminationGracePeriodSeconds", 30))


def quantity(value, unit: str) -> float:
    """A resource quantity as cores ('500m', '1') or bytes ('64Mi', '1G')."""
    text = str(value)
    if unit == "cpu":
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    suffixes = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 10**3, "M": 10**6, "G": 10**9}
    for suffix, factor in suffixes.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# ---- The pod under Docker ----------------------------------------------------------------

# Fields of the pod and of the container that the translation below accounts for. Each
# is either turned into a docker option or has no meaning for one container on one host
# (scheduling, probes that the check itself runs, the Service's names).
POD_FIELDS = {
    "containers", "securityContext", "automountServiceAccountToken", "enableServiceLinks",
    "terminationGracePeriodSeconds", "topologySpreadConstraints",
}
CONTAINER_FIELDS = {
    "name", "image", "imagePullPolicy", "ports", "env", "resources", "securityContext",
    "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
}
SECURITY_FIELDS = {
    "runAsNonRoot", "runAsUser", "runAsGroup", "readOnlyRootFilesystem", "allowPrivilegeEscalation",
    "privileged", "capabilities", "seccompProfile",
}


def docker_run_argv(deployment: dict, image: str, name: str, host_port: int) -> tuple[list[str], list[str]]:
    """`docker run` arguments giving a container the pod's settings, and notes on how each
    setting was carried over. Raises ManifestError for a field it cannot carry over."""
    pod, container = pod_spec(deployment), app_container(deployment)
    unknown = sorted(set(pod) - POD_FIELDS) + sorted(set(container) - CONTAINER_FIELDS)
    sec = security(deployment)
    unknown += sorted(f"securityContext.{k}" for k in set(sec) - SECURITY_FIELDS)
    if unknown:
        raise ManifestError(f"the Docker check does not know how to run these pod fields: {', '.join(unknown)}")
    if (container.get("lifecycle") or {}).keys() - {"preStop"}:
        raise ManifestError("only a preStop hook is supported in lifecycle")

    argv = ["run", "--detach", "--name", name]
    notes = []
    if "runAsUser" not in sec:
        raise ManifestError("runAsUser is not set: the image's USER would decide")
    argv += ["--user", f"{sec['runAsUser']}:{sec.get('runAsGroup', sec['runAsUser'])}"]
    if sec.get("readOnlyRootFilesystem"):
        argv.append("--read-only")
    caps = sec.get("capabilities") or {}
    for cap in caps.get("drop") or []:
        argv += ["--cap-drop", cap]
    for cap in caps.get("add") or []:
        argv += ["--cap-add", cap]
    if sec.get("allowPrivilegeEscalation") is False:
        argv += ["--security-opt", "no-new-privileges"]
    if sec.get("privileged"):
        argv.append("--privileged")
    seccomp = (sec.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        argv += ["--security-opt", "seccomp=unconfined"]
    elif seccomp not in (None, "RuntimeDefault"):
        raise ManifestError(f"seccompProfile {seccomp} cannot be run here")
    notes.append("seccompProfile RuntimeDefault: Docker's default profile")

    limits = (container.get("resources") or {}).get("limits") or {}
    if "memory" in limits:
        argv += ["--memory", str(int(quantity(limits["memory"], "memory")))]
    if "cpu" in limits:
        argv += ["--cpus", f"{quantity(limits['cpu'], 'cpu'):g}"]

    if pod.get("enableServiceLinks") is not False:
        notes.append("enableServiceLinks is not false: Kubernetes would add *_SERVICE_* variables, not added here")
    for key, value in env(container).items():
        argv += ["--env", f"{key}={value}"]
    for p in container.get("ports") or []:
        argv += ["--publish", f"127.0.0.1:{host_port}:{int(p['containerPort'])}/{p.get('protocol', 'TCP').lower()}"]
        notes.append(f"containerPort {p['containerPort']} published on 127.0.0.1:{host_port}")
        break  # the service has one port; the manifest check insists on it
    notes.append("no service account token: automountServiceAccountToken false, and Docker mounts none")
    argv.append(image)
    notes.append(f"image {container.get('image')} -> {image} (the local build)")
    return argv, notes


def stop_seconds(deployment: dict) -> int:
    """Seconds between SIGTERM and SIGKILL: the kubelet runs the preStop hook first, and it
    counts against the grace period."""
    return grace_period(deployment) - (prestop_sleep(app_container(deployment)) or 0)


def ceil_cpus(container: dict) -> int | None:
    limit = ((container.get("resources") or {}).get("limits") or {}).get("cpu")
    return math.ceil(quantity(limit, "cpu")) if limit is not None else None
