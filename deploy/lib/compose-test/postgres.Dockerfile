# deploy/lib/compose-test/postgres.Dockerfile — a stand-in for the official
# postgres:15-bookworm image, built from Debian's postgresql-15 for machines
# that cannot pull images (deploy/compose-test tags it postgres:15-bookworm).
# It honours what the Compose files use: POSTGRES_USER/DB/PASSWORD and their
# _FILE, PGDATA, /docker-entrypoint-initdb.d, docker-entrypoint.sh and gosu
# on PATH, uid/gid 999, STOPSIGNAL SIGINT.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN groupadd --system --gid 999 postgres \
    && useradd --system --uid 999 --gid 999 --home-dir /var/lib/postgresql \
       --shell /bin/bash postgres \
    && mkdir -p /var/lib/postgresql && chown postgres:postgres /var/lib/postgresql \
    && apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 gosu \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /docker-entrypoint-initdb.d /var/run/postgresql \
    && chown postgres:postgres /var/run/postgresql && chmod 2777 /var/run/postgresql
ENV PATH=/usr/lib/postgresql/15/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
COPY postgres-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/postgresql/data
ENTRYPOINT ["docker-entrypoint.sh"]
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
