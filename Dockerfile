# project_llm for a server (a GPU box, or any Linux box): the web app, the CLI and the inference worker.
#
#   docker build -t project-llm .
#   docker run -d --name project-llm -p 127.0.0.1:3000:3000 -v /srv/models:/data/models:ro \
#       -v project-llm-data:/data [--gpus all] project-llm
#   docker exec project-llm project-llm run --input "Once upon a time"
#
# /data holds config/ (created from the examples on the first run), models/ and sessions/. A models folder
# mounted read-only (:ro) runs its models; "Add a model" and `project-llm models pull` need it read-write.
#
# BASE_IMAGE is any Debian-based image with Node 22 (default node:22-bookworm-slim). On an NVIDIA box run
# with `--gpus all`: node-llama-cpp ships prebuilt CUDA binaries and uses the GPU when the driver is
# there (runtime.gpu: auto in config/models.yaml), else it falls back to the CPU.
ARG BASE_IMAGE=node:22-bookworm-slim

FROM ${BASE_IMAGE} AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
# `npm ci` cannot be used: the lockfile leaves out other platforms' optional binaries (see README).
RUN --mount=type=secret,id=extra_ca,target=/run/secrets/extra_ca \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi; \
    npm install --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE_IMAGE}
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 NEXT_MANUAL_SIG_HANDLE=1 HOST=0.0.0.0 PORT=3000 \
    PROJECT_LLM_CONFIG_DIR=/data/config PROJECT_LLM_MODELS_DIR=/data/models PROJECT_LLM_SESSIONS_DIR=/data/sessions
# The users and their token hashes: access control is on (HOST is not loopback); see the first login in the log.
ENV PROJECT_LLM_DATA_DIR=/data/auth
COPY --from=build /app/package.json /app/next.config.mjs ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/.next ./.next
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public
COPY --from=build /app/config/*.example.yaml ./config/
RUN (id -u node >/dev/null 2>&1 || useradd --create-home --uid 1000 --user-group node) \
    && mkdir -p /data/config /data/models /data/sessions && chown -R node:node /data \
    && chmod +x /app/dist/cli/main.js && ln -s /app/dist/cli/main.js /usr/local/bin/project-llm
USER node
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:'+process.env.PORT+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# node is PID 1. On SIGTERM (`docker stop`) the studio marks the runs in flight interrupted, writes the
# session index and stops the worker, within 8 s (NEXT_MANUAL_SIG_HANDLE leaves the signal to it). Inside a
# container it listens on all interfaces; `docker run -p 127.0.0.1:3000:3000` keeps it to the host's loopback.
CMD ["sh", "-c", "exec node_modules/.bin/next start --hostname \"$HOST\" --port \"$PORT\""]
