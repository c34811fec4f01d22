/** An SQLite identifier (table, column, index name) in double quotes, its own quotes doubled. */
export const quoteIdentifier = (identifier: string) => `"${identifier.replace(/"/g, '""')}"`;
