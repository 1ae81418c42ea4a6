#!/bin/sh
# The container's entrypoint: checks the folders a user mounts, puts the demo model in a models folder
# that holds none, then runs the studio (or the command given, e.g. `project-llm run ...`) in place of
# this shell, so that node is PID 1 and gets SIGTERM itself.
set -eu

say() { echo "project_llm: $*" >&2; }

# A bind-mounted folder that Docker created for a missing host path belongs to root: say which and how
# to fix it, instead of failing at the first session write.
for dir in "$PROJECT_LLM_SESSIONS_DIR" "$PROJECT_LLM_DATA_DIR"; do
  if [ ! -w "$dir" ]; then
    say "$dir cannot be written by uid $(id -u): give the folder mounted there to that user (chown -R $(id -u):$(id -g) FOLDER on the host)"
    exit 1
  fi
done
if [ ! -w "$PROJECT_LLM_CONFIG_DIR" ] && { [ ! -f "$PROJECT_LLM_CONFIG_DIR/models.yaml" ] || [ ! -f "$PROJECT_LLM_CONFIG_DIR/pipeline.yaml" ]; }; then
  say "$PROJECT_LLM_CONFIG_DIR cannot be written by uid $(id -u) and lacks models.yaml or pipeline.yaml: give the folder to that user, or put both files there"
  exit 1
fi

# The demo model, so that the first run works before any model is mounted: copied (1 MB) rather than
# linked, so that the models folder on the host holds a real file that a studio outside the container
# can use too. A folder that holds any .gguf is left alone.
demo=/opt/project-llm/models/stories260K.gguf
models=$PROJECT_LLM_MODELS_DIR
if [ -d "$models" ] && [ -z "$(find "$models" -maxdepth 1 -name '*.gguf' -print -quit)" ]; then
  if cp "$demo" "$models/stories260K.gguf" 2>/dev/null; then
    say "$models held no model: copied the demo model stories260K.gguf there"
  else
    say "$models holds no model and cannot be written: the demo pipeline has no model until one is put there"
  fi
fi

if [ "$#" -eq 0 ]; then
  set -- node node_modules/next/dist/bin/next start --hostname "${HOST:-127.0.0.1}" --port "${PORT:-3000}"
fi
exec "$@"
