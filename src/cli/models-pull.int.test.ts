/**
 * `project-llm models pull` as a user runs it: the compiled CLI in a child process (not a terminal, so its
 * progress comes as plain lines), downloading from a real HTTP server on loopback.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdir, readFile, readdir, rmdir } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startGgufServer, type GgufServer } from "../testing/gguf-server.js";
import { tempDir, writeFiles } from "../testing/fixtures.js";

const cli = path.resolve("dist/cli/main.js");
let server: GgufServer;
let root: string;
let cleanup: () => Promise<void>;

const modelsYaml = `# models of the pull tests
models_directory: models
models:
  awaited:
    file: awaited.gguf # not downloaded yet
`;

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

const environment = () => ({ ...process.env, PROJECT_LLM_CONFIG_DIR: path.join(root, "config"), PROJECT_LLM_MODELS_DIR: path.join(root, "models"), HF_ENDPOINT: server.origin, NO_COLOR: "1" });

/** Runs the CLI; `onStderr` sees its error output as it comes (to interrupt it at the right moment). */
function run(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env: environment() });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      onStderr?.(stderr, child);
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
const models = () => readdir(path.join(root, "models")).then((names) => names.sort(), () => [] as string[]);
const config = () => readFile(path.join(root, "config", "models.yaml"), "utf8");

beforeAll(async () => {
  server = await startGgufServer();
});
afterAll(async () => server.close());
beforeEach(async () => {
  ({ dir: root, cleanup } = await tempDir("project-llm-pull-"));
  await writeFiles(root, { "config/models.yaml": modelsYaml, "config/pipeline.yaml": "base_pipeline:\n  stages: []\n" });
  server.behave({ mode: "ok" });
  return cleanup;
});

