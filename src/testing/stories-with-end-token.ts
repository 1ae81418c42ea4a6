/**
 * A copy of the story model that ends its stories. stories260K was trained with only a beginning-of-text
 * token between stories, so it never writes its EOS (token 2): greedy, it runs to max_tokens. The copy's
 * header names token 1 (the one it writes where a story ends) as EOS, so it stops at the end of a story
 * as a model with a real end token does. One value of the same size changes: no offset moves.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { storiesFile, testModelsDir } from "./fixtures.js";

const uint32Type = 4;

/** Writes the copy to `target` and answers `target`. */
export async function writeStoriesWithEndToken(target: string): Promise<string> {
  const bytes = await readFile(path.join(testModelsDir, storiesFile));
  const key = Buffer.from("tokenizer.ggml.eos_token_id", "ascii");
  const found = bytes.indexOf(key);
  // GGUF: the key's text, then the value's type, then the value.
  const at = found + key.length;
  if (found < 0 || bytes.readUInt32LE(at) !== uint32Type || bytes.readUInt32LE(at + 4) !== 2) {
    throw new Error(`${storiesFile} has no uint32 eos_token_id of 2: not the story model these tests expect`);
  }
  bytes.writeUInt32LE(1, at + 4);
  await writeFile(target, bytes);
  return target;
}
