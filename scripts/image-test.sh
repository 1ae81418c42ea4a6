#!/usr/bin/env bash
# Builds the cpu image with podman and checks it the way a user meets it: folders mounted as compose
# mounts them (empty at first), listening on all interfaces with access control on. It checks
# the healthcheck, the login URL printed on the first start, that a request without the token is refused,
# the login a browser does (the token posted to the login route; its cookie then names the user),
# a run of the demo pipeline on the demo model to its end, its session file in the mounted folder, and a
# stop by SIGTERM mid-run: exit code 0 within the grace time, the run marked interrupted.
#
#   scripts/image-test.sh
#
# On this project's machines (no Docker engine, no registry) ../shared/tools/container-base.sh (or the
# script PROJECT_LLM_CONTAINER_TOOLS names) sets podman up and builds the base image localhost/node-base:22.
# Without it, podman must be installed and BASE_IMAGE (default docker.io/library/node:22-bookworm-slim) pullable.
# IMAGE_TEST_PORT: the port it uses (default 13000).
set -euo pipefail
cd "$(dirname "$0")/.."

tools=${PROJECT_LLM_CONTAINER_TOOLS:-../shared/tools/container-base.sh}
port=${IMAGE_TEST_PORT:-13000}
base_image=${BASE_IMAGE:-docker.io/library/node:22-bookworm-slim}
image=localhost/project-llm:image-test
name=project-llm-image-test-$$
base=http://127.0.0.1:$port

say() { echo "image test: $*"; }
fail() { echo "image test: FAILED: $*" >&2; exit 1; }
now() { date +%s; }

PODMAN_CA_SECRET=""
if [ -x "$tools" ]; then
  "$tools" >/dev/null
  eval "$("$tools" --env)"
  base_image=localhost/node-base:22
elif ! command -v podman >/dev/null 2>&1; then
  fail "neither $tools (which sets podman up here) nor podman is there"
fi

work=$(mktemp -d)
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# The folders compose mounts (./config, ./models, ./sessions, ./data), empty as on a first start.
mkdir -p "$work"/{config,models,sessions,data}
podman rm -f "$name" >/dev/null 2>&1 || true

started=$(now)
# ${PODMAN_CA_SECRET} is empty or one `--secret` option: left unquoted on purpose.
# shellcheck disable=SC2086
podman build --format docker --network=host $PODMAN_CA_SECRET \
  --build-arg BASE_IMAGE="$base_image" --target cpu -t "$image" . >"$work/build.log" 2>&1 ||
  { tail -n 40 "$work/build.log" >&2; fail "the cpu image does not build (its log above)"; }
built=$(now)
say "built the cpu image in $((built - started)) s ($(podman image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1 / 1e6}'))"

# `:U` gives the mounted folders to the container's user (uid 1000), as `chown` does for a compose user.
# The host's network, with PORT: a published port needs podman's bridge network, which does not work on
# every machine (here netavark is missing). The studio listens on 0.0.0.0 as in the image's default, so
# access control is on, as it is behind a published port.
podman run -d --name "$name" --network=host -e PORT="$port" \
  -v "$work/config:/app/config:U" -v "$work/models:/app/models:U" \
  -v "$work/sessions:/app/sessions:U" -v "$work/data:/app/data:U" \
  "$image" >/dev/null

# Health, anonymous: the only route that answers without a login.
healthy=""
for _ in $(seq 1 90); do
  if curl -sf "$base/api/health" >/dev/null 2>&1; then healthy=yes; break; fi
  [ "$(podman inspect -f '{{.State.Running}}' "$name")" = true ] || { podman logs "$name" >&2; fail "the container stopped while starting"; }
  sleep 1
done
[ -n "$healthy" ] || { podman logs "$name" >&2; fail "no answer on $base/api/health within 90 s"; }
podman healthcheck run "$name" >/dev/null || fail "the image's HEALTHCHECK fails on a studio that answers"
say "healthy $(($(now) - built)) s after the start; the HEALTHCHECK passes"

# The first start with access control on prints a login URL once; scripts use its token as a Bearer token.
token=""
for _ in $(seq 1 20); do
  token=$(podman logs "$name" 2>&1 | grep -o '/login?token=[A-Za-z0-9_-]\{20,\}' | head -n 1 | cut -d= -f2 || true)
  [ -n "$token" ] && break
  sleep 0.5
done
[ -n "$token" ] || { podman logs "$name" >&2; fail "no login URL (/login?token=...) in the container's log: access control should be on in the image"; }
say "the first start printed a login URL"
auth=(-H "authorization: Bearer $token")
ls "$work/data" | grep -q . || fail "the data folder is empty after the first start: the hashed token should be kept there"

run_body='{"pipeline": "base", "input": "Once upon a time"}'
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/runs" -H 'content-type: application/json' -d "$run_body")
[ "$status" = 401 ] || fail "an anonymous POST /api/runs answered $status, not 401"
say "an anonymous run is refused with 401"

json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);console.log(process.argv[1].split(".").reduce((o,k)=>o?.[k],v)??"")})' "$1"; }

