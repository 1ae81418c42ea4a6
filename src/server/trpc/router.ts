/**
 * The studio's tRPC API: models, pipelines, runs (with events streamed over server-sent events) and sessions.
 * Every input is checked by zod; ids are checked again by the store before any path is built from them.
 */
import os from "node:os";
import { tracked } from "@trpc/server";
import { z } from "zod";
import { ProjectLlmError } from "../../common/index.js";
import { deletePipelineSource, pipelineNamePattern, resolveModel, pipelineSchema, readPipelineSource, savePipelineSource, validateSetup, type ConfigIssue } from "../../config/index.js";
import { stageModels } from "../../engine/index.js";
import { sessionStatuses } from "../../store/index.js";
import { getAccessControl, mayActOn, roles, userNamePattern, type AccessControl, type Identity } from "../auth/index.js";
import { adminProcedure, editorProcedure, runnerProcedure, router, toTRPCError, viewerProcedure } from "./init.js";

/**
 * `base` or a name of `config/pipelines/`: never a path. (The CLI may run a pipeline file by path; a web
 * request may not name a file.)
 */
const pipelineName = z
  .string()
  .max(64)
  .regex(pipelineNamePattern, 'a pipeline is "base" or a name of config/pipelines/ (letters, digits, "_" and "-")');
const runId = z.string().min(1).max(64);
/** A pipeline object sent whole; its contents are checked by the studio, as a file's are (issues with key paths). */
const inlinePipeline = z.record(z.string(), z.unknown());
const modelName = z.string().min(1).max(128);
const downloadId = z.string().regex(/^[0-9a-f]{12}$/, "a download id is 12 hexadecimal digits");

/** A config problem as data: the editor shows it where it belongs instead of failing. */
function issuesOf(error: unknown): ConfigIssue[] {
  // Not `instanceof`: the studio may come from another bundle of this code (see server/instance.ts).
  const issues = ProjectLlmError.isInstance(error) ? (error.details?.issues as ConfigIssue[] | undefined) : undefined;
  if (issues) return issues;
  throw error;
}

const modelsRouter = router({
  /** Every configured model with its facts, memory needs, fit and whether it is loaded. */
  list: viewerProcedure.query(async ({ ctx }) => {
    const [entries, runtime, models] = await Promise.all([ctx.studio.models(), ctx.studio.runtime(), ctx.studio.loadModels()]);
    const status = await runtime.status();
    // The stages of the base pipeline that use each model (none when the base pipeline does not load).
    const base = await ctx.studio.loadPipeline("base").catch(() => undefined);
    const baseStages = (name: string) => base?.pipeline.stages.filter((stage) => stageModels(stage).includes(name)).map((stage) => stage.id) ?? [];
    return {
      models: entries.map((entry) => ({ ...entry, baseStages: baseStages(entry.name) })),
      modelsDirectory: models.modelsDirectory,
      memorySafety: models.config.memory_safety,
      gpu: status.gpu,
      vram: status.vram ?? null,
      totalRam: os.totalmem(),
    };
  }),
  /** What the inference worker holds now. */
  status: viewerProcedure.query(async ({ ctx }) => {
    const runtime = await ctx.studio.runtime();
    return { ...(await runtime.status()), stats: runtime.stats() };
  }),
  inspect: viewerProcedure.input(z.object({ name: modelName })).query(async ({ ctx, input }) => {
    const [entry] = await ctx.studio.models(input.name);
    if (!entry) throw toTRPCError(new ProjectLlmError("model-missing", `no model "${input.name}" in models.yaml`));
    return entry;
  }),
  /** Unloads one model from the worker's pool (one that calls run on once they end); answers how many pool entries go. */
  unload: editorProcedure.input(z.object({ name: modelName })).mutation(async ({ ctx, input }) => {
    // The file's path is all it needs: no inspection of the file.
    const models = await ctx.studio.loadModels();
    if (!Object.hasOwn(models.config.models, input.name)) throw toTRPCError(new ProjectLlmError("model-missing", `no model "${input.name}" in models.yaml`));
    const resolved = resolveModel(models, input.name);
    // A remote model is held by its server: nothing here to unload (and no path would mean "every model").
    if (resolved.remote) return { unloaded: 0 };
    const runtime = await ctx.studio.runtime();
    return { unloaded: await runtime.unload(resolved.path) };
  }),
  /**
   * The downloads of this server, newest first, with their progress. Pages poll it a few times a second
   * while one runs, rather than subscribe: progress is a snapshot in which a missed value loses nothing,
   * so a poll is all a page needs, and it survives a reload or a second tab with no replay to manage.
   */
  downloads: viewerProcedure.query(({ ctx }) => ctx.downloads.list()),
  /** Starts a download into the models folder: `hf:OWNER/REPO/FILE.gguf`, `hf:OWNER/REPO:QUANT` or an https address. */
  startDownload: editorProcedure
    .input(z.object({ uri: z.string().min(1).max(2048), fileName: z.string().max(200).optional() }))
    .mutation(({ ctx, input }) => ctx.downloads.start(input)),
  cancelDownload: editorProcedure.input(z.object({ id: downloadId })).mutation(({ ctx, input }) => ({ cancelled: ctx.downloads.cancel(input.id) })),
  /** Starts a failed or cancelled download again, in its place, from the address it was given (which pages never see whole). */
  retryDownload: editorProcedure.input(z.object({ id: downloadId })).mutation(({ ctx, input }) => ctx.downloads.retry(input.id)),
  /** Takes a download that has ended off the list. */
  dismissDownload: editorProcedure.input(z.object({ id: downloadId })).mutation(({ ctx, input }) => ({ dismissed: ctx.downloads.dismiss(input.id) })),
  /** Adds a finished download to models.yaml under `name` (a free model name), keeping the file's comments. */
  addDownloaded: editorProcedure.input(z.object({ id: downloadId, name: modelName })).mutation(({ ctx, input }) => ctx.downloads.addToModels(input.id, input.name)),
});

