# gowhisk server image: static gowhisk (standalone | controller | invoker |
# admin), wsk and actionproxy binaries on debian:bookworm-slim.
#
#   docker build -t gowhisk/gowhisk:local .
#
# The build context is the repository root (the Go module); .dockerignore
# keeps .git, node_modules and build output out of it. deploy/compose builds
# this image for its controller, its invokers and its init job.
#
# GO_IMAGE and BASE may name locally imported images on a machine that
# cannot pull (the build stage needs a Go 1.26 toolchain on PATH and, unless
# the module cache is filled, the Go module proxy). The classic builder and
# BuildKit both build it: no RUN --mount, no heredocs.
ARG GO_IMAGE=golang:1.26-bookworm
ARG BASE=debian:bookworm-slim

FROM ${GO_IMAGE} AS build
WORKDIR /src
ENV CGO_ENABLED=0 \
    GOFLAGS=-trimpath
# Dependencies first, so that a source change reuses this layer.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# -buildvcs=false: the context has no .git (gowhisk then reports build "dev").
RUN go build -buildvcs=false -ldflags='-s -w' -o bin/gowhisk ./cmd/gowhisk \
 && go build -buildvcs=false -ldflags='-s -w' -o bin/actionproxy ./cmd/actionproxy \
 && go build -buildvcs=false -ldflags='-s -w' -o bin/wsk ./cmd/wsk

FROM ${BASE}
# An unprivileged user for the controller and admin commands; an invoker
# with the Docker sandbox runs as root to use the mounted Docker socket.
RUN useradd --uid 10001 --user-group --create-home --home-dir /var/lib/gowhisk --shell /usr/sbin/nologin gowhisk
COPY --from=build /src/bin/gowhisk /src/bin/actionproxy /src/bin/wsk /usr/local/bin/
USER gowhisk
WORKDIR /var/lib/gowhisk
EXPOSE 3233
ENTRYPOINT ["/usr/local/bin/gowhisk"]
CMD ["--help"]
