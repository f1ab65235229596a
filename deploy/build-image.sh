#!/usr/bin/env bash
# Builds the one Rapport image from deploy/Dockerfile with its labels filled
# in from git: version (git describe), revision (commit) and source (the
# origin remote, when there is one). Uses docker, else podman.
#   deploy/build-image.sh [TAG]        (default rapport:dev)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TAG="${1:-rapport:dev}"
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  BUILDER=docker
  export DOCKER_BUILDKIT=1  # the Dockerfile's ccache cache mount
elif command -v podman >/dev/null; then
  BUILDER=podman
else
  echo "no container builder: docker (with a running daemon) or podman is needed" >&2
  exit 1
fi
cd "$ROOT"
VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE=$(git remote get-url origin 2>/dev/null || echo unknown)
exec "$BUILDER" build -f deploy/Dockerfile -t "$TAG" \
  --build-arg VERSION="$VERSION" --build-arg REVISION="$REVISION" --build-arg SOURCE="$SOURCE" .
