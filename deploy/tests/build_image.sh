#!/usr/bin/env bash
# Builds the image with deploy/build-image.sh when a container builder answers
# (`docker info` succeeds, or podman is installed), then checks what the
# Dockerfile promises of the result: a non-root user, a health check, the
# version label, and every process binary present and runnable (its --help
# exits). Without a builder it says so and exits 77 (ctest's SKIP); the
# Dockerfile is linted either way by deploy/tests/lint_dockerfile.py.
set -euo pipefail
DEPLOY="$(cd "$(dirname "$0")/.." && pwd)"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  B=docker
elif command -v podman >/dev/null && podman info >/dev/null 2>&1; then
  B=podman
else
  echo "SKIP: no container builder here (docker info fails and podman is not installed); image not built"
  exit 77
fi
TAG="rapport:deploy-test-$$"
trap '"$B" rmi -f "$TAG" >/dev/null 2>&1 || true' EXIT
"$DEPLOY/build-image.sh" "$TAG"
user=$("$B" image inspect -f '{{.Config.User}}' "$TAG")
case "${user%%:*}" in "" | 0 | root) echo "FAIL: the image runs as '$user'"; exit 1 ;; esac
"$B" image inspect -f '{{json .Config.Healthcheck}}' "$TAG" | grep -q rapport-container-health ||
  { echo "FAIL: no HEALTHCHECK"; exit 1; }
[ -n "$("$B" image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$TAG")" ] ||
  { echo "FAIL: no version label"; exit 1; }
[ "$("$B" run --rm "$TAG" id -u)" != 0 ] || { echo "FAIL: runs as uid 0"; exit 1; }
for p in profiles interactions recommendations notifications gateway rapportctl; do
  "$B" run --rm "$TAG" "$p" --help >/dev/null 2>&1 || [ $? -eq 1 ] ||
    { echo "FAIL: $p does not run in the image (missing library?)"; exit 1; }
done
"$B" run --rm "$TAG" sleep 0 || { echo "FAIL: no sleep for the preStop hook"; exit 1; }
echo "ok: image $TAG built and checked with $B"
