#!/usr/bin/env bash
# nginx (Debian 1.22) as a gRPC reverse proxy for the `compare` benchmark: an h2c listener on 127.0.0.1:LISTEN_PORT,
# grpc_pass to 127.0.0.1:UPSTREAM_PORT. One worker process (pin the master with taskset; the worker inherits it).
#   bash benchmarks/peers/nginx.sh run|start DIR LISTEN_PORT UPSTREAM_PORT [on|off]   |   stop DIR   (see common.sh)
# Settings, after shared/design/targets.md and stack-notes.md:
#   client_max_body_size 0            no 1 MiB limit (the default answers a 1 MiB message with 413)
#   keepalive_requests 1e9, both sides  the default 1000 sends GOAWAY / closes upstream connections every 1000 calls
#   keepalive_timeout 1h, grpc_read_timeout / grpc_send_timeout 1h
#   upstream keepalive 64             nginx opens one upstream connection per call in flight (no HTTP/2 multiplexing
#                                     upstream); 64 idle ones kept covers 16 concurrent callers with room
#   client_body_buffer_size 2m        a 1 MiB message stays in memory, never in a temp file
#   http2_body_preread_size 1m        nginx's per-stream receive window (default 64 KiB); SiteX and haproxy use 1 MiB
#   access_log ... buffer=64k flush=1s  one line per call, written in 64 KiB batches: SiteX also logs every call by
#                                     default (flow.log, queued and written by a background task), so each proxy
#                                     does comparable logging work. With "off" as the 4th argument: access_log off.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

peer_config() {
  local dir=$1 listen=$2 upstream=$3 log=$4 access
  if [[ $log == on ]]; then access="access_log $dir/access.log combined buffer=64k flush=1s;"; else access="access_log off;"; fi
  cat > "$dir/nginx.conf" <<CONF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
}
http {
    $access
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream echo {
        server 127.0.0.1:$upstream;
        keepalive 64;
        keepalive_requests 1000000000;
        keepalive_timeout 3600s;
    }
    server {
        listen 127.0.0.1:$listen http2;
        client_max_body_size 0;
        client_body_buffer_size 2m;
        http2_body_preread_size 1m;
        keepalive_requests 1000000000;
        keepalive_timeout 3600s;
        location / {
            grpc_pass grpc://echo;
            grpc_read_timeout 3600s;
            grpc_send_timeout 3600s;
        }
    }
}
CONF
}

peer_check() { "$NGINX" -q -t -p "$1" -c "$1/nginx.conf"; }

peer_exec() { exec "$NGINX" -p "$1" -c "$1/nginx.conf"; }

peer_main "$@"
