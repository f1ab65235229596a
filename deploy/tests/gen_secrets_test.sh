#!/usr/bin/env bash
# deploy/gen-secrets.sh: creates every secret once and keeps them on a second
# run; --rotate replaces exactly the one named; files are private (the
# directory 0700, .env 0600); --print-k8s gives Secrets whose Redis URL carries
# the same password as Redis's own file. Exit 0 or 1.
set -euo pipefail
GEN="$(cd "$(dirname "$0")/.." && pwd)/gen-secrets.sh"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export RAPPORT_DEPLOY_DIR="$TMP"
fail() { echo "FAIL: $*"; exit 1; }

"$GEN" >/dev/null
for v in RAPPORT_INTERNAL_KEY RAPPORT_ADMIN_KEY RAPPORT_JWT_SECRET RAPPORT_SECRETS_KEY REDIS_PASSWORD POSTGRES_PASSWORD; do
  value=$(sed -n "s/^$v=//p" "$TMP/.env")
  [ "${#value}" -ge 48 ] || fail "$v is missing or short: '$value'"
done
[ "$(stat -c %a "$TMP/.env")" = 600 ] || fail ".env is $(stat -c %a "$TMP/.env"), not 600"
[ "$(stat -c %a "$TMP/secrets")" = 700 ] || fail "secrets/ is $(stat -c %a "$TMP/secrets"), not 700"
[ "$(cat "$TMP/secrets/redis_password")" = "$(sed -n 's/^REDIS_PASSWORD=//p' "$TMP/.env")" ] ||
  fail "secrets/redis_password differs from REDIS_PASSWORD"

before=$(cat "$TMP/.env")
"$GEN" >/dev/null
[ "$before" = "$(cat "$TMP/.env")" ] || fail "a second run changed the secrets"

"$GEN" --rotate internal-key >/dev/null
changes=$(diff <(echo "$before") "$TMP/.env" | grep '^>' || true)
[ "$(wc -l <<<"$changes")" = 1 ] || fail "--rotate internal-key changed: $changes"
[[ "$changes" == "> RAPPORT_INTERNAL_KEY="* ]] || fail "--rotate internal-key changed $changes"
if "$GEN" --rotate nonsense >/dev/null 2>&1; then fail "--rotate accepts an unknown name"; fi

"$GEN" --print-k8s rapport >"$TMP/secrets.yaml"
python3 - "$TMP/secrets.yaml" "$(cat "$TMP/secrets/redis_password")" <<'PY'
import base64, sys, yaml
docs = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[1]))}
password = sys.argv[2]
redis = {k: base64.b64decode(v).decode() for k, v in docs["rapport-redis"]["data"].items()}
assert redis["password"] == password, "Secret rapport-redis: password differs"
assert redis["url"] == f"redis://:{password}@redis:6379/0", "Secret rapport-redis: url does not carry it"
assert set(docs["rapport-keys"]["data"]) == {"internal-key", "admin-key", "jwt-secret", "secrets-key"}, docs["rapport-keys"]
assert all(d["metadata"]["namespace"] == "rapport" for d in docs.values())
PY
echo "ok: gen-secrets.sh"
