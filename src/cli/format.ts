/** Terminal formatting helpers: colours only on a terminal, sizes and durations for people. */
import { formatBytes as formatBytesShared } from "../common/format.js";

const useColour = (stream: NodeJS.WriteStream) => stream.isTTY === true && !process.env.NO_COLOR;

export function paint(stream: NodeJS.WriteStream, code: string, text: string): string {
  return useColour(stream) ? `\u001b[${code}m${text}\u001b[0m` : text;
}
export const dim = (stream: NodeJS.WriteStream, text: string) => paint(stream, "2", text);
export const bold = (stream: NodeJS.WriteStream, text: string) => paint(stream, "1", text);
export const red = (stream: NodeJS.WriteStream, text: string) => paint(stream, "31", text);
export const green = (stream: NodeJS.WriteStream, text: string) => paint(stream, "32", text);
export const yellow = (stream: NodeJS.WriteStream, text: string) => paint(stream, "33", text);

/** A size, or "-" when unknown. */
export const formatBytes = (bytes: number | undefined): string => formatBytesShared(bytes, "-");

export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "-";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function formatCount(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "-";
  return value >= 1e9 ? `${(value / 1e9).toFixed(1)}B` : value >= 1e6 ? `${(value / 1e6).toFixed(1)}M` : value >= 1e3 ? `${(value / 1e3).toFixed(1)}K` : String(value);
}

/** A plain text table with left-aligned columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? "").length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd();
  return [line(headers), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n");
}
