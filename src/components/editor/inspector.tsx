"use client";
/** The inspector: every field of the selected stage. */
import { useTranslations } from "next-intl";
import { useState, type ReactNode } from "react";
import type { Aggregation, GenerationParams, HistoryTurn, MultiStage, Pipeline, Stage } from "@/config/schema";
import { buttonClass, checkboxClass, Field, headingClass, inputClass, NumberField, SelectField, StringListField, TextField } from "./fields";
import { IssueText } from "./issues";
import { Data, dataTags, useEditorText } from "./labels";
import { ModelBadge, modelState, type ModelPresence } from "./model-badge";
import { connectStages, defaultAggregation, disconnectStages, inputIds, inputNodeId, modelFix, setStageModel, switchStageType, type EditorIssue, type ModelField, type Refusal } from "./pipeline-graph";

export interface InspectorProps {
  stage: Stage;
  pipeline: Pipeline;
  /** Configured model names, in models.yaml order. */
  modelNames: readonly string[];
  presence: ModelPresence;
  issues: readonly EditorIssue[];
  /** `key` groups keystrokes in one field into one undo step. */
  onChange: (stage: Stage, key: string) => void;
  /** Answers why a rename was refused, or null when renamed. */
  onRename: (to: string) => Refusal | null;
  onDelete: () => void;
}

/** A model's select, with the models grouped by whether their file is there, and the fix of an unknown name. */
function ModelSelect({
  label,
  yamlKey,
  value,
  modelNames,
  presence,
  suggestion,
  onChange,
  testId,
}: {
  label: string;
  yamlKey?: string;
  value: string;
  modelNames: readonly string[];
  presence: ModelPresence;
  /** A configured model close to an unknown `value`. */
  suggestion?: string;
  onChange: (model: string) => void;
  testId?: string;
}) {
  const t = useTranslations("editor.inspector");
  const issuesText = useTranslations("editor.issues");
  const names = modelNames.includes(value) || value === "" ? modelNames : [value, ...modelNames];
  const groups = (["present", "missing", "unknown"] as const)
    .map((state) => ({ state, names: presence ? names.filter((name) => modelState(name, presence) === state) : state === "present" ? names : [] }))
    .filter((group) => group.names.length > 0);
  const options = (list: readonly string[]) =>
    list.map((name) => (
      <option key={name} value={name} translate="no">
        {name}
      </option>
    ));
  return (
    <div>
      <div className="flex items-end gap-2">
        <div className="min-w-0 flex-1">
          <Field label={label} yamlKey={yamlKey}>
            <select value={value} data-testid={testId} className={inputClass} onChange={(event) => onChange(event.target.value)}>
              {value === "" ? <option value="">{t("chooseModel")}</option> : null}
              {presence
                ? groups.map((group) => (
                    <optgroup key={group.state} label={t(`modelGroups.${group.state}`)}>
                      {options(group.names)}
                    </optgroup>
                  ))
                : options(names)}
            </select>
          </Field>
        </div>
        <div className="pb-1.5">
          <ModelBadge model={value} presence={presence} />
        </div>
      </div>
      {suggestion && presence && modelState(value, presence) === "unknown" ? (
        <p className="mt-1 flex flex-wrap items-center gap-1.5 text-xs text-red-700 dark:text-red-300">
          <span>{t.rich("didYouMean", { ...dataTags, suggestion })}</span>
          <button type="button" className={`${buttonClass} px-1.5 py-0 text-xs`} onClick={() => onChange(suggestion)}>
            {issuesText.rich("use", { ...dataTags, suggestion })}
          </button>
        </p>
      ) : null}
    </div>
  );
}

