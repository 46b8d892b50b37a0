#!/usr/bin/env bash
# The hand-written shell equivalent of `bootproof check` for node service units: what an
# operator would script with systemctl, getent, stat and /proc to gather the same facts.
# It judges nothing; it only gathers, so the comparison favours the shell.
set -uo pipefail

systemctl is-system-running >/dev/null
systemctl list-units --failed --no-legend --plain >/dev/null
systemctl get-default >/dev/null

for unit in $(systemctl list-units --type=service --all --no-legend --plain | awk '{print $1}'); do
  exec_start=$(systemctl show -p ExecStart --value "$unit")
  case "$exec_start" in
    *"/node "*|*"/nodejs "*|*"/bun "*|*" node "*) ;;
    *) continue ;;
  esac
  props=$(systemctl show "$unit" -p LoadState -p FragmentPath -p NeedDaemonReload -p UnitFileState \
    -p WantedBy -p ActiveState -p SubState -p User -p EnvironmentFiles -p Restart -p RestartUSec \
    -p StartLimitBurst -p StartLimitIntervalUSec -p MemoryMax -p MemoryHigh -p MainPID -p NRestarts)
  user=$(sed -n 's/^User=//p' <<<"$props")
  [ -n "$user" ] && getent passwd "$user" >/dev/null
  binary=$(sed -n 's/^{ path=\([^ ;]*\).*/\1/p' <<<"$exec_start")
  [ -n "$binary" ] && test -x "$binary"
  for file in $(sed -n 's/^EnvironmentFiles=//p' <<<"$props" | sed 's/ (ignore_errors=[a-z]*)//g'); do
    stat -c '%a %U' "$file" >/dev/null 2>&1
  done
  pid=$(sed -n 's/^MainPID=//p' <<<"$props")
  if [ "${pid:-0}" != 0 ]; then
    readlink "/proc/$pid/exe" >/dev/null
    stat -c %u "/proc/$pid" >/dev/null
  fi
done
