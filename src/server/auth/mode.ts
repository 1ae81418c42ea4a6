/**
 * Whether the studio asks who is there. As Jupyter does: a studio that listens on loopback only (the
 * default, 127.0.0.1) serves the person at the machine and asks nothing; one that listens on any other
 * address asks every request, unless `PROJECT_LLM_AUTH=off` says otherwise (and then it warns at every start).
 */
import { ProjectLlmError } from "../../common/index.js";

export interface AccessMode {
  enabled: boolean;
  /** The address the studio listens on (HOST, default 127.0.0.1). */
  host: string;
  loopback: boolean;
  /** PROJECT_LLM_AUTH as set (undefined when unset: access control then follows HOST). */
  setting?: "on" | "off";
}

/** True for an address only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const name = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return name === "localhost" || name.endsWith(".localhost") || name === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name) || name === "::ffff:127.0.0.1";
}

/** `PROJECT_LLM_AUTH` on | off | unset (on unless HOST is a loopback address). */
export function accessMode(env: Record<string, string | undefined>): AccessMode {
  const host = env.HOST?.trim() || "127.0.0.1";
  const loopback = isLoopbackHost(host);
  const setting = env.PROJECT_LLM_AUTH?.trim().toLowerCase();
  if (setting && setting !== "on" && setting !== "off") {
    throw new ProjectLlmError("usage", `PROJECT_LLM_AUTH is "${setting.slice(0, 20)}"; set it to on or off, or leave it unset (on unless HOST is a loopback address)`);
  }
  return { enabled: setting ? setting === "on" : !loopback, host, loopback, ...(setting ? { setting: setting as "on" | "off" } : {}) };
}