# A browser logs in as the login page does: the printed token posted to the login route, which answers
# with an httpOnly cookie that holds no token; the cookie alone then names the user.
login_headers=$(curl -s -o /dev/null -D - -X POST "$base/api/auth/login" -H 'content-type: application/json' -d "{\"token\": \"$token\"}" | tr -d '\r')
set_cookie=$(grep -i '^set-cookie: project_llm_login=' <<<"$login_headers" | head -n 1 | cut -d' ' -f2- || true)
[ -n "$set_cookie" ] || fail "the login route set no login cookie for the printed token (its answer: $(head -n 1 <<<"$login_headers"))"
grep -qi 'HttpOnly' <<<"$set_cookie" || fail "the login cookie is not HttpOnly: $set_cookie"
grep -qi 'SameSite=Lax' <<<"$set_cookie" || fail "the login cookie is not SameSite=Lax: $set_cookie"
if grep -qF "$token" <<<"$set_cookie"; then fail "the login cookie holds the token"; fi
cookie=${set_cookie%%;*}
me=$(curl -sf -H "cookie: $cookie" "$base/api/trpc/auth.me") || fail "GET /api/trpc/auth.me with the login cookie was refused"
[ "$(json result.data.user <<<"$me")" = admin ] || fail "the login cookie does not name the user admin: $me"
status=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/trpc/auth.me")
[ "$status" = 401 ] || fail "GET /api/trpc/auth.me without the cookie answered $status, not 401"
status=$(curl -s -o /dev/null -w '%{http_code}' -H "cookie: project_llm_login=forged.value" "$base/api/trpc/auth.me")
[ "$status" = 401 ] || fail "GET /api/trpc/auth.me with a forged cookie answered $status, not 401"
say "the login route sets an httpOnly cookie without the token; with it a request is admin's, without it 401"

run_started=$(now)
id=$(curl -sf -X POST "$base/api/runs" "${auth[@]}" -H 'content-type: application/json' -d "$run_body" | json id)
[ -n "$id" ] || fail "POST /api/runs with the token started no run"
# The event stream ends after run-end.
events=$(curl -sN --max-time 120 "${auth[@]}" "$base/api/runs/$id/events")
grep -q '^event: run-end' <<<"$events" || fail "the events of run $id ended without run-end"
# Read back with the login cookie, as History reads it.
record=$(curl -sf -H "cookie: $cookie" "$base/api/sessions/$id")
[ "$(json status <<<"$record")" = completed ] || fail "run $id ended $(json status <<<"$record"), not completed"
[ -n "$(json finalAnswer <<<"$record")" ] || fail "run $id has no final answer"
say "the demo pipeline ran on the demo model in $(($(now) - run_started)) s"
file="$work/sessions/$id.json"
[ -f "$file" ] || fail "no $id.json in the mounted sessions folder"
[ "$(json status <"$file")" = completed ] || fail "$file does not say completed"
[ -f "$work/models/stories260K.gguf" ] || fail "the demo model was not put in the empty models folder"
say "the session is in the mounted sessions folder; the demo model is in the mounted models folder"

# A run long enough to be stopped in the middle: eight stages of 1,500 tokens each.
stages=$(node -e 'console.log(JSON.stringify(Array.from({length: 8}, (_, i) => ({id: `leg${i + 1}`, type: "single", model: "storyteller", params: {max_tokens: 1500}}))))')
long=$(curl -sf -X POST "$base/api/runs" "${auth[@]}" -H 'content-type: application/json' \
  -d "{\"pipeline\": {\"name\": \"long\", \"stages\": $stages}, \"input\": \"Once upon a time\"}" | json id)
[ -n "$long" ] || fail "the long run did not start"
# grep leaves at the first text, and curl then fails to write: only grep's status counts here.
(set +o pipefail; curl -sN --max-time 60 "${auth[@]}" "$base/api/runs/$long/events" | grep -q -m 1 '^event: stage-delta') ||
  fail "the long run $long streamed no text"
stop_started=$(now)
podman stop -t 20 "$name" >/dev/null
code=$(podman inspect -f '{{.State.ExitCode}}' "$name")
stopped=$(($(now) - stop_started))
podman logs "$name" 2>&1 | grep -q 'SIGTERM: stopping the runs in progress' || fail "the studio did not handle SIGTERM itself"
[ "$code" = 0 ] || { podman logs "$name" 2>&1 | tail -n 20 >&2; fail "the container exited $code on SIGTERM, not 0"; }
[ "$stopped" -lt 20 ] || fail "the stop took $stopped s: the grace time ran out"
[ "$(json status <"$work/sessions/$long.json")" = interrupted ] || fail "the run stopped by SIGTERM is $(json status <"$work/sessions/$long.json"), not interrupted"
if grep -rqF "$token" "$work/config" "$work/data" "$work/sessions"; then fail "the token is stored in clear in a mounted folder"; fi
say "SIGTERM mid-run: exit code 0 in $stopped s, the run marked interrupted in its session file"
say "passed in $(($(now) - started)) s"
