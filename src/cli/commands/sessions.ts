import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { ProjectLlmError } from "../../common/index.js";
import { generationParamsSchema, type GenerationParams } from "../../config/index.js";
import { Studio } from "../../core/index.js";
import { ranName, sessionFiles, sessionToText, type ExportFile, type SessionTreeNode } from "../../store/index.js";
import { parse, studioOptions, type Options } from "../args.js";
import { exitCodeOfRun } from "../exit-code.js";
import { formatDuration, table } from "../format.js";
import { createEventRenderer } from "../render-events.js";
import { withCancelOnInterrupt } from "./run.js";

export const sessionsHelp = `Usage: project-llm sessions <command>

  list [--search TEXT] [--status S] [--pipeline NAME] [--limit N] [--offset N] [--json]
  show ID [--json | --text]         a session: input, each stage's output, figures
  rerun ID --from STAGE [--input TEXT] [--param STAGE.KEY=VALUE ...] [--no-cache] [--json]
                                    a new branch reusing every stage not downstream of STAGE;
                                    --param sets a generation parameter of a stage (repeatable),
                                    e.g. --param ending.temperature=0.2; Ctrl+C cancels it
                                    (exit 130, the branch kept as cancelled); --no-cache computes
                                    the stages it reruns even when the stage cache holds them
  tree ID                           the family tree of a session's branches
  export ID [--dir DIR] [--force]   writes the session as files to read: input.txt, one file per
                                    stage and per model (01-draft.txt, 02-voices/1-storyteller.txt),
                                    final.txt and session.json, in DIR (default: ./ID); --force
                                    writes into a folder that is not empty
  delete ID                         deletes the session and the stage cache entries it stored
  check [--json]                    reads every session file and lists those that cannot be read
                                    (torn JSON, not a session, a name that is not a run id) with
                                    what is wrong; exit 1 when there is any
  reindex                           rebuilds the index of the sessions folder from the session
                                    files (progress on a terminal, then a summary line), and removes
                                    the stage cache entries of sessions that are gone`;

const sessionCommands = ["list", "show", "rerun", "tree", "export", "delete", "check", "reindex"] as const;
const isSessionCommand = (word: string): word is (typeof sessionCommands)[number] => (sessionCommands as readonly string[]).includes(word);
const statusOrder = ["running", "completed", "failed", "cancelled", "interrupted"] as const;

/** The options of `sessions`, beside those of every command. */
export const sessionsOptions = {
  search: { type: "string", short: "s" },
  status: { type: "string" },
  pipeline: { type: "string", short: "p" },
  limit: { type: "string" },
  offset: { type: "string" },
  text: { type: "boolean" },
  from: { type: "string" },
  input: { type: "string", short: "i" },
  param: { type: "string", multiple: true },
  dir: { type: "string" },
  force: { type: "boolean" },
  "no-cache": { type: "boolean" },
} as const satisfies Options;

