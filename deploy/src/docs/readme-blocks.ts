// The READMEs carry parts of the flag and metric references too, between `<!-- readme:NAME:start -->` and
// `<!-- readme:NAME:end -->`: the root README the generated documents from their first `## ` heading on, one
// heading level deeper; the proxy's README the proxy's sections; the simulator's README its flag table. The generators write them; the docs test
// fails when they drift.
export const README_PATH = 'README.md';
export const PROXY_README_PATH = 'apps/proxy/README.md';
export const SIM_README_PATH = 'packages/vllm-sim/README.md';
export const MIGRATING_PATH = 'docs/migrating-from-vllm-router.md';

/** A generated document's body for the README: from the first `## ` heading, headings one level deeper. */
export function readmeSection(doc: string): string {
  const start = doc.indexOf('\n## ');
  if (start < 0) throw new Error('generated document has no "## " heading');
  return doc
    .slice(start + 1)
    .replace(/^(#{2,5}) /gm, '#$1 ')
    .trim();
}

/** The lines of `doc` from the first one starting with `from` up to the first one starting with `until`. */
export function docPart(doc: string, from: string, until: string): string {
  const start = doc.indexOf(`\n${from}`);
  const end = doc.indexOf(`\n${until}`, start + 1);
  if (start < 0 || end < 0) throw new Error(`generated document has no "${from}" ... "${until}" part`);
  return doc.slice(start + 1, end).trim();
}

/** The proxy README's flags block: the proxy's tables of docs/configuration.md, headings as they are. */
export function proxyReadmeFlags(configDoc: string): string {
  return docPart(configDoc, "### vllm-router's flags", '## Discovery');
}

/** The migration guide's list of refusals: the refused values and refused flags tables of docs/configuration.md, as there. */
export function migratingRefused(configDoc: string): string {
  return docPart(configDoc, '### Refused', '## Discovery');
}

/** The proxy README's metrics block: the proxy's sections of docs/metrics.md, one heading level deeper. */
export function proxyReadmeMetrics(metricsDoc: string): string {
  return docPart(metricsDoc, '## Proxy: names shared with vllm-router', '## Discovery').replace(/^(#{2,5}) /gm, '#$1 ');
}

function markers(name: string): [string, string] {
  return [`<!-- readme:${name}:start -->`, `<!-- readme:${name}:end -->`];
}

/** The text between a block's markers, trimmed; undefined when the markers are missing. */
export function readmeBlock(text: string, name: string): string | undefined {
  const [open, close] = markers(name);
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  return a < 0 || b < a ? undefined : text.slice(a + open.length, b).trim();
}

/** `text` with the block's content replaced; throws when the markers are missing. */
export function replaceReadmeBlock(text: string, name: string, content: string, path = README_PATH): string {
  const [open, close] = markers(name);
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`${path}: markers ${open} ... ${close} not found`);
  return `${text.slice(0, a + open.length)}\n\n${content}\n\n${text.slice(b)}`;
}
