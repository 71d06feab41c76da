// Renders ROWS into a Grafana dashboard (schemaVersion 39): a datasource and a namespace variable,
// one collapsed-free row per group, panels laid out left to right on the 24-column grid.
import { type PanelSpec, ROWS } from './panels.ts';

const PANEL_HEIGHT = 8;
const GRID_WIDTH = 24;
// Grafana's own template variable, substituted by Grafana when the dashboard is imported.
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a JavaScript template
const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panel(spec: PanelSpec, id: number, x: number, y: number): Record<string, unknown> {
  return {
    id,
    type: spec.kind,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: PANEL_HEIGHT, w: spec.width, x, y },
    fieldConfig: { defaults: { unit: spec.unit }, overrides: [] },
    options: spec.kind === 'table' ? { showHeader: true } : {},
    ...(spec.kind === 'table' ? { transformations: [{ id: 'labelsToFields', options: {} }] } : {}),
    targets: spec.queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: DATASOURCE,
      expr: q.expr,
      ...(q.legend === undefined ? {} : { legendFormat: q.legend }),
      ...(q.instant ? { instant: true, range: false, format: 'table' } : {}),
    })),
  };
}

export function buildDashboard(): Record<string, unknown> {
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({
      id: id++,
      type: 'row',
      title: row.title,
      collapsed: false,
      gridPos: { h: 1, w: GRID_WIDTH, x: 0, y },
      panels: [],
    });
    y += 1;
    let x = 0;
    for (const spec of row.panels) {
      if (x + spec.width > GRID_WIDTH) {
        x = 0;
        y += PANEL_HEIGHT;
      }
      panels.push(panel(spec, id++, x, y));
      x += spec.width;
    }
    y += PANEL_HEIGHT;
  }
  return {
    title: 'pdrouter',
    uid: 'pdrouter',
    description: 'pdrouter: traffic, per-pod load, failovers, snapshot freshness and ring fingerprints per replica.',
    tags: ['pdrouter', 'vllm'],
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-1h', to: 'now' },
    timezone: 'utc',
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus' },
        {
          name: 'namespace',
          label: 'Namespace',
          type: 'query',
          datasource: DATASOURCE,
          query: { query: 'label_values(vllm_router_requests_total, namespace)', refId: 'namespace' },
          refresh: 2,
        },
      ],
    },
    panels,
  };
}

export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
