#!/usr/bin/env bash
# Idempotently install the interop peers:
#   - node_modules/ via `npm ci` (when missing or older than package-lock.json)
#   - .venv/ with requirements.txt (when missing or requirements.txt changed)
# Exits non-zero if anything cannot be installed.
set -euo pipefail
cd "$(dirname "$0")"

stamp_of() { sha256sum "$1" | cut -d' ' -f1; }

lock_sum=$(stamp_of package-lock.json)
if [[ ! -f node_modules/.interop-stamp || "$(cat node_modules/.interop-stamp)" != "$lock_sum" ]]; then
  echo "setup: npm ci" >&2
  npm ci --no-audit --no-fund >&2
  echo "$lock_sum" > node_modules/.interop-stamp
fi

req_sum=$(stamp_of requirements.txt)
if [[ ! -f .venv/.interop-stamp || "$(cat .venv/.interop-stamp)" != "$req_sum" ]]; then
  echo "setup: creating .venv" >&2
  rm -rf .venv
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt >&2
  echo "$req_sum" > .venv/.interop-stamp
fi

# Fail loudly if the peers are not importable.
node --input-type=module -e "await import('jose'); await import('oidc-provider'); await import('dpop')" >/dev/null 2>&1 \
  || { echo "setup: node peers not importable" >&2; exit 1; }
.venv/bin/python -c "import jwt, jwcrypto, cryptography" \
  || { echo "setup: python peers not importable" >&2; exit 1; }
echo "setup: ok" >&2
