#!/usr/bin/env bash
# Lays out the image's root file system in DIR: the static binary, a CA
# bundle, passwd/group entries of the non-root user 65532, an empty /tmp
# (1777, the only path the user can write) and empty /proc and /dev for the
# runtime to mount. Everything else is root's and read-only to the user.
# Both image builds use it (scripts/build-image.sh with buildah, and the
# Dockerfile), so both images hold the same files.
#
#   scripts/rootfs.sh DIR BINARY CA_BUNDLE
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 DIR BINARY CA_BUNDLE" >&2; exit 2; }
root=$1 bin=$2 ca=$3
[ -r "$ca" ] || { echo "no CA bundle at $ca (Debian: apt-get install ca-certificates)" >&2; exit 1; }

mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/tmp" "$root/proc" "$root/dev"
install -m 0755 "$bin" "$root/usr/local/bin/auditlog-exporter"
install -m 0644 "$ca" "$root/etc/ssl/certs/ca-certificates.crt"
cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
nonroot:x:65532:
GROUP
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 1777 "$root/tmp"
