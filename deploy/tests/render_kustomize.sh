#!/usr/bin/env bash
# Renders every overlay under deploy/k8s/overlays with `kubectl kustomize`, and
# every component on top of each overlay that does not already include it
# (e.g. replicated-stores on production, as it will be once issue 15 lands).
# Exit 0 when all render, 1 on the first that does not, 77 (ctest's SKIP) when
# kubectl with kustomize is not installed.
set -euo pipefail
K8S="$(cd "$(dirname "$0")/../k8s" && pwd)"
if ! command -v kubectl >/dev/null || ! kubectl kustomize --help >/dev/null 2>&1; then
  echo "SKIP: kubectl with kustomize (>= 3.7 for components) is not installed"
  exit 77
fi
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

rendered=0
for overlay in "$K8S"/overlays/*/; do
  overlay=${overlay%/}
  name=$(basename "$overlay")
  if ! kubectl kustomize "$overlay" >"$TMP/$name.yaml" 2>"$TMP/err"; then
    echo "FAIL: overlay $name does not render:"; cat "$TMP/err"; exit 1
  fi
  grep -q '^kind: Deployment$' "$TMP/$name.yaml" || { echo "FAIL: overlay $name renders no Deployment"; exit 1; }
  echo "ok: overlays/$name ($(grep -c '^kind:' "$TMP/$name.yaml") objects)"
  rendered=$((rendered + 1))
  for component in "$K8S"/components/*/; do
    component=${component%/}
    cname=$(basename "$component")
    grep -q "components/$cname\$" "$overlay/kustomization.yaml" && continue
    # In-cluster Redis and the network policies go with any overlay; the
    # replicated stores go with production (they replace its volumes).
    [ "$cname" = replicated-stores ] && [ "$name" != production ] && continue
    dir="$TMP/$name+$cname"
    mkdir -p "$dir"
    cat >"$dir/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [$(realpath --relative-to="$dir" "$overlay")]
components: [$(realpath --relative-to="$dir" "$component")]
YAML
    if ! kubectl kustomize "$dir" >"$dir/out.yaml" 2>"$TMP/err"; then
      echo "FAIL: overlay $name with component $cname does not render:"; cat "$TMP/err"; exit 1
    fi
    echo "ok: overlays/$name + components/$cname"
  done
done
[ "$rendered" -ge 2 ] || { echo "FAIL: expected the single-node and production overlays"; exit 1; }
