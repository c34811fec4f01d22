/**
 * `runc ps` prints the host's `ps -ef` rows of the container's processes. Like Docker's top, the
 * header gives the columns, and the last one (CMD) takes the rest of each row, spaces and all.
 */
export function parseProcessTable(text: string): { titles: string[]; processes: string[][] } {
  const [header, ...rows] = text.split('\n').filter((line) => line.trim() !== '');
  if (!header) return { titles: [], processes: [] };
  const titles = header.trim().split(/\s+/);
  const processes = rows.map((row) => {
    const fields = row.trim().split(/\s+/);
    return [...fields.slice(0, titles.length - 1), fields.slice(titles.length - 1).join(' ')];
  });
  return { titles, processes };
}
