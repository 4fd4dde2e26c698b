#!/usr/bin/env bash
# dockerd.sh — start or stop a private Docker daemon for gowhisk's integration
# tests (see ../../../shared/environment.md "Docker: Debian's docker.io").
#
#   test/images/dockerd.sh start [DIR]   start dockerd with its state in DIR (default: a new
#                                        temp dir); prints DOCKER_HOST=unix://DIR/docker.sock
#                                        and DOCKERD_PID=<pid> on stdout once it answers
#   test/images/dockerd.sh stop DIR      stop the dockerd started in DIR (by the pid it wrote)
#
# The daemon has no bridge network and touches no iptables rule: containers use
# --network host (each action proxy on its own 127.0.0.1 port) or --network none.
# Needs root and the docker.io package:
#   apt-get update && apt-get install -y --no-install-recommends docker.io
set -euo pipefail

die() { echo "dockerd.sh: $*" >&2; exit 1; }

cmd=${1:-}
case "$cmd" in
start)
	command -v dockerd >/dev/null || die "dockerd not found: apt-get install -y --no-install-recommends docker.io"
	dir=${2:-}
	if [ -z "$dir" ]; then
		dir=$(mktemp -d /tmp/gowhisk-dockerd.XXXXXX)
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	sock="$dir/docker.sock"
	if [ -f "$dir/dockerd.pid" ] && kill -0 "$(cat "$dir/dockerd.pid")" 2>/dev/null; then
		die "a dockerd already runs in $dir (pid $(cat "$dir/dockerd.pid"))"
	fi
	# dockerd writes its own pidfile; --exec-root keeps its runtime state out of /var/run.
	setsid dockerd \
		--host "unix://$sock" \
		--data-root "$dir/data" \
		--exec-root "$dir/exec" \
		--pidfile "$dir/dockerd.pid" \
		--iptables=false --ip6tables=false --bridge=none \
		>"$dir/dockerd.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/dockerd.launcher.pid"
	# Wait until the API answers (about 6 s on the test machines).
	for _ in $(seq 1 600); do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$dir/dockerd.log" >&2 || true
			die "dockerd exited during start (log: $dir/dockerd.log)"
		fi
		if [ -S "$sock" ] && curl -fsS --max-time 1 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; then
			echo "DOCKER_HOST=unix://$sock"
			echo "DOCKERD_PID=$pid"
			echo "DOCKERD_DIR=$dir"
			exit 0
		fi
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	die "dockerd did not answer within 60 s (log: $dir/dockerd.log)"
	;;
stop)
	dir=${2:-}
	[ -n "$dir" ] || die "usage: dockerd.sh stop DIR"
	pidfile="$dir/dockerd.launcher.pid"
	[ -f "$pidfile" ] || pidfile="$dir/dockerd.pid"
	[ -f "$pidfile" ] || die "no pid file in $dir"
	pid=$(cat "$pidfile")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 1 300); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	# dockerd leaves the nsfs mount of exec/netns/default behind (and a killed
	# one may leave overlay mounts): detach everything under DIR, deepest first.
	dir=$(cd "$dir" && pwd)
	awk -v p="$dir/" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null || true
	done
	echo "stopped dockerd $pid"
	;;
*)
	echo "usage: $0 start [DIR] | stop DIR" >&2
	exit 2
	;;
esac
