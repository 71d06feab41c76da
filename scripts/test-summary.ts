// Sums the vitest JSON reports each package wrote (<package>/.test-results/vitest.json, see vitest.shared.ts)
// into one closing line: "N passed, N failed, N skipped". Every package the run planned (PLANNED_FILE: one
// package directory a line, from `turbo run test --dry=json`; default every workspace package with a test
// script) must have a report: a package whose runner crashed (or never started) has none, and counts as one
// failure, named.
// Usage: node scripts/test-summary.ts [RUNNER_STATUS] [PLANNED_FILE]
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const runnerStatus = Number(process.argv[2] ?? 0);
const plannedFile = process.argv[3];
const REPORT = join('.test-results', 'vitest.json');

/** What this script reads of a vitest JSON report. */
interface VitestReport {
  numPassedTests?: number;
  numFailedTests?: number;
  numFailedTestSuites?: number;
  numPendingTests?: number;
  numTodoTests?: number;
}

/** The workspace's package directories (pnpm-workspace.yaml's `- dir` and `- dir/*` entries). */
function workspaceDirs(): string[] {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const globs = [...yaml.matchAll(/^\s*-\s*['"]?([^'"\s]+)['"]?\s*$/gm)].flatMap((m) =>
    m[1] === undefined ? [] : [m[1]],
  );
  return globs.flatMap((glob) => {
    if (!glob.endsWith('/*')) return [join(root, glob)];
    const parent = join(root, glob.slice(0, -2));
    return readdirSync(parent, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => join(parent, e.name));
  });
}

const plannedDirs = plannedFile
  ? readFileSync(plannedFile, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => join(root, l.trim()))
  : workspaceDirs()
      .filter((d) => existsSync(join(d, 'package.json')))
      .filter((d) => {
        const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
        return pkg.scripts?.test !== undefined;
      });

let passed = 0;
let failed = 0;
let skipped = 0;
let reports = 0;
for (const dir of plannedDirs) {
  const file = join(dir, REPORT);
  if (!existsSync(file)) {
    console.log(`${relative(root, dir)}: no test report (its runner crashed or did not run): counted as failed`);
    failed += 1;
    continue;
  }
  reports += 1;
  const report = JSON.parse(readFileSync(file, 'utf8')) as VitestReport;
  passed += report.numPassedTests ?? 0;
  const failedTests = report.numFailedTests ?? 0;
  // A file that fails to load has no failing test of its own: count it once.
  failed += failedTests > 0 ? failedTests : (report.numFailedTestSuites ?? 0);
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
if (runnerStatus !== 0 && failed === 0) {
  console.log(`the test runner exited with status ${runnerStatus} although every report passed: counted as failed`);
  failed += 1;
}
console.log(`${reports} test reports, ${plannedDirs.length} packages planned`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
