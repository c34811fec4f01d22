/** A RESULTS.md section for a workload whose rows carry their own unit (JetStream, HTTP, registry). */
import type { Figure } from './stats.ts';

export interface SectionRow {
  name: string;
  limit?: boolean;
  reference?: string;
  figure: Figure;
  ratio?: number;
  target?: string;
  note?: string;
  error?: string;
}

const num = (x: number) => (!Number.isFinite(x) ? '—' : Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(1));
const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function section(heading: string, intro: string, rows: SectionRow[]): string {
  const lines = rows.map(
    (row) =>
      `| ${cell(row.name)}${row.error ? ` — **failed**: ${cell(row.error)}` : ''}${row.note ? ` (${cell(row.note)})` : ''} | ${num(row.figure.median)} | ${num(row.figure.min)} | ${num(row.figure.max)} | ${row.figure.unit} | ${row.limit ? 'limit' : cell(row.reference)} | ${row.ratio !== undefined && Number.isFinite(row.ratio) ? `${row.ratio.toFixed(2)}×` : ''} | ${cell(row.target)} |`,
  );
  return `## ${heading}

${intro}

| Figure | median | min | max | unit | reference | ratio | target |
|---|---:|---:|---:|---|---|---:|---|
${lines.join('\n')}
`;
}

/**
 * `existing` (a RESULTS.md) with the section `## <n>. …` replaced by `text`, or inserted before the
 * first section with a higher number (or before "## Notes"); the notes are replaced by `notes`.
 */
export function mergeSection(existing: string, n: number, text: string): string {
  const headings = [...existing.matchAll(/^## (\d+)\. .*$/gm)].map((m) => ({ n: Number(m[1]), at: m.index! }));
  const notesAt = existing.search(/^## Notes/m);
  const end = notesAt >= 0 ? notesAt : existing.length;
  const same = headings.find((h) => h.n === n);
  if (same) {
    const next = headings.find((h) => h.at > same.at);
    const stop = next ? next.at : end;
    return `${existing.slice(0, same.at)}${text}\n${existing.slice(stop)}`;
  }
  const after = headings.find((h) => h.n > n);
  const at = after ? after.at : end;
  return `${existing.slice(0, at)}${text}\n${existing.slice(at)}`;
}
