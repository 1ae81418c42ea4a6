/**
 * The original project's config spellings through the real studio server: `aggregation: vote` runs, a
 * placeholder in single braces runs with a warning at its brace (with the code and values the pages say
 * it with), and a bare `aggregation: synthesis` is refused with what it lacks, at its line and column.
 */
import { expect, test } from "@playwright/test";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { work } from "./studio-process";
import { waitForEnd } from "./page-checks";

const pipelines = path.join(work, "config", "pipelines");
const files: Record<string, string> = {
  "original-spelling": `pipeline:
  stages:
    - id: tell
      type: multi
      models: [storyteller, critic]
      aggregation: vote
      prompt: "Once upon a time {input}"
      params: { max_tokens: 4 }
`,
  "bare-synthesis": `pipeline:
  stages:
    - id: tell
      type: multi
      models: [storyteller, critic]
      aggregation: synthesis
`,
};

test.beforeAll(async () => {
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(pipelines, `${name}.yaml`), text);
});
test.afterAll(async () => {
  for (const name of Object.keys(files)) await rm(path.join(pipelines, `${name}.yaml`), { force: true });
});

test("a pipeline in the original's spelling runs, and its placeholder in single braces is a warning at the brace", async ({ request }) => {
  const started = await request.post("/api/runs", { data: { pipeline: "original-spelling", input: "a cat" } });
  expect(started.status()).toBe(202);
  const { id } = (await started.json()) as { id: string };
  await waitForEnd(request, id);
  const session = (await (await request.get(`/api/sessions/${id}`)).json()) as {
    status: string;
    pipeline: { stages: Array<{ aggregation: unknown; prompt: string }> };
    events: Array<{ type: string; warnings?: unknown[] }>;
  };
  expect(session.status).toBe("completed");
  expect(session.pipeline.stages[0]).toMatchObject({ aggregation: { method: "vote" }, prompt: "Once upon a time {input}" });
  expect(session.events[0]!.type).toBe("run-start");
  expect(session.events[0]!.warnings).toEqual([
    {
      file: path.join(pipelines, "original-spelling.yaml"),
      line: 7,
      column: 33,
      path: "pipeline.stages[0].prompt",
      stageId: "tell",
      message: "{input} is sent to the model as it is: did you mean {{input}}?",
      code: "single-braces",
      params: { text: "{input}", placeholder: "{{input}}" },
    },
  ]);
});

test("a bare synthesis is refused with what it lacks, its code and its place", async ({ request }) => {
  const refused = await request.post("/api/runs", { data: { pipeline: "bare-synthesis", input: "x" } });
  expect(refused.status()).toBe(422);
  const { error } = (await refused.json()) as { error: { code: string; issues: unknown[] } };
  expect(error.code).toBe("config-schema");
  expect(error.issues).toEqual([
    expect.objectContaining({
      line: 6,
      column: 20,
      path: "pipeline.stages[0].aggregation",
      code: "aggregation-needs",
      params: { method: "synthesis", needs: "model" },
      message: expect.stringContaining("a synthesis needs the model that writes it"),
    }),
  ]);
});
