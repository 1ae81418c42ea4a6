import { chatCompletions } from "@/server/openai/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** OpenAI's chat completions over the studio's pipelines (`pipeline/NAME`) and models; see the README. */
export function POST(request: Request): Promise<Response> {
  return chatCompletions(request);
}
