#!/usr/bin/env bash
# Installs the benchmark peers of the `compare` scenario: Debian's nginx (grpc_pass) and haproxy (HTTP/2).
#   bash benchmarks/peers/install.sh
# Needs root and the Debian mirror. The packages' own services must not start: without systemd, Debian starts them
# through invoke-rc.d, which obeys /usr/sbin/policy-rc.d; if there is none, this script adds one that refuses every
# start (exit 101) for the duration of the install and removes it afterwards. Nothing is configured in /etc: the
# scenario runs its own instances from nginx.sh / haproxy.sh with configs in scratch directories.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then
  echo "install.sh: run as root (apt-get install)" >&2
  exit 1
fi

guard=/usr/sbin/policy-rc.d
added_guard=0
if [[ ! -e $guard ]]; then
  printf '#!/bin/sh\nexit 101\n' > "$guard"
  chmod 755 "$guard"
  added_guard=1
fi
cleanup() { if [[ $added_guard -eq 1 ]]; then rm -f "$guard"; fi; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends nginx haproxy; then
  apt-get update
  apt-get install -y --no-install-recommends nginx haproxy
fi

echo "installed: $(/usr/sbin/nginx -v 2>&1), $(/usr/sbin/haproxy -v | head -1)"
if [[ -e /run/nginx.pid || -e /run/haproxy.pid ]]; then
  echo "note: a system nginx or haproxy service seems to be running (/run/*.pid); the benchmark does not use or stop it" >&2
fi
