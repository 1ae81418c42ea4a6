/**
 * The files around the code that no other test reads: the GitHub workflows, forms and Dependabot settings,
 * compose.yaml and the Dockerfile. They parse, and they say what the README says they do. (The image itself
 * is built and run by scripts/image-test.sh.)
 */
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

const root = path.resolve(import.meta.dirname, "../..");
const read = (file: string) => readFile(path.join(root, file), "utf8");
const readYaml = async (file: string) => parse(await read(file), { uniqueKeys: true, merge: true }) as Record<string, unknown>;

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
type Workflow = { on: unknown; jobs: Record<string, { steps: Step[] }> };

async function githubYamlFiles(): Promise<string[]> {
  const files = await readdir(path.join(root, ".github"), { recursive: true });
  return files.filter((file) => /\.ya?ml$/.test(file)).map((file) => path.join(".github", file));
}

describe("the GitHub files", () => {
  it("are all valid YAML without duplicate keys", async () => {
    const files = await githubYamlFiles();
    expect(files.map((file) => path.basename(file)).sort()).toEqual(["bug_report.yml", "ci.yml", "config.yml", "dependabot.yml", "feature_request.yml", "release.yml"]);
    for (const file of files) await expect(readYaml(file), file).resolves.toBeTypeOf("object");
  });

  it("pin every action by its major version", async () => {
    for (const file of [".github/workflows/ci.yml", ".github/workflows/release.yml"]) {
      const workflow = (await readYaml(file)) as unknown as Workflow;
      const uses = Object.values(workflow.jobs).flatMap((job) => job.steps.flatMap((step) => (step.uses ? [step.uses] : [])));
      expect(uses.length, file).toBeGreaterThan(0);
      for (const action of uses) expect(action, `${file}: ${action}`).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
    }
  });

  it("CI runs .ci/run itself, on Node 20, with the image test", async () => {
    const workflow = (await readYaml(".github/workflows/ci.yml")) as unknown as Workflow;
    const steps = workflow.jobs.ci!.steps;
    expect(steps.find((step) => step.uses?.startsWith("actions/setup-node@"))?.with?.["node-version"]).toBe(20);
    const run = steps.find((step) => step.run === ".ci/run");
    expect(run?.env?.PROJECT_LLM_IMAGE_TEST).toBe("1");
    // .ci/run is the one list of steps: install, typecheck, lint, every test, then the image.
    const script = await read(".ci/run");
    const order = ["npm install", "npm run typecheck", "npm run lint", "npm test", "scripts/image-test.sh"].map((command) => script.indexOf(command));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("release builds and pushes both images for a v* tag and makes the release from the changelog", async () => {
    const workflow = (await readYaml(".github/workflows/release.yml")) as unknown as Workflow & { jobs: { images: { steps: Step[]; strategy: { matrix: { target: string[] } } } } };
    expect(workflow.on).toEqual({ push: { tags: ["v*"] } });
    expect(workflow.jobs.images.strategy.matrix.target).toEqual(["cpu", "cuda"]);
    const build = workflow.jobs.images.steps.find((step) => step.uses?.startsWith("docker/build-push-action@"));
    expect(build?.with).toMatchObject({ target: "${{ matrix.target }}", push: true });
    expect(workflow.jobs.release!.steps.map((step) => step.run ?? "").join("\n")).toContain("--notes-file changelog.md");
  });

  it("Dependabot updates the npm packages, the actions and the Docker base images", async () => {
    const config = (await readYaml(".github/dependabot.yml")) as { updates: Array<{ "package-ecosystem": string }> };
    expect(config.updates.map((update) => update["package-ecosystem"]).sort()).toEqual(["docker", "github-actions", "npm"]);
  });

  it("the issue forms each ask for something, under unique ids", async () => {
    for (const file of [".github/ISSUE_TEMPLATE/bug_report.yml", ".github/ISSUE_TEMPLATE/feature_request.yml"]) {
      const form = (await readYaml(file)) as { name: string; description: string; body: Array<{ type: string; id?: string; validations?: { required?: boolean } }> };
      expect(form.name && form.description, file).toBeTruthy();
      const ids = form.body.flatMap((item) => (item.id ? [item.id] : []));
      expect(new Set(ids).size, file).toBe(ids.length);
      expect(form.body.some((item) => item.validations?.required), file).toBe(true);
    }
  });
});

describe("compose.yaml and the Dockerfile", () => {
  it("compose mounts the original layout plus data, binds loopback unless told, and reserves the GPUs in its cuda profile", async () => {
    type Service = { ports: string[]; volumes: string[]; profiles?: string[]; build: { target: string }; deploy?: { resources: { reservations: { devices: Array<{ capabilities: string[] }> } } } };
    const compose = (await readYaml("compose.yaml")) as { services: Record<string, Service> };
    const { studio, "studio-cuda": cuda } = compose.services;
    for (const service of [studio!, cuda!]) {
      expect(service.ports).toEqual(["${PROJECT_LLM_BIND:-127.0.0.1}:${PROJECT_LLM_PORT:-3000}:3000"]);
      expect(service.volumes).toEqual(["./config:/app/config", "./models:/app/models", "./sessions:/app/sessions", "./data:/app/data"]);
    }
    expect([studio!.build.target, studio!.profiles]).toEqual(["cpu", undefined]);
    expect([cuda!.build.target, cuda!.profiles]).toEqual(["cuda", ["cuda"]]);
    expect(cuda!.deploy?.resources.reservations.devices[0]?.capabilities).toEqual(["gpu"]);
    expect(studio!.deploy).toBeUndefined();
  });

  it("both targets, with the same settings, run as uid 1000 on 0.0.0.0 with a healthcheck, the folders compose mounts, and access control left on", async () => {
    const dockerfile = await read("Dockerfile");
    const stages = dockerfile.split(/^(?=FROM )/m);
    for (const target of ["cpu", "cuda"]) {
      const stage = stages.find((text) => new RegExp(`^FROM \\S+ AS ${target}$`, "m").test(text));
      expect(stage, target).toBeDefined();
      expect(stage).toMatch(/^USER 1000:1000$/m);
      expect(stage).toMatch(/^HEALTHCHECK .*\n?.*\/api\/health/m);
      expect(stage).toContain("HOST=0.0.0.0");
      for (const folder of ["config", "models", "sessions", "data"]) expect(stage).toMatch(new RegExp(`PROJECT_LLM_${folder.toUpperCase()}_DIR=/app/${folder}\\b`));
      expect(stage).toMatch(/^ENTRYPOINT \["\/opt\/project-llm\/scripts\/docker-entrypoint.sh"\]$/m);
    }
    // A Dockerfile has no includes: the two targets repeat their settings, and must repeat them exactly.
    const settings = (target: string) =>
      stages
        .find((text) => text.includes(` AS ${target}\n`))!
        .split("\n")
        .filter((line) => line.trim() !== "" && !/^(FROM |COPY --from=|#)/.test(line));
    expect(settings("cuda")).toEqual(settings("cpu"));
    // Unset, PROJECT_LLM_AUTH is on for a studio that listens on 0.0.0.0.
    expect(dockerfile).not.toContain("PROJECT_LLM_AUTH");
    // A build without --target makes the cpu image: it is the last stage.
    expect(stages.at(-1)).toMatch(/^FROM \$\{BASE_IMAGE\} AS cpu$/m);
  });
});
