#!/usr/bin/env bash
# Makes the certificates a dadmm network runs with mutual TLS (agent/tls.h), with openssl:
#   OUT/ca.pem                   the network's CA certificate (every agent and monitor gets it)
#   OUT/ca.key                   the CA's key (mode 600): keep it off the nodes; needed only to add nodes
#   OUT/node-<id>/cert.pem       node <id>'s certificate, naming dadmm://<network>/node/<id>
#   OUT/node-<id>/key.pem        its key (mode 600): only node <id> gets its own directory
#   OUT/ctl/cert.pem, key.pem    a monitor's (dadmm-ctl --tls_*), naming dadmm://<network>/ctl/ctl
# <network> is the topology's `name:`. An existing CA in OUT is reused, so that nodes can be added
# or their certificates renewed (rotation: the agents re-read their files every second).
#
#   deploy/make-certs.sh TOPOLOGY OUT [--days N] [--nodes 1,2,...] [--ctl-bin PATH]
#
# --days: validity of the node certificates (default 825; 0 makes certificates that have expired, for
# tests); --nodes: only these nodes (default all, and the monitor); --ctl-bin: dadmm-ctl (default
# build/agent/dadmm-ctl, else on PATH), which reads the topology.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
days=825
only=""
ctl=""
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
args=()
while (($#)); do
  case "$1" in
    --days) days=$2; shift 2 ;;
    --nodes) only=$2; shift 2 ;;
    --ctl-bin) ctl=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "make-certs.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
((${#args[@]} == 2)) || { echo "make-certs.sh: expected TOPOLOGY OUT (see --help)" >&2; exit 2; }
topology=${args[0]}
out=${args[1]}
[[ "$days" =~ ^[0-9]+$ ]] || { echo "make-certs.sh: --days must be a whole number, not '$days'" >&2; exit 2; }
command -v openssl >/dev/null || { echo "make-certs.sh: needs openssl (apt-get install openssl)" >&2; exit 2; }
if [[ -z "$ctl" ]]; then
  if [[ -x "$root/build/agent/dadmm-ctl" ]]; then ctl=$root/build/agent/dadmm-ctl; else ctl=$(command -v dadmm-ctl || true); fi
fi
[[ -n "$ctl" && -x "$ctl" ]] || { echo "make-certs.sh: dadmm-ctl not found (build it, or give --ctl-bin)" >&2; exit 2; }
identities=$("$ctl" identities "$topology") || exit 2
network=$(awk '$1 == "ctl" { sub("dadmm://", "", $2); sub("/.*", "", $2); print $2 }' <<<"$identities")

mkdir -p "$out"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
quiet() { "$@" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; echo "make-certs.sh: $1 failed" >&2; exit 1; }; }

if [[ ! -f "$out/ca.pem" || ! -f "$out/ca.key" ]]; then
  quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$out/ca.key" \
    -out "$out/ca.pem" -days 3650 -subj "/CN=dadmm CA $network" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  chmod 644 "$out/ca.pem"
  echo "make-certs.sh: made a CA for network '$network' in $out/ca.pem (its key: $out/ca.key)"
fi

made=0
while read -r who uri; do
  if [[ "$who" == ctl ]]; then dir=$out/ctl; else dir=$out/node-$who; fi
  if [[ -n "$only" && ",$only," != *",$who,"* ]]; then continue; fi
  mkdir -p "$dir"
  printf 'subjectAltName=URI:%s,DNS:dadmm\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' \
    "$uri" >"$tmp/ext"
  quiet openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" -out "$tmp/csr" \
    -subj "/CN=dadmm ${network:-} ${who}"
  quiet openssl x509 -req -in "$tmp/csr" -CA "$out/ca.pem" -CAkey "$out/ca.key" -CAcreateserial \
    -CAserial "$out/ca.srl" -days "$days" -extfile "$tmp/ext" -out "$tmp/cert.pem"
  # Replaced by rename, so that an agent that re-reads them never sees half a file.
  chmod 600 "$tmp/key.pem"
  chmod 644 "$tmp/cert.pem"
  mv "$tmp/key.pem" "$dir/key.pem.new" && mv "$tmp/cert.pem" "$dir/cert.pem.new"
  mv "$dir/key.pem.new" "$dir/key.pem" && mv "$dir/cert.pem.new" "$dir/cert.pem"
  chmod 755 "$dir"
  made=$((made + 1))
done <<<"$identities"
echo "make-certs.sh: $made certificate(s) in $out (valid $days days)"
