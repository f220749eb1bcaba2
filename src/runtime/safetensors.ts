// Safetensors checkpoints (https://huggingface.co/docs/safetensors): the format Hugging Face's GPT-2
// weights ship in, so arch reads and writes it rather than a format of its own.
//
//   [u64 LE header length N][N bytes UTF-8 JSON header, space padded][data buffer]
//   header: { name: { dtype, shape, data_offsets: [begin, end] }, ..., __metadata__?: {str: str} }
//   offsets are relative to the start of the data buffer.
//
// Reading never lets bad bytes escape as a raw exception: every malformed file becomes a
// CheckpointError that names the file, says what is wrong and what to do about it. Bytes only:
// reading and writing the file is the host's (src/host/node/safetensors-file.ts).
import type { FileProblem } from '../data/files.js';

export interface StTensor {
  dtype: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

export interface StInput {
  shape: number[];
  data: Float32Array | Int32Array;
}

export type StInputs = Map<string, StInput> | Record<string, StInput>;

const HINT_CORRUPT = 'the file is truncated or corrupted; re-download it or save the checkpoint again';

export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly hint: string = HINT_CORRUPT,
  ) {
    super(`checkpoint ${file}: ${problem}\n  hint: ${hint}`);
    this.name = 'CheckpointError';
  }
}

// ---------------------------------------------------------------------------------------------
// A file that cannot be read (the host's reader says why)

/** Node's own limit on one read, and the most a checkpoint may be (larger ones ship in shards). */
export const MAX_SAFETENSORS_BYTES = 2 ** 31 - 1;

const SPECIAL: Record<NonNullable<FileProblem['special']>, string> = {
  fifo: 'a FIFO (named pipe)',
  'character device': 'a character device',
  'block device': 'a block device',
  socket: 'a socket',
  other: 'a special file',
};

/** A safetensors file that cannot be read, as a CheckpointError naming it. */
export function safetensorsReadError(file: string, p: FileProblem): CheckpointError {
  if (p.kind === 'missing') return new CheckpointError(file, 'file not found', 'check the path, or train and save a model first');
  if (p.kind === 'directory') return new CheckpointError(file, 'is a directory, not a file', 'pass the path of the .safetensors file itself');
  if (p.kind === 'not-file') return new CheckpointError(file, `is ${SPECIAL[p.special ?? 'other']}, not a regular file`, 'pass the path of the .safetensors file itself');
  if (p.kind === 'denied') return new CheckpointError(file, 'permission denied', 'check the file permissions');
  if (p.kind === 'too-large') return new CheckpointError(file, 'file is larger than 2 GiB, which this reader does not support', 'split the checkpoint into shards');
  return new CheckpointError(file, `cannot read file: ${p.message ?? p.text}`, 'check that the file is readable');
}

// Every typed array below is a view of file bytes, which are little-endian.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------
// Reading

/** The safetensors format's own bound on the JSON header (the reference reader refuses more). */
const MAX_HEADER_BYTES = 100_000_000;

/** Parses a safetensors image. Aligned F32/I32 tensors are views that share memory with `bytes`. */
export function parseSafetensors(bytes: Uint8Array, where = '<memory>'): StFile {
  if (!LITTLE_ENDIAN) throw new CheckpointError(where, 'big-endian hosts are not supported', 'run on a little-endian machine');
  const fail = (problem: string, hint?: string): never => {
    throw new CheckpointError(where, problem, hint);
  };

  if (bytes.length < 8) fail(`file is ${bytes.length} bytes long, shorter than the 8-byte header length`);
  const headerLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(bytes.length - 8)) {
    fail(`header length ${headerLen} is larger than the ${bytes.length - 8} bytes after it`);
  }
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} is over the format's limit of ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(headerLen);
  const data = bytes.subarray(dataStart);

  const header = parseHeader(bytes.subarray(8, dataStart), fail);
  const metadata = parseMetadata(header.__metadata__, fail);
  const entries = Object.entries(header)
    .filter(([name]) => name !== '__metadata__')
    .map(([name, raw]) => parseEntry(name, raw, fail));

  checkLayout(entries, data.length, fail);

  const tensors = new Map<string, StTensor>();
  for (const e of entries) {
    const decoded = e.codec.decode(data, e.begin, e.end);
    if (typeof decoded === 'string') fail(`tensor "${e.name}" (${e.dtype}): ${decoded}`, 'convert the checkpoint to F32 or I32 values');
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: decoded as Float32Array | Int32Array });
  }
  return { tensors, metadata };
}

type Fail = (problem: string, hint?: string) => never;

function parseHeader(raw: Uint8Array, fail: Fail): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return fail('header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(json)) return fail('header is not a JSON object');
  return json;
}

