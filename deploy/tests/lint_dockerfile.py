#!/usr/bin/env python3
"""Lints deploy/Dockerfile and the root .dockerignore without a container
builder: multi-stage on debian:12-slim with the build stage running
tools/deps and tools/build; the runtime stage runs as a non-root user, has a
HEALTHCHECK through the image's health script (which asks rapport-healthcheck),
carries the OCI version and source labels, copies only built binaries and the
health script from the context; .dockerignore keeps build/, var/, .git and the
generated secrets out of the build context. Exit status 0 or 1."""

import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def instructions(text):
    """(INSTRUCTION, arguments) with continuation lines joined, comments dropped."""
    out = []
    pending = ""
    for line in text.splitlines():
        if not pending and line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def main():
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)

    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        ins = instructions(f.read())
    args = {}
    stages = []  # [(from args, [(instr, rest)])]
    for word, rest in ins:
        if word == "ARG" and not stages:
            name, _, value = rest.partition("=")
            args[name] = value
        elif word == "FROM":
            stages.append((rest, []))
        elif stages:
            stages[-1][1].append((word, rest))
    check(len(stages) >= 2, f"expected a build stage and a runtime stage, found {len(stages)} stage(s)")
    base = lambda s: re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), s.split()[0])
    for from_, _ in stages:
        check(base(from_) == "debian:12-slim", f"FROM {from_} is not debian:12-slim")
    build_runs = " ".join(rest for w, rest in stages[0][1] if w == "RUN") if stages else ""
    check("tools/deps" in build_runs and "tools/build" in build_runs,
          "the build stage must run tools/deps and tools/build")

    runtime = stages[-1][1] if stages else []
    users = [rest for w, rest in runtime if w == "USER"]
    check(users, "the runtime stage has no USER")
    if users:
        user = users[-1].split(":")[0]
        check(user not in ("root", "0"), f"the runtime stage runs as {users[-1]}")
        check(user.isdigit(), f"USER {users[-1]}: numeric, so that Kubernetes' runAsNonRoot can verify it")
    checks = [rest for w, rest in runtime if w == "HEALTHCHECK"]
    check(len(checks) == 1, f"the runtime stage needs one HEALTHCHECK, has {len(checks)}")
    if checks:
        check("rapport-container-health" in checks[0], f"HEALTHCHECK {checks[0]} does not run the health script")
        with open(os.path.join(ROOT, "deploy", "container-health")) as f:
            script = f.read()
        check("rapport-healthcheck" in script, "deploy/container-health does not use rapport-healthcheck")
    labels = " ".join(rest for w, rest in runtime if w == "LABEL")
    for label in ("org.opencontainers.image.version", "org.opencontainers.image.source"):
        check(label in labels, f"no {label} label")
    for w, rest in runtime:
        if w == "COPY" and "--from=" not in rest:
            check(rest.split()[0].startswith("deploy/"), f"COPY {rest}: the runtime stage copies from the build stage")
        check(w != "ADD", f"ADD {rest}: use COPY")
    check(any(w == "CMD" for w, _ in runtime), "no default CMD")

    with open(os.path.join(ROOT, ".dockerignore")) as f:
        ignored = {line.strip().rstrip("/") for line in f if line.strip() and not line.startswith("#")}
    for path in ("build", "var", ".git", "deploy/.env", "deploy/secrets"):
        check(path in ignored, f".dockerignore does not keep {path} out")

    for failure in failures:
        print("FAIL:", failure)
    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
