import { ProjectLlmError } from "../../common/index.js";
import { Studio } from "../../core/index.js";
import { parse, pipelineMode, studioOptions, type Options } from "../args.js";
import { formatConfigIssue as formatIssue } from "../../config/index.js";
import { green } from "../format.js";
import { writeWarning } from "../render-events.js";

export const validateHelp = `Usage: project-llm validate [--pipeline NAME|FILE] [--mode base|manual] [--config DIR] [--models FILE.yaml]

Checks models.yaml and the pipelines (all of them, or the one named) before any model loads:
schema, references, cycles, model files (inside the models folder, GGUF); warns of a placeholder in
single braces ({input} for {{input}}) and a declared quantization that differs from the file's.
--mode reads the pipeline as "project-llm run --mode" would. Exit 2 on an error.`;

/** The options of `validate`, beside those of every command. */
export const validateOptions = { pipeline: { type: "string", short: "p" }, mode: { type: "string" } } as const satisfies Options;

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, validateOptions);
  if (positionals.length > 0) throw new ProjectLlmError("usage", `validate takes no words, not "${positionals.join(" ")}": name a pipeline with --pipeline NAME|FILE`);
  if (values.help) return void console.log(validateHelp), 0;
  const mode = pipelineMode(values.mode);
  const studio = Studio.open(studioOptions(values));
  try {
    const { errors, warnings } = await studio.validate(values.pipeline, mode);
    for (const warning of warnings) writeWarning(process.stderr, warning);
    for (const error of errors) process.stderr.write(`${formatIssue(error)}\n`);
    if (values.json) console.log(JSON.stringify({ ok: errors.length === 0, errors, warnings }, null, 2));
    if (errors.length > 0) return 2;
    if (!values.json) console.log(green(process.stdout, `ok: configuration is valid${warnings.length ? ` (${warnings.length} warning${warnings.length > 1 ? "s" : ""})` : ""}`));
    return 0;
  } finally {
    await studio.dispose();
  }
}
