// Test-side helpers: paths of the golden fixtures, a minimal safetensors
// reader/writer for making real (good and bad) files, and comparisons.
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "fixtures");
export const TINY = path.join(FIXTURES, "ltgbert-tiny");
export const BABYLM = path.join(FIXTURES, "ltgbert-babylm");

export interface StTensor {
  dtype: string;
  shape: number[];
  bytes: Buffer;
}

/** Parses a safetensors file into raw tensors (test use: no validation). */
export function readSafetensorsRaw(file: string): Map<string, StTensor> {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString("utf8")) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, StTensor>();
  for (const [key, v] of Object.entries(header)) {
    if (key === "__metadata__") continue;
    const [s, e] = v.data_offsets;
    out.set(key, { dtype: v.dtype, shape: v.shape, bytes: Buffer.from(buf.subarray(8 + n + s, 8 + n + e)) });
  }
  return out;
}

/** Writes tensors as safetensors (header padded to 8 bytes). */
export function writeSafetensorsRaw(
  file: string,
  tensors: Map<string, StTensor>,
  headerPatch: (h: Record<string, unknown>) => void = () => {},
): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, t] of tensors) {
    header[key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  headerPatch(header);
  let json = JSON.stringify(header);
  while ((json.length + 8) % 8 !== 0) json += " ";
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  writeFileSync(file, Buffer.concat([len, Buffer.from(json), ...[...tensors.values()].map((t) => t.bytes)]));
}

/** The fixture's expected tensors as typed arrays. */
export function readExpected(file: string): Map<string, { shape: number[]; data: Float32Array | BigInt64Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array | BigInt64Array }>();
  for (const [key, t] of readSafetensorsRaw(file)) {
    const ab = t.bytes.buffer.slice(t.bytes.byteOffset, t.bytes.byteOffset + t.bytes.length);
    if (t.dtype === "F32") out.set(key, { shape: t.shape, data: new Float32Array(ab) });
    else if (t.dtype === "I64") out.set(key, { shape: t.shape, data: new BigInt64Array(ab) });
    else throw new Error(`test helper: unexpected dtype ${t.dtype} for ${key}`);
  }
  return out;
}

export function f32(map: ReturnType<typeof readExpected>, key: string): Float32Array {
  const t = map.get(key);
  if (!t || !(t.data instanceof Float32Array)) throw new Error(`fixture has no float tensor ${key}`);
  return t.data;
}

export function i64(map: ReturnType<typeof readExpected>, key: string): { data: BigInt64Array; shape: number[] } {
  const t = map.get(key);
  if (!t || !(t.data instanceof BigInt64Array)) throw new Error(`fixture has no int64 tensor ${key}`);
  return { data: t.data, shape: t.shape };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

/** Debian's python3 with torch, if present; tests that need it skip with a reason otherwise. */
export const PYTHON_WITH_TORCH: string | null = (() => {
  const candidates = [process.env.LTGBERT_TEST_PYTHON, "/usr/bin/python3", "python3"].filter(Boolean) as string[];
  for (const py of candidates) {
    try {
      execFileSync(py, ["-c", "import torch"], { stdio: "ignore", timeout: 60_000 });
      return py;
    } catch {
      /* next */
    }
  }
  return null;
})();

/** A small masked LM's config: a 64-token row's logits are a large block (512 KiB). */
export const SMALL_MLM = {
  vocab_size: 4096,
  hidden_size: 32,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 64,
  max_position_embeddings: 64,
  position_bucket_size: 8,
};

export const HEADS = path.join(FIXTURES, "ltgbert-heads");

/** A TCP port free on loopback now: for a data-parallel rendezvous. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A model's float32 tensors by state-dict key. */
export async function floatWeights(model: {
  stateDict(): { keys(): Iterable<string>; read(key: string): Promise<{ data: unknown }> };
}): Promise<Map<string, Float32Array>> {
  const sd = model.stateDict();
  const out = new Map<string, Float32Array>();
  for (const key of sd.keys()) {
    const t = await sd.read(key);
    if (t.data instanceof Float32Array) out.set(key, t.data);
  }
  return out;
}

// `pretrain` options for a model small enough that a step takes milliseconds.
export const PRETRAIN_SIZES = [
  "--hidden-size",
  "32",
  "--layers",
  "2",
  "--heads",
  "2",
  "--intermediate-size",
  "64",
  "--max-position-embeddings",
  "64",
  "--sequence-length",
  "64",
  "--batch-size",
  "8",
  "--threads",
  "1",
];
