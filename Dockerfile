# syntax=docker/dockerfile:1
# sqlvault's worker and starter in one image, for docker-compose.yml (and for anyone who
# runs the worker in a container). Build: docker build -t sqlvault .
#
# Only the Go sources are copied in: the repository root also holds bin/ (the Temporal CLI,
# hundreds of MB), node_modules/ and .run/, which the image does not need.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY activities ./activities
COPY workflows ./workflows
COPY worker ./worker
COPY starter ./starter
COPY cmd ./cmd
COPY internal ./internal
# Static binaries (no cgo), so the runtime image needs no Go or C libraries.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -o /out/ ./cmd/sqlvault ./cmd/sqlvault-worker

# debian-slim rather than distroless: the compose init step is a small shell script (make
# the key and certificate once, keep them on later starts).
FROM debian:trixie-slim
# ca-certificates: the vault is Azure Blob Storage over HTTPS, and Temporal Cloud is TLS.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/sqlvault --shell /usr/sbin/nologin sqlvault \
    && install -d -o sqlvault -g sqlvault -m 0700 /var/lib/sqlvault \
    && install -d -o sqlvault -g sqlvault -m 0755 /var/lib/sqlvault-ca
# A new named volume mounted on these directories starts with their owner, so the
# non-root worker can write its key and certificate there.
COPY --from=build /out/sqlvault /out/sqlvault-worker /usr/local/bin/
USER sqlvault
WORKDIR /var/lib/sqlvault
CMD ["sqlvault-worker"]
