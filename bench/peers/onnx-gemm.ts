// A hand-written protobuf encoder for the one ONNX model the peer benchmark needs: a single `Gemm`
// node, Y = op(A)·op(B) with op the transpose when transA / transB is set (alpha = beta = 1, no C).
// Nothing is downloaded and no protobuf library is used: only the few fields below are written.
//
// Field numbers (onnx/onnx.proto3):
//   ModelProto        ir_version = 1 (int64), producer_name = 2, graph = 7, opset_import = 8
//   OperatorSetIdProto domain = 1 (string), version = 2 (int64)
//   GraphProto        node = 1, name = 2, input = 11, output = 12
//   NodeProto         input = 1, output = 2, name = 3, op_type = 4, attribute = 5
//   AttributeProto    name = 1, i = 3 (int64), type = 20 (AttributeType: INT = 2)
//   ValueInfoProto    name = 1, type = 2 (TypeProto)
//   TypeProto         tensor_type = 1 (TypeProto.Tensor: elem_type = 1 (int32, FLOAT = 1), shape = 2)
//   TensorShapeProto  dim = 1 (Dimension: dim_value = 1 (int64))

export interface GemmSpec {
  /** op(A) is m×k, op(B) is k×n, Y is m×n. */
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
}

/** IR version 7 is the one that goes with opset 13. */
export const IR_VERSION = 7;
export const OPSET = 13;
const FLOAT = 1;
const ATTRIBUTE_INT = 2;

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

/** A growable byte sink with the three protobuf primitives needed here. */
class Writer {
  private bytes: number[] = [];

  varint(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`onnx-gemm: varint ${v} is not a non-negative safe integer`);
    while (v >= 0x80) {
      this.bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.bytes.push(v);
    return this;
  }

  private tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, v: number): this {
    return this.tag(field, WIRE_VARINT).varint(v);
  }

  bytesField(field: number, data: Uint8Array): this {
    this.tag(field, WIRE_LEN).varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytesField(field, new TextEncoder().encode(s));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytesField(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

function valueInfo(w: Writer, field: number, name: string, dims: number[]): void {
  w.message(field, (vi) => {
    vi.string(1, name);
    vi.message(2, (type) =>
      type.message(1, (tensor) => {
        tensor.int(1, FLOAT);
        tensor.message(2, (shape) => {
          for (const d of dims) shape.message(1, (dim) => dim.int(1, d));
        });
      }),
    );
  });
}

/** The bytes of a ModelProto computing Y = op(A)·op(B) for float32 inputs named "A" and "B". */
export function gemmModel(s: GemmSpec): Uint8Array {
  const aDims = s.transA ? [s.k, s.m] : [s.m, s.k];
  const bDims = s.transB ? [s.n, s.k] : [s.k, s.n];
  return new Writer()
    .int(1, IR_VERSION)
    .string(2, "tsgrad-vae bench")
    .message(7, (graph) => {
      graph.message(1, (node) => {
        node.string(1, "A").string(1, "B").string(2, "Y").string(3, "gemm").string(4, "Gemm");
        node.message(5, (attr) => attr.string(1, "transA").int(3, s.transA ? 1 : 0).int(20, ATTRIBUTE_INT));
        node.message(5, (attr) => attr.string(1, "transB").int(3, s.transB ? 1 : 0).int(20, ATTRIBUTE_INT));
      });
      graph.string(2, "gemm");
      valueInfo(graph, 11, "A", aDims);
      valueInfo(graph, 11, "B", bDims);
      valueInfo(graph, 12, "Y", [s.m, s.n]);
    })
    .message(8, (opset) => opset.string(1, "").int(2, OPSET))
    .finish();
}
