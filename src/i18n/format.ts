/**
 * Numbers, durations, sizes and dates in a language: "1,25 с" and "12 МиБ" in Russian, "1.25 s" and
 * "12 MiB" in English. Plain functions over next-intl's formatter and the `common` messages, shared by the
 * pages (`useFormat`) and the documents the server writes in its reader's language (a session's Markdown).
 */
import type { createFormatter } from "next-intl";

const byteUnits = ["bytes", "KiB", "MiB", "GiB", "TiB"] as const;

export interface Format {
  /** A duration: "850 ms", "1.25 s", "12.5 s"; "—" when unknown. */
  ms(ms: number | undefined | null): string;
  /** A size in binary units: "1.1 MiB"; "—" when unknown. */
  bytes(bytes: number | undefined | null): string;
  /** A number with the language's separators; `digits` fixes the decimals. */
  number(value: number | undefined | null, digits?: number): string;
  /** A rate: "1,234.5/s". */
  perSecond(value: number, digits?: number): string;
  /** A date and time, as the reader's language writes it. */
  dateTime(value: string | number | Date): string;
}

/** The `common` messages a format uses. */
export type FormatMessage = "none" | `units.${(typeof byteUnits)[number] | "ms" | "s" | "perSecond"}`;

/** A format from next-intl's formatter of a language and its `common` messages. */
export function createFormat(formatter: Pick<ReturnType<typeof createFormatter>, "number" | "dateTime">, t: (key: FormatMessage, values?: { value: string }) => string): Format {
  const none = t("none");
  const fixed = (value: number, digits: number) => formatter.number(value, { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const number: Format["number"] = (value, digits) => {
    if (value === undefined || value === null || !Number.isFinite(value)) return none;
    return digits === undefined ? formatter.number(value) : fixed(value, digits);
  };
  return {
    ms(ms) {
      if (ms === undefined || ms === null || !Number.isFinite(ms)) return none;
      if (ms < 1000) return t("units.ms", { value: formatter.number(Math.round(ms)) });
      return t("units.s", { value: fixed(ms / 1000, ms < 10_000 ? 2 : 1) });
    },
    bytes(bytes) {
      if (bytes === undefined || bytes === null || !Number.isFinite(bytes)) return none;
      let value = bytes;
      let unit = 0;
      while (value >= 1024 && unit < byteUnits.length - 1) {
        value /= 1024;
        unit++;
      }
      return t(`units.${byteUnits[unit]!}`, { value: fixed(value, value >= 10 || unit === 0 ? 0 : 1) });
    },
    number,
    perSecond: (value, digits = 1) => t("units.perSecond", { value: number(value, digits) }),
    // In the reader's time zone (the server's, while a page renders or a document is written on the server).
    dateTime: (value) => formatter.dateTime(new Date(value), { dateStyle: "medium", timeStyle: "medium", timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
  };
}
