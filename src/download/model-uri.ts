/**
 * Where a model comes from, as a user types it: `hf:OWNER/REPO/FILE.gguf` (a file of a Hugging Face
 * repository), `hf:OWNER/REPO:QUANT` (the repository's file of that quantization, as the hub's manifest
 * names it) or an `https://` address. The forms and the hub's calls are node-llama-cpp's (its
 * `parseModelUri`, which it does not export), so a URI that works with its CLI works here.
 */
import { ProjectLlmError } from "../common/index.js";
import type { Environment } from "../config/index.js";

export type ModelSource =
  | { kind: "hf-file"; uri: string; owner: string; repo: string; file: string; branch: string }
  | { kind: "hf-quant"; uri: string; owner: string; repo: string; quant: string }
  | { kind: "url"; uri: string; url: URL };

/** What a source resolves to: the address of the bytes and the file's own name. */
export interface ResolvedSource {
  url: string;
  /** The last segment of the file's path, as the server or the repository names it (not checked yet). */
  remoteName: string;
}

const hubName = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const quantName = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
const splitPart = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** A refused URI; `reason` (and the values it names) let a page say it in its own language. */
const usage = (message: string, reason: string, params: Record<string, string | number> = {}) => new ProjectLlmError("usage", message, { details: { params: { reason, ...params } } });
const forms = "hf:OWNER/REPO/FILE.gguf, hf:OWNER/REPO:QUANT or an https:// address";

/**
 * An address as messages and logs show it: an http(s) address without its query and fragment (a signed
 * address carries its token there) and without a user name or password; text that is not an address
 * without anything from a "?" or "#" on. An `hf:` URI is shown whole (its "#" names a branch).
 */
