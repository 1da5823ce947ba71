# The certagent image for pipelines that have a Docker engine. `npm run release` builds the
# same image without a daemon (packaging/oci: umoci + skopeo); keep the two in step — the
# test in test/packaging/oci-dockerfile.test.ts compares this file with packaging/oci.
#
#   docker build --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     --build-arg CREATED=$(date -u -d @$SOURCE_DATE_EPOCH +%Y-%m-%dT%H:%M:%SZ) \
#     --build-arg AGENT=dist/certagent-0.1.0-linux-x64 -t certagent:0.1.0 .
#
# Stage 1 lays out the root filesystem from Debian: the agent, the C runtime it links
# against, the CA bundle of ca-certificates, users and the /base volume.
FROM debian:bookworm-slim AS rootfs
ARG AGENT
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY ${AGENT} /rootfs/opt/certagent/certagent
RUN set -eu; cd /rootfs; \
    mkdir -p etc/ssl/certs tmp base; \
    ln -s certagent opt/certagent/certagent-config; \
    for lib in $(ldd opt/certagent/certagent | grep -o '/[^ ]*'); do \
      mkdir -p ".$(dirname "$lib")"; cp -L "$lib" ".$lib"; \
    done; \
    printf 'root:x:0:0:root:/root:/sbin/nologin\ncertagent:x:10001:10001:certagent:/base:/sbin/nologin\n' > etc/passwd; \
    printf 'root:x:0:\ncertagent:x:10001:\n' > etc/group; \
    printf 'hosts: files dns\npasswd: files\ngroup: files\n' > etc/nsswitch.conf; \
    cp /etc/ssl/certs/ca-certificates.crt etc/ssl/certs/ca-certificates.crt; \
    chmod 0755 opt/certagent/certagent; chmod 1777 tmp; \
    chown 10001:10001 base; chmod 0700 base

# Stage 2: nothing but that root filesystem, no shell.
FROM scratch
ARG VERSION
ARG REVISION
ARG CREATED
COPY --from=rootfs /rootfs/ /
USER 10001:10001
ENV PATH=/opt/certagent
ENV CERTAGENT_BASE_DIR=/base
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
ENV NODE_OPTIONS=--use-openssl-ca
VOLUME /base
WORKDIR /base
LABEL org.opencontainers.image.title="certagent" \
      org.opencontainers.image.description="Network agent for TLS certificate discovery and installation, with its release toolchain" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://certagent.invalid/" \
      org.opencontainers.image.url="https://certagent.invalid/" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.created="${CREATED}"
ENTRYPOINT ["/opt/certagent/certagent"]
CMD ["run"]
