import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointError,
  f16ToF32,
  parseSafetensors,
  serializeSafetensors,
  type StFile,
} from '../src/runtime/safetensors.js';
import { readSafetensors, writeSafetensors } from '../src/host/node/safetensors-file.js';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-st-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** A safetensors image built by hand from a header object and raw data, independent of the writer. */
function image(header: unknown, data: Uint8Array = new Uint8Array(0), pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) json = json.padEnd(Math.ceil(json.length / 8) * 8, ' ');
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function u16s(...xs: number[]): Uint8Array {
  return new Uint8Array(new Uint16Array(xs).buffer);
}

function bitsOf(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0]!;
}

function expectCheckpointError(fn: () => unknown, ...fragments: (string | RegExp)[]): CheckpointError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CheckpointError);
  const err = caught as CheckpointError;
  expect(err.message).toMatch(/hint: /);
  for (const f of fragments) expect(err.message).toMatch(f);
  return err;
}

function sample() {
  return new Map([
    ['wte.weight', { shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i * 0.25 - 1) }],
    ['h.0.attn.bias', { shape: [5], data: new Float32Array([NaN, -0, Infinity, -Infinity, 1e-40]) }],
    ['step', { shape: [], data: new Int32Array([1234]) }],
    ['empty', { shape: [0, 3], data: new Float32Array(0) }],
    ['ids', { shape: [2, 2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -7]) }],
  ]);
}

function expectSameAsSample(file: StFile): void {
  const want = sample();
  expect([...file.tensors.keys()]).toEqual([...want.keys()]);
  for (const [name, t] of want) {
    const got = file.tensors.get(name)!;
    expect(got.shape).toEqual(t.shape);
    expect(got.dtype).toBe(t.data instanceof Float32Array ? 'F32' : 'I32');
    expect(got.data.constructor).toBe(t.data.constructor);
    // compare bits, so NaN, -0 and subnormals must survive exactly
    expect(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
    );
  }
}

