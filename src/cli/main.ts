#!/usr/bin/env node
/**
 * `project-llm`'s entry. A command that will run a model forks the inference worker before the CLI's own
 * modules load (cli.ts, ~190 modules: ~0.3 s here), so that the worker's start overlaps them and the
 * configs' reading (see runtime/worker-process.ts). Which command it is, is guessed from the words alone:
 * a wrong guess costs time, never a result (a worker not taken exits with the CLI).
 */
import { isatty } from "node:tty";
import { fileURLToPath } from "node:url";
import { prestartWorker } from "../runtime/worker-process.js";
import { runsModels } from "./runs-models.js";

// `isatty`, not `process.stdin`: that would open stdin for every command.
if (runsModels(process.argv.slice(2), !isatty(0))) prestartWorker(fileURLToPath(new URL("../runtime/worker.js", import.meta.url)));
await import("./cli.js");
