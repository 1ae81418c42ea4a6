import { createTranslator } from "next-intl";
import { createElement, Fragment } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { ApiError } from "../client/start-run";
import { errorCodes } from "../common/errors";
import { configIssueCodes, type ConfigIssueCode } from "../config/issues";
import { messages } from "../i18n/messages";
import { locales, type Locale } from "../i18n/locales";
import { describeErrors, type ErrorsTranslator } from "./use-describe-error";

/** Values of the kind the config module sends with each code. */
const samples: Record<ConfigIssueCode, Record<string, string | number>> = {
  "yaml-syntax": { problem: "BAD_INDENT" },
  "yaml-forbidden-key": { key: "__proto__" },
  "yaml-too-many-aliases": { limit: 100 },
  "unknown-key": { key: "modle", allowed: "id, name, prompt, model" },
  "required-key": { key: "model" },
  "wrong-type": { expected: "number", found: "text", value: "hot" },
  "wrong-value": { found: "text", value: "singel", allowed: '"single", "multi"' },
  "too-small": { origin: "array", limit: 2, inclusive: "yes" },
  "too-big": { origin: "number", limit: 5, inclusive: "yes" },
  "invalid-stage-id": { value: "1st" },
  "invalid-model-name": { value: "my model" },
  "aggregation-needs": { method: "synthesis", needs: "model" },
  "duplicate-stage-id": { id: "draft", stage: 1 },
  "unknown-stage": { id: "drat", stages: "draft, voices" },
  "input-from-itself": { id: "draft" },
  "input-named-twice": { id: "draft" },
  cycle: { stages: "a → b → a" },
  "too-many-stages": { count: 6000, limit: 1000 },
  "unknown-model": { model: "m3", file: "models.yaml", models: "m1, m2", count: 2 },
  "vote-needs-two-models": { count: 1 },
  "unknown-placeholder": { placeholder: "{{inptu}}", allowed: "{{input}}, {{stage.draft}}" },
  "single-braces": { text: "{input}", placeholder: "{{input}}" },
  "model-outside-folder": { file: "../x.gguf", folder: "/srv/models" },
  "model-file-missing": { path: "/srv/models/x.gguf" },
  "model-not-regular-file": { path: "/srv/models/x.gguf" },
  "model-not-gguf": { path: "/srv/models/x.gguf" },
  "model-gguf-version": { path: "/srv/models/x.gguf", version: 9 },
  "base-models-missing": { count: 2, models: "a (a.gguf), b (b.gguf)", folder: "/srv/models" },
  "quantization-mismatch": { declared: "Q4_K_M", file: "x.gguf", actual: "F32" },
  "secret-in-config": { key: "api_key", setting: "api_key_env" },
  "invalid-env-name": { key: "api_key_env", example: "OPENAI_API_KEY" },
  "invalid-base-url": { reason: "credentials", example: "http://gpu-box:8000/v1", schemes: "http:// https://", setting: "api_key_env", suffix: "/v1" },
  "remote-load-param": { key: "context_size" },
};

/** The `errors` translator of a language, recording every error next-intl reports instead of throwing. */
function translator(locale: Locale) {
  const problems: string[] = [];
  const t = createTranslator({ locale, messages: messages[locale], namespace: "errors", onError: (error) => problems.push(error.message) });
  return { describe: describeErrors(t as unknown as ErrorsTranslator), problems };
}

