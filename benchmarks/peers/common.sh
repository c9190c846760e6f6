# Shared by nginx.sh and haproxy.sh (sourced, not run). The caller defines:
#   peer_config DIR LISTEN_PORT UPSTREAM_PORT ACCESS_LOG   writes DIR/<peer>.conf
#   peer_check DIR                                         validates it (exit status)
#   peer_exec DIR ACCESS_LOG                               execs the proxy in the foreground
# and then calls peer_main "$@". Commands:
#   run   DIR LISTEN_PORT UPSTREAM_PORT [on|off]   foreground: execs the proxy (its process id is the caller's child);
#                                                  what the `compare` benchmark scenario uses. SIGTERM stops it.
#   start DIR LISTEN_PORT UPSTREAM_PORT [on|off]   background: DIR/run.pid, waits until LISTEN_PORT accepts connections
#   stop  DIR                                      SIGTERM to DIR/run.pid, then SIGKILL after 5 s
# Everything stays in DIR (config, pid file, temp files, logs) on 127.0.0.1; nothing in /etc, no system service.
# The 4th argument turns the per-call access log on (default) or off. Set PEER_CPU=N to pin with taskset (start only;
# the benchmark pins `run` itself).

peer_usage() {
  echo "usage: $0 run|start DIR LISTEN_PORT UPSTREAM_PORT [on|off]    or    $0 stop DIR" >&2
  exit 2
}

peer_wait_port() {
  local port=$1 pid=$2
  for _ in $(seq 1 100); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$0: the proxy exited during start" >&2
      return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "$0: 127.0.0.1:$port does not accept connections after 10 s" >&2
  return 1
}

peer_main() {
  local cmd=${1:-} dir=${2:-}
  [[ -n $cmd && -n $dir ]] || peer_usage
  case $cmd in
    run|start)
      local listen=${3:-} upstream=${4:-} log=${5:-on}
      [[ $listen =~ ^[0-9]+$ && $upstream =~ ^[0-9]+$ && $log =~ ^(on|off)$ ]] || peer_usage
      mkdir -p "$dir"
      # Proxies drop privileges for their workers: let them traverse the scratch directory.
      chmod 755 "$dir"
      peer_config "$dir" "$listen" "$upstream" "$log"
      peer_check "$dir" || exit 1
      if [[ $cmd == run ]]; then
        peer_exec "$dir" "$log"
      fi
      local pin=()
      if [[ -n ${PEER_CPU:-} ]]; then pin=(taskset -c "$PEER_CPU"); fi
      "${pin[@]}" bash "$0" run "$dir" "$listen" "$upstream" "$log" >"$dir/run.out" 2>&1 &
      echo $! > "$dir/run.pid"
      peer_wait_port "$listen" "$(cat "$dir/run.pid")" || { cat "$dir/run.out" >&2; exit 1; }
      echo "$(basename "$0" .sh) on 127.0.0.1:$listen -> 127.0.0.1:$upstream, pid $(cat "$dir/run.pid"), files in $dir"
      ;;
    stop)
      [[ -f $dir/run.pid ]] || { echo "$0: no $dir/run.pid" >&2; exit 1; }
      local pid
      pid=$(cat "$dir/run.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
      rm -f "$dir/run.pid"
      ;;
    *) peer_usage ;;
  esac
}
