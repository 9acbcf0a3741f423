#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the `slurm` tests (tests/test_slurm.py).
#
#   bash tests/slurm/local_cluster.sh start    # install (apt) if needed, configure, start, wait idle
#   bash tests/slurm/local_cluster.sh status   # sinfo; exit 0 when the node answers, else 1
#   bash tests/slurm/local_cluster.sh stop     # stop slurmd, slurmctld and munged
#
# `start` needs root and apt-get (Debian/Ubuntu) when SLURM or munge is missing: it installs
# slurm-wlm and munge, makes a munge key if there is none, writes /etc/slurm/slurm.conf for one
# node (this host, `hostname -s`, at 127.0.0.1, all `nproc` CPUs, most of the memory) in one
# partition `debug`, and starts munged, slurmctld and slurmd directly as daemons (no systemd, no
# cgroups: proctrack/linuxproc, task/none). It exits 3, with one line saying why, where it cannot
# install; it is idempotent: with the cluster up it only checks. Then e.g.
#   srun -n 2 hostname;  sbatch --array=0-2 --wrap 'echo $SLURM_ARRAY_TASK_ID'
#   python -m pytest -m slurm tests/test_slurm.py
set -euo pipefail

CONF_DIR=/etc/slurm
CONF=$CONF_DIR/slurm.conf
LOG_DIR=/var/log/slurm
NODE=$(hostname -s)

log() { echo "local_cluster: $*" >&2; }

cannot() {  # installation / setup impossible here: one clear line, exit 3
    echo "local_cluster: cannot set up SLURM here: $*" >&2
    exit 3
}

node_state() { sinfo -h -o %T 2>/dev/null | head -n1 || true; }

node_up() {
    command -v sinfo >/dev/null 2>&1 || return 1
    # (sinfo retries for ~10 s when no slurmctld answers: look for the local daemons first)
    pgrep -x slurmctld >/dev/null && pgrep -x slurmd >/dev/null || return 1
    case "$(node_state)" in
        idle|mixed|allocated|completing) return 0 ;;
        *) return 1 ;;
    esac
}

have_all() {
    command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 \
        && command -v munged >/dev/null 2>&1 && command -v sinfo >/dev/null 2>&1
}

install_packages() {
    have_all && return 0
    [ "$(id -u)" -eq 0 ] || cannot "slurm-wlm/munge are not installed and this is not root"
    command -v apt-get >/dev/null 2>&1 || cannot "slurm-wlm/munge are not installed and there is no apt-get"
    log "installing slurm-wlm and munge with apt-get"
    # Keep the packages' maintainer scripts from starting services (no systemd here; we start
    # the daemons ourselves below, with our configuration).
    local policy=/usr/sbin/policy-rc.d made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
    fi
    local pkgs=(slurm-wlm munge) ok=0
    export DEBIAN_FRONTEND=noninteractive
    if apt-get install -y --no-install-recommends "${pkgs[@]}" >/tmp/local_cluster_apt.log 2>&1; then
        ok=1
    elif apt-get update >>/tmp/local_cluster_apt.log 2>&1 \
        && apt-get install -y --no-install-recommends "${pkgs[@]}" >>/tmp/local_cluster_apt.log 2>&1; then
        ok=1
    fi
    [ "$made_policy" -eq 1 ] && rm -f "$policy"
    [ "$ok" -eq 1 ] || cannot "apt-get install slurm-wlm munge failed (see /tmp/local_cluster_apt.log)"
    have_all || cannot "slurm-wlm/munge installed but slurmctld/slurmd/munged/sinfo are not on PATH"
}

start_munge() {
    id munge >/dev/null 2>&1 || cannot "there is no munge user (the munge package makes it)"
    mkdir -p /etc/munge /var/lib/munge /var/log/munge /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        log "creating /etc/munge/munge.key"
        if command -v mungekey >/dev/null 2>&1; then
            mungekey --create --force --keyfile /etc/munge/munge.key
        else
            dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
    fi
    chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge
    chmod 0700 /etc/munge /var/lib/munge /var/log/munge
    chmod 0755 /run/munge
    chmod 0400 /etc/munge/munge.key
    # (not `munge -n` first: with no munged it retries for ~10 s before failing)
    if pgrep -x munged >/dev/null && munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
        return 0
    fi
    log "starting munged"
    rm -f /run/munge/munge.socket.2.lock  # stale after an unclean stop
    runuser -u munge -- munged
    for _ in $(seq 50); do
        munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    cannot "munged does not answer (see /var/log/munge/munged.log)"
}