/** The Latin words of a rendered text outside `translate="no"` elements (names every language shares aside). */
function latinOutsideData(html: string): string[] {
  const words = html.replace(/<span translate="no">.*?<\/span>/g, " ").match(/[A-Za-z][A-Za-z'’-]*/g) ?? [];
  return words.filter((word) => !["GGUF", "YAML"].includes(word));
}

describe("errors in the page's language", () => {
  it("has a message for every config issue code and every error code a page shows, in every language", () => {
    for (const locale of locales) {
      const errors = messages[locale].errors as unknown as { issues: Record<string, string>; codes: Record<string, unknown> };
      expect(configIssueCodes.filter((code) => !errors.issues[code]), locale).toEqual([]);
      // A usage error's own message says which value is wrong: no one sentence replaces it.
      expect(errorCodes.filter((code) => code !== "usage" && !errors.codes[code]), locale).toEqual([]);
    }
  });

  for (const code of configIssueCodes) {
    it(`says the issue ${code} in Russian, with its values marked as data`, () => {
      const { describe: russian, problems } = translator("ru");
      const issue = { file: "/srv/config/pipeline.yaml", line: 7, column: 9, path: "base_pipeline.stages[0].prompt", message: "the English message", code, params: samples[code] };
      const text = russian.issue(issue);
      expect(problems).toEqual([]);
      expect(text).not.toContain("the English message");
      expect(text.startsWith("pipeline.yaml:7:9: base_pipeline.stages[0].prompt: ")).toBe(true);
      const html = renderToStaticMarkup(createElement(Fragment, null, russian.issueContent(issue)));
      expect(html).toContain('<span translate="no">pipeline.yaml</span>');
      expect(latinOutsideData(html)).toEqual([]);
      expect(translator("en").describe.issue(issue)).not.toBe(text);
    });
  }

  it("chooses the plural forms of Russian", () => {
    const { describe: russian } = translator("ru");
    const vote = (count: number) => russian.issue({ message: "", code: "vote-needs-two-models", params: { count } });
    expect([vote(1), vote(3), vote(5)]).toEqual([
      "для голосования нужны хотя бы две модели, а здесь 1 модель",
      "для голосования нужны хотя бы две модели, а здесь 3 модели",
      "для голосования нужны хотя бы две модели, а здесь 5 моделей",
    ]);
  });

  it("keeps the English message, what was expected and the suggestion when a value is missing or the code is unknown", () => {
    const { describe: russian, problems } = translator("ru");
    const english = { file: "m.yaml", line: 3, column: 1, path: "models.x", message: 'unknown model "x"', expected: "one of a, b", suggestion: "a", code: "unknown-model", params: { model: "x" } };
    expect(russian.issue(english)).toBe('m.yaml:3:1: models.x: unknown model "x" (ожидалось: one of a, b) — может быть, «a»?');
    expect(russian.issue({ ...english, code: "no-such-code" })).toContain('unknown model "x"');
    expect(problems).toEqual([]);
  });

  it("says a whole error by its code, and its own message when there is no translation for it", () => {
    const { describe: russian } = translator("ru");
    expect(russian.error(new ApiError(404, "session-not-found", "no session 20261124-120102-3fa9c1"))).toBe("Такой сессии нет: возможно, её удалили.");
    expect(russian.error(new ApiError(404, "config-not-found", "/x/models.yaml: no such file", [], { file: "/x/models.yaml" }))).toBe("Нет файла конфигурации /x/models.yaml.");
    expect(russian.error(new ApiError(400, "usage", 'no stage "zz" to set parameters on'))).toBe('no stage "zz" to set parameters on');
    const torn = { file: "20261124-120102-3fa9c1.json", reason: "not-json", detail: "Unexpected end of JSON input" };
    expect(russian.error(new ApiError(500, "session-damaged", "session file 20261124-120102-3fa9c1.json is not JSON", [], torn))).toBe(
      "Файл сессии 20261124-120102-3fa9c1.json повреждён: это не JSON (файл обрезан или правлен вручную).",
    );
    const issues = [
      { file: "p.yaml", line: 2, column: 3, path: "a", message: "m1", code: "required-key", params: { key: "model" } },
      { file: "p.yaml", line: 4, column: 5, path: "b", message: "m2" },
    ];
    expect(russian.error(new ApiError(422, "config-schema", "m1\nm2", issues))).toBe("p.yaml:2:3: a: не хватает ключа «model»\np.yaml:4:5: b: m2");
  });

  it("says the run queue's refusals and a body over its limit in Russian, with their figures", () => {
    const { describe: russian } = translator("ru");
    expect(russian.error(new ApiError(429, "busy", "local has 4 runs", [], { reason: "runs", limit: 4, retryAfter: 30 }))).toBe(
      "У вас 4 запуска в работе или в очереди — больше одному пользователю нельзя: попробуйте снова, когда один закончится (примерно через 30 с).",
    );
    expect(russian.error(new ApiError(503, "unavailable", "32 runs waiting", [], { reason: "queue-full", waiting: 32, retryAfter: 12 }))).toBe(
      "В очереди студии уже 32 запуска — больше она не принимает: попробуйте снова через 12 с.",
    );
    expect(russian.error(new ApiError(503, "unavailable", "stopping", [], { reason: "stopping" }))).toBe("Сервер останавливается; попробуйте снова, когда он вернётся.");
    expect(russian.error(new ApiError(413, "body-too-large", "too large", [], { limit: "1 MiB" }))).toBe("Запрос больше 1 MiB — столько сервер для него читает.");
  });

  it("says an error with a reason by the message of its code and reason, and tells when it has no words of its own", () => {
    const t = createTranslator({
      locale: "en",
      messages: { failure: { codes: { "disk-full": { space: "only {free} free" }, cancelled: "Cancelled." } } },
      namespace: "failure",
    });
    const own = describeErrors(t as unknown as ErrorsTranslator);
    expect(own.error({ code: "disk-full", message: "the disk is full", params: { reason: "space", free: "3 GB" } })).toBe("only 3 GB free");
    // A reason without a message of its own, or a code whose messages are all by reason: the server's words.
    expect(own.error({ code: "disk-full", message: "the disk is full", params: { reason: "write" } })).toBe("the disk is full");
    expect(own.error({ code: "disk-full", message: "the disk is full" })).toBe("the disk is full");
    expect(own.ownContent({ code: "disk-full", message: "the disk is full" })).toBeUndefined();
    // A code with one message takes it, whatever the reason.
    expect(own.error({ code: "cancelled", message: "stopped", params: { reason: "waiting" } })).toBe("Cancelled.");
    const html = renderToStaticMarkup(createElement(Fragment, null, own.ownContent({ code: "disk-full", message: "", params: { reason: "space", free: "3 GB" } })));
    expect(html).toBe('only <span translate="no">3 GB</span> free');
  });
});
