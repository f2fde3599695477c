# syntax=docker/dockerfile:1
#
# One image for the whole fleet: the seven services, heraldctl (migrate, dlq, keys) and the
# sandbox, each started by its command (`herald-gateway`, `heraldctl migrate`, ...):
#
#   docker build -t herald:dev .                                   # every binary (target fleet)
#   docker build --target service --build-arg SERVICE=publisher -t herald-publisher:dev .
#
# The second form copies one binary to /usr/local/bin/herald and makes it the entrypoint, for
# registries that want one image per Deployment. Both run as uid/gid 10001 with nothing else in
# the image than glibc, CA certificates and the binaries; they need no shell (the compose
# healthchecks use bash's /dev/tcp only because compose has no HTTP probe).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
COPY . .
# The registry and target dir are cache mounts, so a rebuild after a code change recompiles
# only the crates that changed; the binaries are copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked \
        -p herald-gateway -p herald-auth -p herald-publisher -p herald-renderer \
        -p herald-insights -p herald-billing -p herald-notifier \
        -p heraldctl -p herald-sandbox \
 && mkdir -p /out \
 && for bin in herald-gateway herald-auth herald-publisher herald-renderer herald-insights \
               herald-billing herald-notifier heraldctl herald-sandbox; do \
        cp "target/release/$bin" /out/; \
    done

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: the publisher and insights call the platforms over https, and
# rustls-platform-verifier reads the system's roots; nothing else is installed.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 herald \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin herald \
 && mkdir -p /var/lib/herald/objects /var/lib/herald/mail \
 && chown -R 10001:10001 /var/lib/herald
# Defaults that suit a container (override per service): ops port on every interface, object
# storage and mailbox under the one writable volume, not under the working directory.
ENV HERALD_OPS_ADDR=0.0.0.0:9090 \
    HERALD_RENDERER_STORAGE_DIR=/var/lib/herald/objects \
    HERALD_NOTIFIER_MAILBOX=/var/lib/herald/mail/mailbox.mbox
WORKDIR /var/lib/herald
USER 10001:10001
# 8080: the gateway's public API; 9090: every service's ops port (/livez /readyz /metrics);
# 8700: the sandbox.
EXPOSE 8080 9090 8700

FROM runtime AS service
ARG SERVICE=gateway
COPY --from=build /out/herald-${SERVICE} /usr/local/bin/herald
ENTRYPOINT ["/usr/local/bin/herald"]

# Last, so that a plain `docker build .` produces the fleet image.
FROM runtime AS fleet
COPY --from=build /out/ /usr/local/bin/
# No default service: compose and the manifests name the binary (`command: [herald-auth]`).
CMD ["heraldctl", "--help"]
