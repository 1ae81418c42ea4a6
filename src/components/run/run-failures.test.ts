import { createTranslator } from "next-intl";
import { createElement, Fragment } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { messages } from "../../i18n/messages";
import { locales, type Locale } from "../../i18n/locales";
import { describeStageError, errorSegments, type MarkupTranslator } from "../../i18n/describe-errors";
import { describeErrors, type ErrorsTranslator } from "../use-describe-error";

const path = "/srv/models/stories260K.gguf";
/** The values the runtime and the engine send with each failure (see src/runtime/worker.ts, supervisor.ts, src/engine). */
const samples: Record<string, Record<string, string | number>> = {
  "context-overflow": { tokens: 2126, context: 2048, setting: "context_size", model: "dreamer" },
  "model-missing.file": { reason: "file", path, model: "dreamer" },
  "model-load-failed.unreadable": { reason: "unreadable", path, detail: "invalid magic", model: "dreamer" },
  "model-load-failed.load": { reason: "load", path, detail: "failed to load model", model: "dreamer" },
  "model-load-failed.error": { reason: "error", detail: "failed to load model", model: "dreamer" },
  "out-of-memory.load": { reason: "load", path, detail: "failed to allocate buffer", model: "dreamer" },
  "worker-crashed.signal": { reason: "signal", pid: "4242", signal: "SIGKILL", output: "yes", detail: "GGML_ASSERT(n_tokens > 0) failed", model: "dreamer" },
  "worker-crashed.exit": { reason: "exit", pid: "4242", code: 134, output: "no", detail: "", model: "dreamer" },
  "worker-crashed.failed": { reason: "failed", detail: "spawn ENOMEM", model: "dreamer" },
  "generation-failed.error": { reason: "error", detail: "llama_decode returned -1", model: "dreamer" },
  "generation-failed.aborted": { reason: "aborted", detail: "This operation was aborted" },
  "aggregation-failed.no-answers": { reason: "no-answers" },
  // The values src/runtime/remote.ts sends with each reason of `remote-failed`.
  ...Object.fromEntries(
    Object.entries({
      "no-key": { keyEnv: "VLLM_KEY" },
      unauthorized: { status: 401, keyEnv: "VLLM_KEY", keyNamed: "yes", setting: "api_key_env" },
      "not-found": { status: 404, remoteModel: "qwen-7b", suffix: "/v1" },
      "rate-limited": { status: 429, retryAfter: 60 },
      "server-error": { status: 500, detail: "CUDA error: out of memory" },
      "stream-error": { detail: "engine dead" },
      "bad-request": { status: 400, detail: "max_tokens is too large" },
      unreachable: { detail: "ECONNREFUSED" },
      "connect-timeout": { seconds: 10, setting: "connect_timeout" },
      timeout: { seconds: 300, setting: "timeout" },
      "stream-cut": { characters: 42 },
      "not-json": { suffix: "/v1" },
    }).map(([reason, params]) => [`remote-failed.${reason}`, { reason, model: "writer", host: "gpu-box:8000", ...params }]),
  ),
  ...Object.fromEntries(
    (["read-only", "permission", "disk-full", "missing", "error"] as const).map((reason) => [
      `storage-failed.${reason}`,
      { reason, folder: "/srv/sessions", id: "20261130-030102-3fa9c1", detail: "EIO: i/o error, open '/srv/sessions/20261130-030102-3fa9c1.json'" },
    ]),
  ),
};

/** Every message of `run.failure.codes`, as `code` or `code.reason`. */
function messageKeys(codes: Record<string, unknown>): string[] {
  return Object.entries(codes).flatMap(([code, value]) => (typeof value === "string" ? [code] : Object.keys(value as object).map((reason) => `${code}.${reason}`)));
}

function failures(locale: Locale) {
  const problems: string[] = [];
  const t = createTranslator({ locale, messages: messages[locale], namespace: "run.failure", onError: (error) => problems.push(error.message) });
  return { describe: describeErrors(t as unknown as ErrorsTranslator), problems };
}

const failure = (key: string) => ({ code: key.split(".")[0]!, message: "the English message", params: samples[key] });