describe("project-llm models pull", () => {
  it("downloads with a line at every tenth, adds the model to models.yaml and lists it as present", async () => {
    server.behave({ mode: "ok", bytesPerSecond: 2_000_000 });
    const pulled = await run(["models", "pull", "hf:karpathy/tinyllamas-GGUF:F32"]);
    expect(pulled.code).toBe(0);
    expect(pulled.stderr).toContain(`downloading hf:karpathy/tinyllamas-GGUF:F32 to ${path.join(root, "models", "tinyllamas-F32.gguf")}`);
    const lines = pulled.stderr.split("\n").filter((line) => /^\s*\d+%/.test(line));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(lines.at(-1)).toMatch(/^100% {2}1\.1 MiB of 1\.1 MiB/);
    expect(pulled.stderr).toContain("downloaded tinyllamas-F32.gguf, 1.1 MiB");
    expect(pulled.stdout).toMatch(/^added to .*models\.yaml as tinyllamas-F32: /);
    expect(await models()).toEqual(["tinyllamas-F32.gguf"]);
    expect(await config()).toMatch(/# models of the pull tests\n[\s\S]*file: awaited\.gguf # not downloaded yet\n {2}# downloaded from hf:karpathy\/tinyllamas-GGUF:F32 on [\d-]+\n {2}tinyllamas-F32:\n {4}file: tinyllamas-F32\.gguf\n {4}quantization: F32\n$/);

    const list = await run(["models", "list"]);
    expect(list.stdout).toMatch(/tinyllamas-F32\s+present\s+tinyllamas-F32\.gguf/);
  });

  it("uses --name and --file, and adds nothing when models.yaml names the file already", async () => {
    const named = await run(["models", "pull", `${server.origin}/any/stories260K.gguf`, "--name", "tiny", "--file", "tiny.gguf", "--json"]);
    expect(named.code).toBe(0);
    expect(JSON.parse(named.stdout)).toMatchObject({ file: "tiny.gguf", added: "tiny", configuredAs: [] });
    const awaited = await run(["models", "pull", `${server.origin}/any/stories260K.gguf`, "--file", "awaited.gguf"]);
    expect(awaited.code).toBe(0);
    expect(awaited.stdout).toContain("awaited.gguf is in models.yaml already as awaited");
    expect((await config()).match(/file: /g)).toHaveLength(2);
  });

  it("says when models.yaml names the downloaded file already, so that --name is not used", async () => {
    const pulled = await run(["models", "pull", `${server.origin}/any/stories260K.gguf`, "--file", "awaited.gguf", "--name", "tiny"]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain("warning: models.yaml names awaited.gguf already, as awaited: --name tiny not used\n");
    expect(pulled.stdout).toContain("awaited.gguf is in models.yaml already as awaited");
    expect(await config()).toBe(modelsYaml);
  });

  it("says what went wrong, exits non-zero and leaves nothing under the final name", async () => {
    const badName = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--file", "../escaped.gguf"]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('project-llm: the file name "../escaped.gguf" is not a plain file name: give a name with no folder in it, such as model.Q4_K_M.gguf');
    const inFolder = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--file", "sub/x.gguf"]);
    expect(inFolder.code).toBe(2);
    expect(inFolder.stderr).toBe('project-llm: the file name "sub/x.gguf" is not a plain file name: give a name with no folder in it, such as model.Q4_K_M.gguf (the file goes in the models folder)\n');

    const taken = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--name", "awaited"]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain('models.yaml has a model named "awaited" already (file awaited.gguf); choose another --name');

    server.behave({ mode: "not-found" });
    const missing = await run(["models", "pull", `${server.origin}/stories260K.gguf`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/project-llm: there is no file at http:\/\/127\.0\.0\.1:\d+\/stories260K\.gguf \(127\.0\.0\.1:\d+ answered 404\); check the address/);

    // A download's failure exits 1 whatever it is: a body that is not a GGUF is no config error.
    server.behave({ mode: "not-gguf" });
    const page = await run(["models", "pull", `${server.origin}/stories260K.gguf`]);
    expect(page.code).toBe(1);
    expect(page.stderr).toMatch(/is not a GGUF file \(it does not start with the GGUF magic bytes\): it is not a model file/);

    server.behave({ mode: "huge" });
    const huge = await run(["models", "pull", `${server.origin}/stories260K.gguf`]);
    expect(huge.code).toBe(1);
    expect(huge.stderr).toMatch(/project-llm: stories260K\.gguf needs 1024 TiB but .* has [\d.]+ [KMGT]?i?B free: free some space/);

    expect(await models()).toEqual([]);
  });

  it("shows the address without its query in every line it writes, and in models.yaml", async () => {
    const signed = `${server.origin}/signed/stories260K.gguf?X-Amz-Signature=secret-token`;
    const pulled = await run(["models", "pull", signed]);
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stderr).toContain(`downloading ${server.origin}/signed/stories260K.gguf to `);
    server.behave({ mode: "not-found" });
    const missing = await run(["models", "pull", signed, "--file", "other.gguf"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`there is no file at ${server.origin}/signed/stories260K.gguf (`);
    for (const output of [pulled.stdout, pulled.stderr, missing.stdout, missing.stderr, await config()]) expect(output).not.toContain("secret-token");
  });

  it("refuses a models folder on a read-only disk before any byte is fetched, exit 1", async (context) => {
    // A real read-only disk: a folder of mode 0555 would not do, since it does not stop root.
    const readOnly = path.join(root, "read-only");
    await mkdir(readOnly);
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m,ro", "tmpfs", readOnly], { stdio: "pipe" });
    } catch (error) {
      return context.skip(`cannot mount a read-only tmpfs here (${String((error as { stderr?: Buffer }).stderr ?? error).trim()})`);
    }
    try {
      server.requests.length = 0;
      const refused = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--models-dir", readOnly]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`project-llm: the models folder ${readOnly} is on a read-only file system (mounted read-only?): make it writable to download into it, or choose another models folder\n`);
      expect(server.requests).toEqual([]);
    } finally {
      execFileSync("umount", [readOnly]);
      await rmdir(readOnly);
    }
  });

  it("draws the progress bar on a terminal in place, and ends it with the summary", async (context) => {
    if (spawnSync("script", ["--version"]).error) return context.skip("script (util-linux) is not on this machine: it gives the CLI a pseudo-terminal");
    server.behave({ mode: "ok", bytesPerSecond: 1_000_000 });
    const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
    const command = [process.execPath, cli, "models", "pull", `${server.origin}/stories260K.gguf`, "--file", "tty.gguf"].map(quote).join(" ");
    // Not spawnSync: the server answers from this process.
    const child = spawn("script", ["-qfec", command, "/dev/null"], { cwd: root, env: environment(), stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code, output).toBe(0);
    const redraws = output.split("\r\u001b[2K");
    // Each update goes back to the line's start and erases it: many updates, one line.
    expect(redraws.length).toBeGreaterThanOrEqual(4);
    expect(redraws.slice(1, -1).every((line) => !line.includes("\n"))).toBe(true);
    expect(redraws[1]).toMatch(/^\[[#.]{24}\] +\d+% {2}[\d.]+ [KM]iB of 1\.1 MiB/);
    // The last one is the whole file; the line is then closed, and the summary follows.
    expect(redraws.at(-1)).toMatch(/^\[#{24}\] 100% {2}1\.1 MiB of 1\.1 MiB {2}[\d.]+ [KM]iB\/s\r?\ndownloaded tty\.gguf, 1\.1 MiB\r?\nadded to /);
    expect(output).not.toMatch(/^\s*\d+% /m);
  });

  it("resumes a connection that breaks, and after Ctrl+C keeps the partial file for the same command to resume", async () => {
    server.behave({ mode: "break-mid-way", breaks: 1 });
    server.requests.length = 0;
    const brokenBefore = server.broken;
    const broken = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--file", "first.gguf"]);
    expect(broken.code, broken.stderr).toBe(0);
    // The server did break the connection once; the second request asked for the bytes that were left.
    expect(server.broken - brokenBefore).toBe(1);
    const ranges = server.requests.map((request) => request.range);
    expect(ranges).toHaveLength(2);
    expect(ranges[0]).toBe("bytes=0-");
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(ranges[1] ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThan(server.body.length);
    expect((await readFile(path.join(root, "models", "first.gguf"))).equals(server.body)).toBe(true);

    server.behave({ mode: "ok", bytesPerSecond: 300_000 });
    const interrupted = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--file", "second.gguf"], (text, child) => {
      if (/\b[1-9]\d%/.test(text) && !child.killed) child.kill("SIGINT");
    });
    expect(interrupted.code, interrupted.stderr).toBe(130);
    expect(interrupted.stderr).toContain("the download of second.gguf was interrupted; start it again to resume");
    expect(await models()).toEqual(["first.gguf", "second.gguf.download", "second.gguf.download.json"]);

    server.behave({ mode: "ok" });
    const resumed = await run(["models", "pull", `${server.origin}/stories260K.gguf`, "--file", "second.gguf"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/downloaded second\.gguf, 1\.1 MiB \(resumed from \d+ KiB\)/);
    expect(await models()).toEqual(["first.gguf", "second.gguf"]);
    expect((await readFile(path.join(root, "models", "second.gguf"))).equals(server.body)).toBe(true);
  });
});
