# usersync — multi-stage image: build with dev dependencies, ship the pruned production install.
# Two volumes: /srv/usersync is the HR share (inbox/, processing/, archive/, error/ — bind-mount the
# share's folder there, writable by uid:gid 10001:10001 or run with --user); /data is private to
# usersync (the embedded SQLite database and logs/), so neither the database nor the logs land in
# the share. MySQL/MariaDB by USERSYNC_DATABASE_URL.

# Node.js 24 LTS at the exact release CI runs the whole test suite on (.ci/run NODE_24); both stages
# name it, and test/unit/node-versions.test.ts keeps them and .ci/run in step.
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches (PITFALLS §1).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24.22.3-bookworm-slim
# MALLOC_ARENA_MAX: glibc gives each thread (the reader worker, libuv's pool) its own malloc arena,
# and what those free stays resident; two arenas measured ~25 MB less at a 1M-row import.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    USERSYNC_DATABASE_URL=sqlite:/data/usersync.sqlite \
    USERSYNC_INBOX=/srv/usersync/inbox \
    USERSYNC_PROCESSING=/srv/usersync/processing \
    USERSYNC_ARCHIVE=/srv/usersync/archive \
    USERSYNC_ERROR=/srv/usersync/error \
    USERSYNC_LOG_DIR=/data/logs
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config/default.json ./config/default.json
# A fixed uid:gid, so that a bind-mounted host folder can be given to it (chown 10001:10001).
RUN groupadd --gid 10001 usersync && useradd --uid 10001 --gid usersync --no-create-home --home-dir /app --shell /usr/sbin/nologin usersync \
 && mkdir -p /data/logs /srv/usersync/inbox /srv/usersync/processing /srv/usersync/archive /srv/usersync/error \
 && chown -R usersync:usersync /data /srv/usersync && chmod 0700 /data /data/logs
USER usersync
VOLUME ["/data", "/srv/usersync"]
EXPOSE 9464
# The health server binds to loopback by default; inside a container the probe runs there too.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/usersync.js"]
CMD ["start"]
