#!/usr/bin/env bash
# A real Docker engine for the test suite, made from nothing on a fresh Debian 12 machine
# (root, no systemd, no internet except the Debian and PyPI mirrors). scripts/test.sh runs it
# before pytest; it is safe to run any number of times and is fast when all is already up.
#
#   1. installs docker.io, busybox-static and docker-registry if they are missing;
#   2. starts dockerd on /var/run/docker.sock unless a daemon already answers there;
#   3. makes the base images local/busybox:latest and local/python3:latest (nothing can be
#      pulled: no registry on the internet is reachable), then checks they run;
#   4. starts a registry on 127.0.0.1:5000 for push/pull tests unless one already answers.
#
# Everything it owns lives under $STATE (LAUNCHBAY_TEST_STATE, default
# /var/lib/launchbay-test/docker): data roots, pidfile, logs (dockerd.log, registry.log,
# apt.log). The daemon and the registry are left running on purpose, so the next run reuses
# them. To stop them: kill "$(cat "$STATE/dockerd.pid")" and the registry's pid printed in
# registry.pid; never delete $STATE/root while dockerd runs.
# Background: /work/shared/reference/test-backends.md, section Docker.
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root: .venv (made by test.sh) lives there

STATE="${LAUNCHBAY_TEST_STATE:-/var/lib/launchbay-test/docker}"
SOCKET=/var/run/docker.sock
REGISTRY_ADDR=127.0.0.1:5000
# Talk to the socket we manage, whatever the caller's DOCKER_HOST or docker context says.
export DOCKER_HOST="unix://$SOCKET"
# dockerd lives in /usr/sbin, which a non-login root shell may lack.
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "== docker: $*"; }
die() { echo "== docker: ERROR: $*" >&2; exit 1; }
# Seconds since a start mark taken from $EPOCHREALTIME, with one decimal.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$STATE"

# Two test runs at once must not both start a daemon or both build an image: hold a lock for
# the whole script. Every background service below is started with 9>&- so it does not
# inherit (and hold forever) this lock.
exec 9>"$STATE/lock"
flock 9

# Temporary things removed however the script ends. Scratch directories left by a run that
# was killed outright are swept here: holding the lock, no other run can be using them.
rm -rf "$STATE"/tmp.*
CLEANUP=()
cleanup() { if [ "${#CLEANUP[@]}" -gt 0 ]; then rm -rf "${CLEANUP[@]}"; fi; }
trap cleanup EXIT
# Sets SCRATCH to a new empty directory under $STATE. Not `dir=$(...)`: a command
# substitution is a subshell, and the CLEANUP entry would be lost with it.
new_scratch_dir() {
    SCRATCH="$(mktemp -d "$STATE/tmp.XXXXXX")"
    CLEANUP+=("$SCRATCH")
}

# A statically linked executable: ldd refuses it (exit 1), a dynamic one it lists.
is_static() { [ -x "$1" ] && ! ldd "$1" >/dev/null 2>&1; }

apt_install() {
    # Without systemd, a package's postinst may still start its service through
    # /etc/init.d (docker.io would start a dockerd with default options, docker-registry a
    # registry on :5000), which we would then find and reuse. Debian's container images ship
    # a policy-rc.d that forbids that; if this machine has none, put one in place meanwhile.
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# temporary, from launchbay scripts/services/docker.sh\nexit 101\n' \
            >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
        CLEANUP+=("$guard")
    fi
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
        >>"$STATE/apt.log" 2>&1; then
        tail -n 20 "$STATE/apt.log" >&2
        die "apt-get install $* failed (full log: $STATE/apt.log)"
    fi
    if [ -n "$guard" ]; then rm -f "$guard"; fi
}

# --- 1. packages -------------------------------------------------------------------------
# busybox must be the static one: it is copied alone into images that have no libc.
if ! command -v dockerd >/dev/null || ! is_static /bin/busybox \
    || ! command -v docker-registry >/dev/null; then
    start="$EPOCHREALTIME"
    apt_install docker.io busybox-static docker-registry
    say "installed docker.io busybox-static docker-registry in $(since "$start") s"
