# syntax=docker/dockerfile:1
# auditlog-exporter: a static binary on distroless, non-root, no shell.
#   docker build --build-arg VERSION=$(git describe --tags --always) --build-arg COMMIT=$(git rev-parse HEAD) -t auditlog-exporter .
# Base images are pinned to exact versions; pin their digests too
# (golang:1.26.8-bookworm@sha256:..., static-debian12:nonroot@sha256:...) in
# your registry mirror, and let Renovate or Dependabot move them.

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
      -o /out/auditlog-exporter ./cmd/auditlog-exporter

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/auditlog-exporter /usr/local/bin/auditlog-exporter
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/auditlog-exporter"]
CMD ["--help"]
