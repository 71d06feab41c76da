#!/usr/bin/env bash
# The test command: system programs, then every package's vitest suite (one package at a time, so
# end-to-end suites do not fight for the two cores), then one closing line summing all of them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-system-deps.sh || exit 1
rm -rf .test-results && mkdir -p .test-results
# The packages this run is meant to test, so the summary can tell a crashed runner from one never planned.
planned=$(mktemp)
turbo run test --dry=json "$@" | node -e 'for (const t of JSON.parse(require("fs").readFileSync(0, "utf8")).tasks) console.log(t.directory)' >"$planned" || exit 1
turbo run test --concurrency=1 --continue "$@"
status=$?
node scripts/test-summary.mjs .test-results "$status" "$planned" || status=1
rm -f "$planned"
exit $status
