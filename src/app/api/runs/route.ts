import { z } from "zod";
import { pipelineNamePattern } from "@/config/index";
import { getServer } from "@/server/instance";
import { readText, runBodyLimit } from "@/server/body-limit";
import { authorize, jsonError, usageError } from "@/server/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const name = z.string().regex(pipelineNamePattern, 'is "base" or the name of a pipeline in config/pipelines/ (letters, digits, "_" and "-")');
const body = z.strictObject({
  // `base` or a name of config/pipelines/ (never a path), or a pipeline object sent whole (checked as a
  // pipeline file is; it names models, never files).
  pipeline: z.union([name, z.record(z.string(), z.unknown())]).default("base"),
  // With a pipeline sent whole: the saved pipeline it was edited from (the session's pipeline name).
  basedOn: name.optional(),
  input: z.string().max(1_000_000),
  // The run's id, when the caller chose it (a new one, in the form the studio gives them): the browser
  // names its next run and follows it over tRPC before it starts.
  id: z.string().max(64).optional(),
  // false: every stage is computed, none served from or stored in the stage cache.
  cache: z.boolean().optional(),
});

/**
 * Starts a run: `{"pipeline": NAME, "input": TEXT}` (and optionally `"id"`: a new run id the caller chose)
 * answers `{"id": ...}` (202), then follow `/api/runs/ID/events`. `"pipeline"` may be the pipeline object
 * itself, `{"stages": [...]}`, as a pipeline file holds it.
 */
export async function POST(request: Request): Promise<Response> {
  const identity = await authorize(request, "runner");
  if (identity instanceof Response) return identity;
  // JSON only: a cross-site HTML form cannot send it without the browser asking first.
  if (!request.headers.get("content-type")?.toLowerCase().startsWith("application/json")) {
    return usageError('send the body as JSON with "Content-Type: application/json": {"pipeline": "base", "input": "..."}', 415);
  }
  let text: string;
  try {
    text = await readText(request, runBodyLimit);
  } catch (error) {
    return jsonError(error);
  }
  let parsed: z.infer<typeof body>;
  try {
    const result = body.safeParse(JSON.parse(text));
    if (!result.success) {
      const issue = result.error.issues[0]!;
      return usageError(`${issue.path.join(".") || "body"}: ${issue.message} (expected {"pipeline": NAME or {"stages": [...]}, "input": TEXT, "id"?: RUN_ID, "cache"?: false})`);
    }
    parsed = result.data;
  } catch {
    return usageError("the body is not valid JSON");
  }
  try {
    const server = await getServer();
    const { id } = await server.runs.start({ ...parsed, user: identity.user });
    return Response.json({ id, events: `/api/runs/${id}/events`, session: `/api/sessions/${id}` }, { status: 202 });
  } catch (error) {
    return jsonError(error);
  }
}
