import { getServer } from "@/server/instance";
import { authorize } from "@/server/http";
import { listModels, openAiErrorResponse, toOpenAiResponse } from "@/server/openai/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** The pipelines (`pipeline/NAME`) and models a chat completion may name, in OpenAI's list format. */
export async function GET(request: Request): Promise<Response> {
  const identity = await authorize(request, "viewer");
  if (identity instanceof Response) return toOpenAiResponse(identity);
  try {
    return Response.json({ object: "list", data: await listModels((await getServer()).studio) });
  } catch (error) {
    return openAiErrorResponse(error);
  }
}
