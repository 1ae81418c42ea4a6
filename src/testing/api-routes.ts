/**
 * The API's route handlers, listed from the app folder as Next.js finds them: every `route.ts` under
 * `src/app/api` and `src/app/v1` (the OpenAI-compatible API), with the HTTP methods it exports. The access tests request each of them, so a route
 * added later is checked without anyone remembering to list it.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";

export const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
export type HttpMethod = (typeof httpMethods)[number];

export interface ApiRoute {
  /** The file, relative to the app folder's parent (`app/api/runs/route.ts`). */
  file: string;
  /** The address, with each dynamic segment (`[id]`) filled by `fill`. */
  path: string;
  methods: HttpMethod[];
}

/** The methods a route module exports: `export (async) function GET`, `export const GET =`, `export { handler as GET }`. */
export function exportedMethods(source: string): HttpMethod[] {
  const found = new Set<HttpMethod>();
  const isMethod = (name: string): name is HttpMethod => (httpMethods as readonly string[]).includes(name);
  for (const match of source.matchAll(/export\s+(?:async\s+)?function\s+([A-Z]+)\b|export\s+(?:const|let)\s+([A-Z]+)\s*=/g)) {
    const name = match[1] ?? match[2]!;
    if (isMethod(name)) found.add(name);
  }
  for (const match of source.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const item of match[1]!.split(",")) {
      const name = item.trim().split(/\s+as\s+/).pop()!.trim();
      if (isMethod(name)) found.add(name);
    }
  }
  return httpMethods.filter((method) => found.has(method));
}

/** The folders of the app folder that hold API routes. */
export const apiFolders = ["api", "v1"] as const;

/**
 * Every route under the API folders of `appDir` (`api` and `v1`); `fill` names a value for each dynamic
 * segment (`[id]`, `[...id]`).
 */
export async function listApiRoutes(appDir: string, fill: (segment: string) => string): Promise<ApiRoute[]> {
  const routes: ApiRoute[] = [];
  const walk = async (dir: string, segments: string[]): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        // A route group "(name)" adds no segment to the address.
        const segment = /^\(.*\)$/.test(entry.name) ? [] : [/^\[.*\]$/.test(entry.name) ? fill(entry.name) : entry.name];
        await walk(full, [...segments, ...segment]);
      } else if (/^route\.(ts|tsx|js|mjs)$/.test(entry.name)) {
        routes.push({
          file: path.relative(path.dirname(appDir), full),
          path: `/${segments.join("/")}`,
          methods: exportedMethods(await readFile(full, "utf8")),
        });
      }
    }
  };
  for (const folder of apiFolders) {
    const dir = path.join(appDir, folder);
    if (await stat(dir).then((facts) => facts.isDirectory(), () => false)) await walk(dir, [folder]);
  }
  return routes;
}
