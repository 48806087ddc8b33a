#!/usr/bin/env bash
# Installs a dadmm agent as a systemd service on a Debian 12 machine (Raspberry Pi OS Bookworm 64-bit
# included) from programs built here, without the package (the dadmm .deb is the other way: README.md).
# Run as root from a directory holding dadmm-agent and dadmm-ctl (or give --bin-dir):
#   sudo ./install.sh --config node-3.yaml --topology topology.yaml --data node-3.csv --tls-ca ca.pem \
#        --tls-dir node-3 [--bin-dir DIR] [--no-start]
# Installs the runtime libraries, the programs to /usr/local/bin, a system user dadmm, the files to
# /etc/dadmm (config as node-<id>.yaml, id from its node_id; topology and data under their own names,
# which the config must use), the node's certificate and key from --tls-dir (deploy/make-certs.sh's node-<id>/) and the CA to
# /etc/dadmm/tls (key 0640 root:dadmm; the config must name tls/ca.pem, tls/cert.pem, tls/key.pem),
# and the template unit dadmm-agent@.service; then enables and starts dadmm-agent@<id> (unless --no-start).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
config="" topology="" data="" bin_dir="." start=1 tls_ca="" tls_dir=""
usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while (($#)); do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --topology) topology=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --tls-ca) tls_ca=$2; shift 2 ;;
    --tls-dir) tls_dir=$2; shift 2 ;;
    --no-start) start=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "install.sh: $*" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || fail "run as root (sudo)"
[[ -n "$config" && -n "$topology" ]] || fail "--config and --topology are required"
[[ -z "$tls_ca" && -z "$tls_dir" ]] || [[ -n "$tls_ca" && -n "$tls_dir" ]] || fail "give both --tls-ca and --tls-dir, or neither (then the config needs insecure: true)"
if [[ -n "$tls_dir" ]]; then
  grep -Eq "^tls_key:[[:space:]]*\"?tls/key.pem\"?([[:space:]]|#|$)" "$config" \
    || fail "$config: its tls_key: should be tls/key.pem (and tls_ca: tls/ca.pem, tls_cert: tls/cert.pem)"
fi
# The template unit: beside this script (copied to the Pi with it) or in the repository's deploy/systemd.
unit=$here/dadmm-agent@.service
[[ -f "$unit" ]] || unit=$here/../systemd/dadmm-agent@.service
for f in "$config" "$topology" ${data:+"$data"} ${tls_ca:+"$tls_ca"} ${tls_dir:+"$tls_dir/cert.pem" "$tls_dir/key.pem"} "$bin_dir/dadmm-agent" "$bin_dir/dadmm-ctl" "$unit"; do
  [[ -f "$f" ]] || fail "$f: no such file"
done
node_id=$(sed -n 's/^node_id:[[:space:]]*\([0-9][0-9]*\)[[:space:]]*\(#.*\)\{0,1\}$/\1/p' "$config" | head -1)
[[ -n "$node_id" ]] || fail "$config: no node_id: line (a number)"
grep -Eq "^topology:[[:space:]]*\"?$(basename "$topology")\"?([[:space:]]|#|$)" "$config" \
  || fail "$config: its topology: should be $(basename "$topology") (files go to /etc/dadmm under their own names)"
if [[ -n "$data" ]]; then
  grep -Eq "^data:[[:space:]]*\"?$(basename "$data")\"?([[:space:]]|#|$)" "$config" \
    || fail "$config: its data: should be $(basename "$data")"
fi

runtime=(libgrpc++1.51 libprotobuf32 libyaml-cpp0.7 libssl3 libprometheus-cpp-pull1.0)
missing=()
for p in "${runtime[@]}"; do
  [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install.sh: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; }
fi
install -m 0755 "$bin_dir/dadmm-agent" "$bin_dir/dadmm-ctl" /usr/local/bin/
# --help exits 0; 126/127 mean the program cannot run here (another architecture, a missing library).
help_status=0
/usr/local/bin/dadmm-agent --help >/dev/null 2>&1 || help_status=$?
((help_status <= 1)) || fail "/usr/local/bin/dadmm-agent does not run on this machine (exit $help_status: another architecture, or a library missing)"
id dadmm >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/dadmm \
  --shell /usr/sbin/nologin dadmm
install -d -o root -g dadmm -m 0750 /etc/dadmm
install -d -o dadmm -g dadmm -m 0750 /var/lib/dadmm
install -o root -g dadmm -m 0640 "$config" "/etc/dadmm/node-$node_id.yaml"
install -o root -g dadmm -m 0640 "$topology" "/etc/dadmm/$(basename "$topology")"
[[ -z "$data" ]] || install -o root -g dadmm -m 0640 "$data" "/etc/dadmm/$(basename "$data")"
if [[ -n "$tls_dir" ]]; then
  install -d -o root -g dadmm -m 0750 /etc/dadmm/tls
  install -o root -g dadmm -m 0644 "$tls_ca" /etc/dadmm/tls/ca.pem
  install -o root -g dadmm -m 0644 "$tls_dir/cert.pem" /etc/dadmm/tls/cert.pem
  install -o root -g dadmm -m 0640 "$tls_dir/key.pem" /etc/dadmm/tls/key.pem
fi
install -d /usr/local/share/doc/dadmm
install -m 0644 "$here/README.md" /usr/local/share/doc/dadmm/raspberry-pi.md 2>/dev/null || true
sed 's|/usr/bin/dadmm-agent|/usr/local/bin/dadmm-agent|; s|/usr/share/doc/dadmm/README.md|/usr/local/share/doc/dadmm/raspberry-pi.md|' \
  "$unit" > /etc/systemd/system/dadmm-agent@.service
chmod 0644 /etc/systemd/system/dadmm-agent@.service
echo "installed: /usr/local/bin/dadmm-agent, /etc/dadmm/node-$node_id.yaml, /etc/systemd/system/dadmm-agent@.service"
if ((start)); then
  systemctl daemon-reload
  systemctl enable --now "dadmm-agent@$node_id.service"
  echo "started: systemctl status dadmm-agent@$node_id; journalctl -u dadmm-agent@$node_id -f"
fi
