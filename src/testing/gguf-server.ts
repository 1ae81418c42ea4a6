/**
 * A model server on loopback for tests of downloads: it serves a real GGUF (stories260K.gguf) with Range
 * support and an ETag, answers the Hugging Face hub's calls (`/v2/OWNER/REPO/manifests/TAG` and
 * `/OWNER/REPO/resolve/main/FILE`), and misbehaves on demand. Nothing is downloaded from the internet.
 */
import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { storiesFile, testModelsDir } from "./fixtures.js";
import { listenOnLoopback } from "./loopback.js";

export type GgufServerMode =
  /** The file, whole or by range. */
  | "ok"
  /** 404 for every file. */
  | "not-found"
  /** 403, as the hub answers for a gated model. */
  | "forbidden"
  /** Sends part of what was asked, then breaks the connection, `breaks` times; then serves. */
  | "break-mid-way"
  /** Breaks every connection after the headers, before any byte of the body. */
  | "always-break"
  /** A body of the same size that is not a GGUF (an HTML page). */
  | "not-gguf"
  /** Advertises a file of 1 PiB (and sends nothing): more than any disk has free. */
  | "huge"
  /** No Content-Length and no ranges: the size is known only at the end. */
  | "no-length";

export interface GgufServerBehaviour {
  mode: GgufServerMode;
  /** For `break-mid-way`: how many connections to break before serving. */
  breaks?: number;
  /** Paces the body to about this many bytes a second (a download a browser can watch). */
  bytesPerSecond?: number;
}

export interface GgufServer {
  /** `http://127.0.0.1:PORT`: the files are at any path ending in `.gguf`. */
  origin: string;
  /** The served model, as bytes. */
  body: Buffer;
  /** Changes how it answers from the next request on. */
  behave(behaviour: GgufServerBehaviour): void;
  /** Every request: method, path, query (when it has one) and Range header. */
  requests: Array<{ method: string; path: string; query?: string; range?: string; userAgent?: string }>;
  /** Connections it has broken on purpose (`break-mid-way`, `always-break`). */
  readonly broken: number;
  close(): Promise<void>;
}

const notGguf = (size: number) => Buffer.concat([Buffer.from("<!doctype html><title>Sign in</title>"), Buffer.alloc(size, " ")]).subarray(0, size);

/** Starts the server on a free loopback port. */
export async function startGgufServer(initial: GgufServerBehaviour = { mode: "ok" }): Promise<GgufServer> {
  const body = await readFile(path.join(testModelsDir, storiesFile));
  let behaviour = { ...initial };
  let breaksLeft = initial.breaks ?? 0;
  let broken = 0;
  const requests: GgufServer["requests"] = [];

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://loopback");
    requests.push({ method: request.method ?? "GET", path: url.pathname, ...(url.search ? { query: url.search } : {}), range: request.headers.range, userAgent: request.headers["user-agent"] });
    // The hub's manifest of a repository's quantization: which file `hf:OWNER/REPO:TAG` means.
    const manifest = /^\/v2\/([^/]+)\/([^/]+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest) {
      const tag = decodeURIComponent(manifest[3]!).toUpperCase();
      if (tag !== "F32" && tag !== "LATEST") {
        response.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: "not found" }));
        return;
      }
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ggufFile: { rfilename: `${decodeURIComponent(manifest[2]!).replace(/-GGUF$/i, "")}-F32.gguf`, size: body.length } }));
      return;
    }
    if (!url.pathname.toLowerCase().endsWith(".gguf")) {
      response.writeHead(404).end();
      return;
    }
    const { mode } = behaviour;
    if (mode === "not-found") return void response.writeHead(404, { "content-type": "text/plain" }).end("Entry not found");
    if (mode === "forbidden") return void response.writeHead(403, { "content-type": "text/plain" }).end("Access to this model is restricted");
    if (mode === "huge") {
      response.writeHead(200, { "content-length": String(2 ** 50), "accept-ranges": "bytes", etag: '"huge"' });
      response.flushHeaders();
      return;
    }
    const content = mode === "not-gguf" ? notGguf(body.length) : body;
    const etag = mode === "not-gguf" ? '"not-gguf"' : '"stories260K"';
    if (mode === "no-length") {
      response.writeHead(200, { "content-type": "application/octet-stream" });
      void send(response, content, behaviour.bytesPerSecond);
      return;
    }
    let start = 0;
    let end = content.length - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? "");
    const ifRange = request.headers["if-range"];
    const useRange = range !== null && (ifRange === undefined || ifRange === etag);
    if (useRange) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
      if (start > end) {
        response.writeHead(416, { "content-range": `bytes */${content.length}` }).end();
        return;
      }
    }
    const headers: http.OutgoingHttpHeaders = {
      "content-type": "application/octet-stream",
      "content-length": String(end - start + 1),
      "accept-ranges": "bytes",
      etag,
    };
    if (useRange) headers["content-range"] = `bytes ${start}-${end}/${content.length}`;
    response.writeHead(useRange ? 206 : 200, headers);
    if (request.method === "HEAD") return void response.end();
    const slice = content.subarray(start, end + 1);
    if (mode === "always-break") {
      broken++;
      response.flushHeaders();
      setTimeout(() => response.socket?.destroy(), 10);
      return;
    }
    if (mode === "break-mid-way" && breaksLeft > 0) {
      breaksLeft--;
      broken++;
      // A third of what was asked arrives, then the connection drops (as a flaky network does).
      response.write(slice.subarray(0, Math.floor(slice.length / 3)), () => setTimeout(() => response.socket?.destroy(), 10));
      return;
    }
    void send(response, slice, behaviour.bytesPerSecond);
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    origin: `http://127.0.0.1:${port}`,
    body,
    behave(next) {
      behaviour = { ...next };
      breaksLeft = next.breaks ?? 0;
    },
    requests,
    get broken() {
      return broken;
    },
    close,
  };
}

/** Writes `content`, paced to `bytesPerSecond` when given; stops when the client goes away. */
async function send(response: http.ServerResponse, content: Buffer, bytesPerSecond: number | undefined): Promise<void> {
  if (!bytesPerSecond) return void response.end(content);
  const piece = Math.max(1024, Math.round(bytesPerSecond / 20));
  for (let offset = 0; offset < content.length; offset += piece) {
    if (response.destroyed) return;
    response.write(content.subarray(offset, offset + piece));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  response.end();
}
