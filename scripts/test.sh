#!/usr/bin/env bash
# The test command: system programs, then every package's vitest suite (one package at a time, so
# end-to-end suites do not fight for the two cores; a package whose inputs did not change since a passing
# run is replayed from turbo's cache), then one closing line summing all of them.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/ensure-system-deps.sh || exit 1
# The packages this run is meant to test, so the summary can tell a crashed runner from one never planned.
planned=$(mktemp)
turbo run test --dry=json "$@" | node -e 'for (const t of JSON.parse(require("fs").readFileSync(0, "utf8")).tasks) if (t.task === "test") console.log(t.directory)' >"$planned" || exit 1
# No report survives from an earlier run: each comes from this run's tests or from turbo's cache of them.
while read -r dir; do rm -rf "$dir/.test-results"; done <"$planned"
# One package at a time: the end-to-end suites start real processes and would fight for the two cores.
turbo run test --concurrency=1 --continue "$@"
status=$?
node scripts/test-summary.ts "$status" "$planned" || status=1
rm -f "$planned"
exit $status