function parseMetadata(raw: unknown, fail: Fail): Record<string, string> {
  if (raw === undefined) return {};
  if (!isPlainObject(raw)) return fail('"__metadata__" is not an object of strings');
  for (const [k, v] of Object.entries(raw)) {
    if (typeof v !== 'string') fail(`"__metadata__" entry "${k}" is not a string`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data instead of a prototype.
  return Object.fromEntries(Object.entries(raw as Record<string, string>));
}

interface Entry {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
  codec: Codec;
}

function parseEntry(name: string, raw: unknown, fail: Fail): Entry {
  const at = `tensor "${name}"`;
  if (!isPlainObject(raw)) return fail(`${at}: entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = raw;
  if (typeof dtype !== 'string') return fail(`${at}: "dtype" is missing or not a string`);
  const codec = CODECS[dtype];
  if (codec === undefined) {
    return fail(`${at}: unsupported dtype ${dtype}`, `supported dtypes are ${Object.keys(CODECS).join(', ')}; convert the checkpoint`);
  }
  if (!isIndexArray(shape)) return fail(`${at}: "shape" is not a list of non-negative integers`);
  if (!isIndexArray(offsets) || offsets.length !== 2) return fail(`${at}: "data_offsets" is not a pair of non-negative integers`);
  const [begin, end] = offsets as [number, number]; // a pair, checked above
  if (begin > end) fail(`${at}: data_offsets [${begin}, ${end}] end before they begin`);
  const numel = shape.reduce((a, b) => a * b, 1);
  const expected = numel * codec.size;
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    fail(`${at}: ${dtype} [${shape.join(', ')}] needs ${expected} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  return { name, dtype, shape, begin, end, codec };
}

function checkLayout(entries: Entry[], dataLen: number, fail: Fail): void {
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  let used = 0;
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i]!;
    if (e.end > dataLen) {
      fail(`tensor "${e.name}" ends at data byte ${e.end} but the data section has only ${dataLen} bytes (file truncated?)`);
    }
    const prev = sorted[i - 1];
    if (prev !== undefined && e.begin < prev.end) {
      fail(`tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${e.name}" [${e.begin}, ${e.end}] overlap`);
    }
    used = Math.max(used, e.end);
  }
  if (used < dataLen) {
    fail(`${dataLen - used} bytes after the last tensor belong to no tensor`, 'the header does not describe the whole file; save the checkpoint again');
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndexArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((x) => Number.isSafeInteger(x) && (x as number) >= 0);
}

// ---------------------------------------------------------------------------------------------
// Dtypes. decode returns the values, or a string saying why they do not fit.

interface Codec {
  size: number;
  decode(data: Uint8Array, begin: number, end: number): Float32Array | Int32Array | string;
}

type ViewCtor<T> = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number };

/** A typed view of data[begin, end): shares memory where aligned, else copies those bytes once. */
function view<T>(Ctor: ViewCtor<T>, data: Uint8Array, begin: number, end: number): T {
  const n = (end - begin) / Ctor.BYTES_PER_ELEMENT;
  const offset = data.byteOffset + begin;
  if (offset % Ctor.BYTES_PER_ELEMENT === 0) return new Ctor(data.buffer, offset, n);
  return new Ctor(data.slice(begin, end).buffer, 0, n);
}

/** Narrows wider integers to i32; `word(i)` gives element i's low word and whether it fits. */
function narrowInts(
  count: number,
  word: (i: number) => { lo: number; ok: boolean },
): Int32Array | string {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const { lo, ok } = word(i);
    if (!ok) return `element ${i} does not fit in a 32-bit integer`;
    out[i] = lo;
  }
  return out;
}

function widenInts(src: ArrayLike<number>): Int32Array {
  const out = new Int32Array(src.length);
  out.set(src);
  return out;
}

const CODECS: Record<string, Codec> = {
  F32: { size: 4, decode: (d, b, e) => view(Float32Array, d, b, e) },
  F64: { size: 8, decode: (d, b, e) => new Float32Array(view(Float64Array, d, b, e)) },
  F16: { size: 2, decode: (d, b, e) => decodeF16(view(Uint16Array, d, b, e)) },
  BF16: { size: 2, decode: (d, b, e) => decodeBF16(view(Uint16Array, d, b, e)) },
  I32: { size: 4, decode: (d, b, e) => view(Int32Array, d, b, e) },
  I64: {
    size: 8,
    decode: (d, b, e) => {
      const w = view(Int32Array, d, b, e);
      // an i64 fits in i32 exactly when its upper word is the sign extension of its lower word
      return narrowInts(w.length / 2, (i) => ({ lo: w[2 * i]!, ok: w[2 * i + 1] === w[2 * i]! >> 31 }));
    },
  },
  U64: {
    size: 8,
    decode: (d, b, e) => {
      const w = view(Int32Array, d, b, e);
      return narrowInts(w.length / 2, (i) => ({ lo: w[2 * i]!, ok: w[2 * i + 1] === 0 && w[2 * i]! >= 0 }));
    },
  },
  U32: {
    size: 4,
    decode: (d, b, e) => {
      const w = view(Int32Array, d, b, e);
      return narrowInts(w.length, (i) => ({ lo: w[i]!, ok: w[i]! >= 0 }));
    },
  },
  I16: { size: 2, decode: (d, b, e) => widenInts(view(Int16Array, d, b, e)) },
  U16: { size: 2, decode: (d, b, e) => widenInts(view(Uint16Array, d, b, e)) },
  I8: { size: 1, decode: (d, b, e) => widenInts(view(Int8Array, d, b, e)) },
  U8: { size: 1, decode: (d, b, e) => widenInts(view(Uint8Array, d, b, e)) },
  BOOL: { size: 1, decode: (d, b, e) => widenInts(view(Uint8Array, d, b, e)) },
};

