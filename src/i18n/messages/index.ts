/**
 * The pages' messages, one JSON file per area and language (`en/run.json` holds the namespace `run`).
 * English is the reference: its shape is the type every lookup is checked against (see global.d.ts), and
 * a test checks that Russian has exactly the same keys and placeholders.
 */
import enAuth from "./en/auth.json";
import enCommon from "./en/common.json";
import enEditor from "./en/editor.json";
import enErrors from "./en/errors.json";
import enHistory from "./en/history.json";
import enModels from "./en/models.json";
import enRun from "./en/run.json";
import ruAuth from "./ru/auth.json";
import ruCommon from "./ru/common.json";
import ruEditor from "./ru/editor.json";
import ruErrors from "./ru/errors.json";
import ruHistory from "./ru/history.json";
import ruModels from "./ru/models.json";
import ruRun from "./ru/run.json";
import type { Locale } from "../locales";

const en = { common: enCommon, run: enRun, history: enHistory, editor: enEditor, models: enModels, errors: enErrors, auth: enAuth };
export type Messages = typeof en;

export const messages: Record<Locale, Messages> = {
  en,
  ru: { common: ruCommon, run: ruRun, history: ruHistory, editor: ruEditor, models: ruModels, errors: ruErrors, auth: ruAuth },
};