fi
is_static /bin/busybox || die "/bin/busybox is not statically linked (expected busybox-static)"

# --- 2. the engine -----------------------------------------------------------------------
engine_answers() { timeout 5 docker info >/dev/null 2>&1; }

# Alive and not a zombie: a killed daemon whose parent (here init, which may be slow to reap)
# has not collected it yet still passes `kill -0` and still has a /proc entry.
is_alive() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# Any live dockerd, ours or not (no pgrep: procps is not on a minimal Debian).
live_dockerd_pid() {
    local proc
    for proc in /proc/[0-9]*; do
        if [ "$(cat "$proc/comm" 2>/dev/null)" = dockerd ] && is_alive "${proc#/proc/}"; then
            echo "${proc#/proc/}"
            return 0
        fi
    done
    return 1
}

# Wait up to 60 s for the daemon with pid $1 to answer. Returns 1 at once if it dies;
# exits with the log's tail if it lives but never answers.
wait_for_engine() {
    local pid="$1" deadline=$((SECONDS + 60))
    until engine_answers; do
        is_alive "$pid" || return 1
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "---- last lines of $STATE/dockerd.log:" >&2
            tail -n 30 "$STATE/dockerd.log" >&2 || true
            die "dockerd (pid $pid) runs but did not answer on $SOCKET within 60 s"
        fi
        sleep 0.2
    done
}

start_dockerd() {
    # vfs copies every layer on each container start (3-8 s instead of 0.4 s): only when
    # the kernel has no overlayfs at all.
    local driver=overlay2 start="$EPOCHREALTIME" pidfile log_offset
    grep -qw overlay /proc/filesystems || driver=vfs
    mkdir -p "$STATE/root" "$STATE/exec"
    # Pidfiles of a killed daemon and of its containerd: dockerd refuses to start ("pid file
    # found") or waits on a dead containerd while their process still exists, and a zombie
    # does (init may take seconds to reap it, or never if PID 1 is not an init). No live
    # dockerd exists at this point, so a pidfile whose process is dead or a zombie is stale.
    for pidfile in "$STATE/dockerd.pid" "$STATE/exec/containerd/containerd.pid"; do
        if [ -f "$pidfile" ] && ! is_alive "$(cat "$pidfile")"; then rm -f "$pidfile"; fi
    done
    log_offset="$(stat -c %s "$STATE/dockerd.log" 2>/dev/null || echo 0)"
    # --iptables=false --bridge=none: no NAT or bridge to set up in a container host, so
    # containers run with --network none or --network host. A socket left by a killed
    # daemon is fine: dockerd replaces it.
    # setsid + nohup + all fds redirected: the daemon outlives this script and the test
    # run, and holds none of its pipes open.
    setsid nohup dockerd --storage-driver="$driver" --iptables=false --bridge=none \
        --data-root "$STATE/root" --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
        -H "unix://$SOCKET" \
        </dev/null >>"$STATE/dockerd.log" 2>&1 9>&- &
    if ! wait_for_engine "$!"; then
        echo "---- what dockerd logged before it exited:" >&2
        tail -c +"$((log_offset + 1))" "$STATE/dockerd.log" | tail -n 30 >&2 || true
        die "dockerd exited while starting (log: $STATE/dockerd.log)"
    fi
    say "started dockerd ($driver) in $(since "$start") s, log $STATE/dockerd.log"
}

if engine_answers; then
    say "engine already running"
elif pid="$(live_dockerd_pid)"; then
    # A dockerd exists but does not answer yet (still starting, or busy): starting a second
    # one on the same socket would fight it, so wait for this one instead; start ours only
    # if it dies meanwhile.
    say "waiting for the dockerd already started (pid $pid)"
    if wait_for_engine "$pid"; then
        say "engine answers"
    else
        say "that dockerd exited; starting a new one"
        start_dockerd
    fi
