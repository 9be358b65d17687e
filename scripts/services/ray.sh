#!/usr/bin/env bash
# A real Ray head for the ray runner's tests, inside a network namespace of its own.
#
#   scripts/services/ray.sh [start] [--owner ID]   start the head unless one already answers
#   scripts/services/ray.sh stop [--owner ID]      stop it (with --owner: only if that start
#                                                  started it), then delete the namespace
#
# On Linux a Ray head binds its GCS, raylet and client server to the machine's own address and
# ignores --node-ip-address=127.0.0.1 (Ray's issue #26293, intentional). Test traffic must stay
# on loopback, so the head runs in the namespace $NETNS, where only `lo` is up: there Ray binds
# 127.0.0.1, and the Jobs API answers at http://127.0.0.1:8265 *inside the namespace only*. The
# ray tests join the namespace to reach it (tests/kit/ray.py).
#
# Every process of the namespace is ours: `stop` ends exactly those (by pid, from
# `ip netns pids`), never processes found by name. State lives under $STATE (logs, Ray's temp
# dir, the owner mark). Background: /work/shared/reference/test-backends.md, section Ray.
set -euo pipefail
cd "$(dirname "$0")/../.."   # the repository root: .venv (made by test.sh) lives there

STATE="${LAUNCHBAY_RAY_STATE:-/var/lib/launchbay-test/ray}"
NETNS="${LAUNCHBAY_RAY_NETNS:-lbray}"
RAY="${RAY:-.venv/bin/ray}"
API=http://127.0.0.1:8265
export PATH="$PATH:/usr/sbin:/sbin"   # ip, for a non-login root shell

say() { echo "== ray: $*"; }
die() { echo "== ray: ERROR: $*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

action=start
owner=""
while [ $# -gt 0 ]; do
    case "$1" in
        start | stop) action="$1" ;;
        --owner) owner="${2:?--owner needs a value}"; shift ;;
        *) die "unknown argument $1; expected start, stop or --owner ID" ;;
    esac
    shift
done

mkdir -p "$STATE"
if ! command -v ip >/dev/null; then   # a minimal Debian has no iproute2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 \
        >/dev/null || die "could not install iproute2 (ip netns)"
fi
exec 9>"$STATE/lock"   # two test runs at once must not both start a head
flock 9

netns_exists() { ip netns list | awk '{ print $1 }' | grep -qx "$NETNS"; }
in_netns() { ip netns exec "$NETNS" "$@"; }
head_answers() {
    netns_exists || return 1
    if command -v curl >/dev/null; then
        in_netns curl -fsS -m 2 -o /dev/null "$API/api/jobs/" 2>/dev/null
    else
        in_netns python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
            "$API/api/jobs/" 2>/dev/null
    fi
}

stop_head() {
    local pids pid deadline
    if ! netns_exists; then
        say "no namespace $NETNS: nothing to stop"
        return 0
    fi
    pids="$(ip netns pids "$NETNS" | tr '\n' ' ')"
    if [ -n "${pids// /}" ]; then
        # shellcheck disable=SC2086  # a list of pids
        kill -TERM $pids 2>/dev/null || true
        deadline=$((SECONDS + 5))  # the head goes in ~1 s; stragglers are killed
        while [ -n "$(ip netns pids "$NETNS")" ] && [ "$SECONDS" -lt "$deadline" ]; do
            sleep 0.2
        done
        for pid in $(ip netns pids "$NETNS"); do kill -KILL "$pid" 2>/dev/null || true; done
    fi
    ip netns del "$NETNS"
    rm -f "$STATE/owner"
    say "stopped the head (pids: ${pids:-none}) and deleted namespace $NETNS"
}

if [ "$action" = stop ]; then
    if [ -n "$owner" ] && [ "$(cat "$STATE/owner" 2>/dev/null)" != "$owner" ]; then
        say "the head was not started by this run ($owner): left running"
        exit 0
    fi
    stop_head
    exit 0
fi

# --- start ---------------------------------------------------------------------------------
if head_answers; then
    say "head already answers at $API in namespace $NETNS"
    exit 0
fi
[ -x "$RAY" ] || die "$RAY is missing: pip install 'launchbay[ray]' (scripts/test.sh does)"
start="$EPOCHREALTIME"
if netns_exists; then
    # A namespace with no answering head: what is left of a killed run. Its processes are ours.
    say "namespace $NETNS exists but no head answers: clearing it"
    stop_head
fi
ip netns add "$NETNS"
in_netns ip link set lo up
rm -rf "$STATE/tmp"
mkdir -p "$STATE/tmp"
# `ray start` daemonizes the head's processes and returns; 9>&- so none holds the lock.
# A small object store: the tests move no data through it, and CI has little memory.
if ! RAY_USAGE_STATS_ENABLED=0 in_netns "$RAY" start --head --num-cpus 2 \
    --dashboard-host 127.0.0.1 --disable-usage-stats --object-store-memory 100000000 \
    --resources '{"launchbay_test": 4}' \
    --temp-dir "$STATE/tmp" </dev/null >"$STATE/start.log" 2>&1 9>&-; then
    tail -n 30 "$STATE/start.log" >&2
    die "ray start failed (log: $STATE/start.log)"
fi
deadline=$((SECONDS + 60))
until head_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 30 "$STATE/start.log" >&2
        die "the head did not answer at $API within 60 s (log: $STATE/start.log)"
    fi
    sleep 0.2
done
grep -q "Local node IP.*127\.0\.0\.1" "$STATE/start.log" \
    || die "the head did not bind 127.0.0.1 (see $STATE/start.log)"
if [ -n "$owner" ]; then echo "$owner" >"$STATE/owner"; fi
say "started the head in namespace $NETNS in $(since "$start") s, Jobs API $API there"
