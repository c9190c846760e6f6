#!/usr/bin/env bash
# haproxy (Debian 2.6) in HTTP/2 mode for the `compare` benchmark: `bind 127.0.0.1:LISTEN_PORT proto h2` (h2c),
# `server 127.0.0.1:UPSTREAM_PORT proto h2`. One thread (nbthread 1; pin the process with taskset).
#   bash benchmarks/peers/haproxy.sh run|start DIR LISTEN_PORT UPSTREAM_PORT [on|off]   |   stop DIR   (see common.sh)
# Settings, after shared/design/targets.md and stack-notes.md:
#   http-reuse always                  the 16 concurrent calls share upstream HTTP/2 connections
#   tune.bufsize 1114112 (1 MiB + 64 KiB)  at least one whole 1 MiB gRPC message (with the default 16 KiB,
#                                      16 concurrent 1 MiB calls stall forever)
#   tune.h2.initial-window-size 1m     the per-stream receive window, as SiteX's
#   timeouts client/server/keep-alive 1h
#   access log: one line per call (option httplog, "log stderr"), the script sends stderr to DIR/access.log.
#                                      haproxy cannot write a log file itself; this is its cheapest file log (one
#                                      write(2) per line, unbuffered, where nginx batches 64 KiB and SiteX writes from
#                                      a background task). With "off" as the 4th argument: no log at all.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

peer_config() {
  local dir=$1 listen=$2 upstream=$3 log=$4 global_log="" defaults_log=""
  if [[ $log == on ]]; then
    global_log="log stderr format raw local0 info"
    defaults_log=$'log global\n    option httplog'
  fi
  cat > "$dir/haproxy.cfg" <<CONF
global
    nbthread 1
    tune.bufsize 1114112
    tune.h2.initial-window-size 1048576
    $global_log

defaults
    mode http
    $defaults_log
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout http-keep-alive 1h
    http-reuse always

frontend grpc_in
    bind 127.0.0.1:$listen proto h2
    default_backend echo

backend echo
    server echo1 127.0.0.1:$upstream proto h2
CONF
}

peer_check() { "$HAPROXY" -q -c -f "$1/haproxy.cfg"; }

peer_exec() {
  if [[ $2 == on ]]; then
    exec "$HAPROXY" -db -f "$1/haproxy.cfg" 2>>"$1/access.log"
  fi
  exec "$HAPROXY" -db -f "$1/haproxy.cfg"
}

peer_main "$@"
