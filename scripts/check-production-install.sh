#!/usr/bin/env bash
# Runs what the Docker image runs, without a Docker engine: the build stage (npm ci, build,
# npm prune --omit=dev), the final stage's file layout and environment, the CMD, and the
# HEALTHCHECK command taken from the Dockerfile itself; then one sample file through the
# daemon and a SIGTERM that must exit 0. Used by test/integration/production-install.test.ts.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${1:?usage: check-production-install.sh PORT}"
work="$(mktemp -d)"
pid=""
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

echo "== build stage"
mkdir -p "$work/build"
cp -r "$root/package.json" "$root/package-lock.json" "$root/.npmrc" "$root/tsconfig.json" "$root/tsconfig.build.json" "$root/src" "$work/build/"
# npm ci has just run in the checkout (CI does it first); copying its result stands in for the
# image's own npm ci, which needs the network.
cp -r "$root/node_modules" "$work/build/"
(cd "$work/build" && npm run build --silent && npm prune --omit=dev --no-audit --no-fund >/dev/null)

echo "== final stage"
app="$work/app"
mkdir -p "$app/config"
cp -r "$work/build/node_modules" "$work/build/dist" "$root/package.json" "$root/bin" "$app/"
cp "$root/config/default.json" "$app/config/default.json"
for dev in vitest typescript tsx; do
  if [ -e "$app/node_modules/$dev" ]; then echo "dev dependency $dev is in the production install" >&2; exit 1; fi
done

srv="$work/srv"
mkdir -p "$work/data" "$srv/inbox" "$srv/processing" "$srv/archive" "$srv/error" "$srv/logs"
export NODE_ENV=production
export USERSYNC_DATABASE_URL="sqlite:$work/data/usersync.sqlite"
export USERSYNC_INBOX="$srv/inbox" USERSYNC_PROCESSING="$srv/processing" USERSYNC_ARCHIVE="$srv/archive" USERSYNC_ERROR="$srv/error" USERSYNC_LOG_DIR="$srv/logs"
export USERSYNC_HEALTH_PORT="$port"

# The Dockerfile's ENTRYPOINT + CMD, and its HEALTHCHECK command with the test's port.
cmd="$(sed -n 's/^CMD \["\(.*\)"\]$/\1/p' "$root/Dockerfile")"
healthcheck="$(sed -n '/^HEALTHCHECK/,/CMD/p' "$root/Dockerfile" | sed -n 's/^ *CMD //p' | sed "s/9464/$port/")"
[ "$cmd" = "start" ] || { echo "unexpected CMD in Dockerfile: $cmd" >&2; exit 1; }
(cd "$app" && exec node bin/usersync.js "$cmd" >"$work/daemon.log" 2>&1) &
pid=$!

echo "== healthcheck: $healthcheck"
healthy=""
for _ in $(seq 1 60); do
  if (cd "$app" && sh -c "$healthcheck"); then healthy=yes; break; fi
  sleep 0.5
done
[ -n "$healthy" ] || { cat "$work/daemon.log" >&2; echo "the HEALTHCHECK never passed" >&2; exit 1; }

echo "== one file through the daemon"
cp "$root/inbox.example/users.xlsx" "$srv/inbox/users.xlsx"
for _ in $(seq 1 60); do
  if ls "$srv"/archive/*/*_users.report.json >/dev/null 2>&1; then break; fi
  sleep 0.5
done
ls "$srv"/archive/*/*_users.report.json >/dev/null 2>&1 || { cat "$work/daemon.log" >&2; echo "users.xlsx was not archived" >&2; exit 1; }

echo "== SIGTERM"
kill -TERM "$pid"
set +e
wait "$pid"
status=$?
set -e
pid=""
[ "$status" -eq 0 ] || { cat "$work/daemon.log" >&2; echo "the daemon exited $status on SIGTERM" >&2; exit 1; }
echo "production install OK"
