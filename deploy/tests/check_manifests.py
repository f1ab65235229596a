#!/usr/bin/env python3
"""Checks deploy/ against the code: the Kubernetes overlays (rendered with
`kubectl kustomize`), deploy/compose.yaml and the image's health script.

  - every environment variable a manifest or the Compose file sets is one the
    binary reads: its `--help` lists its flags and each flag's help names its
    variable as "(env NAME)";
  - every probe names the health service the binary registers (asked of the
    real binaries, started here on free loopback ports with a real
    redis-server), and the gateway's HTTP probe paths answer;
  - every port matches the process's default address (its `--help` default)
    and REGISTRY below; every address a process dials names the Service (or
    Compose service) of that process;
  - every process of REGISTRY has a Deployment and a Service in every overlay
    and a service in the Compose file; gRPC Services are headless;
  - the NetworkPolicies let each service be called by exactly the processes
    that dial it;
  - pods run as non-root on a read-only root filesystem without privilege
    escalation, with /tmp and the data dir writable, and their grace period
    covers the preStop pause plus the services' drain time
    (services/common/server.h).

Exit status: 0 when everything holds, 1 otherwise, 77 (ctest's SKIP) with a
printed reason when a tool it needs is missing (kubectl, PyYAML).

Usage: check_manifests.py [--bin-dir build/bin] [--help-flag --help]
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SKIP = 77
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
OVERLAYS = ["single-node", "production"]

# The process registry the manifests are checked against: name -> default
# port, the variable holding its listen address, its gRPC health service
# (None for the gateway, which answers HTTP /healthz and /readyz). Today this
# knowledge is spread over gateway/backends.cc, tests/testing/stack.cc and
# tools/up; when the shared service registry lands, build this table from it.
# The defaults are also checked against each binary's --help below.
REGISTRY = {
    "profiles": (50051, "PROFILES_SERVICE_ADDR", "rapport.profiles.v1.ProfilesService"),
    "interactions": (50052, "INTERACTIONS_SERVICE_ADDR", "rapport.interactions.v1.InteractionsService"),
    "recommendations": (50053, "RECOMMENDATIONS_SERVICE_ADDR",
                        "rapport.recommendations.v1.RecommendationsService"),
    "notifications": (50054, "NOTIFICATIONS_SERVICE_ADDR", "rapport.notifications.v1.NotificationsService"),
    "gateway": (8080, "RAPPORT_HTTP_ADDR", None),
}
GATEWAY_PROBE_PATHS = {"/healthz", "/readyz"}

# Variables a manifest sets ahead of the code that will read them. Each is
# reported, not failed, while no binary reads it.
PENDING = {"RAPPORT_DATABASE_URL": "the PostgreSQL store of issue 15"}

# Images that are not Rapport's: their variables are theirs.
FOREIGN_IMAGE = re.compile(r"^(redis|postgres)(:|$)")


class Checker:
    def __init__(self):
        self.failures = []
        self.notes = []

    def check(self, ok, what):
        if not ok:
            self.failures.append(what)
        return ok


# ---- what the binaries say ----

def parse_help(text):
    """Flags of absl's --help output: {flag: (env or None, default)}. The key
    "(read)" holds every variable named "(env NAME)" anywhere in the output,
    flags or usage text (the gateway reads its backends' addresses without
    flags)."""
    flags = {"(read)": (None, set(re.findall(r"\(env\s+([A-Z][A-Z0-9_]*)\)", text)))}
    for entry in re.split(r"\n\s+--", "\n" + text)[1:]:
        entry = " ".join(entry.split())
        m = re.match(r"(\w+) \((.*)\); default: (.*);$", entry)
        if not m:
            continue
        env = re.search(r"\(env ([A-Z][A-Z0-9_]*)\)", m.group(2))
        flags[m.group(1)] = (env.group(1) if env else None, m.group(3).strip('"'))
    return flags


def binary_flags(bin_dir, name, help_flag, c):
    path = os.path.join(bin_dir, name)
    if not c.check(os.access(path, os.X_OK), f"{path}: not built"):
        return {}
    out = subprocess.run([path, help_flag], capture_output=True, text=True, timeout=30)
    flags = parse_help(out.stdout + out.stderr)
    c.check(any(env for f, (env, _) in flags.items() if f != "(read)"),
            f"{name} {help_flag} lists no flag with \"(env NAME)\" in its help "
            f"(it printed: {(out.stdout + out.stderr).strip()[:160]!r})")
    return flags


def port_of(addr):
    m = re.search(r":(\d+)$", addr or "")
    return int(m.group(1)) if m else None


def host_of(addr):
    return addr.rsplit(":", 1)[0] if addr and ":" in addr else addr


# ---- what the manifests say ----

def render(overlay):
    out = subprocess.run(["kubectl", "kustomize", os.path.join(DEPLOY, "k8s", "overlays", overlay)],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay}: {out.stderr.strip()}")
    import yaml
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def container_env(container, docs):
    """Variable name -> literal value (None when it comes from a Secret or a field)."""
    env = {}
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            cm = by_name.get(("ConfigMap", ref["name"]))
            for key, value in (cm or {}).get("data", {}).items():
                env[key] = value
        else:
            env["<envFrom " + str(source) + ">"] = None
    for var in container.get("env", []):
        env[var["name"]] = var.get("value")
    return env


def reads(flags):
    """The variables a binary reads; empty when its --help lists no flag with
    its variable (then nothing can be checked against it)."""
    if not any(env for f, (env, _) in flags.items() if f != "(read)"):
        return set()
    return flags["(read)"][1]


def check_env(where, process, env, flags, c):
    read = reads(flags)
    if not read:
        return  # already failed: its --help names no variable
    for name in sorted(env):
        if name in read:
            continue
        if name in PENDING:
            c.notes.append(f"{where}: {name} is set ahead of {PENDING[name]}; {process} does not read it yet")
            continue
        c.check(False, f"{where}: sets {name}, which {process} does not read (not in its --help)")


def check_addresses(where, process, env, flags, service_host, c):
    """The listen address is the registry's port; dialled addresses name the
    dialled process's Service and port."""
    port, listen_var, _ = REGISTRY[process]
    c.check(port_of(env.get(listen_var)) == port,
            f"{where}: {listen_var}={env.get(listen_var)!r}: {process} must listen on port {port}")
    for other, (other_port, other_var, _) in REGISTRY.items():
        if other == process or other_var not in env:
            continue
        value = env[other_var]
        c.check(host_of(value) == service_host(other) and port_of(value) == other_port,
                f"{where}: {other_var}={value!r}, expected {service_host(other)}:{other_port}")


