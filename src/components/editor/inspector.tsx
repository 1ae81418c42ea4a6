"use client";
/** The inspector: every field of the selected stage. */
import { useState } from "react";
import type { Aggregation, GenerationParams, MultiStage, Pipeline, Stage } from "@/config/schema";
import { buttonClass, checkboxClass, Field, headingClass, inputClass, NumberField, SelectField, StringListField, TextField } from "./fields";
import { ModelBadge, type ModelPresence } from "./model-badge";
import { connectStages, defaultAggregation, disconnectStages, inputIds, inputNodeId, switchStageType, type EditorIssue } from "./pipeline-graph";

export interface InspectorProps {
  stage: Stage;
  pipeline: Pipeline;
  /** Configured model names, in models.yaml order. */
  modelNames: readonly string[];
  presence: ModelPresence;
  issues: readonly EditorIssue[];
  /** `key` groups keystrokes in one field into one undo step. */
  onChange: (stage: Stage, key: string) => void;
  /** Answers an error message, or null when renamed. */
  onRename: (to: string) => string | null;
  onDelete: () => void;
}

function ModelSelect({ label, value, modelNames, presence, onChange, testId }: { label: string; value: string; modelNames: readonly string[]; presence: ModelPresence; onChange: (model: string) => void; testId?: string }) {
  const names = modelNames.includes(value) || value === "" ? modelNames : [value, ...modelNames];
  return (
    <div className="flex items-end gap-2">
      <div className="min-w-0 flex-1">
        <Field label={label}>
          <select value={value} data-testid={testId} className={inputClass} onChange={(event) => onChange(event.target.value)}>
            {value === "" ? <option value="">(choose a model)</option> : null}
            {names.map((name) => (
              <option key={name} value={name}>
                {name}
                {presence && presence.get(name) === false ? " (missing)" : presence && !presence.has(name) ? " (not configured)" : ""}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="pb-1.5">
        <ModelBadge model={value} presence={presence} />
      </div>
    </div>
  );
}

function Placeholders({ names, onInsert }: { names: string[]; onInsert: (placeholder: string) => void }) {
  return (
    <span className="flex flex-wrap items-center gap-1">
      <span>Placeholders (click to insert):</span>
      {names.map((name) => (
        <button key={name} type="button" className="rounded bg-neutral-100 px-1 font-mono text-[11px] text-neutral-800 hover:bg-neutral-200 focus-visible:outline-2 focus-visible:outline-blue-500 dark:bg-neutral-800 dark:text-neutral-200 dark:hover:bg-neutral-700" aria-label={`Insert ${name}`} onClick={() => onInsert(name)}>
          {name}
        </button>
      ))}
    </span>
  );
}

function aggregationPlaceholders(models: readonly string[]): string[] {
  return ["{{input}}", "{{answers}}", ...models.flatMap((_, index) => [`{{answer.${index + 1}}}`, `{{model.${index + 1}}}`]), ...[...new Set(models)].map((model) => `{{answer.${model}}}`)];
}

/** Generation parameters: an empty field falls back to the model's and the defaults' values. */
export function ParamsFields({ params, onChange }: { params: GenerationParams; onChange: (params: GenerationParams, field: string) => void }) {
  const set = <K extends keyof GenerationParams>(key: K, value: GenerationParams[K] | undefined) => {
    const next = { ...params };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onChange(next, key);
  };
  return (
    <div className="grid grid-cols-2 gap-2">
      <NumberField label="temperature" value={params.temperature} min={0} max={5} step={0.05} onChange={(value) => set("temperature", value)} />
      <NumberField label="top_p" value={params.top_p} min={0} max={1} step={0.05} onChange={(value) => set("top_p", value)} />
      <NumberField label="top_k" value={params.top_k} integer min={0} onChange={(value) => set("top_k", value)} />
      <NumberField label="min_p" value={params.min_p} min={0} max={1} step={0.01} onChange={(value) => set("min_p", value)} />
      <NumberField label="repeat_penalty" value={params.repeat_penalty} min={0} max={5} step={0.05} onChange={(value) => set("repeat_penalty", value)} />
      <NumberField label="max_tokens" value={params.max_tokens} integer min={1} onChange={(value) => set("max_tokens", value)} />
      <NumberField label="seed" value={params.seed} integer min={0} onChange={(value) => set("seed", value)} />
      <div className="col-span-2">
        <StringListField label="stop (one per line, \n for a line break)" value={params.stop} onChange={(value) => set("stop", value)} />
      </div>
    </div>
  );
}

function Section({ title, children }: { title: string; children: React.ReactNode }) {
  return (
    <fieldset className="space-y-2 border-t border-neutral-200 pt-3 dark:border-neutral-800">
      <legend className="pr-2 text-xs font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">{title}</legend>
      {children}
    </fieldset>
  );
}

function AggregationFields({ stage, modelNames, presence, onChange }: { stage: MultiStage; modelNames: readonly string[]; presence: ModelPresence; onChange: (aggregation: Aggregation, key: string) => void }) {
  const aggregation = stage.aggregation;
  const help = (
    <Placeholders
      names={aggregationPlaceholders(stage.models)}
      onInsert={(name) => {
        if (aggregation.method === "template") onChange({ ...aggregation, template: `${aggregation.template}${name}` }, "aggregation.template");
        if (aggregation.method === "synthesis") onChange({ ...aggregation, prompt: `${aggregation.prompt ?? ""}${name}` }, "aggregation.prompt");
      }}
    />
  );
  return (
    <Section title="Aggregation">
      <SelectField
        label="method"
        testId="aggregation-method"
        value={aggregation.method}
        options={[
          { value: "concat", label: "concat: every answer, one after another" },
          { value: "vote", label: "vote: the most common answer" },
          { value: "synthesis", label: "synthesis: a model writes one answer" },
          { value: "template", label: "template: a text with the answers in it" },
        ]}
        onChange={(method) => onChange(defaultAggregation(method, stage.models), "aggregation.method")}
      />
      {aggregation.method === "concat" ? (
        <>
          <TextField label="separator (\n for a line break)" value={aggregation.separator.replace(/\n/g, "\\n")} onChange={(value) => onChange({ ...aggregation, separator: (value ?? "").replace(/\\n/g, "\n") }, "aggregation.separator")} />
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" className={checkboxClass} checked={aggregation.labels} onChange={(event) => onChange({ ...aggregation, labels: event.target.checked }, "aggregation.labels")} />
            label each answer with its model
          </label>
        </>
      ) : null}
      {aggregation.method === "vote" ? <p className="text-xs text-neutral-500 dark:text-neutral-400">The answer given most often wins (ties go to the first model).</p> : null}
      {aggregation.method === "synthesis" ? (
        <>
          <ModelSelect label="synthesis model" value={aggregation.model} modelNames={modelNames} presence={presence} onChange={(model) => onChange({ ...aggregation, model }, "aggregation.model")} />
          <TextField label="synthesis prompt (empty: the default prompt)" multiline rows={4} value={aggregation.prompt} hint={help} onChange={(prompt) => onChange({ ...aggregation, prompt }, "aggregation.prompt")} />
          <details>
            <summary className="cursor-pointer text-xs font-medium text-neutral-700 dark:text-neutral-300">synthesis parameters</summary>
            <div className="pt-2">
              <ParamsFields params={aggregation.params} onChange={(params, field) => onChange({ ...aggregation, params }, `aggregation.params.${field}`)} />
            </div>
          </details>
        </>
      ) : null}
      {aggregation.method === "template" ? (
        <TextField label="template" multiline rows={4} value={aggregation.template} hint={help} onChange={(template) => onChange({ ...aggregation, template: template ?? "" }, "aggregation.template")} />
      ) : null}
    </Section>
  );
}

export function Inspector({ stage, pipeline, modelNames, presence, issues, onChange, onRename, onDelete }: InspectorProps) {
  const [idDraft, setIdDraft] = useState(stage.id);
  const [idError, setIdError] = useState<string | null>(null);
  const [inputError, setInputError] = useState<string | null>(null);
  const key = (field: string) => `${stage.id}:${field}`;
  const update = (patch: Partial<Stage>, field: string) => onChange({ ...stage, ...patch } as Stage, key(field));
  const clear = (field: "name" | "prompt" | "system", value: string | undefined) => {
    const next = { ...stage, [field]: value };
    if (value === undefined) delete next[field];
    onChange(next, key(field));
  };
  const commitId = () => {
    if (idDraft === stage.id) return setIdError(null);
    setIdError(onRename(idDraft));
  };
  const upstream = inputIds(stage);
  const others = pipeline.stages.filter((other) => other.id !== stage.id);
  const stageIn = (next: Pipeline) => next.stages.find((candidate) => candidate.id === stage.id)!;
  // The same rules as an edge drawn or deleted on the canvas: a cycle is refused, with the stages in it.
  const connect = (source: string) => {
    const result = connectStages(pipeline, source, stage.id);
    setInputError(result.ok ? null : result.message);
    if (result.ok) onChange(stageIn(result.pipeline), key("input_from"));
  };
  const disconnect = (source: string) => {
    setInputError(null);
    onChange(stageIn(disconnectStages(pipeline, source, stage.id)), key("input_from"));
  };

  return (
    <div className="space-y-3" data-testid="inspector">
      <div className="flex items-center justify-between gap-2">
        {/* Focused from the canvas (Enter on a selected node), so a keyboard user lands on the stage's fields. */}
        <h2 tabIndex={-1} data-inspector-heading className={headingClass}>
          Stage {stage.id}
        </h2>
        <button type="button" className={`${buttonClass} text-red-700 dark:text-red-300`} onClick={onDelete}>
          Delete stage
        </button>
      </div>
      {issues.length > 0 ? (
        <ul className="space-y-1 text-xs">
          {issues.map((issue, index) => (
            <li key={index} className={issue.severity === "error" ? "text-red-700 dark:text-red-300" : "text-amber-800 dark:text-amber-300"}>
              {issue.severity === "error" ? "Error" : "Warning"}: {issue.message}
            </li>
          ))}
        </ul>
      ) : null}
      <Field label="id (Enter to rename; the stages that read it follow)" hint={idError ? <span role="alert" className="text-red-700 dark:text-red-300">{idError}</span> : undefined}>
        <input
          type="text"
          value={idDraft}
          data-testid="stage-id"
          aria-invalid={idError ? true : undefined}
          className={`${inputClass} font-mono`}
          onChange={(event) => setIdDraft(event.target.value)}
          onBlur={commitId}
          onKeyDown={(event) => {
            if (event.key === "Enter") commitId();
            if (event.key === "Escape") {
              setIdDraft(stage.id);
              setIdError(null);
            }
          }}
        />
      </Field>
      <TextField label="name" value={stage.name} placeholder={stage.id} onChange={(value) => clear("name", value)} testId="stage-name" />
      <SelectField
        label="type"
        testId="stage-type"
        value={stage.type}
        options={[
          { value: "single", label: "single: one model" },
          { value: "multi", label: "multi: several models, one aggregation" },
        ]}
        onChange={(type) => onChange(switchStageType(stage, type), key("type"))}
      />
      {stage.type === "single" ? (
        <ModelSelect label="model" testId="stage-model" value={stage.model} modelNames={modelNames} presence={presence} onChange={(model) => update({ model }, "model")} />
      ) : (
        <Section title="Models">
          {stage.models.map((model, index) => (
            <div key={index} className="flex items-end gap-2">
              <div className="min-w-0 flex-1">
                <ModelSelect
                  label={`model ${index + 1}`}
                  value={model}
                  modelNames={modelNames}
                  presence={presence}
                  onChange={(next) => update({ models: stage.models.map((item, at) => (at === index ? next : item)) }, "models")}
                />
              </div>
              <button type="button" className={`${buttonClass} mb-0.5`} aria-label={`Remove model ${index + 1}`} disabled={stage.models.length <= 1} onClick={() => update({ models: stage.models.filter((_, at) => at !== index) }, "models.remove")}>
                ✕
              </button>
            </div>
          ))}
          <button type="button" className={buttonClass} onClick={() => update({ models: [...stage.models, stage.models.at(-1) ?? modelNames[0] ?? ""] }, "models.add")}>
            Add model
          </button>
        </Section>
      )}
      {stage.type === "multi" ? <AggregationFields stage={stage} modelNames={modelNames} presence={presence} onChange={(aggregation, field) => update({ aggregation }, field)} /> : null}
      <Section title="Input">
        <p className="text-xs text-neutral-600 dark:text-neutral-400">
          {upstream.length === 0 ? "Reads the user's input." : `Reads ${upstream.join(", ")}${upstream.length > 1 ? " (merged as [stage: ID] blocks)" : ""}.`} Tick what it reads, or draw edges on the canvas.
        </p>
        <div className="flex flex-wrap gap-x-3 gap-y-1 text-sm" data-testid="stage-inputs">
          {/* Ticked while input_from is absent; ticking a stage unticks it (the input node's edge cannot be deleted either). */}
          <label className="flex items-center gap-1" title={upstream.length === 0 ? "Read while no stage is ticked" : "Read only the user's input"}>
            <input type="checkbox" className={checkboxClass} checked={upstream.length === 0} disabled={upstream.length === 0} onChange={() => connect(inputNodeId)} />
            <span>user input</span>
          </label>
          {others.map((other) => (
            <label key={other.id} className="flex items-center gap-1">
              <input
                type="checkbox"
                className={checkboxClass}
                checked={upstream.includes(other.id)}
                onChange={(event) => (event.target.checked ? connect(other.id) : disconnect(other.id))}
              />
              <span className="font-mono">{other.id}</span>
            </label>
          ))}
        </div>
        {inputError ? (
          <p role="alert" data-testid="input-error" className="text-xs text-red-700 dark:text-red-300">
            {inputError}
          </p>
        ) : null}
      </Section>
      <Section title="Prompt">
        <TextField
          label="prompt template (empty: the input as it is)"
          multiline
          rows={4}
          value={stage.prompt}
          testId="stage-prompt"
          hint={<Placeholders names={["{{input}}", ...upstream.map((id) => `{{stage.${id}}}`)]} onInsert={(name) => clear("prompt", `${stage.prompt ?? ""}${name}`)} />}
          onChange={(value) => clear("prompt", value)}
        />
        <TextField label="system prompt (chat models)" multiline rows={2} value={stage.system} onChange={(value) => clear("system", value)} />
        <SelectField
          label="output mode"
          testId="stage-output-mode"
          value={stage.output_mode}
          options={[
            { value: "answer_only", label: "answer_only: pass on the answer" },
            { value: "input_plus_answer", label: "input_plus_answer: the input, a blank line, the answer" },
          ]}
          onChange={(output_mode) => update({ output_mode }, "output_mode")}
        />
      </Section>
      <Section title="Generation parameters">
        <ParamsFields params={stage.params} onChange={(params, field) => update({ params }, `params.${field}`)} />
      </Section>
    </div>
  );
}
