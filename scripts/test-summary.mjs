// Sums the vitest JSON reports each package wrote into one closing line: "N passed, N failed, N skipped".
// Every package the run planned (PLANNED_FILE: one package directory a line, from `turbo run test --dry=json`;
// default every workspace package with a test script) must have written its report: a package whose runner
// crashed (or never started) wrote none, and counts as one failure, named.
// Usage: node scripts/test-summary.mjs [REPORT_DIR] [RUNNER_STATUS] [PLANNED_FILE]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const root = join(import.meta.dirname, '..');
const dir = process.argv[2] ?? join(root, '.test-results');
const runnerStatus = Number(process.argv[3] ?? 0);
const plannedFile = process.argv[4];

/** The workspace's package directories (pnpm-workspace.yaml's `- dir` and `- dir/*` entries). */
function workspaceDirs() {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([^'"\s]+)['"]?\s*$/gm)].map((m) => m[1]);
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [join(root, glob)];
    const parent = join(root, glob.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(parent, e.name));
  });
}

/** Report names the run must have produced: vitest.shared.ts names each after its package directory. */
const plannedDirs = plannedFile
  ? readFileSync(plannedFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => join(root, l.trim()))
  : workspaceDirs();
const expected = plannedDirs
  .filter((d) => existsSync(join(d, 'package.json')))
  .filter((d) => JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).scripts?.test !== undefined)
  .map((d) => basename(d));

let passed = 0;
let failed = 0;
let skipped = 0;
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
for (const file of files) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  passed += report.numPassedTests ?? 0;
  const failedTests = report.numFailedTests ?? 0;
  // A file that fails to load has no failing test of its own: count it once.
  failed += failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
const missing = expected.filter((name) => !files.includes(`${name}.json`));
for (const name of missing)
  console.log(`${name}: no test report (its runner crashed or did not run): counted as failed`);
failed += missing.length;
if (runnerStatus !== 0 && failed === 0) {
  console.log(`the test runner exited with status ${runnerStatus} although every report passed: counted as failed`);
  failed += 1;
}
console.log(`${files.length} test reports, ${expected.length} packages planned`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