def callers_from_help(all_flags):
    """process -> the processes that dial it (they read its address variable
    other than as their own listen address)."""
    callers = {p: set() for p in REGISTRY}
    for p, flags in all_flags.items():
        own = REGISTRY[p][1]
        read = reads(flags)
        for q, (_, var, _) in REGISTRY.items():
            if q != p and var in read and var != own:
                callers[q].add(p)
    return callers


def check_pod_security(where, pod_spec, container, process, drain_seconds, c):
    psc = pod_spec.get("securityContext", {})
    csc = container.get("securityContext", {})
    c.check(psc.get("runAsNonRoot") is True or csc.get("runAsNonRoot") is True, f"{where}: runAsNonRoot")
    c.check(csc.get("readOnlyRootFilesystem") is True, f"{where}: readOnlyRootFilesystem")
    c.check(csc.get("allowPrivilegeEscalation") is False, f"{where}: allowPrivilegeEscalation: false")
    mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
    c.check("/tmp" in mounts, f"{where}: /tmp is not a writable volume")
    if process != "gateway":
        c.check("/var/lib/rapport" in mounts, f"{where}: the data dir /var/lib/rapport is not a volume")
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    pause = 0
    if "exec" in pre_stop and pre_stop["exec"]["command"][0] == "sleep":
        pause = int(pre_stop["exec"]["command"][1])
    elif "sleep" in pre_stop:
        pause = int(pre_stop["sleep"]["seconds"])
    c.check(pause > 0, f"{where}: no preStop pause")
    grace = pod_spec.get("terminationGracePeriodSeconds", 30)
    c.check(grace > pause + drain_seconds,
            f"{where}: terminationGracePeriodSeconds {grace} <= preStop {pause} s + drain {drain_seconds} s")


