/**
 * Pages need a login when access control is on: an anonymous page request goes to /login, which comes
 * back to the page after. (The pages hold no data: what they show comes from the API, which checks every
 * request itself; this spares an anonymous visitor a page of errors.)
 */
import { NextResponse, type NextRequest } from "next/server";
import { getAccessControl } from "@/server/auth/index";

export async function proxy(request: NextRequest): Promise<NextResponse> {
  const access = getAccessControl();
  const authentication = await access.authenticate(request);
  if (authentication.ok) return NextResponse.next();
  // Without access control, a page is refused only to another machine (see AccessControl): no login helps.
  if (!access.enabled) return new NextResponse(authentication.error.message, { status: 403, headers: { "content-type": "text/plain; charset=utf-8" } });
  const login = new URL("/login", request.url);
  const back = request.nextUrl.pathname + request.nextUrl.search;
  if (back !== "/") login.searchParams.set("next", back);
  return NextResponse.redirect(login);
}

export const config = {
  // Every page but the login page; not the APIs (each route checks its requests and answers 401 in its
  // own shape: the OpenAI-compatible one under /v1 included), nor Next.js's files.
  matcher: ["/((?!api/|v1/|_next/|login$|login/|icon\\.svg$|favicon\\.ico$).*)"],
};