ours() {  # the SLURM here is this script's (no slurm.conf, or the one it wrote)
    [ ! -f "$CONF" ] || head -n1 "$CONF" | grep -q "^# Written by tests/slurm/local_cluster.sh"
}

write_conf() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory a bit below the total, or slurmd finds less than configured and drains the node.
    mem_mb=$(awk '/^MemTotal:/ {printf "%d", $2 / 1024 * 0.9}' /proc/meminfo)
    mkdir -p "$CONF_DIR" "$LOG_DIR" /var/spool/slurmctld /var/spool/slurmd
    local tmp
    tmp=$(mktemp)
    cat >"$tmp" <<CONF
# Written by tests/slurm/local_cluster.sh: one node, no systemd, no cgroups.
ClusterName=local
SlurmctldHost=$NODE(127.0.0.1)
AuthType=auth/munge
CryptoType=crypto/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobRequeue=1
MinJobAge=300
KillWait=10
MailProg=/bin/true
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
    if ! cmp -s "$tmp" "$CONF"; then
        log "writing $CONF"
        mv "$tmp" "$CONF"
        chmod 644 "$CONF"
        return 0
    fi
    rm -f "$tmp"
}

slurmd_started() {  # since (epoch s): has slurmd registered with slurmctld since then?
    local t
    t=$(scontrol show node "$NODE" 2>/dev/null | sed -n 's/.*SlurmdStartTime=\([^ ]*\).*/\1/p')
    [ -n "$t" ] && [ "$t" != None ] && [ "$(date -d "$t" +%s 2>/dev/null || echo 0)" -ge $(($1 - 1)) ]
}

wait_idle() {  # since: when slurmd was started (0: it was running already)
    local state
    for _ in $(seq 120); do
        state=$(node_state)
        case "$state" in
            # (a restarted slurmctld reports its saved state before slurmd has registered)
            idle|mixed|allocated|completing) slurmd_started "$1" && return 0 ;;
            down|drain|drained|draining|fail)  # responding, but out of service: put it back
                scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
        esac
        sleep 0.5
    done
    sinfo -R >&2 || true
    echo "local_cluster: the node did not become idle within 60 s (state '${state:-?}'; see $LOG_DIR)" >&2
    exit 1
}

cmd_start() {
    ours || cannot "$CONF was not written by this script: this machine has a SLURM of its own; use it"
    if node_up && [ -f "$CONF" ]; then
        sinfo
        return 0
    fi
    install_packages
    [ "$(id -u)" -eq 0 ] || cannot "starting the daemons needs root"
    start_munge
    write_conf
    if ! pgrep -x slurmctld >/dev/null; then
        log "starting slurmctld"
        slurmctld
    fi
    local since=0
    if ! pgrep -x slurmd >/dev/null; then
        log "starting slurmd"
        since=$(date +%s)
        slurmd
    fi
    wait_idle "$since"
    sinfo
}

stop_one() {  # name pidfile
    local pid=""
    [ -f "$2" ] && pid=$(cat "$2" 2>/dev/null || true)
    if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then :; else pkill -x "$1" 2>/dev/null || true; fi
    for _ in $(seq 50); do
        pgrep -x "$1" >/dev/null || return 0
        sleep 0.2
    done
    pkill -9 -x "$1" 2>/dev/null || true
}

cmd_stop() {
    ours || { echo "local_cluster: $CONF is not this script's; not stopping that SLURM" >&2; exit 1; }
    stop_one slurmd /run/slurmd.pid
    stop_one slurmctld /run/slurmctld.pid
    stop_one munged /run/munge/munged.pid
}

cmd_status() {
    command -v sinfo >/dev/null 2>&1 || { echo "local_cluster: sinfo is not installed" >&2; exit 1; }
    if ! pgrep -x slurmctld >/dev/null || ! pgrep -x slurmd >/dev/null; then
        echo "local_cluster: slurmctld/slurmd are not running (bash $0 start)" >&2
        exit 1
    fi
    sinfo || true
    node_up
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
