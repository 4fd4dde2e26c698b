#!/usr/bin/env bash
# build.sh — build gowhisk's runtime images offline, with no registry.
#
#   DOCKER_HOST=unix://... test/images/build.sh [all|base|runtimes]
#
# base:     debootstrap a Debian bookworm root filesystem with python3 and nodejs
#           (Debian packages are the only thing reachable besides Go and npm),
#           cache it as a tarball and `docker import` it as $GOWHISK_BASE_IMAGE.
# runtimes: build the static Go action proxy (cmd/actionproxy) and each
#           runtimes/<dir>/Dockerfile with --build-arg BASE=$GOWHISK_BASE_IMAGE,
#           tagged with the image runtimes/runtimes.json names for it.
# all:      both (the default).
#
# Environment:
#   DOCKER_HOST            the daemon (required; see test/images/dockerd.sh)
#   GOWHISK_IMAGE_CACHE    directory for the cached rootfs tarball
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/gowhisk/images)
#   GOWHISK_DEBIAN_MIRROR  default http://deb.debian.org/debian
#   GOWHISK_BASE_IMAGE     default gowhisk/base:bookworm
#   GOWHISK_IMAGES_FORCE   1 = rebuild even what exists (the rootfs tarball is kept)
#   DOCKER                 the docker CLI (default /usr/bin/docker from docker.io, else docker)
#   GO                     the go command (default go)
#
# Needs root (debootstrap) and the packages docker.io and debootstrap:
#   apt-get install -y --no-install-recommends docker.io debootstrap
set -euo pipefail

die() { echo "build.sh: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

root=$(cd "$(dirname "$0")/../.." && pwd)
what=${1:-all}
case "$what" in all | base | runtimes) ;; *) die "usage: $0 [all|base|runtimes]" ;; esac

[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (start a daemon with test/images/dockerd.sh start)"
if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
GO=${GO:-go}
cache=${GOWHISK_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gowhisk/images}
mirror=${GOWHISK_DEBIAN_MIRROR:-http://deb.debian.org/debian}
base=${GOWHISK_BASE_IMAGE:-gowhisk/base:bookworm}
force=${GOWHISK_IMAGES_FORCE:-0}
# The legacy builder: no buildx plugin is needed and nothing is fetched.
export DOCKER_BUILDKIT=0

have_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

work=$(mktemp -d /tmp/gowhisk-images.XXXXXX)
cleanup() {
	# debootstrap may leave /proc and /sys mounted in the rootfs after a failure.
	for m in proc sys dev/pts; do
		umount -l "$work/rootfs/$m" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

build_base() {
	if [ "$force" != 1 ] && have_image "$base"; then
		log "$base exists"
		return
	fi
	mkdir -p "$cache"
	tarball="$cache/rootfs-bookworm-python3-nodejs.tar"
	if [ ! -s "$tarball" ]; then
		command -v debootstrap >/dev/null || die "debootstrap not found: apt-get install -y --no-install-recommends debootstrap"
		[ "$(id -u)" = 0 ] || die "debootstrap needs root"
		log "debootstrap bookworm (python3, nodejs) from $mirror"
		start=$(date +%s)
		debootstrap --variant=minbase --include=python3,nodejs bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
			{ tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed"; }
		# Nothing in the image needs the package caches.
		rm -rf "$work/rootfs"/var/cache/apt/archives/*.deb "$work/rootfs"/var/lib/apt/lists/*
		tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		log "rootfs cached in $tarball ($(($(date +%s) - start)) s)"
	else
		log "using cached rootfs $tarball"
	fi
	"$DOCKER" import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"$tarball" "$base" >/dev/null
	log "imported $base"
}

# image_for DIR prints the image runtimes/runtimes.json names for runtimes/DIR:
# the kind image of the family DIR, or the first blackbox image for the
# native skeleton (DIR "native" or "dockerskeleton").
image_for() {
	python3 - "$root/runtimes/runtimes.json" "$1" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
d = sys.argv[2]
def ref(i):
    s = i["name"]
    if i.get("prefix"): s = i["prefix"] + "/" + s
    if i.get("registry"): s = i["registry"] + "/" + s
    return s + ":" + i.get("tag", "latest")
if d in ("native", "dockerskeleton", "blackbox"):
    print(ref(m["blackboxes"][0]))
elif d in m.get("runtimes", {}):
    kinds = m["runtimes"][d]
    k = next((k for k in kinds if k.get("default")), kinds[0])
    print(ref(k["image"]))
EOF
}

build_runtimes() {
	have_image "$base" || die "$base is missing: run $0 base first"
	ctxroot="$work/ctx"
	mkdir -p "$ctxroot"
	log "building cmd/actionproxy (static)"
	(cd "$root" && CGO_ENABLED=0 "$GO" build -trimpath -o "$ctxroot/actionproxy" ./cmd/actionproxy)
	found=0
	for df in "$root"/runtimes/*/Dockerfile; do
		[ -f "$df" ] || continue
		dir=$(basename "$(dirname "$df")")
		image=$(image_for "$dir")
		if [ -z "$image" ]; then
			log "skipping runtimes/$dir: runtimes.json names no image for it"
			continue
		fi
		found=$((found + 1))
		if [ "$force" != 1 ] && have_image "$image"; then
			log "$image exists"
			continue
		fi
		# The build context is the repository root, so a Dockerfile can COPY
		# its launcher (runtimes/<dir>/...) and the proxy binary (bin/actionproxy).
		ctx="$ctxroot/$dir"
		mkdir -p "$ctx/bin" "$ctx/runtimes"
		cp "$ctxroot/actionproxy" "$ctx/bin/actionproxy"
		cp -r "$root/runtimes/$dir" "$ctx/runtimes/$dir"
		start=$(date +%s)
		"$DOCKER" build -q --build-arg "BASE=$base" -f "$ctx/runtimes/$dir/Dockerfile" -t "$image" "$ctx" >/dev/null ||
			die "docker build of runtimes/$dir failed"
		log "built $image from runtimes/$dir/Dockerfile ($(($(date +%s) - start)) s)"
	done
	[ "$found" -gt 0 ] || die "no runtimes/*/Dockerfile with an image in runtimes/runtimes.json"
}

case "$what" in
base) build_base ;;
runtimes) build_runtimes ;;
all)
	build_base
	build_runtimes
	;;
esac
