# syntax=docker/dockerfile:1
# auditlog-exporter: a static binary FROM scratch, non-root (65532), no shell.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) -t auditlog-exporter .
# The image holds the files scripts/rootfs.sh lays out: the same as the
# image `make image` builds offline with buildah. Pin the build image's
# digest (golang:1.26.8-bookworm@sha256:...) in your registry mirror, and let
# Renovate or Dependabot move it.

FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/auditlog-exporter ./cmd/auditlog-exporter \
 && scripts/rootfs.sh /rootfs /out/auditlog-exporter /etc/ssl/certs/ca-certificates.crt

FROM scratch
COPY --from=build /rootfs/ /
USER 65532:65532
WORKDIR /tmp
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENTRYPOINT ["/usr/local/bin/auditlog-exporter"]
CMD ["--help"]