describe("a run's failures in the page's language", () => {
  it("has a message for each failure the runtime and the engine send values for, in every language, and no other", () => {
    for (const locale of locales) expect(messageKeys(messages[locale].run.failure.codes).sort(), locale).toEqual(Object.keys(samples).sort());
  });

  for (const key of Object.keys(samples)) {
    it(`says ${key} in Russian, with its values marked as data`, () => {
      const { describe: russian, problems } = failures("ru");
      const html = renderToStaticMarkup(createElement(Fragment, null, russian.ownContent(failure(key))));
      expect(problems).toEqual([]);
      expect(html).not.toContain("the English message");
      const latin = html.replace(/<span translate="no">.*?<\/span>/g, " ").match(/[A-Za-z][A-Za-z'’-]*/g) ?? [];
      expect(latin.filter((word) => word !== "GGUF")).toEqual([]);
      // Each value the English message names, the Russian one names too.
      const english = failures("en").describe.error(failure(key));
      for (const [name, value] of Object.entries(samples[key]!)) {
        if (name !== "reason" && name !== "output" && typeof value === "string" && english.includes(value)) expect(russian.error(failure(key))).toContain(value);
      }
      expect(english).not.toBe(russian.error(failure(key)));
    });
  }

  it("counts tokens with the plural forms of Russian, and says a crash's last words only when there were some", () => {
    const { describe: russian } = failures("ru");
    const overflow = (tokens: number) => russian.error({ code: "context-overflow", message: "", params: { ...samples["context-overflow"], tokens } });
    expect(overflow(21)).toContain("— 21 токен,");
    expect(overflow(22)).toContain("— 22 токена,");
    expect(overflow(2126)).toMatch(/^Промпт для модели dreamer — 2\s126 токенов, больше её контекста \(2\s048\): сократите входной текст или увеличьте у модели параметр context_size\.$/);
    expect(russian.error(failure("worker-crashed.exit"))).toBe("Процесс генерации (номер 4242) завершился с кодом 134. Следующий запуск начнёт новый.");
    expect(failures("en").describe.error(failure("worker-crashed.signal"))).toBe(
      "The inference worker (pid 4242) was stopped by the signal SIGKILL: GGML_ASSERT(n_tokens > 0) failed. The next run starts a new one.",
    );
  });

  it("keeps the server's words when a value its message names is missing", () => {
    const { describe: russian } = failures("ru");
    expect(russian.ownContent({ code: "context-overflow", message: "the prompt has 9 tokens", params: { tokens: 9 } })).toBeUndefined();
    expect(russian.error({ code: "context-overflow", message: "the prompt has 9 tokens" })).toBe("the prompt has 9 tokens");
  });

  it("says why a stage did not run with the stages it names as data, a failure it has no details for by its headline alone, and nothing for a cancel", () => {
    const headlines = createTranslator({ locale: "ru", messages: messages.ru, namespace: "run.errors" }) as unknown as MarkupTranslator;
    const details = errorSegments(createTranslator({ locale: "ru", messages: messages.ru, namespace: "run.failure" }) as unknown as ErrorsTranslator);
    const said = (error: { code: string; causeStageId?: string; params?: Record<string, string> }) => describeStageError(headlines, details, { message: "the English message", ...error });
    expect(said({ code: "upstream-failed", causeStageId: "draft", params: { input: "voices" } })).toEqual({
      notRun: true,
      headline: [
        { text: "Не запущен: этап ", data: false },
        { text: "draft", data: true },
        { text: " завершился ошибкой, поэтому не запустился и этап ", data: false },
        { text: "voices", data: true },
        { text: ", ответ которого нужен этому.", data: false },
      ],
    });
    expect(said({ code: "upstream-failed", causeStageId: "draft", params: { input: "draft" } })?.headline.filter((segment) => segment.data)).toEqual([{ text: "draft", data: true }]);
    expect(said({ code: "upstream-failed" })).toEqual({ notRun: true, headline: [{ text: "Не запущен: один из предыдущих этапов завершился ошибкой.", data: false }] });
    expect(said({ code: "something-new" })).toEqual({ notRun: false, headline: [{ text: "Этап завершился ошибкой.", data: false }], details: undefined });
    expect(said({ code: "cancelled" })).toBeUndefined();
  });
});
