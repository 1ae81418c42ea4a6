import path from "node:path";
import { ProjectLlmError, interruption } from "../../common/index.js";
import { addModelEntry, isRemoteEntry, modelNameSchema, modelsUsingFile } from "../../config/index.js";
import { Studio } from "../../core/index.js";
import { displayAddress, downloadModel, downloadedModelEntry, freeModelName, modelNameFromFile, parseModelUri, planDownload, type DownloadProgress } from "../../download/index.js";
import { parse, studioOptions, type Options } from "../args.js";
import { asFailureOfWork, cancelledExitCode } from "../exit-code.js";
import { formatBytes, formatCount, formatDuration, red, table, yellow } from "../format.js";

export const modelsHelp = `Usage: project-llm models [list] [--json] [--config DIR] [--models FILE.yaml] [--models-dir DIR]
       project-llm models pull URI [--name NAME] [--file FILE.gguf] [--json]

list (the default) shows every configured model: present or missing, file size, the GGUF's own facts,
the memory it needs at the configured context size and whether that fits in free RAM (and VRAM on a GPU).

pull downloads a model into the models folder, then adds it to models.yaml (keeping the file's comments)
unless models.yaml names its file already. URI is one of:
  hf:OWNER/REPO/FILE.gguf     a file of a Hugging Face repository (#BRANCH at the end for another branch)
  hf:OWNER/REPO:QUANT         the repository's file of that quantization, such as Q4_K_M
  https://HOST/PATH.gguf      any address (http:// only for this machine)
      --name NAME        the model's name in models.yaml (default: from the file's name)
      --file FILE.gguf   the file's name in the models folder (default: the file's own name)
The free space is checked first. The bytes go to FILE.gguf.download until the file is whole and starts
with a GGUF header. A broken connection is resumed (5 times in a row at most without a byte coming; then
it gives up, and keeps the bytes that came, if any, for the same command to resume).
Ctrl+C stops the download (exit 130) and keeps FILE.gguf.download: the same command resumes it (delete
that file to free the space instead). A progress bar on a terminal; otherwise a line at every 10%.
HF_ENDPOINT (or MODEL_ENDPOINT) names another hub; HF_TOKEN is sent to it for gated models.`;

/** The options of `models`, beside those of every command. */
export const modelsOptions = { name: { type: "string" }, file: { type: "string" } } as const satisfies Options;

export async function modelsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, modelsOptions);
  if (values.help) return void console.log(modelsHelp), 0;
  const [action = "list", ...rest] = positionals;
  if (action === "pull") {
    if (rest.length !== 1) throw new ProjectLlmError("usage", 'give one model URI: project-llm models pull URI (see "project-llm models --help")');
    return pullCommand(rest[0]!, values);
  }
  if (action !== "list" || rest.length > 0) throw new ProjectLlmError("usage", `unknown models command "${positionals.join(" ")}"; run "project-llm models --help"`);
  if (values.name !== undefined || values.file !== undefined) throw new ProjectLlmError("usage", "--name and --file go with models pull");
  return listCommand(values);
}

async function listCommand(values: { json?: boolean; config?: string; models?: string; sessions?: string }): Promise<number> {
  const studio = Studio.open(studioOptions(values));
  try {
    const models = await studio.models();
    if (values.json) {
      console.log(JSON.stringify(models, null, 2));
      return 0;
    }
    // A remote model has no file and takes no memory here: its row says where it is served.
    const rows = models.map((model) =>
      model.remote
        ? [model.name, "remote", `${model.remote.model} @ ${model.remote.baseUrl}`, "-", "-", "-", "-", "-", "-", "-", "-", "-"]
        : [
          model.name + (model.requiredForBase ? " *" : ""),
          model.present ? "present" : red(process.stdout, "MISSING"),
          model.file,
          formatBytes(model.fileSize),
          [model.declaredQuantization ?? "-", model.quantization ?? "?"].join(" / "),
          model.architecture ?? "-",
          formatCount(model.parameters),
          model.trainContextSize ? String(model.trainContextSize) : "-",
          model.present ? (model.hasChatTemplate ? "yes" : "no") : "-",
          formatBytes(model.resident?.ram ?? model.memory?.totalRam),
          model.fitsRam === undefined ? "-" : model.fitsRam ? "yes" : red(process.stdout, "no"),
          model.loaded ? "yes" : "no",
          ],
    );
    console.log(table(["model", "status", "file", "size", "quant (declared / file)", "arch", "params", "ctx", "chat", "memory", "fits", "loaded"], rows));
    if (models.some((model) => model.requiredForBase)) console.log("\n* required by the base pipeline");
    for (const model of models) {
      for (const warning of model.warnings) console.error(`${yellow(process.stderr, "warning:")} ${model.name}: ${warning.message}`);
    }
    return 0;
  } finally {
    await studio.dispose();
  }
}