else
    start_dockerd
fi

# --- 3. base images ----------------------------------------------------------------------
image_missing() { ! docker image inspect "$1" >/dev/null 2>&1; }

# Put the static busybox in $1/bin with one symlink per applet (sh, ls, cat, ...).
add_busybox() {
    local root="$1" applet
    mkdir -p "$root/bin"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        if [ "$applet" != busybox ]; then ln -s busybox "$root/bin/$applet"; fi
    done
}

# Import directory $1 as image $2, with extra `docker import -c` changes after it.
import_dir() {
    local root="$1" image="$2"
    shift 2
    local changes=() change
    for change in "$@"; do changes+=(-c "$change"); done
    # --numeric-owner: uid 1000 stays 1000 even where the host has no such user.
    tar -C "$root" --numeric-owner -c . | docker import "${changes[@]}" - "$image" >/dev/null
}

if image_missing local/busybox:latest; then
    start="$EPOCHREALTIME"
    new_scratch_dir
    root="$SCRATCH"
    add_busybox "$root"
    import_dir "$root" local/busybox:latest 'ENV PATH=/bin'
    say "made local/busybox:latest in $(since "$start") s"
else
    say "image local/busybox:latest already there"
fi

# The quick python image (~6 s here, 3.5 s of it compiling bytecode; debootstrap would take
# ~60 s and 173 MB): Debian's own python3.11 binary, its stdlib and exactly the shared
# libraries ldd says they need, on a busybox rootfs. Same python as a Debian container's,
# minus the packaging around it.
make_python_root() {
    local root="$1" lib pipdir
    add_busybox "$root"
    mkdir -p "$root/usr/bin" "$root/usr/lib/python3/dist-packages" "$root/etc" \
        "$root/root" "$root/home/launchbay" "$root/tmp"
    cp /usr/bin/python3.11 "$root/usr/bin/python3.11"
    ln -s python3.11 "$root/usr/bin/python3"
    ln -s python3.11 "$root/usr/bin/python"
    # The stdlib without caches, tests, GUI/IDE parts and ensurepip; without
    # EXTERNALLY-MANAGED, so pip may install into the image (it is a throwaway container).
    tar -C /usr/lib -c --exclude=__pycache__ --exclude=test --exclude=idlelib \
        --exclude=tkinter --exclude=turtledemo --exclude=ensurepip \
        --exclude=EXTERNALLY-MANAGED python3.11 | tar -C "$root/usr/lib" -x

    # Shared libraries: every absolute path ldd prints for the binary and the extension
    # modules, i.e. "libX => /path (addr)" and the loader's own "/path (addr)" line (this
    # is how the loader's name, /lib64/ld-linux-x86-64.so.2 on amd64, comes without
    # knowing the arch). The "file:" headers of a multi-file ldd end in ':' and are
    # skipped. Copied at the same path, symlinks followed.
    local ldd_out
    ldd_out="$(ldd /usr/bin/python3.11 /usr/lib/python3.11/lib-dynload/*.so 2>&1 || true)"
    if grep -q 'not found' <<<"$ldd_out"; then
        say "warning: ldd finds no library for: $(grep 'not found' <<<"$ldd_out" \
            | awk '{ print $1 }' | sort -u | tr '\n' ' ')"
    fi
    while read -r lib; do
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3 }
                  $1 ~ /^\// && $1 !~ /:$/ && $2 != "=>" { print $1 }' <<<"$ldd_out" | sort -u)

    # pip, from the project's venv (Debian's python3-pip would need apt in the image).
    # Debian's python3.11 puts /usr/lib/python3/dist-packages on sys.path.
    pipdir="$(.venv/bin/python -c 'import pip, os; print(os.path.dirname(pip.__file__))')"
    tar -C "$(dirname "$pipdir")" -c --exclude=__pycache__ "$(basename "$pipdir")" \
        | tar -C "$root/usr/lib/python3/dist-packages" -x

    # Bytecode, compiled once here by the same python3.11 rather than copied from the host
    # (whose caches may be stale or absent): containers are thrown away, so without it
    # every container compiles what it imports again (measured: +0.13 s for a plain
    # `import json`, +0.5 s for `pip --version`). Costs ~12 MB, and ~3.5 s of build on
    # 2 cores; drop this command if image build time ever matters more than container start.
    # -s/-p: tracebacks name /usr/lib/..., not this scratch directory.
    /usr/bin/python3.11 -m compileall -q -j0 -s "$root" -p / \
        "$root/usr/lib/python3.11" "$root/usr/lib/python3/dist-packages" >/dev/null

    chmod 1777 "$root/tmp"
    chmod 700 "$root/root"
    cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
