/**
 * The languages of the studio's pages, and how a request's language is chosen: the language cookie the
 * header's switch sets, else the browser's Accept-Language, else English. Plain functions (no Next.js
 * import), shared by the server's request config, the browser's switch and the tests.
 */
export const locales = ["en", "ru"] as const;
export type Locale = (typeof locales)[number];
export const defaultLocale: Locale = "en";

/** The cookie that remembers a choice made with the switch (the name next-intl uses by default). */
export const localeCookie = "NEXT_LOCALE";

/** Each language's name in itself, for the switch. */
export const localeNames: Record<Locale, string> = { en: "English", ru: "Русский" };

export function isLocale(value: unknown): value is Locale {
  return typeof value === "string" && (locales as readonly string[]).includes(value);
}

/**
 * The best of our languages for an Accept-Language header (`ru-RU,ru;q=0.9,en;q=0.8`): by quality, then
 * by order; a regional tag counts for its language (`ru-RU` is `ru`); `*` and unknown languages give
 * `defaultLocale`.
 */
export function negotiateLocale(acceptLanguage: string | null | undefined): Locale {
  if (!acceptLanguage) return defaultLocale;
  const ranked = acceptLanguage
    .split(",")
    .slice(0, 32)
    .map((part, index) => {
      const [tag = "", ...parameters] = part.trim().split(";");
      const quality = parameters.map((parameter) => /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(parameter)?.[1]).find((value) => value !== undefined);
      const q = quality === undefined ? 1 : Number(quality);
      return { language: tag.trim().toLowerCase().split("-")[0] ?? "", q: Number.isFinite(q) ? q : 0, index };
    })
    .filter((entry) => entry.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of ranked) if (isLocale(entry.language)) return entry.language;
  return defaultLocale;
}

/**
 * The language of a request: an explicit choice (a page's link to a download says `?lang=`), else the
 * switch's cookie, else Accept-Language. A value that is not one of ours counts as none.
 */
export function requestLocale({ explicit, cookie, acceptLanguage }: { explicit?: string | null; cookie?: string | null; acceptLanguage?: string | null }): Locale {
  if (isLocale(explicit)) return explicit;
  if (isLocale(cookie)) return cookie;
  return negotiateLocale(acceptLanguage);
}

/** The cookie a choice is remembered in: a year, for the whole site, never sent cross-site. */
export function localeCookieValue(locale: Locale): string {
  return `${localeCookie}=${locale}; Path=/; Max-Age=31536000; SameSite=Lax`;
}