/** IEEE half -> single, exact for every bit pattern (subnormals, infinities, NaN payloads). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // zero and subnormals: frac * 2^-14 * 2^-10
  if (exp === 0x1f) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

// Bit patterns, copied as integers: a float round trip through JS numbers would quiet signalling NaNs.
let f16Table: Uint32Array | undefined;

function decodeF16(src: Uint16Array): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    const asFloat = new Float32Array(f16Table.buffer);
    for (let h = 0; h < 65536; h++) {
      if (((h >> 10) & 0x1f) === 0x1f) f16Table[h] = ((h & 0x8000) << 16) | 0x7f800000 | ((h & 0x3ff) << 13);
      else asFloat[h] = f16ToF32(h); // finite values are exact in f32, so this assignment is too
    }
  }
  const table = f16Table;
  const out = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = table[src[i]!]!;
  return new Float32Array(out.buffer);
}

/** bfloat16 is the upper half of an f32, so widening is a 16-bit shift (exact, NaNs included). */
function decodeBF16(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
  return new Float32Array(bits.buffer);
}

// ---------------------------------------------------------------------------------------------
// Writing: F32 and I32 only, tensors in the order given, header padded so data starts 8-aligned.

interface Layout {
  header: Uint8Array; // length prefix + padded JSON
  tensors: [string, StInput][];
  dataBytes: number;
}

function layout(where: string, inputs: StInputs, metadata?: Record<string, string>): Layout {
  const tensors = inputs instanceof Map ? [...inputs] : Object.entries(inputs);
  // no prototype, so a tensor named "__proto__" is an ordinary key
  const json = Object.create(null) as Record<string, unknown>;
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new CheckpointError(where, `metadata "${k}" is not a string`, 'convert metadata values to strings');
    }
    json.__metadata__ = metadata;
  }
  let offset = 0;
  for (const [name, t] of tensors) {
    const hint = 'pass a shape whose product is the data length, and Float32Array or Int32Array data';
    if (name === '__metadata__') throw new CheckpointError(where, 'a tensor may not be named "__metadata__"', 'rename the tensor');
    if (Object.hasOwn(json, name)) throw new CheckpointError(where, `tensor "${name}" appears twice`, 'give each tensor a distinct name');
    if (!isIndexArray(t.shape)) throw new CheckpointError(where, `tensor "${name}": shape is not a list of non-negative integers`, hint);
    const dtype = t.data instanceof Float32Array ? 'F32' : t.data instanceof Int32Array ? 'I32' : undefined;
    if (dtype === undefined) throw new CheckpointError(where, `tensor "${name}": data is neither a Float32Array nor an Int32Array`, hint);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) {
      throw new CheckpointError(where, `tensor "${name}": shape [${t.shape.join(', ')}] has ${numel} elements but data has ${t.data.length}`, hint);
    }
    json[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.length / 8) * 8;
  const header = new Uint8Array(8 + padded).fill(0x20);
  new DataView(header.buffer).setBigUint64(0, BigInt(padded), true);
  header.set(text, 8);
  return { header, tensors, dataBytes: offset };
}

function bytesOf(data: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function serializeSafetensors(inputs: StInputs, metadata?: Record<string, string>): Uint8Array {
  const { header, tensors, dataBytes } = layout('<memory>', inputs, metadata);
  const out = new Uint8Array(header.length + dataBytes);
  out.set(header, 0);
  let at = header.length;
  for (const [, t] of tensors) {
    out.set(bytesOf(t.data), at);
    at += t.data.byteLength;
  }
  return out;
}

/** The file's bytes in pieces (header, then each tensor's data as a view, no copy), for a host
 *  that writes them one by one: saving then needs no second copy of the weights. */
export function safetensorsPieces(inputs: StInputs, metadata?: Record<string, string>, where = '<memory>'): Uint8Array[] {
  if (!LITTLE_ENDIAN) throw new CheckpointError(where, 'big-endian hosts are not supported', 'run on a little-endian machine');
  const { header, tensors } = layout(where, inputs, metadata);
  return [header, ...tensors.map(([, t]) => bytesOf(t.data))];
}
