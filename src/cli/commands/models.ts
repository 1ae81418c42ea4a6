import { Studio } from "../../core/index.js";
import { parse, studioOptions } from "../args.js";
import { formatBytes, formatCount, red, table, yellow } from "../format.js";

export const modelsHelp = `Usage: project-llm models [--json] [--config DIR] [--models FILE.yaml] [--models-dir DIR]

Lists every configured model: present or missing, file size, the GGUF's own facts, the memory it
needs at the configured context size and whether that fits in free RAM (and VRAM on a GPU).`;

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  if (values.help) return void console.log(modelsHelp), 0;
  const studio = Studio.open(studioOptions(values));
  try {
    const models = await studio.models();
    if (values.json) {
      console.log(JSON.stringify(models, null, 2));
      return 0;
    }
    const rows = models.map((model) => [
      model.name + (model.requiredForBase ? " *" : ""),
      model.present ? "present" : red(process.stdout, "MISSING"),
      model.file,
      formatBytes(model.fileSize),
      [model.declaredQuantization ?? "-", model.quantization ?? "?"].join(" / "),
      model.architecture ?? "-",
      formatCount(model.parameters),
      model.trainContextSize ? String(model.trainContextSize) : "-",
      model.present ? (model.hasChatTemplate ? "yes" : "no") : "-",
      formatBytes(model.memory?.totalRam),
      model.fitsRam === undefined ? "-" : model.fitsRam ? "yes" : red(process.stdout, "no"),
      model.loaded ? "yes" : "no",
    ]);
    console.log(table(["model", "status", "file", "size", "quant (declared / file)", "arch", "params", "ctx", "chat", "memory", "fits", "loaded"], rows));
    if (models.some((model) => model.requiredForBase)) console.log("\n* required by the base pipeline");
    for (const model of models) {
      for (const warning of model.warnings ?? []) console.error(`${yellow(process.stderr, "warning:")} ${model.name}: ${warning}`);
    }
    return 0;
  } finally {
    await studio.dispose();
  }
}
