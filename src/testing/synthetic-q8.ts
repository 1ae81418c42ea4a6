/**
 * A llama model of random Q8_0 (or Q4_0) weights and a chosen size, with the story model's keys and vocabulary: a
 * model with tens of MiB of a type llama.cpp's CPU backend may repack (see memory-estimate.ts), where the
 * only model here is a 1 MiB F32 one, which it never repacks. Its text is noise; it loads and decodes as
 * a real model of that shape does. The story model's keys are copied with its sizes changed in place (the
 * width, the feed-forward width, the layers and the rope's dimensions: 32-bit values, so no offset moves),
 * then the tensor infos and data are written (see gguf-layout.ts). The same shape as
 * `../shared/tools/make-synthetic-gguf.py` makes, written here so that tests need nothing outside the project.
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { GgmlType } from "node-llama-cpp";
import { repackedTypesHere } from "../runtime/memory-estimate.js";
import { storiesFile, testModelsDir } from "./fixtures.js";
import { readGgufLayout } from "./gguf-layout.js";

const f32 = 0;
const uint32Type = 4;
const blockValues = 32;
/** Each type's GGUF number and block of 32 values: a half float scale, then the values (8 bits each, or 4). */
const quantizations = { Q8_0: { type: 8, blockBytes: 34 }, Q4_0: { type: 2, blockBytes: 18 } } as const;
/** A block's scale: 0.01 as a half float (Q8_0's values then lie within ±1.28, as trained weights do). */
const scaleBits = 0x211f;

export interface SyntheticShape {
  /** The width (a multiple of 32, of 8 heads). */
  embedding: number;
  /** The feed-forward width (a multiple of 32). */
  feedForward: number;
  layers: number;
}

/**
 * The tests' shape: ~48 MiB of matrices the CPU backend may repack, past the least a load measures
 * (`measuredRepackBytes` in the worker, 40 MiB), and a 51 MB file.
 */
export const syntheticShape: SyntheticShape = { embedding: 1024, feedForward: 2816, layers: 4 };
/** The same in Q4_0, twice as deep: ~51 MiB of matrices, past what a load measures too. */
export const syntheticShapeQ4: SyntheticShape = { ...syntheticShape, layers: 8 };

/**
 * A synthetic model whose plan counts a repacked copy before its first load here, and whose first load
 * measures it: Q4_0 where this CPU's rule repacks it (x86-64 with AVX2), Q8_0 where the rule is not known
 * (every type counted); undefined where the rule repacks neither.
 */
export function repackedSyntheticHere(): { quantization: keyof typeof quantizations; shape: SyntheticShape } | undefined {
  const rule = repackedTypesHere;
  if (rule?.has(GgmlType.Q4_0)) return { quantization: "Q4_0", shape: syntheticShapeQ4 };
  return rule === undefined || rule.has(GgmlType.Q8_0) ? { quantization: "Q8_0", shape: syntheticShape } : undefined;
}

/** Writes the model to `target` and answers `target`. */
export async function writeSyntheticQ8(target: string, shape: SyntheticShape, quantization: keyof typeof quantizations = "Q8_0"): Promise<string> {
  const { type: matrixType, blockBytes } = quantizations[quantization];
  if (shape.embedding % 256 !== 0 || shape.feedForward % blockValues !== 0) throw new Error("a synthetic model's widths are whole Q8_0 blocks and 8 heads of them");
  const stories = await readFile(path.join(testModelsDir, storiesFile));
  const { keysEnd, alignment, tensors } = readGgufLayout(stories, storiesFile);
  const keys = Buffer.from(stories.subarray(0, keysEnd));
  const heads = 8;
  const kvHeads = 4;
  for (const [key, value] of [
    ["llama.embedding_length", shape.embedding],
    ["llama.feed_forward_length", shape.feedForward],
    ["llama.block_count", shape.layers],
    ["llama.rope.dimension_count", shape.embedding / heads],
  ] as const) {
    const name = Buffer.from(key, "ascii");
    const found = keys.indexOf(name);
    // GGUF: the key's text, then the value's type, then the value.
    if (found < 0 || keys.readUInt32LE(found + name.length) !== uint32Type) throw new Error(`${storiesFile} has no uint32 ${key}: not the story model these tests expect`);
    keys.writeUInt32LE(value, found + name.length + 4);
  }
  const vocabulary = tensors.find((tensor) => tensor.name === "token_embd.weight")!.dimensions[1]!;
  const { embedding, feedForward } = shape;
  const kvWidth = (embedding / heads) * kvHeads;
  const shapes: Array<[string, number[]]> = [
    ["token_embd.weight", [embedding, vocabulary]],
    ["output_norm.weight", [embedding]],
    ["output.weight", [embedding, vocabulary]],
  ];
  for (let layer = 0; layer < shape.layers; layer++) {
    shapes.push(
      [`blk.${layer}.attn_q.weight`, [embedding, embedding]],
      [`blk.${layer}.attn_k.weight`, [embedding, kvWidth]],
      [`blk.${layer}.attn_v.weight`, [embedding, kvWidth]],
      [`blk.${layer}.attn_output.weight`, [embedding, embedding]],
      [`blk.${layer}.attn_norm.weight`, [embedding]],
      [`blk.${layer}.ffn_gate.weight`, [embedding, feedForward]],
      [`blk.${layer}.ffn_down.weight`, [feedForward, embedding]],
      [`blk.${layer}.ffn_up.weight`, [embedding, feedForward]],
      [`blk.${layer}.ffn_norm.weight`, [embedding]],
    );
  }

  // The header's tensor count, then the infos and the data.
  keys.writeBigUInt64LE(BigInt(shapes.length), 8);
  const pad = (length: number) => Buffer.alloc((alignment - (length % alignment)) % alignment);
  // The same weights every time (xorshift32 from a fixed seed): a test's greedy text does not change by chance.
  let state = 0x9e3779b9;
  const randomBytes = (buffer: Buffer) => {
    for (let at = 0; at + 4 <= buffer.length; at += 4) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      buffer.writeInt32LE(state | 0, at);
    }
    return buffer;
  };
  const infos: Buffer[] = [];
  const datas: Buffer[] = [];
  let dataLength = 0;
  for (const [name, dimensions] of shapes) {
    const values = dimensions.reduce((product, dimension) => product * dimension, 1);
    let data: Buffer;
    let type: number;
    if (dimensions.length === 1) {
      // A norm's weights: ones.
      type = f32;
      data = Buffer.alloc(values * 4);
      for (let index = 0; index < values; index++) data.writeFloatLE(1, index * 4);
    } else {
      type = matrixType;
      data = randomBytes(Buffer.alloc((values / blockValues) * blockBytes));
      for (let block = 0; block < values / blockValues; block++) data.writeUInt16LE(scaleBits, block * blockBytes);
    }
    const text = Buffer.from(name, "utf8");
    const info = Buffer.alloc(8 + text.length + 4 + 8 * dimensions.length + 4 + 8);
    let at = info.writeBigUInt64LE(BigInt(text.length), 0);
    at += text.copy(info, at);
    at = info.writeUInt32LE(dimensions.length, at);
    for (const dimension of dimensions) at = info.writeBigUInt64LE(BigInt(dimension), at);
    at = info.writeUInt32LE(type, at);
    info.writeBigUInt64LE(BigInt(dataLength), at);
    infos.push(info);
    datas.push(data, pad(data.length));
    dataLength += data.length + pad(data.length).length;
  }
  const head = Buffer.concat([keys, ...infos]);
  await writeFile(target, Buffer.concat([head, pad(head.length), ...datas]));
  return target;
}
