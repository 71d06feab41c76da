// Markdown primitives of the generated references (flag and metric tables).

/** A Markdown table cell: pipes escaped, line breaks flattened (a table row is one line). */
export function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`];
  for (const row of rows) lines.push(`| ${row.map(cell).join(' | ')} |`);
  return lines.join('\n');
}

export function code(text: string): string {
  return `\`${text}\``;
}