function Placeholders({ names, onInsert }: { names: string[]; onInsert: (placeholder: string) => void }) {
  const t = useTranslations("editor.inspector");
  return (
    <span className="flex flex-wrap items-center gap-1" role="group" aria-label={t("placeholdersLabel")}>
      <span aria-hidden>{t("placeholders")}</span>
      {names.map((name) => (
        <button
          key={name}
          type="button"
          translate="no"
          className="rounded bg-neutral-100 px-1 font-mono text-[11px] text-neutral-800 hover:bg-neutral-200 focus-visible:outline-2 focus-visible:outline-blue-500 dark:bg-neutral-800 dark:text-neutral-200 dark:hover:bg-neutral-700"
          onClick={() => onInsert(name)}
        >
          {name}
        </button>
      ))}
    </span>
  );
}

function aggregationPlaceholders(models: readonly string[]): string[] {
  return ["{{input}}", "{{answers}}", ...models.flatMap((_, index) => [`{{answer.${index + 1}}}`, `{{model.${index + 1}}}`]), ...[...new Set(models)].map((model) => `{{answer.${model}}}`)];
}

const paramFields = [
  { key: "temperature", min: 0, max: 5, step: 0.05 },
  { key: "top_p", min: 0, max: 1, step: 0.05 },
  { key: "top_k", integer: true, min: 0 },
  { key: "min_p", min: 0, max: 1, step: 0.01 },
  { key: "repeat_penalty", min: 0, max: 5, step: 0.05 },
  { key: "max_tokens", integer: true, min: 1 },
  { key: "seed", integer: true, min: 0 },
] as const;

/** Generation parameters: an empty field falls back to the model's and the defaults' values. */
export function ParamsFields({ params, onChange }: { params: GenerationParams; onChange: (params: GenerationParams, field: string) => void }) {
  const t = useTranslations("editor.params");
  const set = <K extends keyof GenerationParams>(key: K, value: GenerationParams[K] | undefined) => {
    const next = { ...params };
    if (value === undefined) delete next[key];
    else next[key] = value;
    onChange(next, key);
  };
  return (
    <div className="grid grid-cols-2 gap-2">
      {paramFields.map((field) => (
        <NumberField
          key={field.key}
          label={t(field.key)}
          yamlKey={field.key}
          value={params[field.key]}
          integer={"integer" in field}
          min={field.min}
          max={"max" in field ? field.max : undefined}
          step={"step" in field ? field.step : undefined}
          onChange={(value) => set(field.key, value)}
        />
      ))}
      <div className="col-span-2">
        {/* Three states, not a checkbox: unset falls back to the model's and the defaults' value, as an empty field does. */}
        <SelectField
          label={t("ignore_eos")}
          yamlKey="ignore_eos"
          testId="param-ignore-eos"
          value={params.ignore_eos === undefined ? "default" : params.ignore_eos ? "on" : "off"}
          options={[
            { value: "default", label: t("ignoreEosDefault") },
            { value: "on", label: t("ignoreEosOn") },
            { value: "off", label: t("ignoreEosOff") },
          ]}
          onChange={(value) => set("ignore_eos", value === "default" ? undefined : value === "on")}
        />
      </div>
      <div className="col-span-2">
        <StringListField label={t("stop")} yamlKey="stop" hint={t.rich("stopHint", dataTags)} value={params.stop} onChange={(value) => set("stop", value)} />
      </div>
    </div>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <fieldset className="space-y-2 border-t border-neutral-200 pt-3 dark:border-neutral-800">
      <legend className="pr-2 text-xs font-semibold uppercase tracking-wide text-neutral-500 dark:text-neutral-400">{title}</legend>
      {children}
    </fieldset>
  );
}

/** An undo key of its own: a click (add, remove) is one step of undo, never merged with the click before it. */
let steps = 0;
const oneStep = (action: string) => `${action}#${++steps}`;

/**
 * A stage's `history`: the turns of a conversation before its prompt (few-shot examples, or a chat's
 * earlier messages), each a role and its text, in order. A new turn takes the role the last one did not.
 */
