import { ProjectLlmError } from "@/common/index";
import { getServer } from "@/server/instance";
import { forbiddenHost, jsonError } from "@/server/http";
import { assertRunId, sessionToMarkdown, sessionZip } from "@/store/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const formats = {
  zip: { type: "application/zip", extension: "zip" },
  md: { type: "text/markdown; charset=utf-8", extension: "md" },
} as const;

/**
 * A session to download: `?format=zip` (default) its files to read (input, one per stage and per model,
 * final answer, the record) in a ZIP archive; `?format=md` one Markdown document.
 */
export async function GET(request: Request, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const refused = forbiddenHost(request);
  if (refused) return refused;
  try {
    const id = assertRunId((await context.params).id);
    const format = new URL(request.url).searchParams.get("format") ?? "zip";
    if (format !== "zip" && format !== "md") throw new ProjectLlmError("usage", `format "${format.slice(0, 20)}" is not one of zip, md`);
    const session = await (await getServer()).studio.sessions.get(id);
    const body = format === "zip" ? Buffer.from(sessionZip(session)) : sessionToMarkdown(session);
    return new Response(body, {
      headers: {
        "content-type": formats[format].type,
        // The id is checked above: letters, digits and "-" only, safe in a header and a file name.
        "content-disposition": `attachment; filename="session-${id}.${formats[format].extension}"`,
        "cache-control": "no-store",
      },
    });
  } catch (error) {
    return jsonError(error);
  }
}
