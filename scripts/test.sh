#!/usr/bin/env bash
# The test command: system programs, then every package's vitest suite (one package at a time, so
# end-to-end suites do not fight for the two cores), then one closing line summing all of them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-system-deps.sh || exit 1
rm -rf .test-results && mkdir -p .test-results
turbo run test --concurrency=1 --continue "$@"
status=$?
node scripts/test-summary.mjs .test-results || status=1
exit $status
