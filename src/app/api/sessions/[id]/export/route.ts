import type { NextRequest } from "next/server";
import { ProjectLlmError } from "@/common/index";
import { isLocale, localeCookie, locales, requestLocale } from "@/i18n/locales";
import { getServer } from "@/server/instance";
import { authorize, jsonError } from "@/server/http";
import { sessionMarkdown } from "@/server/session-markdown";
import { assertRunId, sessionZip } from "@/store/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

const formats = {
  zip: { type: "application/zip", extension: "zip" },
  md: { type: "text/markdown; charset=utf-8", extension: "md" },
} as const;

/**
 * A session to download: `?format=zip` (default) its files to read (input, one per stage and per model,
 * final answer, the record) in a ZIP archive; `?format=md` one Markdown document in the reader's language
 * (`?lang=`, as the page's link says, else the language switch's cookie, else Accept-Language). The
 * archive's file names stay the same in every language.
 */
export async function GET(request: NextRequest, context: { params: Promise<{ id: string }> }): Promise<Response> {
  const identity = await authorize(request, "viewer");
  if (identity instanceof Response) return identity;
  try {
    const id = assertRunId((await context.params).id);
    const query = new URL(request.url).searchParams;
    const format = query.get("format") ?? "zip";
    if (format !== "zip" && format !== "md") throw new ProjectLlmError("usage", `format "${format.slice(0, 20)}" is not one of zip, md`);
    const lang = query.get("lang");
    if (lang !== null && !isLocale(lang)) throw new ProjectLlmError("usage", `lang "${lang.slice(0, 20)}" is not one of ${locales.join(", ")}`);
    const session = await (await getServer()).studio.sessions.get(id);
    const locale = requestLocale({ explicit: lang, cookie: request.cookies.get(localeCookie)?.value, acceptLanguage: request.headers.get("accept-language") });
    const body = format === "zip" ? Buffer.from(sessionZip(session)) : sessionMarkdown(session, locale);
    return new Response(body, {
      headers: {
        "content-type": formats[format].type,
        // The id is checked above: letters, digits and "-" only, safe in a header and a file name.
        "content-disposition": `attachment; filename="session-${id}.${formats[format].extension}"`,
        "cache-control": "no-store",
        ...(format === "md" ? { "content-language": locale } : {}),
      },
    });
  } catch (error) {
    return jsonError(error);
  }
}