const pipelinesRouter = router({
  /** Every pipeline: its name, title, stage count, and whether its file parses. */
  list: viewerProcedure.query(async ({ ctx }) => {
    const names = await ctx.studio.listPipelines();
    return Promise.all(
      names.map(async (name) => {
        try {
          const loaded = await ctx.studio.loadPipeline(name);
          return { name, title: loaded.pipeline.name ?? null, description: loaded.pipeline.description ?? null, stages: loaded.pipeline.stages.length, error: null };
        } catch (error) {
          return { name, title: null, description: null, stages: 0, error: error instanceof Error ? error.message : String(error) };
        }
      }),
    );
  }),
  /** A pipeline with its file's text and version; a file that does not parse comes back with its issues. */
  get: viewerProcedure.input(z.object({ name: pipelineName })).query(async ({ ctx, input }) => {
    await ctx.studio.ensureConfig();
    const source = await readPipelineSource(ctx.studio.paths.configDir, input.name);
    if (source.text === null) throw toTRPCError(new ProjectLlmError("pipeline-not-found", `no pipeline "${input.name}" (${source.file} does not exist)`));
    try {
      const loaded = await ctx.studio.loadPipeline(input.name);
      return { ...source, pipeline: loaded.pipeline, issues: [] as ConfigIssue[] };
    } catch (error) {
      return { ...source, pipeline: null, issues: issuesOf(error) };
    }
  }),
  /** Validates a pipeline being edited (not yet saved) against the models config. */
  validate: viewerProcedure.input(z.object({ name: pipelineName, pipeline: pipelineSchema })).query(async ({ ctx, input }) => {
    const models = await ctx.studio.loadModels();
    return validateSetup({ models, pipeline: { name: input.name, pipeline: input.pipeline, file: `pipeline ${input.name}`, root: [] }, isBase: input.name === "base" });
  }),
  /**
   * Writes a pipeline, keeping the file's comments and key order. `baseVersion` is the version it was
   * opened at (null for a new pipeline): a file changed since is not overwritten (`CONFLICT`).
   */
  save: editorProcedure
    .input(z.object({ name: pipelineName, pipeline: pipelineSchema, baseVersion: z.string().max(64).nullable() }))
    .mutation(async ({ ctx, input }) => {
      await ctx.studio.ensureConfig();
      const saved = await savePipelineSource(ctx.studio.paths.configDir, input.name, input.pipeline, { baseVersion: input.baseVersion });
      return { name: saved.name, file: saved.file, version: saved.version! };
    }),
  delete: editorProcedure.input(z.object({ name: pipelineName, baseVersion: z.string().max(64) })).mutation(async ({ ctx, input }) => {
    await deletePipelineSource(ctx.studio.paths.configDir, input.name, input.baseVersion);
    return { deleted: input.name };
  }),
});