export function displayAddress(address: string): string {
  try {
    const url = new URL(address);
    if (url.protocol !== "http:" && url.protocol !== "https:") return address;
    url.username = "";
    url.password = "";
    url.search = "";
    url.hash = "";
    return url.href;
  } catch {
    return address.replace(/[?#].*$/s, "");
  }
}

/** True for an address of this machine: 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  return host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * Parses and checks a model URI. Plain `http://` is accepted only for this machine (a local mirror, the
 * tests' server): a model is gigabytes of input to native code, and over plain HTTP anything on the way
 * can change it. Addresses with a user name or password are refused, so that a secret never lands in a
 * log or on a page.
 */
export function parseModelUri(input: string): ModelSource {
  const uri = input.trim();
  if (uri.length === 0) throw usage(`give a model URI: ${forms}`, "uri");
  if (uri.length > 2048) throw usage("the model URI is longer than 2048 characters", "uri");
  if (/^(hf|huggingface):/i.test(uri)) return parseHuggingFace(uri);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw usage(`"${displayAddress(uri).slice(0, 200)}" is not a model URI: use ${forms}`, "uri");
  }
  if (url.protocol === "http:" && !isLoopbackHost(url.hostname)) {
    throw usage(`${url.host} is reached over plain http://, which anything on the way can alter: use https://, or http:// only for this machine (localhost)`, "plain-http", { host: url.host });
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw usage(`the ${url.protocol} scheme is not supported: use ${forms}`, "uri");
  if (url.username || url.password) throw usage("put no user name or password in the address; for a gated Hugging Face model, set HF_TOKEN instead", "credentials");
  return { kind: "url", uri: url.href, url };
}

function parseHuggingFace(uri: string): ModelSource {
  const body = uri.replace(/^(hf|huggingface):(\/\/)?/i, "");
  const [pathPart, branch = "main", ...extra] = body.split("#");
  const [owner = "", repoAndQuant = "", ...fileParts] = pathPart!.split("/");
  const invalid = (why: string) => usage(`"${uri.slice(0, 200)}" is not a Hugging Face model URI (${why}): use hf:OWNER/REPO/FILE.gguf or hf:OWNER/REPO:QUANT`, "hf-form");
  if (extra.length > 0 || !hubName.test(branch)) throw invalid("the part after # is not a branch name");
  if (!hubName.test(owner)) throw invalid("OWNER is missing or has characters a Hugging Face name cannot have");
  if (fileParts.length === 0) {
    const [repo = "", quant = "latest", ...rest] = repoAndQuant.split(":");
    if (!hubName.test(repo)) throw invalid("REPO is missing or has characters a Hugging Face name cannot have");
    if (rest.length > 0 || !quantName.test(quant)) throw invalid(`"${quant}" is not a quantization name such as Q4_K_M`);
    return { kind: "hf-quant", uri: `hf:${owner}/${repo}${quant === "latest" ? "" : `:${quant}`}`, owner, repo, quant };
  }
  if (!hubName.test(repoAndQuant)) throw invalid("REPO is missing or has characters a Hugging Face name cannot have");
  if (fileParts.some((part) => part === "" || part === "." || part === ".." || part.includes("\\"))) throw invalid("the file's path has an empty, . or .. segment");
  const file = fileParts.join("/");
  if (!file.toLowerCase().endsWith(".gguf")) throw invalid("the file does not end in .gguf");
  return { kind: "hf-file", uri: `hf:${owner}/${repoAndQuant}/${file}${branch === "main" ? "" : `#${branch}`}`, owner, repo: repoAndQuant, file, branch };
}

/** The hub's address: `MODEL_ENDPOINT`, else `HF_ENDPOINT` (as llama.cpp and node-llama-cpp read them), else huggingface.co. */
export function huggingFaceEndpoint(env: Environment = process.env): string {
  const endpoint = env.MODEL_ENDPOINT || env.HF_ENDPOINT || "https://huggingface.co/";
  return endpoint.endsWith("/") ? endpoint : `${endpoint}/`;
}

/** Headers for a request to the hub: its token (`HF_TOKEN`) for gated models, only to the hub's own host. */
export function huggingFaceHeaders(url: string, env: Environment = process.env): Record<string, string> {
  const token = env.HF_TOKEN;
  return token && new URL(url).host === new URL(huggingFaceEndpoint(env)).host ? { authorization: `Bearer ${token}` } : {};
}

const encodePath = (value: string) => value.split("/").map(encodeURIComponent).join("/");

/**
 * The address of a source's bytes. `hf:OWNER/REPO:QUANT` asks the hub's manifest API which file that
 * quantization is (`GET /v2/OWNER/REPO/manifests/QUANT` with llama.cpp's user agent, the call llama.cpp
 * and node-llama-cpp make); the other forms need no request.
 */
export async function resolveModelSource(source: ModelSource, options: { env?: Environment; signal?: AbortSignal } = {}): Promise<ResolvedSource> {
  const env = options.env ?? process.env;
  if (source.kind === "url") return { url: source.url.href, remoteName: lastSegment(source.url) };
  const endpoint = huggingFaceEndpoint(env);
  let file: string;
  if (source.kind === "hf-file") file = source.file;
  else {
    const manifestUrl = `${endpoint}v2/${encodeURIComponent(source.owner)}/${encodeURIComponent(source.repo)}/manifests/${encodeURIComponent(source.quant)}`;
    let response: Response;
    try {
      response = await fetch(manifestUrl, { headers: { "user-agent": "llama-cpp", accept: "application/json", ...huggingFaceHeaders(manifestUrl, env) }, signal: options.signal });
    } catch (error) {
      if (options.signal?.aborted) throw new ProjectLlmError("cancelled", "the download was cancelled");
      throw new ProjectLlmError("download-failed", `cannot reach ${new URL(endpoint).host} to look up ${source.uri}: ${causeOf(error)}`, {
        cause: error,
        details: { params: { reason: "unreachable", host: new URL(endpoint).host } },
      });
    }
    if (response.status === 401 || response.status === 403) throw forbidden(new URL(manifestUrl).host, response.status);
    if (response.status === 400 || response.status === 404) {
      throw new ProjectLlmError("download-not-found", `${source.uri}: the repository does not exist or has no ${source.quant === "latest" ? "GGUF file" : `quantization ${source.quant}`}; check the name on its Hugging Face page, or name a file with hf:OWNER/REPO/FILE.gguf`, {
        details: { params: { reason: "quantization", uri: source.uri, quant: source.quant } },
      });
    }
    if (!response.ok) throw statusError(new URL(manifestUrl).host, response.status);
    const manifest = (await response.json().catch(() => null)) as { ggufFile?: { rfilename?: unknown } } | null;
    const name = manifest?.ggufFile?.rfilename;
    if (typeof name !== "string" || name.length === 0) {
      throw new ProjectLlmError("download-failed", `${new URL(endpoint).host} answered ${source.uri} without naming a GGUF file`, { details: { params: { reason: "manifest", host: new URL(endpoint).host } } });
    }
    file = name;
  }
  const split = splitPart.exec(file);
  if (split && Number(split[2]) > 1) {
    throw usage(`${source.uri} is split into ${Number(split[2])} files (${file}); split models are not supported yet: merge them with llama.cpp's gguf-split, or choose a smaller quantization`, "split", { parts: Number(split[2]) });
  }
  const branch = source.kind === "hf-file" ? source.branch : "main";
  const url = `${endpoint}${encodeURIComponent(source.owner)}/${encodeURIComponent(source.repo)}/resolve/${encodeURIComponent(branch)}/${encodePath(file)}?download=true`;
  return { url, remoteName: file.split("/").pop()! };
}

function lastSegment(url: URL): string {
  const segment = url.pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The error of a 401 or 403. */
export function forbidden(host: string, status: number): ProjectLlmError {
  return new ProjectLlmError("download-forbidden", `${host} refused the file (${status}): the model may be gated; accept its terms on its page and set HF_TOKEN, or check the address`, {
    details: { params: { host, status } },
  });
}

/** The error of any other status the server should not have answered. */
export function statusError(host: string, status: number): ProjectLlmError {
  return new ProjectLlmError("download-failed", `${host} answered ${status}; try again later, or check the address`, { details: { params: { reason: "status", host, status } } });
}

/**
 * The deepest message of a fetch error ("fetch failed" says nothing; its cause says "ECONNREFUSED"), with
 * any address in it shown as `displayAddress` shows it (some of fetch's messages quote the whole address).
 */
export function causeOf(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  const message = current instanceof Error ? current.message : String(current);
  return message.replace(/\bhttps?:\/\/[^\s"'<>]+/gi, (address) => displayAddress(address));
}
