#!/usr/bin/env bash
# Bring up a real one-node SLURM (munge, slurmctld, slurmd) from Debian's packages, for tests and demos.
# Usage: slurm_up.sh STATE_DIR   → starts the daemons (pid files in STATE_DIR) and records in
#        STATE_DIR/teardown.env what it changed on the machine.
#        slurm_down.sh STATE_DIR undoes exactly that — call it even when slurm_up.sh failed half-way.
# Needs root and no running slurmctld.
#
# Why teardown matters: once /etc/slurm/slurm.conf names a controller that is gone, every `scontrol show
# config` blocks ≈ 9 s, and `import snakemake_executor_plugin_slurm` runs one at import time (its help
# text probes MinJobAge) whenever `sinfo` is on PATH — so every later `snakemake` call pays 9 s.
set -euo pipefail
STATE=${1:?usage: slurm_up.sh STATE_DIR}
mkdir -p "$STATE"/{spool,state,log}
STATE=$(cd "$STATE" && pwd)
REC=$STATE/teardown.env
: > "$REC"
record() { echo "$1" >> "$REC"; }  # KEY=VALUE lines, written before each change so a failed run is undone too

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  dpkg-query -W -f '${Package}\n' | sort > "$STATE/packages.before"
  apt-get update -qq
  # record the intent first: if the install dies half-way, slurm_down.sh still purges what did land
  record "PKGS_INSTALLED=1"
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  dpkg-query -W -f '${Package}\n' | sort > "$STATE/packages.after"
  # exactly the packages this run added (the four and the libraries they pulled in)
  comm -13 "$STATE/packages.before" "$STATE/packages.after" > "$STATE/packages.added"
fi

CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.85}' /proc/meminfo)
[ -d /etc/slurm ] || record "ETC_SLURM_CREATED=1"
mkdir -p /etc/slurm
if [ -e /etc/slurm/slurm.conf ]; then
  cp -p /etc/slurm/slurm.conf "$STATE/slurm.conf.orig"
  record "CONF_BACKUP=$STATE/slurm.conf.orig"
else
  record "CONF_CREATED=1"
fi
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=paperclaims
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
# keep finished jobs in squeue for an hour: the tests read their final states (TIMEOUT, FAILED)
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

[ -d /run/munge ] || record "RUN_MUNGE_CREATED=1"
mkdir -p /run/munge && chown munge:munge /run/munge
if ! pgrep -x munged >/dev/null; then
  record "MUNGED_STARTED=1"
  su -s /bin/sh munge -c /usr/sbin/munged
  # munged deletes its own pid file when it exits: keep a copy for slurm_down.sh and the tests
  cp /run/munge/munged.pid "$STATE/munged.pid"
fi
record "SLURMCTLD_STARTED=1"
/usr/sbin/slurmctld
record "SLURMD_STARTED=1"
/usr/sbin/slurmd -N localhost
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = "idle" ] && break
  sleep 1
done
[ "$(sinfo -h -o %T)" = "idle" ] || { echo "slurm did not come up: $(sinfo 2>&1)" >&2; exit 1; }
echo "SLURM up: $(sinfo -h -o '%P %D %T %c CPUs')"