const runsRouter = router({
  /**
   * Starts a run; answers its id once its session exists (a bad config fails here, with its issues). A
   * client may name the run (`id`, a new run id) and follow its events while this call is on its way.
   */
  start: runnerProcedure
    .input(
      z.object({
        /** A pipeline's name, or the pipeline itself (the editor's canvas, unsaved): checked as a file is. */
        pipeline: z.union([pipelineName, inlinePipeline]),
        /** With a pipeline sent whole: the saved pipeline it was edited from. */
        basedOn: pipelineName.optional(),
        input: z.string().max(1_000_000),
        id: runId.optional(),
        /** False: every stage is computed, none served from or stored in the stage cache. */
        cache: z.boolean().optional(),
      }),
    )
    .mutation(({ ctx, input }) => ctx.runs.start({ ...input, user: ctx.identity.user })),
  /**
   * The plan of a run before it starts (see core/plan.ts): what it loads, keeps and unloads, its memory
   * against free RAM and VRAM, and its time from measured rates. A bad config fails as `start` does.
   */
  plan: viewerProcedure
    .input(
      z.object({
        pipeline: z.union([pipelineName, inlinePipeline]),
        basedOn: pipelineName.optional(),
        /** The run's input: the stages the stage cache would serve for it are marked `cached`. */
        input: z.string().max(1_000_000).optional(),
        /** False: the run would not use the stage cache (nothing is marked `cached`). */
        cache: z.boolean().optional(),
      }),
    )
    .query(({ ctx, input }) =>
      ctx.studio.plan({
        ...(typeof input.pipeline === "string" ? { pipeline: input.pipeline } : { inline: { pipeline: input.pipeline, basedOn: input.basedOn } }),
        ...(input.input === undefined ? {} : { input: input.input }),
        ...(input.cache === undefined ? {} : { cache: input.cache }),
      }),
    ),
  /** Cancels a run in progress: one's own, or anyone's for an admin. */
  cancel: runnerProcedure.input(z.object({ id: runId })).mutation(({ ctx, input }) => {
    assertMayActOn(ctx.identity, ctx.runs.owner(input.id), "cancel");
    return { cancelled: ctx.runs.cancel(input.id) };
  }),
  /** Runs in this server's memory (in progress or recently ended), newest first. */
  list: viewerProcedure.query(({ ctx }) => ctx.runs.list()),
  /**
   * The run's events, each with its sequence number as the event id: a client that reconnects with the
   * last id it saw gets the events it missed, then the live ones. Ends after `run-end`.
   */
  events: viewerProcedure
    .input(
      z.object({
        id: runId,
        lastEventId: z.string().max(20).nullish(),
        /** For a run that has ended: `recorded` replays it at the pace it ran (pauses capped at a second). */
        pace: z.enum(["instant", "recorded"]).optional(),
      }),
    )
    .subscription(async function* ({ ctx, input, signal }) {
      const afterSeq = input.lastEventId ? Number.parseInt(input.lastEventId, 10) : undefined;
      try {
        for await (const event of ctx.runs.events(input.id, { afterSeq: Number.isFinite(afterSeq) ? afterSeq : undefined, signal, pace: input.pace })) {
          yield tracked(String(event.seq), event);
        }
      } catch (error) {
        // Thrown while streaming, past the error middleware: mapped here (an unknown run is NOT_FOUND).
        throw toTRPCError(error);
      }
    }),
});

