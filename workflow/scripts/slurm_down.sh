#!/usr/bin/env bash
# Undo slurm_up.sh STATE_DIR, using what it recorded in STATE_DIR/teardown.env: cancel the jobs left on the
# test cluster, stop the daemons it started by the PIDs in their pid files (slurmd, slurmctld, munged),
# restore or remove /etc/slurm/slurm.conf, and purge the packages it installed. Idempotent; safe after a
# slurm_up.sh that failed half-way. Leaves alone whatever was on the machine before slurm_up.sh ran.
set -uo pipefail
STATE=${1:?usage: slurm_down.sh STATE_DIR}
REC=$STATE/teardown.env
[ -f "$REC" ] || { echo "slurm_down: no $REC (nothing recorded, or already torn down)"; exit 0; }
PKGS_INSTALLED=0 ETC_SLURM_CREATED=0 CONF_CREATED=0 CONF_BACKUP='' RUN_MUNGE_CREATED=0
MUNGED_STARTED=0 SLURMCTLD_STARTED=0 SLURMD_STARTED=0
# shellcheck disable=SC1090
. "$REC"

# a pid is ours while /proc/PID still runs the daemon of that name (not a zombie: PID 1 here may not reap)
running() {
  local pid=$1 name=$2
  [ -r "/proc/$pid/stat" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]
}

stop() {  # stop NAME: SIGTERM the pid in STATE/NAME.pid, wait up to 15 s, then SIGKILL
  local name=$1 pid
  [ -f "$STATE/$name.pid" ] || { echo "slurm_down: no $name.pid (did not start)"; return 0; }
  pid=$(cat "$STATE/$name.pid")
  running "$pid" "$name" || { echo "slurm_down: $name ($pid) already gone"; return 0; }
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 150); do running "$pid" "$name" || break; sleep 0.1; done
  if running "$pid" "$name"; then
    echo "slurm_down: $name ($pid) ignored SIGTERM, killing" >&2
    kill -KILL "$pid" 2>/dev/null
    sleep 0.5
  fi
  echo "slurm_down: stopped $name ($pid)"
}

# jobs still running on the test cluster (a test that failed half-way) would outlive slurmd as slurmstepd
if [ "$SLURMCTLD_STARTED" = 1 ] && [ -f "$STATE/slurmctld.pid" ] \
  && running "$(cat "$STATE/slurmctld.pid")" slurmctld; then
  jobs=$(timeout 20 squeue -h -t PD,R,CG,S -o %i 2>/dev/null | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    echo "slurm_down: cancelling jobs $jobs"
    # shellcheck disable=SC2086
    timeout 20 scancel --full $jobs 2>/dev/null
    for _ in $(seq 30); do
      [ -z "$(timeout 10 squeue -h -t R,CG -o %i 2>/dev/null)" ] && break
      sleep 1
    done
  fi
fi

[ "$SLURMD_STARTED" = 1 ] && stop slurmd
[ "$SLURMCTLD_STARTED" = 1 ] && stop slurmctld
# munged removes /run/munge/munged.pid when it exits; slurm_up.sh kept a copy in STATE
[ "$MUNGED_STARTED" = 1 ] && stop munged

# the cause of the 9-s probe: a slurm.conf naming a controller that is gone
if [ -n "$CONF_BACKUP" ] && [ -f "$CONF_BACKUP" ]; then
  cp -p "$CONF_BACKUP" /etc/slurm/slurm.conf && echo "slurm_down: restored the previous /etc/slurm/slurm.conf"
elif [ "$CONF_CREATED" = 1 ]; then
  rm -f /etc/slurm/slurm.conf && echo "slurm_down: removed /etc/slurm/slurm.conf"
fi

if [ "$PKGS_INSTALLED" = 1 ]; then
  if [ ! -s "$STATE/packages.added" ] && [ -f "$STATE/packages.before" ]; then
    # the install was interrupted: purge whatever did land
    dpkg-query -W -f '${Package}\n' | sort | comm -13 "$STATE/packages.before" - > "$STATE/packages.added"
  fi
  if [ -s "$STATE/packages.added" ]; then
    echo "slurm_down: purging $(tr '\n' ' ' < "$STATE/packages.added")"
    # shellcheck disable=SC2046
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $(cat "$STATE/packages.added") >/dev/null 2>&1 \
      || echo "slurm_down: apt-get purge failed" >&2
  fi
fi

[ "$RUN_MUNGE_CREATED" = 1 ] && rm -rf /run/munge
[ "$ETC_SLURM_CREATED" = 1 ] && [ -d /etc/slurm ] && [ -z "$(ls -A /etc/slurm)" ] && rmdir /etc/slurm
mv "$REC" "$STATE/teardown.done"
exit 0
