# toolloop worker / CLI image. Build: docker build -t toolloop:local .
# The entrypoint is the toolloop CLI: `docker run toolloop:local worker`, `... db migrate`,
# `... campaign start --config examples/<config>.json`, `... --help`. Run it with `docker run --init`
# (compose sets `init: true`): node as PID 1 ignores the signals it has no handler for, so Ctrl-C
# would not stop `campaign start --wait` or `campaign status --watch`.
#
# Runtime layout (/app, the "installation root" the code finds by walking up from dist/):
#   dist/ node_modules/ (production only) package.json   the CLI, workers and the LLM simulator
#   bin/toolloop           the CLI as `toolloop` (on PATH; docker/toolloop)
#   migrations/            drizzle migrations (`db migrate`)
#   examples/              example campaign configs
#   scripts/               the BFCL eval shim (scripts/bfcl) and the venv scripts the stages call
#   trainer/               the reward shim template, verl's SFT dataset class, the SIMULATED stand-in trainer
#   data/bfcl/             the vendored BFCL v3 data (bfcl probe, evaluate.bfclFast)
#   .venv-bfcl/            Python: the official bfcl-eval checker (evaluate.bfcl)
#   .venv-train/           Python: pyarrow (+ verl configs) for the stand-in trainer; first on PATH,
#                          so the config's default `cluster.python: "python3"` is this venv
# test/image/runtimeLayout.test.ts assembles this layout from the COPY steps of the final stage
# and runs the CLI there, so a missing folder fails the test suite, not a user's `docker run`.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# The image has no .git: pass the commit (docker build --build-arg TOOLLOOP_GIT_COMMIT=$(git rev-parse HEAD))
# so the build writes it into dist/build-info.json and every sample's provenance names it, and its time
# (--build-arg TOOLLOOP_GIT_COMMIT_TIME=$(git show -s --format=%cI HEAD)) so that workers tell a
# rollback (an older commit built later) from a newer build (src/ops/workerBuilds.ts).
ARG TOOLLOOP_GIT_COMMIT=""
ARG TOOLLOOP_GIT_COMMIT_TIME=""
RUN TOOLLOOP_GIT_COMMIT="$TOOLLOOP_GIT_COMMIT" TOOLLOOP_GIT_COMMIT_TIME="$TOOLLOOP_GIT_COMMIT_TIME" npm run build && npm prune --omit=dev

# The Python side, built by the same idempotent scripts a checkout uses (same pins, same paths).
FROM ${NODE_IMAGE} AS python
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 python3-venv \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY scripts/ensure-bfcl-venv.sh scripts/ensure-train-venv.sh ./scripts/
COPY scripts/bfcl ./scripts/bfcl
RUN bash scripts/ensure-bfcl-venv.sh && bash scripts/ensure-train-venv.sh

FROM ${NODE_IMAGE}
# python3: the interpreter the copied venvs link to (same base image, same /usr/bin/python3).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 ca-certificates \
  && rm -rf /var/lib/apt/lists/*
# TOOLLOOP_BASE_DIR: the default --base-dir of `worker` and `report build` (and where `campaign status`
# looks for reports), so every command, not only the default CMD, resolves outputs under /data.
ENV NODE_ENV=production \
  PATH=/app/.venv-train/bin:/app/bin:$PATH \
  TOOLLOOP_STATE_DIR=/data/state \
  TOOLLOOP_BASE_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/docker/toolloop ./bin/toolloop
COPY --from=build /app/migrations ./migrations
COPY --from=build /app/examples ./examples
COPY --from=build /app/scripts ./scripts
COPY --from=build /app/trainer ./trainer
COPY --from=build /app/data/bfcl ./data/bfcl
COPY --from=python /app/.venv-bfcl ./.venv-bfcl
COPY --from=python /app/.venv-train ./.venv-train
# /data: campaign outputs (`worker --base-dir /data`) and local job records; the only writable path.
RUN mkdir -p /data/state && chown -R node:node /data
USER node
# Healthy when this container's worker polls its task queues on the Temporal server, or has every
# activity slot busy with a recent server round trip (src/ops/workerStatusFile.ts) (commands
# other than `worker` have no poller; compose sets the check per service).
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
  CMD ["node", "/app/dist/src/ops/workerHealthcheck.js"]
ENTRYPOINT ["node", "/app/dist/src/cli/main.js"]
CMD ["worker", "--base-dir", "/data"]
