#!/usr/bin/env bash
# The Debian package in a fresh Debian 12 root: installs dadmm_*.deb with apt into a clean
# `debootstrap --variant=minbase bookworm` root (what debian:bookworm-slim is made of), so that apt
# must pull every runtime dependency the package declares; then checks that no program lacks a
# library, that `dadmm-agent --help` exits 0, that the postinst made the user and the directories
# with their permissions, that two agents run a network inside the root as user dadmm (with
# certificates from the packaged make-certs.sh) and reach the consensus value, that systemd accepts
# the template unit (systemd-analyze verify dadmm-agent@1.service), and that removing and purging
# the package leaves none of its files.
#   tests/deb_install_test.sh BUILD_DIR WORK_DIR [DEB]
# Needs root, debootstrap and the Debian mirror; the base root is cached in
# ${DADMM_ROOTFS_CACHE:-/var/cache/dadmm-test}/bookworm-minbase.tar (a first run takes a few minutes).
# Exit 77 (skipped) where chroot and mounts are not allowed.
set -euo pipefail
build=$1
work=$2
deb=${3:-}
root_dir=$(cd "$(dirname "$0")/.." && pwd)
cache=${DADMM_ROOTFS_CACHE:-/var/cache/dadmm-test}
mirror=http://deb.debian.org/debian

if [[ $(id -u) -ne 0 ]]; then echo "SKIP: needs root (chroot, mounts)"; exit 77; fi
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

if [[ -z "$deb" ]]; then
  deb=$("$root_dir/deploy/package/make-deb.sh" "$build" "$work/package" | tail -1)
fi
[[ -f "$deb" ]] || fail "no package: $deb"
ok "package $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

command -v debootstrap > /dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap > /dev/null
rootfs=$work/rootfs
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2> /dev/null || true; done
}
trap cleanup EXIT
# A dirty root from an earlier run: nothing may stay mounted in it before it goes.
for m in dev/pts dev proc sys; do umount -l "$rootfs/$m" 2> /dev/null || true; done
rm -rf "$rootfs"
mkdir -p "$rootfs" "$cache"
if [[ ! -s "$cache/bookworm-minbase.tar" ]]; then
  echo "debootstrap --variant=minbase bookworm (once; cached in $cache)"
  tmp=$work/debootstrap
  rm -rf "$tmp"
  debootstrap --variant=minbase bookworm "$tmp" "$mirror" > "$work/debootstrap.log" 2>&1 ||
    { tail -5 "$work/debootstrap.log"; fail "debootstrap"; }
  tar -C "$tmp" -cf "$cache/bookworm-minbase.tar.part" . && mv "$cache/bookworm-minbase.tar.part" "$cache/bookworm-minbase.tar"
  rm -rf "$tmp"
fi
tar -C "$rootfs" -xf "$cache/bookworm-minbase.tar"
for m in proc sys dev dev/pts; do
  case $m in
    proc) mount -t proc proc "$rootfs/proc" ;;
    sys) mount -t sysfs sys "$rootfs/sys" ;;
    dev) mount --bind /dev "$rootfs/dev" ;;
    dev/pts) mount --bind /dev/pts "$rootfs/dev/pts" ;;
  esac || { echo "SKIP: cannot mount $m in a chroot here"; exit 77; }
  mounted+=("$rootfs/$m")
done
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

# apt resolves what the package declares; nothing else is installed first.
cp "$deb" "$rootfs/tmp/"
in_root apt-get update -q > "$work/apt.log" 2>&1 || { tail -5 "$work/apt.log"; fail "apt-get update in the root"; }
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" >> "$work/apt.log" 2>&1 ||
  { tail -20 "$work/apt.log"; fail "apt install ./$(basename "$deb")"; }
ok "apt install ./$(basename "$deb") in a fresh root pulled $(grep -c '^Setting up' "$work/apt.log") package(s)"

for program in $(in_root dpkg -L dadmm | grep '^/usr/bin/'); do
  missing=$(in_root ldd "$program" | grep 'not found' || true)
  [[ -z "$missing" ]] || fail "$program lacks: $missing"
done
ok "no program of the package lacks a shared library"
in_root dadmm-agent --help > "$work/help.txt" || fail "dadmm-agent --help exits $?"
grep -q -- "--metrics_address" "$work/help.txt" || fail "dadmm-agent --help does not list its flags"
ok "dadmm-agent --help exits 0"

in_root getent passwd dadmm | grep -q ':/var/lib/dadmm:/usr/sbin/nologin$' || fail "no system user dadmm"
[[ "$(in_root stat -c '%U:%G %a' /etc/dadmm)" == "root:dadmm 750" ]] || fail "/etc/dadmm: $(in_root stat -c '%U:%G %a' /etc/dadmm)"
[[ "$(in_root stat -c '%U:%G %a' /etc/dadmm/tls)" == "root:dadmm 750" ]] || fail "/etc/dadmm/tls"
[[ "$(in_root stat -c '%U:%G %a' /var/lib/dadmm)" == "dadmm:dadmm 750" ]] || fail "/var/lib/dadmm"
ok "user dadmm; /etc/dadmm and /etc/dadmm/tls root:dadmm 0750; /var/lib/dadmm dadmm:dadmm 0750"

