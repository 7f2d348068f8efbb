#!/usr/bin/env bash
# Bring up a real one-node SLURM (munge, slurmctld, slurmd) from Debian's packages, for tests and demos.
# Usage: slurm_up.sh STATE_DIR   → writes STATE_DIR/env (source it) and starts the daemons.
#        slurm_down.sh STATE_DIR stops them. Needs root and no running slurmctld.
set -euo pipefail
STATE=${1:?usage: slurm_up.sh STATE_DIR}
mkdir -p "$STATE"/{spool,state,log}
STATE=$(cd "$STATE" && pwd)

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

CPUS=$(nproc)
MEM_MB=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.85}' /proc/meminfo)
mkdir -p /etc/slurm
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

mkdir -p /run/munge && chown munge:munge /run/munge
pgrep -x munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
/usr/sbin/slurmctld
/usr/sbin/slurmd -N localhost
for _ in $(seq 60); do
  state=$(sinfo -h -o %T 2>/dev/null || true)
  [ "$state" = "idle" ] && break
  sleep 1
done
[ "$(sinfo -h -o %T)" = "idle" ] || { echo "slurm did not come up: $(sinfo 2>&1)" >&2; exit 1; }
echo "SLURM up: $(sinfo -h -o '%P %D %T %c CPUs')"
