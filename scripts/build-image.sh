#!/usr/bin/env bash
# Builds the auditlog-exporter container image offline, FROM scratch, with
# buildah: the root file system of scripts/rootfs.sh (the same files the
# Dockerfile's image holds), user 65532, no shell. Nothing is pulled.
#
#   scripts/build-image.sh [NAME]     default NAME: auditlog-exporter:$VERSION
#
# Environment: VERSION, COMMIT (stamped into the binary), CA_BUNDLE (default
# /etc/ssl/certs/ca-certificates.crt), BUILDAH_ROOT (a storage directory of
# its own instead of buildah's default, as the image test uses).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
NAME=${1:-auditlog-exporter:${VERSION//+/-}}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

command -v buildah >/dev/null || { echo "buildah is required (Debian: apt-get install buildah)" >&2; exit 1; }
bh=(buildah --storage-driver vfs)
if [ -n "${BUILDAH_ROOT:-}" ]; then
	bh+=(--root "$BUILDAH_ROOT/root" --runroot "$BUILDAH_ROOT/run")
fi

work=$(mktemp -d)
ctr=""
cleanup() {
	if [ -n "$ctr" ]; then "${bh[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
	-o "$work/auditlog-exporter" ./cmd/auditlog-exporter
scripts/rootfs.sh "$work/rootfs" "$work/auditlog-exporter" "$CA_BUNDLE"

ctr=$("${bh[@]}" from scratch)
"${bh[@]}" copy --chown 0:0 "$ctr" "$work/rootfs/" / >/dev/null
"${bh[@]}" config \
	--user 65532:65532 \
	--workingdir /tmp \
	--entrypoint '["/usr/local/bin/auditlog-exporter"]' \
	--cmd '--help' \
	--env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
	--label org.opencontainers.image.title=auditlog-exporter \
	--label "org.opencontainers.image.version=$VERSION" \
	--label "org.opencontainers.image.revision=$COMMIT" \
	"$ctr"
"${bh[@]}" commit --quiet "$ctr" "$NAME" >/dev/null
echo "$NAME"
