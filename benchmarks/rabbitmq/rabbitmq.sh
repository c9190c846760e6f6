#!/usr/bin/env bash
# Runs Debian's rabbitmq-server loopback-only in a scratch directory, as shared/design/stack-notes.md describes,
# for the `rabbitmq` benchmark scenario (a user's alternative for durable store-and-forward, target Q1).
#   benchmarks/rabbitmq/rabbitmq.sh start DIR   starts it (about 7 s) and waits until it is ready
#   benchmarks/rabbitmq/rabbitmq.sh stop DIR    stops it and epmd
# Needs: apt-get install rabbitmq-server (it does not auto-start without systemd).
set -euo pipefail
cmd=${1:?start|stop}; R=${2:?scratch dir}
mkdir -p "$R/home" "$R/mnesia" "$R/log"
export HOME=$R/home RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CONFIG_FILE=$R/rabbitmq.conf RABBITMQ_ENABLED_PLUGINS_FILE=$R/enabled_plugins
export RABBITMQ_MNESIA_BASE=$R/mnesia RABBITMQ_LOG_BASE=$R/log RABBITMQ_PID_FILE=$R/rabbit.pid
case $cmd in
  start)
    echo "listeners.tcp.default = 127.0.0.1:5672" > "$R/rabbitmq.conf"
    echo "[]." > "$R/enabled_plugins"
    nohup /usr/lib/rabbitmq/bin/rabbitmq-server > "$R/server.out" 2>&1 &
    echo $! > "$R/server.pid"
    /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost wait --pid "$(cat "$R/server.pid")" --timeout 60
    ;;
  stop)
    /usr/lib/rabbitmq/bin/rabbitmqctl -n rabbit@localhost stop "$R/rabbit.pid" || true
    /usr/lib/erlang/bin/epmd -kill || true
    ;;
esac
