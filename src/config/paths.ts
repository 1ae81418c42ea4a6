import path from "node:path";

/** Environment variables (a plain record, so tests need not give every variable). */
export type Environment = Record<string, string | undefined>;

export interface ProjectPaths {
  /** Where models.yaml, pipeline.yaml and pipelines/ live. */
  configDir: string;
  /** True when `PROJECT_LLM_CONFIG_DIR` names the config folder (rather than the default `config`). */
  configDirNamed: boolean;
  sessionsDir: string;
  /** Over `models_directory` of models.yaml, when set. */
  modelsDirOverride?: string;
}

/**
 * The folders, from the environment: `PROJECT_LLM_CONFIG_DIR` (default `config`), `PROJECT_LLM_SESSIONS_DIR`
 * (default `sessions`), `PROJECT_LLM_MODELS_DIR` (over models_directory). Relative paths are resolved
 * against `cwd`.
 */
export function resolvePaths(env: Environment = process.env, cwd: string = process.cwd()): ProjectPaths {
  const resolve = (value: string) => path.resolve(/*turbopackIgnore: true*/ cwd, value);
  return {
    configDir: resolve(env.PROJECT_LLM_CONFIG_DIR || "config"),
    configDirNamed: Boolean(env.PROJECT_LLM_CONFIG_DIR),
    sessionsDir: resolve(env.PROJECT_LLM_SESSIONS_DIR || "sessions"),
    modelsDirOverride: env.PROJECT_LLM_MODELS_DIR ? resolve(env.PROJECT_LLM_MODELS_DIR) : undefined,
  };
}
