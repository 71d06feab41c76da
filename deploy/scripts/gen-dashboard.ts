// Writes the Grafana dashboard the monitoring component ships. Usage: node deploy/scripts/gen-dashboard.ts
// (a test fails when the checked-in JSON differs from what this writes).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardJson } from '../src/dashboard/grafana.ts';
import { biomeFormat } from '../src/docs/biome-format.ts';

export const DASHBOARD_PATH = join(
  import.meta.dirname,
  '..',
  'k8s',
  'components',
  'monitoring',
  'pdrouter-dashboard.json',
);

writeFileSync(DASHBOARD_PATH, biomeFormat(dashboardJson(), 'deploy/k8s/components/monitoring/pdrouter-dashboard.json'));
process.stdout.write(`wrote ${DASHBOARD_PATH}\n`);
