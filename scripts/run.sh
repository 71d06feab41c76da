#!/usr/bin/env bash
# Runs a command with the project's toolchain (Node >= 22.19, pinned pnpm, installed dependencies).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/toolchain.sh"
pdr_toolchain
exec "$@"