async function pullCommand(uri: string, values: { name?: string; file?: string; json?: boolean; config?: string; models?: string; sessions?: string }): Promise<number> {
  const source = parseModelUri(uri);
  if (values.name !== undefined && !modelNameSchema.safeParse(values.name).success) {
    throw new ProjectLlmError("usage", `--name "${values.name}" is not a model name: use 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  const studio = Studio.open(studioOptions(values));
  try {
    for (const file of await studio.ensureConfig()) process.stderr.write(`created ${file} from its example\n`);
    const models = await studio.loadModels();
    const controller = new AbortController();
    const onInterrupt = () => controller.abort(interruption("interrupted by Ctrl+C"));
    process.once("SIGINT", onInterrupt);
    const printer = progressPrinter(process.stderr);
    let result;
    try {
      const plan = await planDownload(source, { directory: models.modelsDirectory, fileName: values.file, signal: controller.signal });
      // A name that models.yaml gives to another file is refused before anything is downloaded.
      const taken = values.name === undefined ? undefined : models.config.models[values.name];
      if (taken !== undefined && (isRemoteEntry(taken) || taken.file !== plan.fileName)) {
        const what = isRemoteEntry(taken) ? `served by ${taken.base_url}` : `file ${taken.file}`;
        throw new ProjectLlmError("conflict", `models.yaml has a model named "${values.name}" already (${what}); choose another --name`);
      }
      process.stderr.write(`downloading ${displayAddress(plan.uri)} to ${plan.path}\n`);
      result = await asFailureOfWork(() => downloadModel(plan, { signal: controller.signal, onProgress: printer.progress }));
    } catch (error) {
      if (ProjectLlmError.isInstance(error) && error.code === "cancelled") {
        process.stderr.write(`${error.message}\n`);
        return cancelledExitCode;
      }
      throw error;
    } finally {
      printer.end();
      process.off("SIGINT", onInterrupt);
    }
    const resumed = result.resumedFromBytes > 0 ? ` (resumed from ${formatBytes(result.resumedFromBytes)})` : "";
    console.error(`downloaded ${result.fileName}, ${formatBytes(result.bytes)}${resumed}`);

    const current = await studio.loadModels();
    const configuredAs = modelsUsingFile(current.config, result.fileName);
    let added: string | undefined;
    if (configuredAs.length === 0) {
      added = values.name ?? freeModelName(modelNameFromFile(result.fileName), new Set(Object.keys(current.config.models)));
      await addModelEntry(studio.paths.configDir, await downloadedModelEntry({ name: added, fileName: result.fileName, path: result.path, uri: source.uri }));
    } else if (values.name !== undefined && !configuredAs.includes(values.name)) {
      console.error(`${yellow(process.stderr, "warning:")} models.yaml names ${result.fileName} already, as ${configuredAs.join(", ")}: --name ${values.name} not used`);
    }
    if (values.json) {
      console.log(JSON.stringify({ file: result.fileName, path: result.path, bytes: result.bytes, resumedFromBytes: result.resumedFromBytes, added: added ?? null, configuredAs }, null, 2));
    } else if (added) {
      console.log(`added to ${path.relative(process.cwd(), current.file) || current.file} as ${added}: ${result.path}`);
    } else {
      console.log(`${result.path} is in models.yaml already as ${configuredAs.join(", ")}`);
    }
    return 0;
  } finally {
    await studio.dispose();
  }
}

/**
 * Progress on a terminal: one line rewritten in place (a bar, percent, bytes, speed, time left). Elsewhere
 * (a log, a pipe): a plain line at each tenth of the file, or every 10 s when its size is unknown.
 */
function progressPrinter(stream: NodeJS.WriteStream): { progress: (progress: DownloadProgress) => void; end: () => void } {
  let lastTenth = -1;
  let lastLine = 0;
  let lineOpen = false;
  const progress = (progress: DownloadProgress) => {
    const { downloadedBytes: done, totalBytes: total } = progress;
    if (done === 0 && total === undefined) return;
    const share = total ? done / total : undefined;
    const figures = [
      share === undefined ? undefined : `${Math.floor(share * 100)}%`.padStart(4),
      total ? `${formatBytes(done)} of ${formatBytes(total)}` : formatBytes(done),
      progress.bytesPerSecond > 0 ? `${formatBytes(progress.bytesPerSecond)}/s` : undefined,
      progress.etaMs !== undefined && done < (total ?? Infinity) ? `${formatDuration(progress.etaMs)} left` : undefined,
    ].filter(Boolean);
    if (stream.isTTY) {
      const width = 24;
      const bar = share === undefined ? "" : `[${"#".repeat(Math.round(share * width)).padEnd(width, ".")}] `;
      stream.write(`\r\u001b[2K${`${bar}${figures.join("  ")}`.slice(0, (stream.columns || 80) - 1)}`);
      lineOpen = true;
      return;
    }
    const now = Date.now();
    const tenth = share === undefined ? -1 : Math.floor(share * 10);
    if (share !== undefined ? tenth > lastTenth : now - lastLine >= 10_000) {
      lastTenth = tenth;
      lastLine = now;
      stream.write(`${figures.join("  ")}\n`);
    }
  };
  return {
    progress,
    end: () => {
      if (lineOpen) stream.write("\n");
      lineOpen = false;
    },
  };
}
