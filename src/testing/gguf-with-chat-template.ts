/**
 * Writes a copy of a GGUF file with one more metadata key, `tokenizer.chat_template`, so that tests can
 * drive the chat path with the small story model (no chat model is available here). The GGUF layout:
 * header (magic, version, tensor count, key count), the keys, the tensor infos, padding to the
 * alignment, then the tensor data; tensor offsets are relative to the data, so they stay valid.
 * Written here because no library writes GGUF metadata from JavaScript.
 */
import { readFile, writeFile } from "node:fs/promises";
import { readGgufLayout, stringType } from "./gguf-layout.js";

/** A ChatML template, as many instruction models ship. */
export const chatMlTemplate =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export async function writeGgufWithChatTemplate(source: string, target: string, template = chatMlTemplate): Promise<void> {
  const buffer = await readFile(source);
  const { version, keyCount, keysStart, keysEnd, infosEnd, dataStart, alignment, tensors } = readGgufLayout(buffer, source);

  const header = Buffer.alloc(24);
  header.write("GGUF", 0, "ascii");
  header.writeUInt32LE(version, 4);
  header.writeBigUInt64LE(BigInt(tensors.length), 8);
  header.writeBigUInt64LE(BigInt(keyCount + 1), 16);
  const text = (value: string) => {
    const bytes = Buffer.from(value, "utf8");
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(bytes.length));
    return Buffer.concat([length, bytes]);
  };
  const typeTag = Buffer.alloc(4);
  typeTag.writeUInt32LE(stringType);
  const head = Buffer.concat([header, buffer.subarray(keysStart, keysEnd), text("tokenizer.chat_template"), typeTag, text(template), buffer.subarray(keysEnd, infosEnd)]);
  const padding = Buffer.alloc((alignment - (head.length % alignment)) % alignment);
  await writeFile(target, Buffer.concat([head, padding, buffer.subarray(dataStart)]));
}