export async function sessionsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, sessionsOptions);
  const [sub, id, ...extra] = positionals;
  if (!sub || sub === "help" || values.help) return void console.log(sessionsHelp), 0;
  if (!isSessionCommand(sub)) {
    throw new ProjectLlmError("usage", `unknown sessions command "${sub}" (${sessionCommands.join(", ")})`);
  }
  const unexpected = sub === "list" || sub === "check" || sub === "reindex" ? positionals.slice(1) : extra;
  if (unexpected.length > 0) throw new ProjectLlmError("usage", `sessions ${sub}: unexpected "${unexpected.join(" ")}" (see "project-llm sessions --help")`);
  const studio = Studio.open(studioOptions(values));
  try {
    const needId = () => {
      if (!id) throw new ProjectLlmError("usage", `sessions ${sub} needs a session id (see "project-llm sessions list")`);
      return id;
    };
    switch (sub) {
      case "list": {
        if (values.status && !(statusOrder as readonly string[]).includes(values.status)) {
          throw new ProjectLlmError("usage", `--status must be one of ${statusOrder.join(", ")}`);
        }
        const page = await studio.sessions.list({
          query: values.search,
          status: values.status as (typeof statusOrder)[number] | undefined,
          pipeline: values.pipeline,
          limit: numberOption(values.limit, "--limit", 20),
          offset: numberOption(values.offset, "--offset", 0),
        });
        if (values.json) return void console.log(JSON.stringify(page, null, 2)), 0;
        if (page.total === 0) return void console.log('no sessions yet: run one with project-llm run --input "Once upon a time"'), 0;
        console.log(
          table(
            ["id", "pipeline", "status", "started", "duration", "parent", "input"],
            page.items.map((item) => [
              item.id,
              // A call of the OpenAI-compatible API on a model ran a one-stage pipeline of its own: the model names it.
              item.api ? `${ranName(item)} (api)` : item.pipelineName,
              item.status,
              item.startedAt.replace("T", " ").slice(0, 19),
              formatDuration(item.durationMs),
              item.parentRunId ?? "",
              item.inputPreview.replace(/\s+/g, " ").slice(0, 40),
            ]),
          ),
        );
        console.log(`${page.items.length} of ${page.total}`);
        if (page.damaged) console.log(`and ${countOf(page.damaged.length, "damaged session file")}: see "project-llm sessions check"`);
        return 0;
      }
      case "show": {
        const session = await studio.sessions.get(needId());
        if (values.json) console.log(JSON.stringify(session, null, 2));
        else if (values.text) console.log(session.finalAnswer ?? "");
        else console.log(sessionToText(session));
        return 0;
      }
      case "rerun": {
        if (!values.from) throw new ProjectLlmError("usage", "sessions rerun needs --from STAGE");
        const session = await withCancelOnInterrupt((signal) =>
          studio.rerun(needId(), { fromStage: values.from!, input: values.input, params: parseParams(values.param ?? []), cache: !values["no-cache"], signal, onEvent: values.json ? undefined : createEventRenderer() }),
        );
        if (values.json) console.log(JSON.stringify(session, null, 2));
        return exitCodeOfRun(session.status);
      }
      case "tree": {
        const tree = await studio.sessions.tree(needId());
        if (values.json) return void console.log(JSON.stringify(tree, null, 2)), 0;
        const lines: string[] = [];
        const draw = (node: SessionTreeNode, prefix: string, last: boolean, root: boolean) => {
          const label = `${node.id}  ${node.status}${node.rerunFromStage ? `  (rerun from ${node.rerunFromStage}${node.inputEdited ? ", edited input" : ""})` : ""}${node.id === id ? "  ◀" : ""}`;
          lines.push(root ? label : `${prefix}${last ? "└─ " : "├─ "}${label}`);
          node.children.forEach((child, index) => draw(child, root ? "" : `${prefix}${last ? "   " : "│  "}`, index === node.children.length - 1, false));
        };
        draw(tree, "", true, true);
        console.log(lines.join("\n"));
        return 0;
      }
      case "export": {
        const session = await studio.sessions.get(needId());
        const folder = path.resolve(values.dir ?? session.id);
        const files = await writeExport(folder, sessionFiles(session), { force: values.force === true });
        if (values.json) return void console.log(JSON.stringify({ dir: folder, files }, null, 2)), 0;
        console.log(`wrote session ${session.id} to ${folder}:`);
        for (const file of files) console.log(`  ${file}`);
        return 0;
      }
      case "delete":
        await studio.deleteSession(needId());
        console.log(`deleted ${id}`);
        return 0;
      case "check": {
        const progress = progressLine(process.stderr, "checking");
        const damaged = await studio.sessions.check({ onProgress: progress.update });
        progress.end();
        const folder = studio.paths.sessionsDir;
        if (values.json) console.log(JSON.stringify({ dir: folder, damaged }, null, 2));
        else if (damaged.length === 0) console.log(`no damaged session files in ${folder} (${countOf(progress.total(), "session file")} read)`);
        else {
          console.log(table(["file", "problem", "detail"], damaged.map((item) => [item.file, item.problem, item.detail.replace(/\s+/g, " ").slice(0, 100)])));
          console.log(`${countOf(damaged.length, "damaged session file")} in ${folder}: restore each from a backup, or move it out of the folder; History lists them until then`);
        }
        return damaged.length > 0 ? 1 : 0;
      }
      case "reindex": {
        const started = performance.now();
        const progress = progressLine(process.stderr, "indexing");
        const report = await studio.sessions.rebuildIndex({ onProgress: progress.update });
        await studio.sessions.flush();
        progress.end();
        // With the index rebuilt, the stage cache's entries of sessions that are gone (files removed by
        // hand, deletions whose cleanup failed) go too: they hold those sessions' text.
        const pruned = await studio.stageCache.prune();
        const damaged = report.damaged.length > 0 ? `; ${countOf(report.damaged.length, "damaged file")} left out (see "project-llm sessions check")` : "";
        const stale = pruned.removed > 0 ? `; ${countOf(pruned.removed, "stage cache entry", "stage cache entries")} of sessions that are gone removed` : "";
        console.log(`indexed ${countOf(report.indexed, "session")} in ${studio.paths.sessionsDir} in ${formatDuration(performance.now() - started)}${damaged}${stale}`);
        return 0;
      }
    }
  } finally {
    await studio.dispose();
  }
}

