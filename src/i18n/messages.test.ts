import { describe, expect, it } from "vitest";
import { IntlMessageFormat } from "intl-messageformat";
import { messages } from "./messages";
import { locales } from "./locales";

/** Every leaf of a messages tree as "a.b.c" -> text. */
function leaves(tree: unknown, prefix = ""): Map<string, string> {
  const found = new Map<string, string>();
  for (const [key, value] of Object.entries(tree as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (typeof value === "string") found.set(path, value);
    else for (const [leaf, text] of leaves(value, path)) found.set(leaf, text);
  }
  return found;
}

/** The names of a message's arguments ({count}, {name}, plural and select arguments, rich-text tags). */
function argumentsOf(text: string): string[] {
  const names = new Set<string>();
  const walk = (elements: unknown[]) => {
    for (const element of elements as Array<Record<string, unknown>>) {
      if (typeof element.value === "string" && element.type !== 0) names.add(element.value);
      for (const option of Object.values((element.options as Record<string, { value: unknown[] }> | undefined) ?? {})) walk(option.value);
      if (Array.isArray(element.children)) walk(element.children);
    }
  };
  walk(new IntlMessageFormat(text, "en").getAst() as unknown[]);
  return [...names].sort();
}

describe("messages", () => {
  const english = leaves(messages.en);

  it("has messages", () => {
    expect(english.size).toBeGreaterThan(0);
  });

  for (const locale of locales.filter((locale) => locale !== "en")) {
    it(`${locale} has exactly the keys of en`, () => {
      const other = leaves(messages[locale]);
      expect([...other.keys()].filter((key) => !english.has(key)), "keys only in " + locale).toEqual([]);
      expect([...english.keys()].filter((key) => !other.has(key)), "keys missing in " + locale).toEqual([]);
    });

    it(`${locale} messages parse and use the same arguments as en`, () => {
      const other = leaves(messages[locale]);
      const mismatched: string[] = [];
      for (const [key, text] of english) {
        const translated = other.get(key);
        if (translated === undefined) continue;
        if (translated.trim() === "") mismatched.push(`${key}: empty`);
        else if (argumentsOf(text).join() !== argumentsOf(translated).join()) mismatched.push(`${key}: {${argumentsOf(text)}} vs {${argumentsOf(translated)}}`);
      }
      expect(mismatched).toEqual([]);
    });
  }
});