# Two agents inside the root, as the unit runs them: user dadmm, configs /etc/dadmm/node-<id>.yaml,
# keys 0640 root:dadmm, results under /var/lib/dadmm/node-<id>. Ports free on this machine's loopback.
read -r p1 p2 < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
in_root apt-get install -y -q --no-install-recommends openssl >> "$work/apt.log" 2>&1 || fail "openssl in the root"
cat > "$rootfs/etc/dadmm/topology.yaml" << EOF
name: pair
nodes:
  - {id: 1, address: "127.0.0.1:$p1"}
  - {id: 2, address: "127.0.0.1:$p2"}
edges:
  - [1, 2]
EOF
in_root /usr/share/dadmm/make-certs.sh /etc/dadmm/topology.yaml /tmp/certs > "$work/certs.log" 2>&1 ||
  { cat "$work/certs.log"; fail "make-certs.sh in the root"; }
for id in 1 2; do
  in_root install -d -o dadmm -g dadmm -m 0750 "/var/lib/dadmm/node-$id"
  in_root install -d -o root -g dadmm -m 0750 "/etc/dadmm/tls/node-$id"
  in_root install -o root -g dadmm -m 0640 /tmp/certs/ca.pem /tmp/certs/node-$id/cert.pem /tmp/certs/node-$id/key.pem \
    "/etc/dadmm/tls/node-$id/"
  cat > "$rootfs/etc/dadmm/node-$id.yaml" << EOF
node_id: $id
topology: topology.yaml
theta: $((id * 10))
iterations: 200
tolerance: 0
tls_ca: tls/node-$id/ca.pem
tls_cert: tls/node-$id/cert.pem
tls_key: tls/node-$id/key.pem
output: /var/lib/dadmm/node-$id/result.json
EOF
  chmod 0640 "$rootfs/etc/dadmm/node-$id.yaml"
  chgrp "$(in_root getent group dadmm | cut -d: -f3)" "$rootfs/etc/dadmm/node-$id.yaml"
done
pids=()
for id in 1 2; do
  chroot --userspec=dadmm:dadmm "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/var/lib/dadmm \
    /usr/bin/dadmm-agent "--config=/etc/dadmm/node-$id.yaml" "--state_dir=/var/lib/dadmm/node-$id" \
    > "$work/node-$id.log" 2>&1 &
  pids+=($!)
done
for i in 0 1; do
  wait "${pids[$i]}" || { cat "$work/node-$((i + 1)).log"; fail "agent $((i + 1)) in the root exited $?"; }
done
for id in 1 2; do
  x=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["x"][0])' "$rootfs/var/lib/dadmm/node-$id/result.json")
  python3 -c 'import sys; sys.exit(0 if abs(float(sys.argv[1]) - 15.0) < 1e-9 else 1)' "$x" ||
    fail "node $id computed $x, not the mean 15"
done
ok "two agents of the package ran a network as user dadmm with mutual TLS: x = 15 at both (the mean of 10 and 20)"

# The unit as installed: systemd's own parser, with the program's path inside the root.
unit=$rootfs/usr/lib/systemd/system/dadmm-agent@.service
[[ -f "$unit" ]] || fail "no /usr/lib/systemd/system/dadmm-agent@.service"
if command -v systemd-analyze > /dev/null; then
  mkdir -p "$work/unit"
  sed "s|/usr/bin/dadmm-agent|$rootfs/usr/bin/dadmm-agent|" "$unit" > "$work/unit/dadmm-agent@.service"
  systemd-analyze verify "$work/unit/dadmm-agent@1.service" > "$work/verify.txt" 2>&1 || true
  [[ ! -s "$work/verify.txt" ]] || fail "systemd-analyze verify: $(cat "$work/verify.txt")"
  ok "systemd-analyze verify accepts dadmm-agent@1.service"
fi

# Remove, then purge: none of the package's files stay, nor the state it made.
files=$(in_root dpkg -L dadmm | grep -v '^/\.$')
in_root apt-get remove -y -q dadmm >> "$work/apt.log" 2>&1 || fail "apt-get remove dadmm"
left=()
for f in $files; do [[ -f "$rootfs$f" ]] && left+=("$f"); done
((${#left[@]} == 0)) || fail "left after remove: ${left[*]}"
in_root apt-get purge -y -q dadmm >> "$work/apt.log" 2>&1 || fail "apt-get purge dadmm"
[[ ! -e "$rootfs/var/lib/dadmm" ]] || fail "/var/lib/dadmm is left after purge"
in_root dpkg -s dadmm > /dev/null 2>&1 && fail "dpkg still knows dadmm after purge"
ok "apt-get remove leaves none of the package's files; purge removes /var/lib/dadmm too"
echo "deb install test: all passed"