launchbay:x:1000:1000:launchbay:/home/launchbay:/bin/sh
EOF
    cat >"$root/etc/group" <<'EOF'
root:x:0:
launchbay:x:1000:
EOF
    chown 1000:1000 "$root/home/launchbay"
}

if image_missing local/python3:latest; then
    start="$EPOCHREALTIME"
    if [ ! -x /usr/bin/python3.11 ]; then
        apt_install python3.11
        say "installed python3.11"
    fi
    [ -x .venv/bin/python ] || die ".venv/bin/python is missing (scripts/test.sh makes it)"
    new_scratch_dir
    root="$SCRATCH"
    make_python_root "$root"
    import_dir "$root" local/python3:latest \
        'ENV PATH=/usr/local/bin:/usr/bin:/bin' 'ENV LANG=C.UTF-8'
    say "made local/python3:latest in $(since "$start") s"
else
    say "image local/python3:latest already there"
fi

# Prove the engine runs containers and the images work, on every run: this is what the
# tests need, and it costs under a second. --network none because --bridge=none leaves no
# default network.
start="$EPOCHREALTIME"
docker run --rm --network none local/busybox:latest true \
    || die "local/busybox:latest does not run"
# Both python checks in one container: each container start costs ~0.4 s.
out="$(docker run --rm --network none local/python3:latest sh -c \
    'python3 -c "import json, ssl, hashlib, zlib, sqlite3; print(\"ok\")" \
     && python3 -m pip --version' 2>&1)" || true
case "$out" in
    "ok"$'\n'"pip "*) ;;
    *) die "local/python3:latest: expected 'ok' then pip's version, got: $out" ;;
esac
say "images run (busybox, python3 stdlib, pip) in $(since "$start") s"

# --- 4. the registry ---------------------------------------------------------------------
registry_answers() {
    local url="http://$REGISTRY_ADDR/v2/"
    if command -v curl >/dev/null; then
        curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$url" 2>/dev/null
    fi
}

if registry_answers; then
    say "registry already answers on $REGISTRY_ADDR"
else
    mkdir -p "$STATE/registry-data"
    cat >"$STATE/registry.yml" <<EOF
# Written by launchbay scripts/services/docker.sh; rewritten each time it starts the registry.
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
    start="$EPOCHREALTIME"
    setsid nohup docker-registry serve "$STATE/registry.yml" \
        </dev/null >>"$STATE/registry.log" 2>&1 9>&- &
    pid=$!
    echo "$pid" >"$STATE/registry.pid"
    deadline=$((SECONDS + 20))
    until registry_answers; do
        if ! is_alive "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
            echo "---- last lines of $STATE/registry.log:" >&2
            tail -n 20 "$STATE/registry.log" >&2 || true
            die "docker-registry (pid $pid) did not answer on $REGISTRY_ADDR"
        fi
        sleep 0.2
    done
    say "started registry on $REGISTRY_ADDR in $(since "$start") s, log $STATE/registry.log"
fi

# Run as a subprocess, so nothing can be exported to the caller: say where the engine is.
echo "DOCKER_HOST=$DOCKER_HOST"
