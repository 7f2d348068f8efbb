#!/usr/bin/env bash
# Stop the daemons started by slurm_up.sh (by the PIDs in their pid files).
STATE=${1:?usage: slurm_down.sh STATE_DIR}
for pidfile in "$STATE"/slurmd.pid "$STATE"/slurmctld.pid; do
  [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
done
exit 0
