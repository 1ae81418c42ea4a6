import { forbiddenHost } from "@/server/http";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

export function GET(request: Request): Response {
  return forbiddenHost(request) ?? Response.json({ status: "ok" });
}
