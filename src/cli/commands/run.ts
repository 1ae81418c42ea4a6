import { readFile } from "node:fs/promises";
import { ProjectLlmError } from "../../common/index.js";
import { Studio, type RunPlan } from "../../core/index.js";
import { formatPlan } from "./plan.js";
import type { RunEvent } from "../../engine/index.js";
import { parse, pipelineMode, readStdin, studioOptions, type Options } from "../args.js";
import { cancelledExitCode, exitCodeOfRun } from "../exit-code.js";
import { createEventRenderer, writeWarning } from "../render-events.js";

export const runHelp = `Usage: project-llm [run] [--input TEXT | --input-file FILE | < stdin] [--pipeline NAME|FILE]
                   [--mode base|manual] [--models FILE.yaml] [--no-cache] [--json]

Runs a pipeline and keeps the run as a session in the sessions folder. "run" may be left out, as in
  project-llm --models config/models.yaml --pipeline config/pipeline.yaml --mode base --input "Hi" --json
  -i, --input TEXT        the user's input (or the words after "run": project-llm run Once upon a time)
  -f, --input-file FILE   read the input from a file
  -p, --pipeline NAME     "base" (default: config/pipeline.yaml), NAME (config/pipelines/NAME.yaml),
                          or a path to a pipeline file
      --mode MODE         base: the file's base_pipeline, refused while a model it marks
                          required_for_base is missing; manual: the pipeline the file holds, whatever
                          its top key. Default: base for the base pipeline, manual for any other
      --models FILE.yaml  the models file (default config/models.yaml); its models_directory is relative
                          to the folder above the file's own. --models DIR (a folder) is --models-dir DIR
      --models-dir DIR    the folder of GGUF files (over models_directory)
      --no-cache          compute every stage: none is served from the stage cache (a deterministic
                          stage, temperature 0 or a fixed seed, whose model, parameters, prompt and
                          inputs match a stage computed before), nor stored in it
      --json              print the session record as JSON instead of streaming text
Each stage's tokens stream under a stage header; config warnings and figures go to stderr; Ctrl+C
cancels the run (the session is kept, as cancelled).
A run whose models do not fit in free memory is refused before any load, with its plan (see
"project-llm plan --help").
Exit codes: 0 success, 1 the run failed, 2 bad config or usage (or a plan that does not fit), 130
cancelled by Ctrl+C.`;

/** Runs with Ctrl+C cancelling the run rather than killing the process mid-write. */
export async function withCancelOnInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInterrupt = () => {
    if (controller.signal.aborted) process.exit(cancelledExitCode);
    process.stderr.write("\ncancelling… (Ctrl+C again to quit at once)\n");
    controller.abort(new ProjectLlmError("cancelled", "cancelled by the user"));
  };
  process.on("SIGINT", onInterrupt);
  try {
    return await work(controller.signal);
  } finally {
    process.off("SIGINT", onInterrupt);
  }
}

function printWarnings(event: RunEvent): void {
  if (event.type !== "run-start") return;
  for (const warning of event.warnings ?? []) writeWarning(process.stderr, warning);
}

/** The options of a run, beside those of every command. */
export const runOptions = {
  input: { type: "string", short: "i" },
  "input-file": { type: "string", short: "f" },
  pipeline: { type: "string", short: "p" },
  mode: { type: "string" },
  "no-cache": { type: "boolean" },
} as const satisfies Options;

/** A run; the words after `run` (`project-llm run Once upon a time`) are its input when no other is given. */
export async function runCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, runOptions);
  if (values.help) return void console.log(runHelp), 0;
  const mode = pipelineMode(values.mode);
  let input: string;
  if (values.input !== undefined) input = values.input;
  else if (values["input-file"] !== undefined) input = await readFile(values["input-file"], "utf8");
  else if (positionals.length > 0) input = positionals.join(" ");
  else if (!process.stdin.isTTY) input = await readStdin();
  else throw new ProjectLlmError("usage", "no input: give --input TEXT, --input-file FILE, or pipe text on stdin");
  if (input.trim().length === 0) throw new ProjectLlmError("usage", "the input is empty");

  const studio = Studio.open(studioOptions(values));
  try {
    const created = await studio.ensureConfig();
    for (const file of created) process.stderr.write(`created ${file} from its example\n`);
    // With --json, stdout is the session alone; the config warnings still reach the user, on stderr.
    const onEvent = values.json ? printWarnings : createEventRenderer();
    const session = await withCancelOnInterrupt((signal) => studio.run({ pipeline: values.pipeline, mode, input, cache: !values["no-cache"], signal, onEvent })).catch((error: unknown) => {
      // A refused run shows its plan: what it would load, and where memory runs out.
      if (ProjectLlmError.isInstance(error) && error.code === "plan-does-not-fit" && error.details?.plan) process.stderr.write(`${formatPlan(error.details.plan as RunPlan)}
`);
      throw error;
    });
    if (values.json) console.log(JSON.stringify(session, null, 2));
    return exitCodeOfRun(session.status);
  } finally {
    await studio.dispose();
  }
}
