import type { ColumnSummary } from '../reference/column-table.ts';
import type { ProfileDescription, UploadAnswer } from './gateway-client.ts';

/** What `baseline create` and `baseline capture` print about the profile the gateway stored. */
export function describeCreated(profile: ProfileDescription, verb: string): string {
  const features = Object.entries(profile.features ?? {});
  const width = Math.max(0, ...features.map(([name]) => name.length));
  const lines = [
    `${verb} baseline ${profile.id}`,
    `  model:    ${profile.model}${profile.version === null ? ' (all versions)' : ` version ${profile.version}`}`,
    `  rows:     ${profile.count.toLocaleString('en-US')}`,
  ];
  if (profile.from != null && profile.to != null) lines.push(`  window:   ${new Date(profile.from).toISOString()} .. ${new Date(profile.to).toISOString()}`);
  lines.push(`  output:   ${profile.output ?? '(none)'}`);
  if (profile.accuracy != null) lines.push(`  accuracy: ${(profile.accuracy * 100).toFixed(1)}%`);
  lines.push(`  features (${features.length}):`);
  for (const [name, type] of features) lines.push(`    ${name.padEnd(width)}  ${type}`);
  return lines.join('\n');
}

/** Left-aligned columns separated by two spaces. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c].length)));
  const line = (cells: readonly string[]) => cells.map((cell, c) => (c === cells.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The columns of a training file as the profile will use them: printed before the upload. */
export function formatColumnTable(columns: readonly ColumnSummary[]): string {
  return formatTable(
    ['COLUMN', 'ROLE', 'TYPE', 'VALUES', 'MISSING'],
    columns.map((c) => [c.name, c.reason === null ? c.role : `ignored (${c.reason})`, c.type, c.count.toLocaleString('en-US'), `${(c.missingShare * 100).toFixed(1)}%`]),
  );
}

/** Which profile drift of a model is computed against after an upload. */
export function describeInForce(inForce: UploadAnswer['inForce'], model: string): string {
  if (inForce === null) return `in force: no reference for model ${model}`;
  return `in force: ${inForce.id} for model ${inForce.model} ${inForce.version === null ? '(all versions)' : `version ${inForce.version}`}`;
}

/** The activation checks' outcome: problems as a list, or that there are none. */
export function describeChecks(problems: readonly string[]): string {
  return problems.length === 0 ? 'checks: passed' : ['checks: problems', ...problems.map((p) => `  - ${p}`)].join('\n');
}
