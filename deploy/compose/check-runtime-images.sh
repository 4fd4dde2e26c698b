#!/usr/bin/env bash
# check-runtime-images.sh COMPOSE... — checks that the compose file builds
# every Docker image runtimes/runtimes.json names (the invokers' managed
# images are never pulled, so a missing one fails every action of its kind).
# COMPOSE is the compose command with its -f/-p options; run from the
# repository root. Needs python3 (to read the JSON) and no Docker daemon.
set -euo pipefail

if [[ $# -eq 0 ]]; then
	echo "usage: $0 COMPOSE-COMMAND..." >&2
	exit 2
fi

want=$(python3 - runtimes/runtimes.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
def name(i):
    return "%s/%s:%s" % (i["prefix"], i["name"], i.get("tag") or "latest")
images = {name(k["image"]) for kinds in m["runtimes"].values() for k in kinds if not k.get("deprecated")}
images |= {name(b) for b in m.get("blackboxes", [])}
print("\n".join(sorted(images)))
PY
)
built=$("$@" --profile runtimes config | sed -nE 's/^    image: ["'\'']?([^"'\'']+)["'\'']?$/\1/p' | sort -u)

missing=$(comm -23 <(echo "$want") <(echo "$built"))
if [[ -n "$missing" ]]; then
	echo "runtimes/runtimes.json names images the compose file does not build:" >&2
	echo "$missing" | sed 's/^/  /' >&2
	exit 1
fi
echo "compose builds every runtime image of runtimes/runtimes.json: $(echo $want)"
