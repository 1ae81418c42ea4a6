# project_llm for a server: the web app, the CLI and the inference worker, in two targets.
#
#   docker build --target cpu  -t project-llm:cpu .    # any x86-64 Linux box
#   docker build --target cuda -t project-llm:cuda .   # an NVIDIA box (run with --gpus all)
#
# or `docker compose up -d` (compose.yaml; README, "Docker"). The app lives in /opt/project-llm; what a user
# keeps is under /app, as in the original project: /app/config, /app/models, /app/sessions, plus /app/data
# (users and their hashed tokens). Both targets run as uid 1000, listen on 0.0.0.0:3000 inside the
# container with access control on (the first start prints a login URL), and answer /api/health.
#
# BASE_IMAGE: a Debian-based image with Node 22 at /usr/local/bin/node (the build runs in it, and the cpu
# target runs on it). CUDA_BASE_IMAGE: NVIDIA's CUDA runtime image for the cuda target. node-llama-cpp
# 3.22's prebuilt CUDA binaries are built with CUDA 13.1 (@node-llama-cpp/linux-x64-cuda: libcudart.so.13,
# libcublas.so.13; compute capabilities 7.5, 8.0, 8.6, 8.9, 9.0, 12.0, 12.1; an NVIDIA driver 580 or newer),
# with a CUDA 12.4 build beside them (@node-llama-cpp/linux-x64-cuda-ext, loaded when the CUDA 13 one cannot
# be: compute capabilities 5.0 to 8.6, a driver 550 or newer). For an older driver build with
# --build-arg CUDA_BASE_IMAGE=docker.io/nvidia/cuda:12.4.1-runtime-ubuntu22.04.
ARG BASE_IMAGE=docker.io/library/node:22-bookworm-slim
ARG CUDA_BASE_IMAGE=docker.io/nvidia/cuda:13.1.1-runtime-ubuntu24.04

FROM ${BASE_IMAGE} AS build
WORKDIR /opt/project-llm
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
# `npm ci` cannot be used: the lockfile leaves out other platforms' optional binaries (see README).
RUN --mount=type=secret,id=extra_ca,target=/run/secrets/extra_ca \
    if [ -s /run/secrets/extra_ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/extra_ca; fi; \
    npm install --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev --no-audit --no-fund && rm -rf .next/cache dist/.tsbuildinfo \
    && chmod +x dist/cli/main.js scripts/docker-entrypoint.sh

# node-llama-cpp installs its prebuilt binaries for every GPU kind (about 640 MB of CUDA, Vulkan and ARM
# builds); each target keeps the ones it can use.
FROM build AS app-cpu
RUN cd node_modules/@node-llama-cpp && for binary in *; do [ "$binary" = linux-x64 ] || rm -rf "$binary"; done

FROM build AS app-cuda
RUN cd node_modules/@node-llama-cpp && for binary in *; do \
      case "$binary" in linux-x64|linux-x64-cuda|linux-x64-cuda-ext) ;; *) rm -rf "$binary" ;; esac; \
    done

# The settings both targets share are repeated in each (a Dockerfile has no includes): keep them the same
# (src/testing/project-files.test.ts checks that they are).
# The cpu target comes last, so that a build without --target makes it.
# The folders a user keeps; the demo model stays in /opt/project-llm/models, and the entrypoint copies it
# into a models folder that holds no model (README, "Docker").
FROM ${CUDA_BASE_IMAGE} AS cuda
# NVIDIA's image has no Node: the build's own binary (it needs only glibc and libstdc++).
COPY --from=build /usr/local/bin/node /usr/local/bin/node
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 NEXT_MANUAL_SIG_HANDLE=1 HOST=0.0.0.0 PORT=3000 \
    PROJECT_LLM_CONFIG_DIR=/app/config PROJECT_LLM_MODELS_DIR=/app/models \
    PROJECT_LLM_SESSIONS_DIR=/app/sessions PROJECT_LLM_DATA_DIR=/app/data
COPY --from=app-cuda /opt/project-llm /opt/project-llm
RUN (getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --create-home studio) \
    && mkdir -p /app/config /app/models /app/sessions /app/data && chown -R 1000:1000 /app \
    && ln -s /opt/project-llm/dist/cli/main.js /usr/local/bin/project-llm
WORKDIR /opt/project-llm
USER 1000:1000
EXPOSE 3000
VOLUME ["/app/config", "/app/models", "/app/sessions", "/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/opt/project-llm/scripts/docker-entrypoint.sh"]

FROM ${BASE_IMAGE} AS cpu
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1 NEXT_MANUAL_SIG_HANDLE=1 HOST=0.0.0.0 PORT=3000 \
    PROJECT_LLM_CONFIG_DIR=/app/config PROJECT_LLM_MODELS_DIR=/app/models \
    PROJECT_LLM_SESSIONS_DIR=/app/sessions PROJECT_LLM_DATA_DIR=/app/data
COPY --from=app-cpu /opt/project-llm /opt/project-llm
RUN (getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --create-home studio) \
    && mkdir -p /app/config /app/models /app/sessions /app/data && chown -R 1000:1000 /app \
    && ln -s /opt/project-llm/dist/cli/main.js /usr/local/bin/project-llm
WORKDIR /opt/project-llm
USER 1000:1000
EXPOSE 3000
VOLUME ["/app/config", "/app/models", "/app/sessions", "/app/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/api/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node (next start) is PID 1 and handles SIGTERM itself: the runs in flight are marked interrupted in
# their sessions, the inference worker stops, and it exits 0 (at most 8 s; compose gives it 20).
ENTRYPOINT ["/opt/project-llm/scripts/docker-entrypoint.sh"]

