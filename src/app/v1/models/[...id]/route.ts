import { getServer } from "@/server/instance";
import { authorize } from "@/server/http";
import { OpenAiError, findModel, openAiErrorResponse, toOpenAiResponse } from "@/server/openai/index";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/** One pipeline (`/v1/models/pipeline/NAME`) or model (`/v1/models/NAME`), as `GET /v1/models` lists it. */
export async function GET(request: Request, context: { params: Promise<{ id: string[] }> }): Promise<Response> {
  const identity = await authorize(request, "viewer");
  if (identity instanceof Response) return toOpenAiResponse(identity);
  try {
    const id = (await context.params).id.join("/");
    const model = await findModel((await getServer()).studio, id);
    if (!model) throw new OpenAiError(404, `the model "${id.slice(0, 200)}" does not exist here; GET /v1/models lists them`, { param: "model", code: "model_not_found" });
    return Response.json(model);
  } catch (error) {
    return openAiErrorResponse(error);
  }
}
