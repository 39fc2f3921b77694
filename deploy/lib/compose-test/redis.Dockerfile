# deploy/lib/compose-test/redis.Dockerfile — a stand-in for the official
# redis:7-bookworm image, built from Debian's redis-server for machines that
# cannot pull images (deploy/compose-test tags it redis:7-bookworm): data in
# /data, uid 999, protected mode off as in the official image (the server is
# reached over the containers' network, never published).
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 redis \
    && useradd --system --uid 999 --gid 999 --home-dir /data --shell /usr/sbin/nologin redis \
    && apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
USER 999:999
ENTRYPOINT ["docker-entrypoint.sh"]
EXPOSE 6379
CMD ["redis-server"]
