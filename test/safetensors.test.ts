import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeSafetensors, encodeSafetensors, type StoredTensor as Tensor } from "../src/nn/safetensors.js";
import { safetensorsFile as file, safetensorsF32 as f32 } from "./helpers.js";

const bytesOf = (a: Float32Array | Float64Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);


describe("safetensors layout", () => {
  it("matches the spec byte for byte: one F32 tensor x = [1, 2]", () => {
    const header = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'; // 54 bytes, padded to 56
    const expected = [
      ...[56, 0, 0, 0, 0, 0, 0, 0],
      ...new TextEncoder().encode(header + "  "),
      ...[0x00, 0x00, 0x80, 0x3f], // 1.0f = 0x3f800000, little-endian
      ...[0x00, 0x00, 0x00, 0x40], // 2.0f = 0x40000000
    ];
    const bytes = encodeSafetensors({ x: { dtype: "F32", shape: [2], data: Float32Array.of(1, 2) } });
    expect([...bytes]).toEqual(expected);
  });

  it("writes metadata first, tensors in sorted name order, contiguous", () => {
    const bytes = encodeSafetensors(
      {
        b: { dtype: "F64", shape: [1], data: Float64Array.of(-1) },
        a: { dtype: "F32", shape: [1, 1], data: Float32Array.of(0.5) },
      },
      { format: "pt" },
    );
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(new TextDecoder().decode(bytes.subarray(8, 8 + n)).trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},' +
        '"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}',
    );
    expect([...bytes.subarray(8 + n)]).toEqual([0, 0, 0, 0x3f, 0, 0, 0, 0, 0, 0, 0xf0, 0xbf]);
  });
});

describe("safetensors round trip", () => {
  const shape = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });
  const tensor: fc.Arbitrary<Tensor> = fc
    .tuple(fc.constantFrom("F32" as const, "F64" as const), shape)
    .chain(([dtype, shape]) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const size = dtype === "F32" ? 4 : 8;
      // Random bytes cover every bit pattern: NaN payloads, -0, ±Infinity, subnormals.
      return fc.uint8Array({ minLength: n * size, maxLength: n * size }).map((b) => {
        const buf = b.slice().buffer;
        return { dtype, shape, data: dtype === "F32" ? new Float32Array(buf) : new Float64Array(buf) };
      });
    });
  const name = fc.string({ unit: "binary", minLength: 1, maxLength: 8 }).filter((s) => s !== "__metadata__");

  it("is bit-exact for random names, shapes, dtypes and data; the header is 8-byte aligned", () => {
    fc.assert(
      fc.property(
        fc.dictionary(name, tensor, { maxKeys: 5 }),
        fc.dictionary(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), { maxKeys: 3 }),
        (tensors, metadata) => {
          const bytes = encodeSafetensors(tensors, metadata);
          expect((8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))) % 8).toBe(0);
          const out = decodeSafetensors(bytes);
          expect(Object.keys(out.tensors).sort()).toEqual(Object.keys(tensors).sort());
          for (const [k, t] of Object.entries(tensors)) {
            const got = out.tensors[k]!;
            expect([got.dtype, got.shape]).toEqual([t.dtype, t.shape]);
            expect(got.data).toBeInstanceOf(t.dtype === "F32" ? Float32Array : Float64Array);
            expect(bytesOf(got.data)).toEqual(bytesOf(t.data));
          }
          expect({ ...out.metadata }).toEqual({ ...metadata });
        },
      ),
    );
  });

  it("keeps NaN, -0 and Infinity bit patterns", () => {
    const special = [NaN, -0, 0, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE];
    const a = Float32Array.from(special);
    new DataView(a.buffer).setUint32(0, 0x7fc00123, true); // a NaN with a payload
    const b = Float64Array.from(special);
    const out = decodeSafetensors(encodeSafetensors({ a: { dtype: "F32", shape: [7], data: a }, b: { dtype: "F64", shape: [7], data: b } }));
    expect(bytesOf(out.tensors.a!.data)).toEqual(bytesOf(a));
    expect(bytesOf(out.tensors.b!.data)).toEqual(bytesOf(b));
    expect(Object.is(out.tensors.b!.data[1], -0)).toBe(true);
  });

  it("returns aligned copies, not views into the file", () => {
    const bytes = encodeSafetensors({ a: { dtype: "F32", shape: [1], data: Float32Array.of(3) } }, { k: "v" });
    const { data } = decodeSafetensors(bytes).tensors.a!;
    expect(data.buffer).not.toBe(bytes.buffer);
    expect(data.byteOffset).toBe(0);
    bytes.fill(0);
    expect(data[0]).toBe(3);
  });

  it("reads a file whose header is not padded to 8 bytes", () => {
    const out = decodeSafetensors(file({ x: f32([2], 0, 8) }, [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]));
    expect([...out.tensors.x!.data]).toEqual([1, 2]);
    expect(out.metadata).toEqual({});
  });
});