function HistoryFields({ turns, onChange }: { turns: HistoryTurn[]; onChange: (turns: HistoryTurn[], field: string) => void }) {
  const t = useTranslations("editor.inspector");
  const roles = (["user", "assistant"] as const).map((role) => ({ value: role, label: t(`roles.${role}`) }));
  const set = (index: number, turn: HistoryTurn, field: string) => onChange(turns.map((old, at) => (at === index ? turn : old)), `history.${index}.${field}`);
  return (
    <Section title={t("history")}>
      <p className="text-xs text-neutral-600 dark:text-neutral-400">{t("historyHint")}</p>
      {turns.length > 0 ? (
        <ol className="space-y-3" data-testid="stage-history">
          {turns.map((turn, index) => (
            <li key={index} className="space-y-1">
              <div className="flex items-end gap-2">
                <div className="min-w-0 flex-1">
                  <SelectField label={t("turnRole", { index: index + 1 })} yamlKey="role" value={turn.role} options={roles} onChange={(role) => set(index, { ...turn, role }, "role")} />
                </div>
                <button type="button" className={buttonClass} aria-label={t("removeTurn", { index: index + 1 })} onClick={() => onChange(turns.filter((_, at) => at !== index), oneStep("history.remove"))}>
                  ✕
                </button>
              </div>
              <TextField label={t("turnContent", { index: index + 1 })} yamlKey="content" multiline rows={2} value={turn.content === "" ? undefined : turn.content} onChange={(content) => set(index, { ...turn, content: content ?? "" }, "content")} />
            </li>
          ))}
        </ol>
      ) : null}
      <button type="button" className={buttonClass} onClick={() => onChange([...turns, { role: turns.at(-1)?.role === "user" ? "assistant" : "user", content: "" }], oneStep("history.add"))}>
        {t("addTurn")}
      </button>
    </Section>
  );
}

function AggregationFields({
  stage,
  modelNames,
  presence,
  suggestionFor,
  onChange,
}: {
  stage: MultiStage;
  modelNames: readonly string[];
  presence: ModelPresence;
  suggestionFor: (field: ModelField) => string | undefined;
  onChange: (aggregation: Aggregation, key: string) => void;
}) {
  const t = useTranslations("editor.inspector");
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
    <Section title={t("aggregation")}>
      <SelectField
        label={t("method")}
        yamlKey="method"
        testId="aggregation-method"
        value={aggregation.method}
        options={(["concat", "vote", "synthesis", "template"] as const).map((method) => ({ value: method, label: t(`methodOptions.${method}`) }))}
        onChange={(method) => onChange(defaultAggregation(method, stage.models), "aggregation.method")}
      />
      {aggregation.method === "concat" ? (
        <>
          <TextField
            label={t("separator")}
            yamlKey="separator"
            hint={t.rich("separatorHint", dataTags)}
            value={aggregation.separator.replace(/\n/g, "\\n")}
            onChange={(value) => onChange({ ...aggregation, separator: (value ?? "").replace(/\\n/g, "\n") }, "aggregation.separator")}
          />
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" className={checkboxClass} checked={aggregation.labels} onChange={(event) => onChange({ ...aggregation, labels: event.target.checked }, "aggregation.labels")} />
            {t("labels")}
          </label>
        </>
      ) : null}
      {aggregation.method === "vote" ? <p className="text-xs text-neutral-500 dark:text-neutral-400">{t("vote")}</p> : null}
      {aggregation.method === "synthesis" ? (
        <>
          <ModelSelect
            label={t("synthesisModel")}
            yamlKey="model"
            value={aggregation.model}
            modelNames={modelNames}
            presence={presence}
            suggestion={suggestionFor({ kind: "aggregation" })}
            onChange={(model) => onChange({ ...aggregation, model }, "aggregation.model")}
          />
          <TextField label={t("synthesisPrompt")} yamlKey="prompt" multiline rows={4} value={aggregation.prompt} hint={help} onChange={(prompt) => onChange({ ...aggregation, prompt }, "aggregation.prompt")} />
          <details>
            <summary className="cursor-pointer text-xs font-medium text-neutral-700 dark:text-neutral-300">{t("synthesisParams")}</summary>
            <div className="pt-2">
              <ParamsFields params={aggregation.params} onChange={(params, field) => onChange({ ...aggregation, params }, `aggregation.params.${field}`)} />
            </div>
          </details>
        </>
      ) : null}
      {aggregation.method === "template" ? (
        <TextField label={t("template")} yamlKey="template" multiline rows={4} value={aggregation.template} hint={help} onChange={(template) => onChange({ ...aggregation, template: template ?? "" }, "aggregation.template")} />
      ) : null}
    </Section>
  );
}

