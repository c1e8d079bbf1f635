#!/usr/bin/env bash
# Idempotent set-up: Python deps into .venv, npm tools (anvil, solc-js) into tools/npm.
# A second run with nothing changed only compares a stamp and returns in well under a second.
# Usage: scripts/setup.sh [--dev]
set -euo pipefail
cd "$(dirname "$0")/.."

extras="all"
[[ "${1:-}" == "--dev" ]] && extras="dev"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

find_python() {
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

stamp_of() {
  cat pyproject.toml tools/npm/package.json tools/npm/package-lock.json scripts/setup.sh | sha256sum | cut -c1-16
}

python_env() {
  local want stamp_file=".venv/.zgv-setup-$extras"
  want="$(stamp_of)"
  if [[ -x .venv/bin/python && -f "$stamp_file" && "$(cat "$stamp_file")" == "$want" ]]; then
    return 0
  fi
  local py
  py="$(find_python)" || die "Python 3.11 is required (python3.11 or python3 on PATH)"
  if [[ ! -x .venv/bin/python ]]; then
    say "creating .venv with $py"
    "$py" -m venv .venv
  fi
  local pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
  # torch first, pinned: this version is a local CPU build; any other resolution pulls CUDA wheels.
  if ! .venv/bin/python -c 'import importlib.metadata as m, sys; sys.exit(0 if m.version("torch").startswith("2.13.0") else 1)' 2>/dev/null; then
    say "installing torch==2.13.0 (CPU)"
    "${pip[@]}" install "torch==2.13.0" 2> >(grep -v 'is ignored' >&2)
  fi
  say "installing zgvoice[$extras] into .venv"
  "${pip[@]}" install -e ".[$extras]" 2> >(grep -v 'is ignored' >&2)
  echo "$want" > "$stamp_file"
}

npm_tools() {
  local stamp_file="tools/npm/node_modules/.zgv-setup" want
  want="$(cat tools/npm/package.json tools/npm/package-lock.json | sha256sum | cut -c1-16)"
  if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$want" ]]; then
    return 0
  fi
  command -v npm >/dev/null 2>&1 || die "npm (Node 20) is required for the devnet tools"
  say "installing npm tools (anvil, solc-js) into tools/npm"
  npm ci --prefix tools/npm --no-audit --no-fund --loglevel=error >&2
  chmod +x tools/npm/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil
  echo "$want" > "$stamp_file"
}

system_packages() {
  # espeak-ng is the fallback voice; the dev set adds Chromium for the browser tests and sox for clips.
  local need=()
  command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
  if [[ "$extras" == "dev" ]]; then
    [[ -x /usr/bin/chromium ]] || need+=(chromium)
    command -v sox >/dev/null 2>&1 || need+=(sox)
  fi
  ((${#need[@]})) || return 0
  if [[ "$(id -u)" != 0 ]]; then
    die "missing system packages: ${need[*]} (install them with: sudo apt-get install -y ${need[*]})"
  fi
  say "installing Debian packages: ${need[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}

postgres_for_tests() {
  # The contract tests run the PostgreSQL adapters against a real server on 127.0.0.1 (trust auth,
  # as on these machines). Start the local cluster if it is down; install one on a bare machine.
  command -v pg_isready >/dev/null 2>&1 && pg_isready -h 127.0.0.1 -q && return 0
  [[ "$(id -u)" == 0 ]] || die "PostgreSQL is not running on 127.0.0.1 and this user cannot start it"
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    say "installing PostgreSQL for the tests"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    local hba
    hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)"
    grep -q "zgvoice tests" "$hba" || printf 'host all all 127.0.0.1/32 trust # zgvoice tests\n' >> "$hba"
  fi
  local version
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
  for _ in $(seq 1 50); do pg_isready -h 127.0.0.1 -q && return 0; sleep 0.2; done
  die "PostgreSQL did not come up on 127.0.0.1:5432"
}

redis_for_tests() {
  # The contract and cluster tests use a real Redis on 127.0.0.1:6379. Start it if it is down (in
  # memory only: the tests keep nothing); install it on a bare machine.
  if command -v redis-cli >/dev/null 2>&1 && [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; then
    return 0
  fi
  [[ "$(id -u)" == 0 ]] || die "Redis is not running on 127.0.0.1:6379 and this user cannot start it"
  if ! command -v redis-server >/dev/null 2>&1; then
    say "installing Redis for the tests"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >&2
  fi
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >&2
  for _ in $(seq 1 50); do
    [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]] && return 0
    sleep 0.2
  done
  die "Redis did not come up on 127.0.0.1:6379"
}

system_packages
python_env
npm_tools
if [[ "$extras" == "dev" ]]; then
  postgres_for_tests
  redis_for_tests
fi
