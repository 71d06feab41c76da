/** Hand-written SVG line charts (no dependency): one or more panels sharing categorical x values. */

export interface Series {
  readonly label: string;
  readonly color: string;
  readonly values: readonly (number | undefined)[];
  readonly dashed?: boolean;
}

export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
}

const PANEL_W = 460;
const PANEL_H = 320;
const MARGIN = { left: 70, right: 20, top: 40, bottom: 50 };
const LEGEND_H = 28;

function esc(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten at or above max. */
function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

function compact(n: number): string {
  if (n >= 1000) return `${(n / 1000).toLocaleString('en-US', { maximumFractionDigits: 1 })}k`;
  return n.toLocaleString('en-US', { maximumFractionDigits: 1 });
}

export function lineChartSvg(
  title: string,
  xLabel: string,
  xs: readonly (number | string)[],
  panels: readonly Panel[],
): string {
  const width = PANEL_W * panels.length;
  const legendSeries = panels[0]?.series ?? [];
  const height = PANEL_H + LEGEND_H + 30;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((panel, pi) => {
    const ox = pi * PANEL_W;
    const oy = 30;
    const plotW = PANEL_W - MARGIN.left - MARGIN.right;
    const plotH = PANEL_H - MARGIN.top - MARGIN.bottom;
    const all = panel.series.flatMap((s) => s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)));
    const yMax = niceMax(Math.max(0, ...all));
    const x = (i: number): number => ox + MARGIN.left + (xs.length === 1 ? plotW / 2 : (i * plotW) / (xs.length - 1));
    const y = (v: number): number => oy + MARGIN.top + plotH - (v / yMax) * plotH;
    parts.push(
      `<text x="${ox + PANEL_W / 2}" y="${oy + 22}" text-anchor="middle" font-size="13">${esc(panel.title)}</text>`,
    );
    for (let t = 0; t <= 5; t++) {
      const v = (yMax * t) / 5;
      const yy = y(v);
      parts.push(
        `<line x1="${ox + MARGIN.left}" x2="${ox + MARGIN.left + plotW}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
      );
      parts.push(`<text x="${ox + MARGIN.left - 6}" y="${yy + 4}" text-anchor="end">${compact(v)}</text>`);
    }
    xs.forEach((xv, i) => {
      parts.push(
        `<text x="${x(i)}" y="${oy + MARGIN.top + plotH + 18}" text-anchor="middle">${esc(String(xv))}</text>`,
      );
    });
    parts.push(
      `<text x="${ox + MARGIN.left + plotW / 2}" y="${oy + MARGIN.top + plotH + 38}" text-anchor="middle">${esc(xLabel)}</text>`,
      `<text transform="translate(${ox + 16} ${oy + MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${esc(panel.yLabel)}</text>`,
      `<rect x="${ox + MARGIN.left}" y="${oy + MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
    );
    for (const s of panel.series) {
      const pts = s.values
        .map((v, i) => (v === undefined || !Number.isFinite(v) ? undefined : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
        .filter((p): p is string => p !== undefined);
      if (pts.length === 0) continue;
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
      for (const p of pts) {
        const [cx, cy] = p.split(',');
        parts.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`);
      }
    }
  });
  let lx = 20;
  const ly = PANEL_H + 30 + 14;
  for (const s of legendSeries) {
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${lx + 34}" y="${ly + 4}">${esc(s.label)}</text>`);
    lx += 48 + s.label.length * 7;
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
