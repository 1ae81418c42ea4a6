import { describe, expect, it } from "vitest";
import { isLocale, negotiateLocale, requestLocale } from "./locales";

describe("negotiateLocale", () => {
  it("takes the best supported language by quality, then by order", () => {
    expect(negotiateLocale("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7")).toBe("ru");
    expect(negotiateLocale("de-DE,de;q=0.9,ru;q=0.8,en;q=0.7")).toBe("ru");
    expect(negotiateLocale("en;q=0.5, ru;q=0.6")).toBe("ru");
    expect(negotiateLocale("en-GB, ru")).toBe("en");
  });

  it("falls back to English for nothing, a wildcard, unknown languages and refused ones", () => {
    expect(negotiateLocale(undefined)).toBe("en");
    expect(negotiateLocale("")).toBe("en");
    expect(negotiateLocale("*")).toBe("en");
    expect(negotiateLocale("fr-FR,fr;q=0.9")).toBe("en");
    expect(negotiateLocale("ru;q=0, fr")).toBe("en");
  });

  it("knows its locales", () => {
    expect(isLocale("ru")).toBe(true);
    expect(isLocale("ru-RU")).toBe(false);
    expect(isLocale(undefined)).toBe(false);
  });
});

describe("requestLocale", () => {
  it("takes an explicit choice, else the switch's cookie, else Accept-Language; ignores values not ours", () => {
    expect(requestLocale({ explicit: "ru", cookie: "en", acceptLanguage: "en" })).toBe("ru");
    expect(requestLocale({ explicit: null, cookie: "en", acceptLanguage: "ru-RU,ru;q=0.9" })).toBe("en");
    expect(requestLocale({ cookie: "xx", acceptLanguage: "ru-RU,ru;q=0.9" })).toBe("ru");
    expect(requestLocale({ explicit: "de", acceptLanguage: "fr" })).toBe("en");
    expect(requestLocale({})).toBe("en");
  });
});
