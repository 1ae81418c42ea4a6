/**
 * Where things are in a GGUF file, for the test helpers that write a changed copy of one: the header
 * (magic, version, tensor count, key count), the keys, the tensor infos, padding to the alignment, then
 * the tensor data (tensor offsets are relative to it). Written here because no library writes GGUF from
 * JavaScript, and node-llama-cpp's reader does not give these byte offsets.
 */

const fixedSizes: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
export const stringType = 8;
const arrayType = 9;

export interface GgufLayout {
  version: number;
  keyCount: number;
  /** Byte offsets: the first key, the end of the keys, the end of the tensor infos, the tensor data. */
  keysStart: number;
  keysEnd: number;
  infosEnd: number;
  dataStart: number;
  alignment: number;
  tensors: Array<{ name: string; dimensions: number[]; type: number; offset: number }>;
}

export function readGgufLayout(buffer: Buffer, name: string): GgufLayout {
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

  if (buffer.toString("ascii", 0, 4) !== "GGUF") throw new Error(`${name} is not a GGUF file`);
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
  const tensors: GgufLayout["tensors"] = [];
  for (let index = 0; index < tensorCount; index++) {
    const tensorName = string();
    const count = u32();
    const dimensions = Array.from({ length: count }, () => u64());
    tensors.push({ name: tensorName, dimensions, type: u32(), offset: u64() });
  }
  const infosEnd = offset;
  return { version, keyCount, keysStart, keysEnd, infosEnd, dataStart: Math.ceil(infosEnd / alignment) * alignment, alignment, tensors };
}
