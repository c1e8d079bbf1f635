#!/usr/bin/env bash
# Command 1 of the README: set up (idempotent) and run zgvoice on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/zgv up "$@"
