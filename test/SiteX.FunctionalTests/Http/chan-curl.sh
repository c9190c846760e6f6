#!/usr/bin/env bash
# Drives a SiteX gateway's HTTP/1.1 interconnection port with curl, as an operator or a non-.NET client would:
# push two messages for a self party, invoke a third push the way a Java OSX relays one over HTTP (a JSON
# ProduceRequest, base64 inside the invoke's base64 payload), peek, pop all three, release the session. Prints one
# JSON answer per line, then the HTTP status of a deliberately bad push.
# Usage: chan-curl.sh PORT SESSION PARTY
set -euo pipefail
port="$1" session="$2" party="$3"
url="http://127.0.0.1:${port}/v1/interconn/chan"
post() { # operation, body, extra curl args...
  local op="$1" body="$2"; shift 2
  curl -sS --fail-with-body -X POST "${url}/${op}" \
    -H 'Content-Type: application/json;charset=UTF-8' \
    -H "x-ptp-session-id: ${session}" -H 'x-ptp-trace-id: curl-test' \
    "$@" --data-binary "${body}"
  echo
}
hello=$(printf 'hello over http' | base64 -w0)
second=$(printf '\x00\x01\xff' | base64 -w0)
post push "{\"topic\": \"curl-topic\", \"payload\": \"${hello}\"}" -H "x-ptp-target-node-id: ${party}"
post push "{\"topic\": \"curl-topic\", \"payload\": \"${second}\", \"msgFlag\": \"x\"}" -H "x-ptp-target-node-id: ${party}"
produce=$(printf '{"topic": "curl-topic", "payload": "%s", "msgCode": "", "msgFlag": ""}' "$(printf 'third, invoked' | base64 -w0)" | base64 -w0)
post invoke "{\"payload\": \"${produce}\"}" -H "x-ptp-target-node-id: ${party}" -H 'x-ptp-uri: /org.ppc.ptp.PrivateTransferTransport/push'
post peek '{"topic": "curl-topic"}'
post pop '{"topic": "curl-topic", "timeout": 5000}'
post pop '{"topic": "curl-topic", "timeout": 5000}'
post pop '{"topic": "curl-topic", "timeout": 5000}'
post release '{}'
curl -sS -o /dev/null -w '%{http_code}\n' -X POST "${url}/push" -H "x-ptp-session-id: ${session}" -H "x-ptp-target-node-id: ${party}" --data-binary '{"topic": "curl-topic", "payload": "%%%"}'
