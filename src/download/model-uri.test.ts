import { describe, expect, it } from "vitest";
import { ProjectLlmError } from "../common/index.js";
import { checkModelFileName, freeModelName, modelNameFromFile } from "./file-name.js";
import { causeOf, displayAddress, huggingFaceEndpoint, isLoopbackHost, parseModelUri } from "./model-uri.js";

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return ProjectLlmError.isInstance(error) ? error.code : "not a ProjectLlmError";
  }
  return undefined;
};

describe("parseModelUri", () => {
  it("reads a file of a Hugging Face repository, with an optional branch", () => {
    expect(parseModelUri("hf:owner/repo/sub/model.Q4_K_M.gguf")).toEqual({ kind: "hf-file", uri: "hf:owner/repo/sub/model.Q4_K_M.gguf", owner: "owner", repo: "repo", file: "sub/model.Q4_K_M.gguf", branch: "main" });
    expect(parseModelUri("hf:owner/repo/model.gguf#dev")).toMatchObject({ kind: "hf-file", branch: "dev", uri: "hf:owner/repo/model.gguf#dev" });
  });

  it("reads a repository's quantization, and the hub's default without one", () => {
    expect(parseModelUri("hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M")).toEqual({ kind: "hf-quant", uri: "hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", owner: "bartowski", repo: "Llama-3.2-1B-Instruct-GGUF", quant: "Q4_K_M" });
    expect(parseModelUri("hf:owner/repo")).toMatchObject({ kind: "hf-quant", quant: "latest", uri: "hf:owner/repo" });
  });

  it("takes https anywhere and http only on this machine", () => {
    expect(parseModelUri("https://example.com/m.gguf")).toMatchObject({ kind: "url", uri: "https://example.com/m.gguf" });
    expect(parseModelUri("http://127.0.0.1:8080/m.gguf")).toMatchObject({ kind: "url" });
    expect(parseModelUri("http://localhost/m.gguf")).toMatchObject({ kind: "url" });
    expect(() => parseModelUri("http://example.com/m.gguf")).toThrow(/plain http/);
  });

  it("refuses other schemes, passwords in the address and malformed Hugging Face names", () => {
    expect(codeOf(() => parseModelUri("file:///etc/passwd"))).toBe("usage");
    expect(codeOf(() => parseModelUri("/models/a.gguf"))).toBe("usage");
    expect(() => parseModelUri("https://user:secret@example.com/m.gguf")).toThrow(/no user name or password/);
    expect(codeOf(() => parseModelUri("hf:owner/repo/../../x.gguf"))).toBe("usage");
    expect(codeOf(() => parseModelUri("hf:owner/repo/readme.md"))).toBe("usage");
    expect(codeOf(() => parseModelUri("hf:/repo:Q4"))).toBe("usage");
    expect(codeOf(() => parseModelUri("hf:owner/repo:Q4:extra"))).toBe("usage");
    expect(codeOf(() => parseModelUri(""))).toBe("usage");
  });
});

describe("displayAddress", () => {
  it("shows an http(s) address without its query, fragment, user name or password", () => {
    expect(displayAddress("https://cdn.example.com/m/model.gguf?X-Amz-Signature=abc&X-Amz-Credential=def#frag")).toBe("https://cdn.example.com/m/model.gguf");
    expect(displayAddress("https://user:pass@example.com/model.gguf")).toBe("https://example.com/model.gguf");
    expect(displayAddress("http://127.0.0.1:8080/model.gguf")).toBe("http://127.0.0.1:8080/model.gguf");
  });

  it("shows the addresses quoted in a fetch error's message the same way", () => {
    const error = new TypeError("fetch failed", { cause: new TypeError("Request cannot be constructed from a URL that includes credentials: https://user:pass@mirror.example/x.gguf?token=abc") });
    expect(causeOf(error)).toBe("Request cannot be constructed from a URL that includes credentials: https://mirror.example/x.gguf");
  });

  it("keeps an hf: URI whole (its # names a branch) and cuts text that is not an address at ? or #", () => {
    expect(displayAddress("hf:owner/repo/model.gguf#dev")).toBe("hf:owner/repo/model.gguf#dev");
    expect(displayAddress("not an address?token=abc")).toBe("not an address");
  });
});

describe("names", () => {
  it("refuses a file name with a folder in it, saying it must be a plain name", () => {
    for (const name of ["../evil.gguf", "sub/x.gguf", "..\\x.gguf", "/etc/x.gguf"]) {
      expect(() => checkModelFileName(name)).toThrow(expect.objectContaining({ code: "usage", details: { params: { reason: "plain-name", name } } }));
    }
    expect(() => checkModelFileName("sub/x.gguf")).toThrow('the file name "sub/x.gguf" is not a plain file name: give a name with no folder in it');
    expect(() => checkModelFileName("sub/x.gguf")).not.toThrow(/leave/);
    expect(codeOf(() => checkModelFileName(".hidden.gguf"))).toBe("usage");
    expect(codeOf(() => checkModelFileName("model.bin"))).toBe("usage");
    expect(checkModelFileName("Llama-3.2-1B.Q4_K_M.gguf")).toBe("Llama-3.2-1B.Q4_K_M.gguf");
  });

  it("makes a model name from a file name, and a free one when it is taken", () => {
    expect(modelNameFromFile("Llama-3.2-1B-Instruct-Q4_K_M.gguf")).toBe("Llama-3.2-1B-Instruct-Q4_K_M");
    expect(modelNameFromFile("a+b model.gguf")).toBe("a-b-model");
    expect(freeModelName("stories", new Set(["stories", "stories-2"]))).toBe("stories-3");
    expect(freeModelName("x".repeat(64), new Set(["x".repeat(64)]))).toBe(`${"x".repeat(62)}-2`);
  });

  it("knows loopback hosts and the hub's endpoint from the environment", () => {
    expect(isLoopbackHost("127.0.0.2")).toBe(true);
    expect(isLoopbackHost("[::1]")).toBe(true);
    expect(isLoopbackHost("10.0.0.1")).toBe(false);
    expect(isLoopbackHost("127.0.0.1.example.com")).toBe(false);
    expect(huggingFaceEndpoint({})).toBe("https://huggingface.co/");
    expect(huggingFaceEndpoint({ HF_ENDPOINT: "http://127.0.0.1:9" })).toBe("http://127.0.0.1:9/");
    expect(huggingFaceEndpoint({ MODEL_ENDPOINT: "https://mirror/", HF_ENDPOINT: "http://other" })).toBe("https://mirror/");
  });
});