def check_overlay(overlay, docs, all_flags, drain_seconds, c):
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    deployments = kinds.get("Deployment", {})
    services = kinds.get("Service", {})
    policies = kinds.get("NetworkPolicy", {})
    for process, (port, _, health) in REGISTRY.items():
        where = f"{overlay}/{process}"
        if not c.check(process in deployments, f"{where}: no Deployment"):
            continue
        if not c.check(process in services, f"{where}: no Service"):
            continue
        svc = services[process]["spec"]
        c.check([p.get("port") for p in svc["ports"]] == [port], f"{where}: Service ports {svc['ports']}")
        if health:
            c.check(svc.get("clusterIP") == "None", f"{where}: a gRPC Service must be headless")
        pod = deployments[process]["spec"]["template"]["spec"]
        [container] = [x for x in pod["containers"] if x["name"] == process] or [None]
        if not c.check(container is not None, f"{where}: no container named {process}"):
            continue
        c.check(container.get("command") == [process], f"{where}: command {container.get('command')}")
        ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
        c.check(list(ports.values()) == [port], f"{where}: container ports {ports}")
        env = container_env(container, docs)
        check_env(where, process, env, all_flags.get(process, {}), c)
        check_addresses(where, process, env, all_flags.get(process, {}), lambda p: p, c)
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = container.get(kind)
            if kind != "startupProbe":
                c.check(probe is not None, f"{where}: no {kind}")
            if probe is None:
                continue
            if health:
                grpc = probe.get("grpc", {})
                c.check(grpc.get("service") == health and grpc.get("port") == port,
                        f"{where}: {kind} must be grpc {{port: {port}, service: {health}}}, is {probe}")
            else:
                http = probe.get("httpGet", {})
                c.check(http.get("path") in GATEWAY_PROBE_PATHS and ports.get(http.get("port"), http.get("port")) == port,
                        f"{where}: {kind} must GET /healthz or /readyz on {port}, is {probe}")
        check_pod_security(where, pod, container, process, drain_seconds, c)
        # Only the gateway from outside; a service from exactly its callers.
        policy = policies.get(process)
        if not c.check(policy is not None, f"{where}: no NetworkPolicy"):
            continue
        rules = policy["spec"].get("ingress", [])
        sources = set()
        open_to_all = False
        for rule in rules:
            if "from" not in rule:
                open_to_all = True
            for peer in rule.get("from", []):
                sources.add(peer.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name", str(peer)))
        if health is None:
            c.check(open_to_all, f"{where}: the gateway must accept traffic from outside")
        elif all(reads(f) for f in all_flags.values()):  # else already failed
            want = callers_from_help(all_flags)[process]
            c.check(not open_to_all and sources == want,
                    f"{where}: NetworkPolicy admits {sorted(sources) if not open_to_all else 'everyone'}, "
                    f"its callers are {sorted(want)}")
    for name, policy in policies.items():
        if name in ("redis", "postgres"):
            sources = {p.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
                       for r in policy["spec"].get("ingress", []) for p in r.get("from", [])}
            c.check(sources and sources <= set(REGISTRY), f"{overlay}: NetworkPolicy {name} admits {sources}")
    for name, deployment in deployments.items():
        if name not in REGISTRY and not FOREIGN_IMAGE.match(deployment["spec"]["template"]["spec"]["containers"][0]["image"]):
            c.check(False, f"{overlay}: Deployment {name} runs the Rapport image but is no process of the registry")


def check_compose(all_flags, c):
    import yaml
    with open(os.path.join(DEPLOY, "compose.yaml")) as f:
        compose = yaml.safe_load(f)
    services = compose["services"]
    for process, (port, _, health) in REGISTRY.items():
        where = f"compose.yaml/{process}"
        if not c.check(process in services, f"{where}: no service"):
            continue
        s = services[process]
        c.check(s.get("command") == [process], f"{where}: command {s.get('command')}")
        env = {k: str(v) for k, v in (s.get("environment") or {}).items()}
        check_env(where, process, env, all_flags.get(process, {}), c)
        check_addresses(where, process, env, all_flags.get(process, {}), lambda p: p, c)
        test = s.get("healthcheck", {}).get("test", [])
        if health:
            c.check(test[:2] == ["CMD", "rapport-healthcheck"] and port_of(test[2]) == port and test[3] == health,
                    f"{where}: healthcheck must be rapport-healthcheck 127.0.0.1:{port} {health}, is {test}")
        else:
            url = test[-1] if test else ""
            m = re.match(r"http://[^/]+:(\d+)(/\w+)$", url)
            c.check(m and int(m.group(1)) == port and m.group(2) in GATEWAY_PROBE_PATHS,
                    f"{where}: healthcheck must GET /healthz or /readyz on {port}, is {test}")
        published = s.get("ports", [])
        if process == "gateway":
            c.check(len(published) == 1 and str(published[0]).endswith(f":{port}"),
                    f"{where}: publishes {published}, expected the gateway's {port}")
        else:
            c.check(not published, f"{where}: only the gateway's port may be published, not {published}")
        for dep in s.get("depends_on", {}):
            c.check(s["depends_on"][dep].get("condition") == "service_healthy",
                    f"{where}: depends_on {dep} without condition: service_healthy")
    for name, s in services.items():
        if name not in REGISTRY:
            c.check(FOREIGN_IMAGE.match(s.get("image", "")) is not None,
                    f"compose.yaml/{name}: runs the Rapport image but is no process of the registry")
            c.check(not s.get("ports"), f"compose.yaml/{name}: only the gateway's port may be published")


def check_container_health_script(c):
    """deploy/container-health (the image's HEALTHCHECK) has its own table."""
    with open(os.path.join(DEPLOY, "container-health")) as f:
        text = f.read()
    for process, (port, var, health) in REGISTRY.items():
        if health:
            want = f'{process}) grpc "${{{var}:-127.0.0.1:{port}}}" {health} ;;'
        else:
            want = f'{process}) exec curl -fsS -m 3 -o /dev/null "http://$(local_addr "${{{var}:-127.0.0.1:{port}}}")/healthz" ;;'
        c.check(want in text, f"deploy/container-health: no line {want!r}")


# ---- the real binaries: health services and HTTP probe paths ----

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def check_live_health_services(bin_dir, c):
    """Starts Redis and every process on free loopback ports and asks each the
    health service the manifests name (recommendations SERVES only after its
    backfill from profiles and interactions, so all of them run)."""
    redis = shutil.which("redis-server")
    if redis is None:
        c.notes.append("redis-server not found: health services not checked against the binaries")
        return
    tmp = tempfile.mkdtemp(prefix="rapport-deploy-check.")
    procs = []
    try:
        redis_port = free_port()
        procs.append(subprocess.Popen(
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        addrs = {p: f"127.0.0.1:{free_port()}" for p in REGISTRY}
        env = dict(os.environ, RAPPORT_INTERNAL_KEY="deploy-check-key", RAPPORT_SECRETS_KEY="ab" * 32,
                   RAPPORT_DATA_DIR=tmp, RAPPORT_REDIS_ADDR=f"127.0.0.1:{redis_port}", RAPPORT_LOG_LEVEL="warn")
        env.pop("RAPPORT_REDIS_URL", None)
        for p, (_, var, _) in REGISTRY.items():
            env[var] = addrs[p]
        for p in ["profiles", "interactions", "notifications", "recommendations", "gateway"]:
            log = open(os.path.join(tmp, p + ".log"), "w")
            procs.append(subprocess.Popen([os.path.join(bin_dir, p)], env=env, stdout=log, stderr=log))
        healthcheck = os.path.join(bin_dir, "rapport-healthcheck")
        for p, (_, _, health) in REGISTRY.items():
            if health is None:
                continue
            ok = subprocess.run([healthcheck, addrs[p], health, "60"]).returncode == 0
            c.check(ok, f"{p} does not answer SERVING for {health} (see its log under {tmp})")

        def status(path):
            try:
                with urllib.request.urlopen(f"http://{addrs['gateway']}{path}", timeout=2) as r:
                    return r.status
            except Exception:
                return None
        for path in sorted(GATEWAY_PROBE_PATHS):
            c.check(wait_until(lambda: status(path) == 200, 30), f"gateway: GET {path} does not answer 200")
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                c.check(False, f"{proc.args[0]} did not exit within 20 s of SIGTERM")
        if not c.failures:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", default=os.environ.get("RAPPORT_BIN_DIR", os.path.join(ROOT, "build", "bin")))
    parser.add_argument("--help-flag", default="--help",
                        help="how to ask a binary for its flags (--helpfull lists absl's own flags too)")
    parser.add_argument("--no-live", action="store_true", help="do not start the binaries")
    args = parser.parse_args()

    try:
        import yaml  # noqa: F401
    except ImportError:
        print("SKIP: PyYAML is missing (Debian: python3-yaml, installed by tools/deps)")
        return SKIP
    if shutil.which("kubectl") is None:
        print("SKIP: kubectl is missing; it renders the kustomize overlays")
        return SKIP

    c = Checker()
    with open(os.path.join(ROOT, "services", "common", "server.h")) as f:
        m = re.search(r"std::chrono::seconds grace\{(\d+)\}", f.read())
    drain_seconds = int(m.group(1)) if c.check(m, "services/common/server.h: no grace{N}") else 10

    all_flags = {p: binary_flags(args.bin_dir, p, args.help_flag, c) for p in REGISTRY}
    for p, (port, var, _) in REGISTRY.items():
        listen = [(f, d) for f, (e, d) in all_flags[p].items() if e == var and f != "(read)"]
        if reads(all_flags[p]):
            c.check(len(listen) == 1 and port_of(listen[0][1]) == port,
                    f"{p}: REGISTRY says it listens on {port} from {var}; its --help says {listen}")

    for overlay in OVERLAYS:
        try:
            docs = render(overlay)
        except RuntimeError as e:
            c.check(False, str(e))
            continue
        check_overlay(overlay, docs, all_flags, drain_seconds, c)
    check_compose(all_flags, c)
    check_container_health_script(c)
    if not args.no_live:
        check_live_health_services(args.bin_dir, c)

    for note in c.notes:
        print("note:", note)
    for failure in c.failures:
        print("FAIL:", failure)
    print(f"{len(c.failures)} failure(s)")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
