/**
 * Whether a command line will run a model, guessed from its words alone (see main.ts): a run (`run`, or
 * the original project's line with `--input` or its input on stdin), a plan, a session's rerun, the
 * models' facts. `stdinPiped`: whether stdin is not a terminal (a run may read its input there).
 */
export function runsModels(argv: readonly string[], stdinPiped = false): boolean {
  if (argv.some((word) => ["--help", "-h", "--version", "-v"].includes(word))) return false;
  const words = argv.filter((word) => !word.startsWith("-"));
  const command = words.find((word) => ["run", "plan", "sessions", "validate", "models", "init", "users", "help"].includes(word));
  if (command === "run" || command === "plan") return true;
  if (command === "sessions") return words.includes("rerun");
  if (command === "models") return !words.includes("pull");
  if (command !== undefined) return false;
  return argv.some((word) => /^(--input|-i|--input-file|-f)/.test(word)) || (stdinPiped && argv.length > 0);
}
