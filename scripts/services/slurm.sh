#!/usr/bin/env bash
# A real single-node Slurm cluster (Debian 12's slurm-wlm 22.05 and munge) and an sshd on
# 127.0.0.1, for the slurm target's tests. scripts/test.sh runs it before pytest and runs
# `bash scripts/services/slurm.sh stop` when the test run ends; safe to run any number of times,
# and fast when all is already up (seconds; under a minute on a fresh machine).
#
#   start (the default): installs slurm-wlm, munge and openssh-server if they are missing;
#       writes slurm.conf and an sshd config under $STATE; starts munged, slurmctld, slurmd and
#       sshd (on $SSH_PORT) unless each already runs (by its pid file); waits until the node is
#       idle and sshd answers.
#   stop: stops what the starts since the last stop started (listed in $STATE/started), by
#       their pid files, and nothing else: a cluster that was already up stays up.
#
# The clients (sbatch, squeue, ...) find the cluster through SLURM_CONF=$STATE/slurm.conf,
# which the tests set; sessions of the test sshd get it too (SetEnv).
# Two partitions: `debug` (the default) and `urgent`, whose jobs preempt debug's (the
# preemption test). Background: /work/shared/reference/test-backends.md, section Slurm.
set -euo pipefail

STATE="${LAUNCHBAY_SLURM_STATE:-/var/lib/launchbay-test/slurm}"
SSH_PORT="${LAUNCHBAY_SSH_PORT:-2222}"
CONF="$STATE/slurm.conf"
export SLURM_CONF="$CONF"
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "== slurm: $*"; }
die() { echo "== slurm: ERROR: $*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

mkdir -p "$STATE"
exec 9>"$STATE/lock"
flock 9

is_alive() {
    local state
    state="$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
# Whether the daemon whose pid file is $1 runs (and is the program $2).
runs() {
    local pid
    [ -f "$1" ] || return 1
    pid="$(cat "$1" 2>/dev/null)" || return 1
    [ -n "$pid" ] && is_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

stop_one() {  # pid file, program name
    local pid
    if runs "$1" "$2"; then
        pid="$(cat "$1")"
        kill "$pid"
        for _ in $(seq 50); do is_alive "$pid" || break; sleep 0.1; done
        is_alive "$pid" && kill -9 "$pid"
        say "stopped $2 (pid $pid)"
    fi
    rm -f "$1"
}

started() { echo "$1" >>"$STATE/started"; }
if [ "${1:-start}" = stop ]; then
    for daemon in sshd slurmd slurmctld munged; do
        if grep -qx "$daemon" "$STATE/started" 2>/dev/null; then
            stop_one "$STATE/$daemon.pid" "$daemon"
        fi
    done
    rm -f "$STATE/started"
    exit 0
fi

# --- 1. packages -------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null \
    || ! command -v sshd >/dev/null; then
    start="$EPOCHREALTIME"
    # Without systemd, a package's postinst may start its service through /etc/init.d:
    # a policy-rc.d that forbids it, meanwhile, unless the machine has one.
    guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=/usr/sbin/policy-rc.d
    fi
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        slurm-wlm munge openssh-server; } >>"$STATE/apt.log" 2>&1; then
        [ -n "$guard" ] && rm -f "$guard"
        tail -n 20 "$STATE/apt.log" >&2
        die "apt-get install slurm-wlm munge openssh-server failed (log: $STATE/apt.log)"
    fi
    [ -n "$guard" ] && rm -f "$guard"
    say "installed slurm-wlm munge openssh-server in $(since "$start") s"
fi

# --- 2. munge ----------------------------------------------------------------------------
if ! runs "$STATE/munged.pid" munged; then
    mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        head -c 1024 /dev/urandom >/etc/munge/munge.key
    fi
    chown munge:munge /etc/munge/munge.key /var/lib/munge /var/log/munge /run/munge
    chmod 400 /etc/munge/munge.key
    # --force: a socket left by a killed munged is replaced.
    munged --force --pid-file="$STATE/munged.pid" 9>&- \
        || die "munged did not start (see /var/log/munge/munged.log)"
    started munged
    say "started munged"
fi

# --- 3. slurm.conf -----------------------------------------------------------------------
host="$(hostname -s)"
cpus="$(nproc)"
mkdir -p "$STATE/spool/ctld" "$STATE/spool/d" "$STATE/log"
# Written only when it changes: a running slurmctld keeps the file it started with.
# Jobs start promptly: the main and backfill schedulers run often, a finished job stays
# visible to `scontrol show job` for 5 minutes (MinJobAge, squeue and the runner read it),
# and a cancelled job's processes get SIGKILL 2 s after SIGTERM (KillWait).
# CPUs: the node offers 16 whatever the machine has (SlurmdParameters=config_overrides),
# so that several test jobs of 1 CPU each run at once on a 2-core CI machine.
cat >"$STATE/slurm.conf.new" <<EOF
# Written by launchbay scripts/services/slurm.sh
ClusterName=launchbay-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=1,bf_interval=1,sched_min_interval=100000
MinJobAge=300
DefMemPerCPU=100
KillWait=2
InactiveLimit=0
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
NodeName=$host CPUs=16 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP PriorityTier=1
PartitionName=urgent Nodes=$host MaxTime=INFINITE State=UP PriorityTier=10
EOF
if ! cmp -s "$STATE/slurm.conf.new" "$CONF"; then
    mv "$STATE/slurm.conf.new" "$CONF"
    changed=1
else
    rm -f "$STATE/slurm.conf.new"
    changed=0
fi

# --- 4. slurmctld and slurmd -------------------------------------------------------------
if [ "$changed" = 1 ]; then
    # A daemon started on an older file: restart it on this one.
    stop_one "$STATE/slurmd.pid" slurmd
    stop_one "$STATE/slurmctld.pid" slurmctld
fi
if ! runs "$STATE/slurmctld.pid" slurmctld; then
    start="$EPOCHREALTIME"
    # -i: ignore state files left by an earlier cluster of a different config.
    slurmctld -f "$CONF" -i 9>&- || die "slurmctld did not start (log: $STATE/log/slurmctld.log)"
    started slurmctld
    say "started slurmctld in $(since "$start") s"
fi
if ! runs "$STATE/slurmd.pid" slurmd; then
    slurmd -f "$CONF" 9>&- || die "slurmd did not start (log: $STATE/log/slurmd.log)"
    started slurmd
    say "started slurmd"
fi
start="$EPOCHREALTIME"
deadline=$((SECONDS + 30))
until [ "$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n 1)" = idle ] \
    || [ "$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n 1)" = mix ] \
    || [ "$(sinfo -h -n "$host" -o %t 2>/dev/null | head -n 1)" = alloc ]; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 20 "$STATE/log/slurmctld.log" "$STATE/log/slurmd.log" >&2 || true
        die "node $host is not idle after 30 s: $(sinfo -h -o '%t %E' 2>&1)"
    fi
    sleep 0.2
done
say "node $host up ($(sinfo -h -n "$host" -o %t | head -n 1)) after $(since "$start") s"

# --- 5. sshd on 127.0.0.1:$SSH_PORT --------------------------------------------------------
# Its own host key and config; a test authorises its own key through the
# AuthorizedKeysFile it names ($STATE/ssh/authorized_keys, which the tests write).
mkdir -p "$STATE/ssh" /run/sshd
chmod 700 "$STATE/ssh"
[ -f "$STATE/ssh/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$STATE/ssh/host_ed25519"
touch "$STATE/ssh/authorized_keys"
chmod 600 "$STATE/ssh/authorized_keys"
cat >"$STATE/ssh/sshd_config" <<EOF
# Written by launchbay scripts/services/slurm.sh
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $STATE/ssh/host_ed25519
PidFile $STATE/sshd.pid
AuthorizedKeysFile $STATE/ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
MaxStartups 100:30:200
MaxSessions 100
SetEnv SLURM_CONF=$CONF
EOF
if ! runs "$STATE/sshd.pid" sshd; then
    /usr/sbin/sshd -f "$STATE/ssh/sshd_config" -E "$STATE/log/sshd.log" 9>&- \
        || die "sshd did not start (log: $STATE/log/sshd.log)"
    started sshd
    say "started sshd on 127.0.0.1:$SSH_PORT"
fi
echo "SLURM_CONF=$CONF"
