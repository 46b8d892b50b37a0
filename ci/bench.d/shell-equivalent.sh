#!/usr/bin/env bash
# The hand-written shell equivalent of `bootproof check`: what an operator would script
# with systemctl, getent, stat, /proc, `pm2 jlist | jq` and curl to gather the same facts,
# written as fairly as the tools allow — every systemctl, getent, stat and curl asked once
# for all units, files and endpoints, no sleeps, nothing judged. It is the baseline
# ci/bench measures bootproof against.
#
#   shell-equivalent.sh URLS_FILE [PM2_HOME]
set -uo pipefail
urls=${1:?usage: shell-equivalent.sh URLS_FILE [PM2_HOME]}
pm2_home=${2:-/root/.pm2}

# The host: state, failed units, default target.
systemctl is-system-running >/dev/null
systemctl list-units --failed --no-legend --plain >/dev/null
systemctl get-default >/dev/null

# Every service, then the ExecStart of all of them in one call: which run node.
mapfile -t services < <(systemctl list-units --type=service --all --no-legend --plain | awk '{print $1}')
mapfile -t node_units < <(systemctl show -p Id -p ExecStart "${services[@]}" | awk '
  /^Id=/ { id = substr($0, 4) }
  /^ExecStart=/ && ($0 ~ /\/(node|nodejs|bun) / || $0 ~ /pm2/) { print id }')

if [ ${#node_units[@]} -gt 0 ]; then
  # Everything the invariants judge, for all node units in one call.
  props=$(systemctl show "${node_units[@]}" -p Id -p LoadState -p FragmentPath -p NeedDaemonReload \
    -p UnitFileState -p WantedBy -p ActiveState -p SubState -p User -p ExecStart -p EnvironmentFiles \
    -p Environment -p Restart -p RestartUSec -p StartLimitBurst -p StartLimitIntervalUSec -p MemoryMax \
    -p MemoryHigh -p MainPID -p NRestarts -p ControlGroup)
  mapfile -t users < <(sed -n 's/^User=\(.\+\)/\1/p' <<<"$props" | sort -u)
  [ ${#users[@]} -gt 0 ] && getent passwd "${users[@]}" >/dev/null
  mapfile -t files < <({ sed -n 's/^ExecStart={ path=\([^ ;]*\).*/\1/p' <<<"$props"
    sed -n 's/^EnvironmentFiles=//p' <<<"$props" | tr ' ' '\n' | grep '^/'; } | sort -u)
  [ ${#files[@]} -gt 0 ] && stat -L -c '%n %a %u %F' "${files[@]}" >/dev/null 2>&1
  mapfile -t pids < <(sed -n 's/^MainPID=\([1-9][0-9]*\)$/\1/p' <<<"$props")
  if [ ${#pids[@]} -gt 0 ]; then
    for pid in "${pids[@]}"; do exes+=("/proc/$pid/exe"); status+=("/proc/$pid/status"); done
    readlink "${exes[@]}" >/dev/null
    grep -h '^Uid:' "${status[@]}" >/dev/null
  fi
fi

# PM2: the live app list (pm2 jlist asks the daemon over rpc.sock), and the saved dump.
PM2_HOME=$pm2_home pm2 jlist 2>/dev/null | jq -c '.[] | {name, pid, status: .pm2_env.status, restarts: .pm2_env.restart_time}' >/dev/null
[ -r "$pm2_home/dump.pm2" ] && jq -c '.[] | {name, status, exec_mode, instances}' "$pm2_home/dump.pm2" >/dev/null

# Health endpoints: one curl for all of them, each with the same 2 s bound bootproof uses.
mapfile -t endpoints <"$urls"
if [ ${#endpoints[@]} -gt 0 ]; then
  curl -s --noproxy '*' --max-time 2 -o /dev/null -w '%{http_code}\n' "${endpoints[@]}" >/dev/null
fi
exit 0
