"""The image the Kubernetes base names must exist: CI publishes it there, under that tag.

Travis cannot run here, so this checks what can be checked without it:

- .travis.yml against Travis's own published JSON schema (draft-04), which
  ../shared/travis-yml-schema.json holds beside the clone (its README says where it
  comes from): a key of the wrong type or an unknown language, dist or os fails;
- the release job's shape: a stage that runs on pushed version tags only (its `tag =~`
  pattern matches Cargo.toml's version, not a branch or a commit), that checks the tag
  is Cargo.toml's version and logs in before its script (a failed before_script ends a
  Travis job; a failed script line does not stop the next), and that publishes with
  `.ci/publish-image ... --once`; the image job publishing each commit the same way;
- one repository: IMAGE_REPO in .travis.yml is the repository of the base's image, and
  README.md names it;
- .ci/publish-image itself, run against a stand-in `docker` that records every call:
  both architectures built with the version compiled in, both pushed, joined in one
  manifest list under the tag, pushed, and read back from the registry; a registry
  answer without arm64 fails it, and --once refuses a tag that exists.

Usage: check_release.py RENDERED.yaml
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "test" / "lib"))

import kubemanifest as km  # noqa: E402

TRAVIS = ROOT / ".travis.yml"
# CI has the shared files beside the clone, as this machine does.
SCHEMA = ROOT.parent / "shared" / "travis-yml-schema.json"
PUBLISH = ROOT / ".ci" / "publish-image"
README = ROOT / "README.md"


def cargo_version() -> str:
    return re.search(r'^version = "([^"]+)"', (ROOT / "Cargo.toml").read_text(), re.M).group(1)


def aliases(schema: dict) -> dict[str, dict[str, str]]:
    """Travis accepts aliases of some values (`language: minimal` is `shell`); its schema
    lists them beside each enum under "values", which a JSON schema validator ignores."""
    out = {}
    for key in ("language", "os", "dist", "arch"):
        values = (schema["definitions"]["type"].get(key) or {}).get("values") or {}
        out[key] = {alias: name for name, v in values.items() for alias in v.get("aliases") or []}
    return out


def canonical(job: dict, names: dict[str, dict[str, str]]) -> dict:
    return {k: names[k].get(v, v) if k in names and isinstance(v, str) else v for k, v in job.items()}


def schema_problems(config: dict, schema: dict) -> list[str]:
    """The whole file against the schema, then each job of jobs.include against the
    schema's job definition: the schema also accepts `jobs` as one job, so under it a
    wrong job would pass unseen."""
    from jsonschema import Draft4Validator

    names = aliases(schema)
    checks = [("", Draft4Validator(schema), canonical(config, names))]
    job_validator = Draft4Validator({**schema, "allOf": [{"$ref": "#/definitions/type/jobs_include"}]})
    include = (config.get("jobs") or {}).get("include") if isinstance(config.get("jobs"), dict) else None
    if not isinstance(include, list):
        return [".travis.yml jobs.include is not a list of jobs"]
    checks += [(f"jobs/include/{i}/", job_validator, canonical(job, names)) for i, job in enumerate(include)]
    problems = []
    for prefix, validator, instance in checks:
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path))):
            where = prefix + "/".join(str(p) for p in e.absolute_path)
            problems.append(f".travis.yml {where or '(top level)'}: {e.message[:300]}")
    return problems


def global_env(config: dict) -> dict[str, str]:
    env = config.get("env") or {}
    entries = env.get("global") if isinstance(env, dict) else env
    out = {}
    for entry in entries or []:
        if isinstance(entry, str) and "=" in entry:
            name, _, value = entry.partition("=")
            out[name.strip()] = value.strip()
    return out


def jobs(config: dict, stage: str) -> list[dict]:
    return [j for j in (config.get("jobs") or {}).get("include") or [] if j.get("stage") == stage]


def lines(job: dict, phase: str) -> list[str]:
    value = job.get(phase) or []
    return [value] if isinstance(value, str) else [str(v) for v in value]


def publishes(line: str, tag_var: str, once: bool) -> bool:
    try:
        argv = shlex.split(line)
    except ValueError:
        return False
    want = [".ci/publish-image", "$IMAGE_REPO", tag_var, tag_var] + (["--once"] if once else [])
    return argv == want


def release_problems(config: dict, version: str) -> list[str]:
    problems = []
    stages = {s.get("name"): s for s in config.get("stages") or [] if isinstance(s, dict)}
    condition = (stages.get("release") or {}).get("if", "")
    m = re.search(r"\btag\s*=~\s*/?(\S+?)/?(?:\s|$)", condition)
    if not m:
        problems.append(f"no release stage that runs on version tags (stage release, if: {condition!r})")
    else:
        pattern = re.compile(m.group(1))
        if not pattern.search(version):
            problems.append(f"the release stage's tag pattern {m.group(1)} does not match Cargo.toml's version {version}")
        for other in ("main", "0123456789abcdef0123456789abcdef01234567", f"v{version}-rc"):
            if pattern.search(other):
                problems.append(f"the release stage's tag pattern {m.group(1)} also matches {other!r}")
        if "type = push" not in condition:
            problems.append("the release stage does not require a push (type = push)")

    release = jobs(config, "release")
    if len(release) != 1:
        return problems + [f"expected one job in the release stage, found {len(release)}"]
    job = release[0]
    before, script = lines(job, "before_script"), lines(job, "script")
    if not any("$TRAVIS_TAG" in b and "Cargo.toml" in b for b in before):
        problems.append("the release job does not check, before its script, that the tag is Cargo.toml's version")
    if not any("docker login" in b for b in before):
        problems.append("the release job does not log in to the registry in before_script")
    if not any(publishes(s, "$TRAVIS_TAG", once=True) for s in script):
        problems.append('the release job does not run .ci/publish-image "$IMAGE_REPO" "$TRAVIS_TAG" "$TRAVIS_TAG" --once')
    if "docker" not in (job.get("services") or []):
        problems.append("the release job has no docker service")

    image = jobs(config, "image")
    if len(image) != 1 or not any(publishes(s, "$TRAVIS_COMMIT", once=False) for s in lines(image[0], "script")):
        problems.append('the image job does not run .ci/publish-image "$IMAGE_REPO" "$TRAVIS_COMMIT" "$TRAVIS_COMMIT"')
    return problems


def repository(image: str) -> str:
    """The repository of an image reference, without tag or digest."""
    head, _, last = image.split("@")[0].rpartition("/")
    return (head + "/" if head else "") + last.split(":")[0]


def repository_problems(config: dict, objects: list[dict], readme: str) -> tuple[list[str], str]:
    repo = global_env(config).get("IMAGE_REPO")
    image = km.app_container(km.one(objects, "Deployment"))["image"]
    base_repo = repository(image)
    problems = []
    host = base_repo.split("/")[0]
    if "/" not in base_repo or not ("." in host or ":" in host or host == "localhost"):
        problems.append(f"the base's image {image} names no registry: it resolves to docker.io/library/{base_repo}")
    if not repo:
        problems.append(".travis.yml sets no IMAGE_REPO in env.global: where CI publishes is not in the repository")
    elif repo != base_repo:
        problems.append(f"the base pulls {base_repo}, CI publishes to {repo}")
    section = readme.split("<!-- section:kubernetes -->", 1)[-1].split("<!-- /section:kubernetes -->", 1)[0]
    if repo and repo not in section:
        problems.append(f"README.md's Kubernetes section does not name the repository {repo}")
    return problems, f"one repository: .travis.yml IMAGE_REPO {repo}, the base's {image}, README.md's Kubernetes section"


STUB = r'''#!/usr/bin/env python3
# A stand-in for docker: records each call; answers what .ci/publish-image reads back.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if args[:2] == ["manifest", "inspect"]:
    ref = args[2]
    pushed = [json.loads(l) for l in open(os.environ["STUB_LOG"])]
    if ref == os.environ.get("STUB_EXISTING") or ["manifest", "push", "--purge", ref] in pushed:
        platforms = os.environ.get("STUB_PLATFORMS", "linux/amd64 linux/arm64").split()
        print(json.dumps({"manifests": [{"platform": {"os": p.split("/")[0], "architecture": p.split("/")[1]}}
                                        for p in platforms]}))
        sys.exit(0)
    sys.exit(1)
if args[:2] == ["image", "inspect"]:
    print(args[-1].rsplit("-", 1)[1])
if args[:1] == ["run"]:
    print("micro-service (stand-in)")
'''


def run_publish(tmp: Path, repo: str, tag: str, version: str, once: bool, **stub_env) -> tuple[int, list[list[str]], str]:
    bindir = tmp / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "docker").write_text(STUB)
    (bindir / "docker").chmod(0o755)
    log = tmp / f"docker-{len(list(tmp.iterdir()))}.log"
    log.write_text("")
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "STUB_LOG": str(log), "TRAVIS_COMMIT": "c0ffee",
           **stub_env}
    argv = [str(PUBLISH), repo, tag, version] + (["--once"] if once else [])
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return done.returncode, calls, done.stdout + done.stderr


def publish_problems(calls: list[list[str]], repo: str, tag: str, version: str) -> list[str]:
    """What a successful run must have done, in this order."""
    problems = []
    ref = f"{repo}:{tag}"
    builds = [c for c in calls if c[:1] == ["build"]]
    for arch in ("amd64", "arm64"):
        if not any(f"linux/{arch}" in c and f"APP_VERSION={version}" in c and f"{ref}-{arch}" in c for c in builds):
            problems.append(f"no build of {ref}-{arch} for linux/{arch} with APP_VERSION={version}")
    pushes = [c[1] for c in calls if c[:1] == ["push"]]
    if sorted(pushes) != [f"{ref}-amd64", f"{ref}-arm64"]:
        problems.append(f"pushed {pushes}, not {ref}-amd64 and {ref}-arm64")
    create = [c for c in calls if c[:2] == ["manifest", "create"]]
    if create != [["manifest", "create", ref, f"{ref}-amd64", f"{ref}-arm64"]]:
        problems.append(f"manifest create {create}, not {ref} from both architectures")
    try:
        pushed_at = calls.index(["manifest", "push", "--purge", ref])
    except ValueError:
        return problems + [f"the manifest list {ref} was not pushed"]
    if ["manifest", "inspect", ref] not in calls[pushed_at + 1:]:
        problems.append(f"the manifest list {ref} was not read back from the registry after the push")
    if any(c[:1] == ["push"] for c in calls[pushed_at:]):
        problems.append("an architecture was pushed after the manifest list")
    return problems


def script_problems() -> tuple[list[str], str]:
    repo, tag, version = "registry.test/team/micro-service", "9.8.7", "9.8.7"
    problems = []
    with tempfile.TemporaryDirectory(prefix="publish-image-") as tmp:
        code, calls, out = run_publish(Path(tmp), repo, tag, version, once=True)
        if code != 0:
            problems.append(f".ci/publish-image exited {code}: {out.strip()[-300:]}")
        problems += publish_problems(calls, repo, tag, version)

        code, calls, _ = run_publish(Path(tmp), repo, tag, version, once=True, STUB_EXISTING=f"{repo}:{tag}")
        if code == 0 or any(c[:1] in (["push"], ["build"]) for c in calls):
            problems.append(f"--once published over an existing {repo}:{tag} (exit {code})")

        code, _, _ = run_publish(Path(tmp), repo, tag, version, once=False, STUB_PLATFORMS="linux/amd64")
        if code == 0:
            problems.append("a registry that serves amd64 only passed the manifest check")
    return problems, (".ci/publish-image under a stand-in docker: builds and pushes amd64 and arm64, one manifest list "
                      "pushed and read back; fails on a list without arm64; --once refuses an existing tag")


def main(argv: list[str]) -> int:
    import yaml

    sys.path.insert(0, str(HERE))
    import check_manifest

    objects = km.load(Path(argv[0]).read_text())
    config = yaml.safe_load(TRAVIS.read_text())
    version = cargo_version()
    checked = []
    if SCHEMA.exists():
        schema = json.loads(SCHEMA.read_text())
        checked.append((f".travis.yml against Travis's schema ({SCHEMA.relative_to(ROOT.parent)}, draft-04, jsonschema "
                        "Draft4Validator)", schema_problems(config, schema)))
    else:
        checked.append((f"Travis's schema at {SCHEMA}", [f"{SCHEMA} is missing: CI has ../shared beside the clone"]))
    checked.append((f"the release stage: version tags only ({version} yes; main, a commit, v{version}-rc no), "
                    "the tag checked against Cargo.toml before the script, published with --once",
                    release_problems(config, version)))
    checked.append(tuple(reversed(repository_problems(config, objects, README.read_text()))))
    checked.append(tuple(reversed(script_problems())))
    return 0 if check_manifest.report(checked) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
