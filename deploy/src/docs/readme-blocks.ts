// The root README carries the flag and metric references too: the generated documents' sections from
// their first `## ` heading on, one heading level deeper, between `<!-- readme:NAME:start -->` and
// `<!-- readme:NAME:end -->`. The generators write them; the docs test fails when they drift.
export const README_PATH = 'README.md';

/** A generated document's body for the README: from the first `## ` heading, headings one level deeper. */
export function readmeSection(doc: string): string {
  const start = doc.indexOf('\n## ');
  if (start < 0) throw new Error('generated document has no "## " heading');
  return doc
    .slice(start + 1)
    .replace(/^(#{2,5}) /gm, '#$1 ')
    .trim();
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
export function replaceReadmeBlock(text: string, name: string, content: string): string {
  const [open, close] = markers(name);
  const a = text.indexOf(open);
  const b = text.indexOf(close);
  if (a < 0 || b < a) throw new Error(`${README_PATH}: markers ${open} ... ${close} not found`);
  return `${text.slice(0, a + open.length)}\n\n${content}\n\n${text.slice(b)}`;
}
