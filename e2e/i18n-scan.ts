/**
 * Finds English left on a page shown in another language: every text node and every text attribute a
 * reader or a screen reader gets (aria-label, title, placeholder, alt), outside elements marked
 * `translate="no"` (the HTML attribute for content that is not to be translated: model text, ids, file
 * names, code, key names). What is left must have no Latin word but the allowed names below.
 */
import type { Page } from "@playwright/test";

/** Names that are the same in every language: formats, units of hardware, products. */
export const allowedWords = ["GGUF", "RAM", "VRAM", "GPU", "CPU", "YAML", "JSON", "URL", "ID", "Markdown", "ZIP", "API", "OpenAI"];

export interface LeftOver {
  /** `text`, or the attribute's name. */
  where: string;
  /** The element's tag, id and test id, to find it. */
  element: string;
  text: string;
  words: string[];
}

/**
 * The texts of the page that still hold Latin words, each with those words. `skip` lists CSS selectors of
 * parts that are not the studio's (a library's attribution link).
 */
export async function englishLeft(page: Page, options: { skip?: string[]; allowed?: string[] } = {}): Promise<LeftOver[]> {
  return page.evaluate(
    ({ skip, allowed }) => {
      const allow = new Set(allowed);
      const found: Array<{ where: string; element: string; text: string; words: string[] }> = [];
      const excluded = (element: Element | null) => !element || element.closest('[translate="no"], script, style, noscript, template' + skip.map((selector) => `, ${selector}`).join("")) !== null;
      const describe = (element: Element) => `${element.tagName.toLowerCase()}${element.id ? `#${element.id}` : ""}${element.getAttribute("data-testid") ? `[data-testid=${element.getAttribute("data-testid")}]` : ""}`;
      const check = (where: string, element: Element, text: string) => {
        const words = (text.match(/[A-Za-z][A-Za-z'’-]*/g) ?? []).filter((word) => !allow.has(word));
        if (words.length > 0) found.push({ where, element: describe(element), text: text.trim().slice(0, 160), words: [...new Set(words)] });
      };
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const parent = node.parentElement;
        if (excluded(parent) || !node.textContent?.trim()) continue;
        check("text", parent!, node.textContent);
      }
      for (const element of document.body.querySelectorAll("[aria-label], [title], [placeholder], [alt], [aria-description], [aria-roledescription]")) {
        if (excluded(element)) continue;
        for (const name of ["aria-label", "title", "placeholder", "alt", "aria-description", "aria-roledescription"]) {
          const value = element.getAttribute(name);
          if (value) check(name, element, value);
        }
      }
      return found;
    },
    { skip: options.skip ?? [], allowed: [...allowedWords, ...(options.allowed ?? [])] },
  );
}

/** The left-overs as lines for a failure message. */
export function describeLeftOvers(left: LeftOver[]): string {
  return left.map((item) => `${item.element} ${item.where}: "${item.text}" (${item.words.join(", ")})`).join("\n");
}
