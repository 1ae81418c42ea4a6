// Makes e2e/.work afresh: a config folder from the examples, plus one model whose file is missing (the
// Models page must show it as such), and an empty sessions folder.
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const work = path.resolve(process.env.E2E_WORK ?? "e2e/.work");
await rm(work, { recursive: true, force: true });
await mkdir(path.join(work, "config"), { recursive: true });
await mkdir(path.join(work, "sessions"), { recursive: true });
// One run at a time on every machine (`auto` is one on a CPU, four on a GPU): later runs wait in the queue.
const models = (await readFile("config/models.example.yaml", "utf8")).replace("runs_in_flight: auto", "runs_in_flight: 1");
await writeFile(
  path.join(work, "config", "models.yaml"),
  `${models.trimEnd()}\n  absent:\n    file: not-downloaded-yet.gguf\n    quantization: Q4_K_M\n    description: a model whose file is not there\n` +
    // Too small a context for any real input (its stage fails), and a declared quantization that is not
    // the file's (a config warning for the runs that use it).
    "  cramped:\n    file: stories260K.gguf\n    quantization: Q4_K_M\n    overrides:\n      context_size: 64\n",
);
await copyFile("config/pipeline.example.yaml", path.join(work, "config", "pipeline.yaml"));
// A three-stage pipeline with longer answers, so that a browser sees each stage while it generates, the
// later ones too where the page's stream connects late (on a busy machine the Run page has connected
// 0.4 s after the run began, when the first stage was done: a short second stage was then replayed whole).
// `saga` is the same with each stage long enough to be seen live however late the stream connects (a CI
// machine has opened it after a 200-token first stage had ended), for the test that checks each stage live.
await mkdir(path.join(work, "config", "pipelines"), { recursive: true });
const story = (name, [opening, voices, ending]) => `pipeline:
  name: ${name}
  stages:
    - id: opening
      type: single
      model: storyteller
      params: { max_tokens: ${opening} }
    - id: voices
      type: multi
      input_from: opening
      models: [storyteller, dreamer]
      aggregation: { method: vote }
      params: { max_tokens: ${voices} }
    - id: ending
      type: single
      model: dreamer
      input_from: [opening, voices]
      params: { max_tokens: ${ending} }
`;
await writeFile(path.join(work, "config", "pipelines", "story.yaml"), story("Long story", [200, 300, 200]));
await writeFile(path.join(work, "config", "pipelines", "saga.yaml"), story("A saga", [700, 400, 300]));
// Three long, independent stages (the worker runs them one after another): seconds of generation, to cancel
// or to stop the replay of.
await writeFile(
  path.join(work, "config", "pipelines", "long.yaml"),
  `pipeline:
  name: Long and slow
  stages:
${["one", "two", "three"].map((id) => `    - id: ${id}\n      type: single\n      model: storyteller\n      params: { max_tokens: 1500 }\n`).join("")}`,
);
// Eight of them: a run that lasts long enough to start another beside it.
await writeFile(
  path.join(work, "config", "pipelines", "marathon.yaml"),
  `pipeline:
  name: A marathon
  stages:
${Array.from({ length: 8 }, (_, index) => `    - id: leg${index + 1}\n      type: single\n      model: storyteller\n      params: { max_tokens: 1500 }\n`).join("")}`,
);
// A run that fails: its second stage's input is longer than its model's context, and the third is not run.
await writeFile(
  path.join(work, "config", "pipelines", "fails.yaml"),
  `pipeline:
  name: Fails at its second stage
  stages:
    - id: draft
      type: single
      model: storyteller
      params: { max_tokens: 600 }
    - id: cramped
      type: single
      model: cramped
      input_from: draft
    - id: after
      type: single
      model: storyteller
      input_from: cramped
`,
);
// A vote whose three answers (three samplings of one model) are long enough to be cut in its tally.
await writeFile(
  path.join(work, "config", "pipelines", "tally.yaml"),
  `pipeline:
  name: A vote of long answers
  stages:
    - id: voices
      type: multi
      models: [storyteller, dreamer, critic]
      aggregation: vote
      params: { max_tokens: 300 }
`,
);
// A pipeline that does not validate (an unknown stage in input_from, line 6), for the API's 422.
await writeFile(
  path.join(work, "config", "pipelines", "broken.yaml"),
  "pipeline:\n  stages:\n    - id: one\n      type: single\n      model: storyteller\n      input_from: nowhere\n",
);
