#!/usr/bin/env python3
"""Checks of deploy/compose/docker-compose.yml that `docker-compose config`
cannot make (it checks the schema only), run by `make compose-config` from
the repository root, with no Docker daemon:

  check.py GOWHISK_BINARY COMPOSE-COMMAND...

It reads the resolved file (COMPOSE-COMMAND --profile runtimes config: the
${VAR:-default}s filled in, the YAML anchors merged) and checks that

  1. every Docker image runtimes/runtimes.json names is built by a service
     (the invokers never pull their managed runtime images);
  2. every GOWHISK_* variable given to a gowhisk service is one its command
     reads (`gowhisk <command> --help` lists "(env GOWHISK_...)"): gowhisk
     ignores unknown variables, so a renamed flag would silently fall back
     to its default;
  3. each invoker names, in GOWHISK_DOCKER_NETWORK, a network it is on, and
     runs with the Docker sandbox and an id no other invoker has;
  4. the controller's port is published on 127.0.0.1 only (the guest key is
     public).

Needs PyYAML (Debian's python3-yaml, a dependency of its docker-compose).
"""

import json
import re
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("check.py: PyYAML is missing (Debian: apt-get install python3-yaml)")


def manifest_images(path):
    with open(path) as f:
        m = json.load(f)

    def name(i):
        return "%s/%s:%s" % (i["prefix"], i["name"], i.get("tag") or "latest")

    images = {name(k["image"]) for kinds in m["runtimes"].values() for k in kinds if not k.get("deprecated")}
    images |= {name(b) for b in m.get("blackboxes", [])}
    return images


def as_list(v):
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    return list(v)


def env_of(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):  # KEY=VALUE form
        env = dict(e.split("=", 1) if "=" in e else (e, None) for e in env)
    return {k: ("" if v is None else str(v)) for k, v in env.items()}


def volume_targets(svc):
    """The container paths of a service's volumes (docker-compose v1 prints
    them as SOURCE:TARGET[:MODE], v2 as mappings)."""
    targets = set()
    for v in svc.get("volumes") or []:
        if isinstance(v, dict):
            targets.add(v.get("target"))
        else:
            parts = str(v).split(":")
            targets.add(parts[1] if len(parts) > 1 else parts[0])
    return targets


def gowhisk_command(svc):
    """The gowhisk subcommand words a service runs, e.g. ["controller"] or
    ["admin", "user", "create"] for a shell script calling it."""
    entrypoint = as_list(svc.get("entrypoint"))
    command = as_list(svc.get("command"))
    if entrypoint and entrypoint[0] in ("/bin/sh", "sh", "/bin/bash", "bash"):
        script = " ".join(command)
        cmds = re.findall(r"\bgowhisk((?:\s+[a-z][a-z-]*)+)", script)
        if not cmds:
            return None
        return [w for w in cmds[0].split()]
    return [w for w in command if not w.startswith("-")][:1] or None


def env_vars_read(binary, words, cache):
    key = tuple(words)
    if key not in cache:
        out = subprocess.run([binary, *words, "--help"], capture_output=True, text=True, check=True).stdout
        cache[key] = set(re.findall(r"\(env (GOWHISK_[A-Z0-9_]+)\)", out))
        if not cache[key]:
            sys.exit("check.py: `%s %s --help` lists no environment variable" % (binary, " ".join(words)))
    return cache[key]


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: check.py GOWHISK_BINARY COMPOSE-COMMAND...")
    binary, compose = sys.argv[1], sys.argv[2:]
    resolved = subprocess.run(compose + ["--profile", "runtimes", "config"], capture_output=True, text=True)
    if resolved.returncode != 0:
        sys.exit("check.py: %s config failed:\n%s" % (" ".join(compose), resolved.stderr))
    doc = yaml.safe_load(resolved.stdout)
    services = doc.get("services") or {}
    networks = doc.get("networks") or {}
    errors = []

    # 1. runtime images
    built = {s.get("image") for s in services.values() if s.get("build")}
    want = manifest_images("runtimes/runtimes.json")
    for image in sorted(want - built):
        errors.append("runtimes/runtimes.json names image %s, which no service builds" % image)

    # 2. GOWHISK_* variables
    gowhisk_image = (services.get("controller") or {}).get("image")
    if not gowhisk_image:
        errors.append("no controller service with an image")
    cache = {}
    checked = []
    for name, svc in sorted(services.items()):
        if svc.get("image") != gowhisk_image:
            continue
        words = gowhisk_command(svc)
        if not words:
            errors.append("service %s: cannot tell which gowhisk command it runs" % name)
            continue
        known = env_vars_read(binary, words, cache)
        for var in sorted(v for v in env_of(svc) if v.startswith("GOWHISK_")):
            if var not in known:
                errors.append("service %s: `gowhisk %s` does not read %s" % (name, " ".join(words), var))
        checked.append("%s (gowhisk %s)" % (name, " ".join(words)))

    # 3. invokers
    ids = {}
    invokers = [n for n, s in services.items() if s.get("image") == gowhisk_image and gowhisk_command(s) == ["invoker"]]
    if len(invokers) < 2:
        errors.append("want at least two invokers, have %d" % len(invokers))
    for name in sorted(invokers):
        svc = services[name]
        env = env_of(svc)
        if env.get("GOWHISK_SANDBOX") != "docker":
            errors.append("invoker %s: GOWHISK_SANDBOX is %r, want docker" % (name, env.get("GOWHISK_SANDBOX")))
        iid = env.get("GOWHISK_INVOKER_ID", "0")
        if iid in ids:
            errors.append("invokers %s and %s have the same GOWHISK_INVOKER_ID %s" % (ids[iid], name, iid))
        ids[iid] = name
        attached = svc.get("networks") or {}
        names = {(networks.get(n) or {}).get("name") or n for n in attached}
        if env.get("GOWHISK_DOCKER_NETWORK") not in names:
            errors.append("invoker %s: GOWHISK_DOCKER_NETWORK %r is not the name of a network it is on (%s)"
                          % (name, env.get("GOWHISK_DOCKER_NETWORK"), ", ".join(sorted(names))))
        if "/var/run/docker.sock" not in volume_targets(svc):
            errors.append("invoker %s: the Docker socket is not mounted at /var/run/docker.sock" % name)

    # 4. controller port
    for p in (services.get("controller") or {}).get("ports") or []:
        host_ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
        if host_ip != "127.0.0.1":
            errors.append("controller: port %s is published beyond 127.0.0.1" % p)

    if errors:
        print("deploy/compose/docker-compose.yml:", file=sys.stderr)
        for e in errors:
            print("  " + e, file=sys.stderr)
        sys.exit(1)
    print("compose: builds %s; GOWHISK_* variables read by %s; invokers %s"
          % (", ".join(sorted(want)), ", ".join(checked), ", ".join(sorted(invokers))))


if __name__ == "__main__":
    main()
