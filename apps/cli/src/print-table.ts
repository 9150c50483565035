import type { CommandIo } from './command';

/** Left-aligned columns, widths from the content, two spaces apart; the last column is not padded. */
export function printTable(io: CommandIo, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  io.out(line(header));
  for (const r of rows) io.out(line(r));
}

/** `--json` output: indented, one document per command. */
export function printJson(io: CommandIo, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}