function countOf(count: number, noun: string, plural = `${noun}s`): string {
  return `${count.toLocaleString("en")} ${count === 1 ? noun : plural}`;
}

/**
 * Progress of reading the session files: one line rewritten in place on a terminal (at most every
 * 100 ms), nothing elsewhere (a script reads the summary line).
 */
function progressLine(stream: NodeJS.WriteStream, verb: string): { update: (read: number, total: number) => void; end: () => void; total: () => number } {
  let shownAt = 0;
  let lineOpen = false;
  let files = 0;
  return {
    update(read, total) {
      files = total;
      if (!stream.isTTY) return;
      const now = Date.now();
      if (now - shownAt < 100 && read < total) return;
      shownAt = now;
      const share = total === 0 ? 100 : Math.floor((read / total) * 100);
      stream.write(`\r\u001b[2K${verb} session files: ${read.toLocaleString("en")} of ${total.toLocaleString("en")} (${share}%)`);
      lineOpen = true;
    },
    end() {
      if (lineOpen) stream.write("\r\u001b[2K");
      lineOpen = false;
    },
    total: () => files,
  };
}

/**
 * Writes an exported session's files into `folder` (created when absent) and returns their paths, relative
 * to it. A folder that holds anything is refused unless `force`; a path that would leave the folder is
 * refused before anything is written.
 */
async function writeExport(folder: string, files: ExportFile[], options: { force: boolean }): Promise<string[]> {
  const targets = files.map((file) => {
    const target = path.resolve(folder, file.path);
    const relative = path.relative(folder, target);
    if (relative === "" || relative.startsWith("..") || path.isAbsolute(relative)) {
      throw new ProjectLlmError("internal", `export file "${file.path}" would be written outside ${folder}`);
    }
    return { target, file };
  });
  const present = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    if (error.code === "ENOTDIR") throw new ProjectLlmError("usage", `${folder} is a file, not a folder: choose another --dir`);
    throw error;
  });
  if (present.length > 0 && !options.force) {
    throw new ProjectLlmError("usage", `${folder} is not empty: choose another --dir, or add --force to write the session's files over what is there`);
  }
  for (const { target, file } of targets) {
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, file.text);
  }
  return files.map((file) => file.path);
}

/** `--param STAGE.KEY=VALUE` options as parameters per stage, checked against the schema. */
function parseParams(items: string[]): Record<string, GenerationParams> {
  const byStage: Record<string, Record<string, unknown>> = {};
  for (const item of items) {
    const match = /^([A-Za-z][A-Za-z0-9_-]*)\.([a-z_]+)=(.*)$/s.exec(item);
    if (!match) throw new ProjectLlmError("usage", `--param "${item}": expected STAGE.KEY=VALUE, like ending.temperature=0.2`);
    const [, stage, key, text] = match;
    (byStage[stage!] ??= {})[key!] = parseYaml(text!);
  }
  const result: Record<string, GenerationParams> = {};
  for (const [stage, params] of Object.entries(byStage)) {
    const parsed = generationParamsSchema.safeParse(params);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ProjectLlmError("usage", `--param ${stage}.${issue.path.join(".") || Object.keys(params).join(",")}: ${issue.message}`);
    }
    result[stage] = parsed.data;
  }
  return result;
}

function numberOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new ProjectLlmError("usage", `${name} must be a whole number, got "${value}"`);
  return number;
}
