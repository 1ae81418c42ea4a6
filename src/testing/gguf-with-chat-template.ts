/**
 * Writes a copy of a GGUF file with one more metadata key, `tokenizer.chat_template`, so that tests can
 * drive the chat path with the small story model (no chat model is available here). The GGUF layout:
 * header (magic, version, tensor count, key count), the keys, the tensor infos, padding to the
 * alignment, then the tensor data; tensor offsets are relative to the data, so they stay valid.
 * Written here because no library writes GGUF metadata from JavaScript.
 */
import { readFile, writeFile } from "node:fs/promises";

/** A ChatML template, as many instruction models ship. */
export const chatMlTemplate =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const fixedSizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const stringType = 8;
const arrayType = 9;

export async function writeGgufWithChatTemplate(source: string, target: string, template = chatMlTemplate): Promise<void> {
  const buffer = await readFile(source);
  let offset = 0;
  const u32 = () => {
    const value = buffer.readUInt32LE(offset);
    offset += 4;
    return value;
  };
  const u64 = () => {
    const value = Number(buffer.readBigUInt64LE(offset));
    offset += 8;
    return value;
  };
  const string = () => {
    const length = u64();
    const text = buffer.toString("utf8", offset, offset + length);
    offset += length;
    return text;
  };
  const skipValue = (type: number): void => {
    if (type === stringType) string();
    else if (type === arrayType) {
      const itemType = u32();
      const count = u64();
      if (itemType in fixedSizes) offset += fixedSizes[itemType]! * count;
      else for (let index = 0; index < count; index++) skipValue(itemType);
    } else offset += fixedSizes[type]!;
  };

  if (buffer.toString("ascii", 0, 4) !== "GGUF") throw new Error(`${source} is not a GGUF file`);
  offset = 4;
  const version = u32();
  const tensorCount = u64();
  const keyCount = u64();
  const keysStart = offset;
  let alignment = 32;
  for (let index = 0; index < keyCount; index++) {
    const key = string();
    const type = u32();
    if (key === "general.alignment") alignment = buffer.readUInt32LE(offset);
    skipValue(type);
  }
  const keysEnd = offset;
  for (let index = 0; index < tensorCount; index++) {
    string();
    const dimensions = u32();
    offset += 8 * dimensions + 4 + 8;
  }
  const infosEnd = offset;
  const dataStart = Math.ceil(infosEnd / alignment) * alignment;

  const header = Buffer.alloc(24);
  header.write("GGUF", 0, "ascii");
  header.writeUInt32LE(version, 4);
  header.writeBigUInt64LE(BigInt(tensorCount), 8);
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