describe('round trip', () => {
  it('serializes and parses tensors, metadata, a scalar and a zero-size tensor', () => {
    const bytes = serializeSafetensors(sample(), { format: 'pt', arch: 'gpt2 "small"' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
    expect(header.step).toEqual({ dtype: 'I32', shape: [], data_offsets: [68, 72] });
    expect(header.empty.data_offsets[0]).toBe(header.empty.data_offsets[1]);
    expect(bytes.length).toBe(8 + headerLen + 4 * (12 + 5 + 1 + 0 + 4));

    const file = parseSafetensors(bytes);
    expectSameAsSample(file);
    expect(file.metadata).toEqual({ format: 'pt', arch: 'gpt2 "small"' });
  });

  it('writes and reads a file, from a record and from subarray views', () => {
    const big = new Float32Array([9, 8, 7, 6, 5]);
    const file = path.join(dir, 'rt.safetensors');
    writeSafetensors(file, { a: { shape: [2, 1], data: big.subarray(2, 4) }, __proto__x: { shape: [1], data: big.subarray(4) } });
    const back = readSafetensors(file);
    expect([...back.tensors.get('a')!.data]).toEqual([7, 6]);
    expect([...back.tensors.get('__proto__x')!.data]).toEqual([5]);
    expect(back.metadata).toEqual({});
  });

  it('keeps a tensor named __proto__ as an ordinary tensor', () => {
    const inputs = new Map([['__proto__', { shape: [1], data: new Float32Array([3]) }]]);
    const back = parseSafetensors(serializeSafetensors(inputs, { __proto__: 'x' } as Record<string, string>));
    expect([...back.tensors.get('__proto__')!.data]).toEqual([3]);
  });

  it('shares memory for aligned F32 data and copies unaligned data correctly', () => {
    const bytes = serializeSafetensors(sample());
    const aligned = parseSafetensors(bytes).tensors.get('wte.weight')!.data;
    expect(aligned.buffer).toBe(bytes.buffer);

    // the same image one byte into a buffer: every F32 view would be misaligned
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const file = parseSafetensors(shifted.subarray(1));
    expectSameAsSample(file);
    expect(file.tensors.get('wte.weight')!.data.buffer).not.toBe(shifted.buffer);
  });

  it('reads an unpadded header whose data starts unaligned', () => {
    const data = new Uint8Array(new Float32Array([1.5, -2.5]).buffer);
    const bytes = image({ x: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, data, false);
    expect((bytes.length - 8) % 4).not.toBe(0);
    expect([...parseSafetensors(bytes).tensors.get('x')!.data]).toEqual([1.5, -2.5]);
  });

  it('rejects inputs it cannot write, before touching the disk', () => {
    const file = path.join(dir, 'never.safetensors');
    expectCheckpointError(() => writeSafetensors(file, { a: { shape: [2, 2], data: new Float32Array(3) } }), /\[2, 2\] has 4 elements but data has 3/);
    expectCheckpointError(() => writeSafetensors(file, { a: { shape: [-1], data: new Float32Array(1) } }), /shape/);
    expectCheckpointError(() => writeSafetensors(file, { a: { shape: [1], data: new Float64Array(1) as unknown as Float32Array } }), /neither/);
    expectCheckpointError(() => writeSafetensors(file, { __metadata__: { shape: [1], data: new Float32Array(1) } }), /__metadata__/);
    expect(fs.existsSync(file)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});

describe('atomic write', () => {
  const tmpFiles = () => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

  it('replaces an existing file and leaves no temporary file', () => {
    const file = path.join(dir, 'ckpt.safetensors');
    fs.writeFileSync(file, 'old contents');
    writeSafetensors(file, sample(), { step: '1' });
    expect(tmpFiles()).toEqual([]);
    expectSameAsSample(readSafetensors(file));
    expect(readSafetensors(file).metadata).toEqual({ step: '1' });
  });

  it('leaves the existing file untouched when the write fails', () => {
    const file = path.join(dir, 'keep.safetensors');
    writeSafetensors(file, sample());
    const before = fs.readFileSync(file);
    // a directory where the temporary file should go makes the write fail before the rename
    const blocker = `${file}.tmp-${process.pid}`;
    fs.mkdirSync(blocker);
    expectCheckpointError(() => writeSafetensors(file, { x: { shape: [1], data: new Float32Array(1) } }), /cannot write/, /keep\.safetensors/);
    fs.rmdirSync(blocker);
    expect(fs.readFileSync(file)).toEqual(before);
    expect(tmpFiles()).toEqual([]);
  });

  it('removes the temporary file when the rename fails', () => {
    const target = path.join(dir, 'occupied');
    fs.mkdirSync(target);
    fs.writeFileSync(path.join(target, 'inside'), 'x');
    expectCheckpointError(() => writeSafetensors(target, sample()), /cannot write/);
    expect(tmpFiles()).toEqual([]);
    expect(fs.readdirSync(target)).toEqual(['inside']);
  });

  it('fails clearly when the directory does not exist', () => {
    expectCheckpointError(() => writeSafetensors(path.join(dir, 'no', 'such', 'x.safetensors'), sample()), /cannot write/, /directory exists/);
  });
});

describe('dtype decoding', () => {
  function decode(dtype: string, raw: Uint8Array, shape = [raw.length / ({ F16: 2, BF16: 2, F64: 8, I64: 8, U64: 8, U32: 4, I16: 2, U16: 2 } as Record<string, number>)[dtype]!]) {
    return parseSafetensors(image({ t: { dtype, shape, data_offsets: [0, raw.length] } }, raw)).tensors.get('t')!;
  }

  it('decodes F16 bit patterns computed by hand', () => {
    const t = decode('F16', u16s(0x3c00, 0xc000, 0x7c00, 0xfc00, 0x0001, 0x03ff, 0x0400, 0x7bff, 0x8000, 0x3555, 0x8001));
    expect(t.data).toBeInstanceOf(Float32Array);
    expect([...t.data]).toEqual([1, -2, Infinity, -Infinity, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, 65504, -0, 0.333251953125, -(2 ** -24)]);
    expect(Object.is(t.data[8], -0)).toBe(true);
    expect(f16ToF32(0x3c00)).toBe(1);
    expect(Number.isNaN(f16ToF32(0x7e00))).toBe(true);
  });

  it('decodes every one of the 65536 F16 patterns exactly, NaN payloads included', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const got = new Uint32Array(decode('F16', new Uint8Array(all.buffer)).data.buffer.slice(0));
    for (let h = 0; h < 65536; h++) {
      const sign = (h & 0x8000) << 16;
      const exp = (h >> 10) & 0x1f;
      const frac = h & 0x3ff;
      let want: number;
      if (exp === 0x1f) want = sign | 0x7f800000 | (frac << 13); // inf / NaN with payload
      else if (exp === 0) want = bitsOf((sign ? -1 : 1) * frac * 2 ** -24); // zero, subnormal
      else want = sign | ((exp - 15 + 127) << 23) | (frac << 13); // rebias the exponent
      if (got[h] !== want >>> 0) throw new Error(`F16 0x${h.toString(16)}: got 0x${got[h]!.toString(16)}, want 0x${(want >>> 0).toString(16)}`);
    }
  });

  it('decodes BF16 as the upper half of an F32', () => {
    const t = decode('BF16', u16s(0x3f80, 0xc000, 0x7f80, 0xff80, 0x0001, 0x4049, 0x8000));
    expect([...t.data]).toEqual([1, -2, Infinity, -Infinity, 2 ** -133, 3.140625, -0]);
    const nan = decode('BF16', u16s(0x7fc1)).data;
    expect(new Uint32Array(nan.buffer, nan.byteOffset, 1)[0]).toBe(0x7fc10000);
  });

  it('decodes F64 to F32 and integers to I32', () => {
    expect([...decode('F64', new Uint8Array(new Float64Array([1.5, -0.1, 1e300]).buffer)).data]).toEqual([1.5, Math.fround(-0.1), Infinity]);
    const i64 = decode('I64', new Uint8Array(new BigInt64Array([-1n, 2n ** 31n - 1n, -(2n ** 31n), 50257n]).buffer));
    expect(i64.data).toBeInstanceOf(Int32Array);
    expect([...i64.data]).toEqual([-1, 2 ** 31 - 1, -(2 ** 31), 50257]);
    expect([...decode('U8', new Uint8Array([0, 255]), [2]).data]).toEqual([0, 255]);
    expect([...decode('I16', new Uint8Array(new Int16Array([-3, 300]).buffer)).data]).toEqual([-3, 300]);
    expect([...decode('U64', new Uint8Array(new BigUint64Array([7n]).buffer)).data]).toEqual([7]);
  });

  it('rejects integers that do not fit in 32 bits, naming the tensor', () => {
    for (const v of [2n ** 31n, -(2n ** 31n) - 1n, 2n ** 40n]) {
      expectCheckpointError(() => decode('I64', new Uint8Array(new BigInt64Array([0n, v]).buffer)), /tensor "t" \(I64\): element 1 does not fit/);
    }
    expectCheckpointError(() => decode('U32', new Uint8Array(new Uint32Array([2 ** 31]).buffer)), /element 0/);
    expectCheckpointError(() => decode('U64', new Uint8Array(new BigUint64Array([2n ** 32n]).buffer)), /element 0/);
  });
});

describe('malformed files', () => {
  const valid = () => serializeSafetensors(sample(), { step: '3' });
  const headerLen = (b: Uint8Array) => Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const data16 = new Uint8Array(16);

  it('reports a missing file and a directory with the path', () => {
    const missing = path.join(dir, 'missing.safetensors');
    expectCheckpointError(() => readSafetensors(missing), 'missing.safetensors', /not found/);
    expectCheckpointError(() => readSafetensors(dir), /is a directory/);
  });

  it('reports files shorter than the length prefix', () => {
    for (const n of [0, 1, 7]) expectCheckpointError(() => parseSafetensors(valid().subarray(0, n)), /shorter than the 8-byte/);
    const file = path.join(dir, 'short.safetensors');
    fs.writeFileSync(file, new Uint8Array(3));
    expectCheckpointError(() => readSafetensors(file), /short\.safetensors/, /3 bytes long/);
  });

  it('reports a header length larger than the file', () => {
    for (const len of [2n ** 64n - 1n, 2n ** 53n + 1n, BigInt(valid().length - 7)]) {
      const b = valid();
      new DataView(b.buffer).setBigUint64(0, len, true);
      expectCheckpointError(() => parseSafetensors(b, 'x.safetensors'), /x\.safetensors/, `header length ${len} is larger`);
    }
  });

  it('reports an invalid header', () => {
    const b = valid();
    b[8] = 0x5b; // '[' where '{' was
    expectCheckpointError(() => parseSafetensors(b), /not valid JSON/);
    const bad = valid();
    bad[9] = 0xff;
    expectCheckpointError(() => parseSafetensors(bad), /not valid UTF-8/);
    expectCheckpointError(() => parseSafetensors(image([1, 2])), /not a JSON object/);
    expectCheckpointError(() => parseSafetensors(image({ a: 3 })), /tensor "a": entry is not an object/);
    expectCheckpointError(() => parseSafetensors(image({ __metadata__: { k: 1 } })), /"__metadata__" entry "k" is not a string/);
    expectCheckpointError(() => parseSafetensors(image({ a: { shape: [1], data_offsets: [0, 4] } }, data16)), /"dtype" is missing/);
    expectCheckpointError(() => parseSafetensors(image({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data16)), /"shape"/);
    expectCheckpointError(() => parseSafetensors(image({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, data16)), /"shape"/);
    expectCheckpointError(() => parseSafetensors(image({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, data16)), /"data_offsets"/);
  });

  it('reports an unsupported dtype by name', () => {
    const err = expectCheckpointError(
      () => parseSafetensors(image({ a: { dtype: 'F8_E4M3', shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4))),
      /unsupported dtype F8_E4M3/,
    );
    expect(err.hint).toMatch(/F32.*BF16/);
  });

  it('reports offsets outside the data, size mismatches and overlaps', () => {
    expectCheckpointError(() => parseSafetensors(image({ a: f32(0, 20) }, data16)), /"a" ends at data byte 20 but the data section has only 16/);
    expectCheckpointError(() => parseSafetensors(image({ a: f32(8, 4, [1]) }, data16)), /end before they begin/);
    expectCheckpointError(() => parseSafetensors(image({ a: f32(0, 16, [3]) }, data16)), /F32 \[3\] needs 12 bytes but data_offsets \[0, 16\] hold 16/);
    expectCheckpointError(() => parseSafetensors(image({ a: f32(0, 12), b: f32(8, 16) }, data16)), /"a" \[0, 12\] and "b" \[8, 16\] overlap/);
    expectCheckpointError(() => parseSafetensors(image({ a: f32(0, 16), b: f32(0, 16) }, data16)), /overlap/);
    expectCheckpointError(() => parseSafetensors(image({ a: f32(0, 8) }, data16)), /8 bytes after the last tensor/);
    // a zero-size tensor overlaps nothing, wherever it points inside the data
    expect(parseSafetensors(image({ a: f32(0, 16), z: f32(4, 4, [0, 2]) }, data16)).tensors.get('z')!.data.length).toBe(0);
  });

  it('reports a truncated file at every cut inside the data', () => {
    const b = valid();
    const start = 8 + headerLen(b);
    for (let cut = start; cut < b.length; cut += 3) {
      expectCheckpointError(() => parseSafetensors(b.subarray(0, cut), 'cut.safetensors'), /cut\.safetensors/, /file truncated\?/);
    }
    for (let cut = 8; cut < start; cut += 5) {
      expectCheckpointError(() => parseSafetensors(b.subarray(0, cut)), /header length/);
    }
  });

  it('turns random truncations, bit flips and digit edits into success or a CheckpointError', () => {
    const base = serializeSafetensors(sample(), { note: '12345' });
    // a second base with every dtype the reader knows, so decoding paths are fuzzed too
    const mixedData = new Uint8Array(8 * 4 + 2 * 2 + 2 * 2 + 8 * 2 + 4);
    const mixed = image(
      {
        d: { dtype: 'F64', shape: [4], data_offsets: [0, 32] },
        h: { dtype: 'F16', shape: [2], data_offsets: [32, 36] },
        b: { dtype: 'BF16', shape: [2], data_offsets: [36, 40] },
        i: { dtype: 'I64', shape: [2], data_offsets: [40, 56] },
        u: { dtype: 'U8', shape: [2, 2], data_offsets: [56, 60] },
      },
      mixedData,
    );
    let seed = 0x9e3779b9;
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const outcomes = { ok: 0, error: 0 };
    for (let iter = 0; iter < 3000; iter++) {
      const b = (iter % 2 ? mixed : base).slice();
      const hl = Math.min(headerLen(b), b.length - 8);
      let bytes: Uint8Array = b;
      switch (rand(4)) {
        case 0:
          bytes = b.subarray(0, rand(b.length));
          break;
        case 1:
          for (let k = 1 + rand(3); k > 0; k--) b[rand(b.length)]! ^= 1 << rand(8);
          break;
        case 2: // inside the length prefix or header, where a flip changes meaning
          b[rand(8 + hl)]! ^= 1 << rand(8);
          break;
        case 3: {
          // a digit edit keeps the JSON valid but moves offsets and shapes
          const digits = [...b.subarray(8, 8 + hl).keys()].filter((i) => b[8 + i]! >= 0x30 && b[8 + i]! <= 0x39);
          b[8 + digits[rand(digits.length)]!] = 0x30 + rand(10);
          break;
        }
      }
      try {
        const file = parseSafetensors(bytes);
        for (const t of file.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((x, y) => x * y, 1));
        outcomes.ok++;
      } catch (err) {
        if (!(err instanceof CheckpointError)) throw new Error(`iteration ${iter}: ${String(err)}`, { cause: err });
        outcomes.error++;
      }
    }
    expect(outcomes.error).toBeGreaterThan(1000);
    expect(outcomes.ok).toBeGreaterThan(100);
  });
});