const sessionsRouter = router({
  list: viewerProcedure
    .input(
      z.object({
        query: z.string().max(200).optional(),
        status: z.enum(sessionStatuses).optional(),
        pipeline: z.string().max(64).optional(),
        parentRunId: runId.optional(),
        /** Only the runs of this user ("local" for the runs made without access control). */
        user: z.string().max(64).optional(),
        limit: z.number().int().min(1).max(200).default(50),
        offset: z.number().int().min(0).default(0),
        order: z.enum(["newest", "oldest"]).default("newest"),
      }),
    )
    // While the index is rebuilt from the files (seconds at 100,000 sessions) a page shows what is read so
    // far, marked `indexing`, rather than waiting for it all.
    .query(({ ctx, input }) => ctx.studio.sessions.list({ ...input, partial: true })),
  get: viewerProcedure.input(z.object({ id: runId })).query(({ ctx, input }) => ctx.studio.sessions.get(input.id)),
  tree: viewerProcedure.input(z.object({ id: runId })).query(({ ctx, input }) => ctx.studio.sessions.tree(input.id)),
  /** Reruns a session from a stage as a new branch (optionally with a new input); answers the new run's id. */
  rerun: runnerProcedure
    .input(
      z.object({ id: runId, fromStage: z.string().min(1).max(64), input: z.string().max(1_000_000).optional(), newId: runId.optional(), cache: z.boolean().optional() }),
    )
    .mutation(async ({ ctx, input }) => {
      assertMayActOn(ctx.identity, (await ctx.studio.sessions.get(input.id)).user, "rerun");
      return ctx.runs.rerun(input.id, { fromStage: input.fromStage, input: input.input, id: input.newId, user: ctx.identity.user, cache: input.cache });
    }),
  /**
   * Deletes a session: one's own, or anyone's for an admin. As Open WebUI lets its users delete their own
   * chats: a session holds what its user typed, and they may take it back; others' are an admin's to remove.
   */
  delete: runnerProcedure.input(z.object({ id: runId })).mutation(async ({ ctx, input }) => {
    const session = await ctx.studio.sessions.get(input.id);
    assertMayActOn(ctx.identity, session.user, "delete");
    // A run that goes on would write its session again at its next checkpoint: it is cancelled first.
    if (session.status === "running") {
      throw new ProjectLlmError("conflict", `run ${input.id} is still going: cancel it, then delete its session`, { details: { params: { reason: "running", id: input.id } } });
    }
    await ctx.studio.deleteSession(input.id);
    return { deleted: input.id };
  }),
});

const userName = z.string().regex(userNamePattern, 'a user name is 1-32 letters, digits, "_", "." or "-"');

/** The context's access control, else the process's own. */
const accessOf = (ctx: { access?: AccessControl }) => ctx.access ?? getAccessControl();

const authRouter = router({
  /** Who is asking, and whether the studio asks at all (no login or logout to show when it does not). */
  me: viewerProcedure.query(({ ctx }) => ({ ...ctx.identity, accessControl: accessOf(ctx).enabled })),
  /** Every user's name (for History's filter), with "local", the user of runs made without access control. */
  names: viewerProcedure.query(async ({ ctx }) => ["local", ...(await accessOf(ctx).users.list()).map((user) => user.name)]),
});

const usersRouter = router({
  list: adminProcedure.query(({ ctx }) => accessOf(ctx).users.list()),
  /** Adds a user; the token in the answer is shown once and kept nowhere. */
  add: adminProcedure.input(z.object({ name: userName, role: z.enum(roles) })).mutation(({ ctx, input }) => accessOf(ctx).users.add(input.name, input.role)),
  revoke: adminProcedure.input(z.object({ name: userName })).mutation(async ({ ctx, input }) => {
    if (input.name === ctx.identity.user) throw toTRPCError(new ProjectLlmError("usage", "you cannot revoke your own user here; another admin can, or the CLI"));
    return accessOf(ctx).users.revoke(input.name);
  }),
});

function assertMayActOn(identity: Identity, owner: string | undefined, action: "cancel" | "rerun" | "delete"): void {
  if (mayActOn(identity, owner)) return;
  throw toTRPCError(new ProjectLlmError("forbidden", `only its user (${owner ?? "local"}) or an admin may ${action} this run`, { details: { params: { user: owner ?? "local" } } }));
}

export const appRouter = router({
  auth: authRouter,
  users: usersRouter,
  models: modelsRouter,
  pipelines: pipelinesRouter,
  runs: runsRouter,
  sessions: sessionsRouter,
});

export type AppRouter = typeof appRouter;