export function Inspector({ stage, pipeline, modelNames, presence, issues, onChange, onRename, onDelete }: InspectorProps) {
  const t = useTranslations("editor.inspector");
  const text = useEditorText();
  const [idDraft, setIdDraft] = useState(stage.id);
  const [idError, setIdError] = useState<Refusal | null>(null);
  const [inputError, setInputError] = useState<Refusal | null>(null);
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
    setInputError(result.ok ? null : result.refusal);
    if (result.ok) onChange(stageIn(result.pipeline), key("input_from"));
  };
  const disconnect = (source: string) => {
    setInputError(null);
    onChange(stageIn(disconnectStages(pipeline, source, stage.id)), key("input_from"));
  };
  /** The model a validation issue suggests for an unknown one in `field`. */
  const suggestionFor = (field: ModelField) => issues.map(modelFix).find((fix) => fix && JSON.stringify(fix.field) === JSON.stringify(field))?.model;
  const setModel = (field: ModelField, model: string, undoKey: string) => onChange(setStageModel(stage, field, model), key(undoKey));
  // The model fields show their own "did you mean"; the list above says the rest.
  const listed = issues.filter((issue) => !modelFix(issue));

  return (
    <div className="space-y-3" data-testid="inspector">
      <div className="flex items-center justify-between gap-2">
        {/* Focused from the canvas (Enter on a selected node), so a keyboard user lands on the stage's fields. */}
        <h2 tabIndex={-1} data-inspector-heading className={headingClass}>
          {t.rich("stage", { ...dataTags, id: stage.id })}
        </h2>
        <button type="button" className={`${buttonClass} text-red-700 dark:text-red-300`} onClick={onDelete}>
          {t("deleteStage")}
        </button>
      </div>
      {listed.length > 0 ? (
        <ul className="space-y-1 text-xs">
          {listed.map((issue, index) => (
            <li key={index} className={issue.severity === "error" ? "text-red-700 dark:text-red-300" : "text-amber-800 dark:text-amber-300"}>
              <IssueText issue={issue} />
            </li>
          ))}
        </ul>
      ) : null}
      <Field label={t("id")} yamlKey="id" hint={idError ? <span role="alert" className="text-red-700 dark:text-red-300">{text.refusal(idError)}</span> : t.rich("idHint", dataTags)}>
        <input
          type="text"
          value={idDraft}
          data-testid="stage-id"
          translate="no"
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
      <TextField label={t("name")} yamlKey="name" value={stage.name} onChange={(value) => clear("name", value)} testId="stage-name" />
      <SelectField
        label={t("type")}
        yamlKey="type"
        testId="stage-type"
        value={stage.type}
        options={(["single", "multi"] as const).map((type) => ({ value: type, label: t(`types.${type}`) }))}
        onChange={(type) => onChange(switchStageType(stage, type), key("type"))}
      />
      {stage.type === "single" ? (
        <ModelSelect
          label={t("model")}
          yamlKey="model"
          testId="stage-model"
          value={stage.model}
          modelNames={modelNames}
          presence={presence}
          suggestion={suggestionFor({ kind: "model" })}
          onChange={(model) => setModel({ kind: "model" }, model, "model")}
        />
      ) : (
        <Section title={t("models")}>
          {stage.models.map((model, index) => (
            <div key={index} className="flex items-start gap-2">
              <div className="min-w-0 flex-1">
                <ModelSelect
                  label={t("modelN", { index: index + 1 })}
                  value={model}
                  modelNames={modelNames}
                  presence={presence}
                  suggestion={suggestionFor({ kind: "models", index })}
                  onChange={(next) => setModel({ kind: "models", index }, next, "models")}
                />
              </div>
              <button
                type="button"
                className={`${buttonClass} mt-5`}
                aria-label={t("removeModel", { index: index + 1 })}
                disabled={stage.models.length <= 1}
                onClick={() => update({ models: stage.models.filter((_, at) => at !== index) }, oneStep("models.remove"))}
              >
                ✕
              </button>
            </div>
          ))}
          <button type="button" className={buttonClass} onClick={() => update({ models: [...stage.models, stage.models.at(-1) ?? modelNames[0] ?? ""] }, oneStep("models.add"))}>
            {t("addModel")}
          </button>
        </Section>
      )}
      {stage.type === "multi" ? (
        <AggregationFields stage={stage} modelNames={modelNames} presence={presence} suggestionFor={suggestionFor} onChange={(aggregation, field) => update({ aggregation }, field)} />
      ) : null}
      <Section title={t("input")}>
        <p className="text-xs text-neutral-600 dark:text-neutral-400">
          {upstream.length === 0 ? t("readsInput") : t.rich(upstream.length > 1 ? "readsMerged" : "reads", { ...dataTags, stages: () => text.list(upstream) })} {t("tick")}
        </p>
        <div className="flex flex-wrap gap-x-3 gap-y-1 text-sm" data-testid="stage-inputs">
          {/* Ticked while input_from is absent; ticking a stage unticks it (the input node's edge cannot be deleted either). */}
          <label className="flex items-center gap-1" title={upstream.length === 0 ? t("userInputOn") : t("userInputOff")}>
            <input type="checkbox" className={checkboxClass} checked={upstream.length === 0} disabled={upstream.length === 0} onChange={() => connect(inputNodeId)} />
            <span>{t("userInput")}</span>
          </label>
          {others.map((other) => (
            <label key={other.id} className="flex items-center gap-1">
              <input type="checkbox" className={checkboxClass} checked={upstream.includes(other.id)} onChange={(event) => (event.target.checked ? connect(other.id) : disconnect(other.id))} />
              <Data className="font-mono">{other.id}</Data>
            </label>
          ))}
        </div>
        {inputError ? (
          <p role="alert" data-testid="input-error" className="text-xs text-red-700 dark:text-red-300">
            {text.refusal(inputError)}
          </p>
        ) : null}
      </Section>
      <Section title={t("prompt")}>
        <TextField
          label={t("promptTemplate")}
          yamlKey="prompt"
          multiline
          rows={4}
          value={stage.prompt}
          testId="stage-prompt"
          hint={<Placeholders names={["{{input}}", ...upstream.map((id) => `{{stage.${id}}}`)]} onInsert={(name) => clear("prompt", `${stage.prompt ?? ""}${name}`)} />}
          onChange={(value) => clear("prompt", value)}
        />
        <TextField label={t("system")} yamlKey="system" multiline rows={2} value={stage.system} onChange={(value) => clear("system", value)} />
        <SelectField
          label={t("outputMode")}
          yamlKey="output_mode"
          testId="stage-output-mode"
          value={stage.output_mode}
          options={(["answer_only", "input_plus_answer"] as const).map((mode) => ({ value: mode, label: t(`outputModes.${mode}`) }))}
          onChange={(output_mode) => update({ output_mode }, "output_mode")}
        />
      </Section>
      <HistoryFields
        turns={stage.history ?? []}
        onChange={(history, field) => {
          // No turns: the key leaves the file, as an emptied name or prompt does.
          const { history: _earlier, ...rest } = stage;
          onChange((history.length === 0 ? rest : { ...rest, history }) as Stage, key(field));
        }}
      />
      <Section title={t("params")}>
        <ParamsFields params={stage.params} onChange={(params, field) => update({ params }, `params.${field}`)} />
      </Section>
    </div>
  );
}