describe("decodeSafetensors rejects malformed files, naming the problem", () => {
  const rejects = (bytes: Uint8Array, message: string | RegExp) => expect(() => decodeSafetensors(bytes, "m.safetensors")).toThrow(message);

  it("file shorter than 8 bytes", () => rejects(new Uint8Array(5), "m.safetensors: file is 5 bytes, shorter than the 8-byte header length"));
  it("header length larger than the file", () => {
    rejects(file("{}", [], 100), "m.safetensors: header length 100 is larger than the 2 bytes after it");
    const huge = file("{}");
    new DataView(huge.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
    rejects(huge, /header length 18446744073709551615 is larger/);
  });
  it("header not UTF-8", () => {
    const bytes = file("{}  ");
    bytes[10] = 0xff;
    rejects(bytes, /^m\.safetensors: header is not valid UTF-8 JSON/);
  });
  it("header not JSON", () => rejects(file("{oops"), /^m\.safetensors: header is not valid UTF-8 JSON/));
  it("header not an object", () => {
    rejects(file("[]"), "m.safetensors: header must be a JSON object, got an array");
    rejects(file("42"), "m.safetensors: header must be a JSON object, got number");
  });
  it("tensor entry not an object", () => rejects(file({ x: 3 }), /tensor "x": entry must be an object/));
  it("tensor entry missing a field", () => {
    for (const key of ["dtype", "shape", "data_offsets"]) {
      const entry: Record<string, unknown> = f32([1], 0, 4);
      delete entry[key];
      rejects(file({ x: entry }, [0, 0, 0, 0]), `m.safetensors: tensor "x": missing ${key}`);
    }
  });
  it("unsupported dtype", () =>
    rejects(file({ x: { ...f32([1], 0, 2), dtype: "BF16" } }, [0, 0]), 'm.safetensors: tensor "x": unsupported dtype "BF16"; F32 and F64 are supported'));
  it("shape entries not non-negative integers", () => {
    for (const shape of [[-1], [1.5], ["2"], 3]) {
      rejects(file({ x: { ...f32([], 0, 4), shape } }, [0, 0, 0, 0]), `m.safetensors: tensor "x": shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
  });
  it("byte size disagrees with the shape", () =>
    rejects(file({ w: f32([3], 0, 8) }, new Uint8Array(8)), 'm.safetensors: tensor "w": shape [3] of F32 needs 12 bytes, data_offsets [0, 8] span 8'));
  it("malformed data_offsets", () => {
    for (const offsets of [[0], [4, 0], [-4, 0], "0,4"]) {
      rejects(file({ x: { ...f32([1], 0, 4), data_offsets: offsets } }, [0, 0, 0, 0]), /tensor "x": data_offsets must be \[begin, end\]/);
    }
  });
  it("offsets out of bounds", () => rejects(file({ x: f32([2], 0, 8) }, [0, 0, 0, 0]), 'tensor "x": data_offsets [0, 8] run past the end of the data (4 bytes)'));
  it("overlapping tensors", () =>
    rejects(file({ a: f32([2], 0, 8), b: f32([2], 4, 12) }, new Uint8Array(12)), 'm.safetensors: tensor "b" [4, 12] overlaps tensor "a", which ends at 8'));
  it("holes in the data", () => {
    rejects(file({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12)), 'm.safetensors: hole of 4 bytes between tensor "a" and tensor "b" at 8');
    rejects(file({ a: f32([1], 4, 8) }, new Uint8Array(8)), 'hole of 4 bytes between the start of the data and tensor "a" at 4');
    rejects(file({ a: f32([1], 0, 4) }, new Uint8Array(6)), "m.safetensors: 2 bytes after the last tensor are not part of any tensor");
  });
  it("metadata values not strings", () => {
    rejects(file({ __metadata__: { epoch: 3 } }), 'm.safetensors: __metadata__ "epoch" must be a string, got number');
    rejects(file({ __metadata__: ["a"] }), "m.safetensors: __metadata__ must be an object of strings, got an array");
  });
  it("defaults the source to 'safetensors'", () => expect(() => decodeSafetensors(new Uint8Array(0))).toThrow(/^safetensors: file is 0 bytes/));
});

describe("encodeSafetensors validates its input", () => {
  it("data length must equal the product of the shape", () =>
    expect(() => encodeSafetensors({ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } })).toThrow(
      'encodeSafetensors: tensor "w": shape [2,3] has 6 elements, data has 5',
    ));
  it("dtype must match the typed array", () =>
    expect(() => encodeSafetensors({ w: { dtype: "F64", shape: [1], data: new Float32Array(1) } })).toThrow(
      'encodeSafetensors: tensor "w": dtype F64 needs a Float64Array, got Float32Array',
    ));
  it("__metadata__ cannot name a tensor", () =>
    expect(() => encodeSafetensors({ __metadata__: { dtype: "F32", shape: [], data: new Float32Array(1) } })).toThrow(/reserved/));
});
