// Every op as a method too: x.add(y), x.softplus(), loss.backward().
import { Tensor, view } from "../tensor/tensor.js";
import { backward, type BackwardOptions } from "./engine.js";
import * as ew from "./elementwise.js";
import { matmul, type MatmulOptions } from "./matmul.js";
import { logsumexp, max, mean, sum } from "./reduce.js";
import { clone, concat, contiguous, gather, permute, reshape, slice, transpose } from "./shape.js";

type Operand = Tensor | number;

declare module "../tensor/tensor.js" {
  interface Tensor {
    /** Back-propagates from this tensor (a scalar, unless `gradient` is given) into the leaves' `.grad`. */
    backward(gradient?: Tensor, options?: BackwardOptions): void;
    /** The same values, cut from the graph: a view of the same storage. */
    detach(): Tensor;
    /** The transpose of a 2-D tensor, as a view (no copy). */
    readonly T: Tensor;
    /** The axes reordered (a view): result axis i is this tensor's axis axes[i]. */
    permute(axes: readonly number[]): Tensor;
    /** This tensor if it is contiguous, else a row-major copy (recorded like any op). */
    contiguous(): Tensor;
    /** A copy in its own storage (recorded like any op). */
    clone(): Tensor;
    add(other: Operand): Tensor;
    sub(other: Operand): Tensor;
    mul(other: Operand): Tensor;
    div(other: Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    log1p(): Tensor;
    square(): Tensor;
    sqrt(): Tensor;
    pow(p: number): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    relu(): Tensor;
    softplus(): Tensor;
    logSigmoid(): Tensor;
    sum(axis?: number, keepdims?: boolean): Tensor;
    mean(axis?: number, keepdims?: boolean): Tensor;
    max(axis?: number, keepdims?: boolean): Tensor;
    logsumexp(axis?: number, keepdims?: boolean): Tensor;
    matmul(other: Tensor, options?: MatmulOptions): Tensor;
    transpose(): Tensor;
    reshape(shape: readonly number[]): Tensor;
    slice(start: number, end: number, axis?: number): Tensor;
    gather(indices: ArrayLike<number>): Tensor;
    concat(others: readonly Tensor[], axis?: number): Tensor;
  }
}

const p = Tensor.prototype;
p.backward = function (gradient, options) { backward(this, gradient, options); };
p.detach = function () { return view(this, this.shape, this.strides, this.offset); };
Object.defineProperty(p, "T", { get(this: Tensor) { return transpose(this); } });
p.permute = function (axes) { return permute(this, axes); };
p.contiguous = function () { return contiguous(this); };
p.clone = function () { return clone(this); };
p.add = function (o) { return ew.add(this, o); };
p.sub = function (o) { return ew.sub(this, o); };
p.mul = function (o) { return ew.mul(this, o); };
p.div = function (o) { return ew.div(this, o); };
p.neg = function () { return ew.neg(this); };
p.exp = function () { return ew.exp(this); };
p.log = function () { return ew.log(this); };
p.log1p = function () { return ew.log1p(this); };
p.square = function () { return ew.square(this); };
p.sqrt = function () { return ew.sqrt(this); };
p.pow = function (e) { return ew.pow(this, e); };
p.sigmoid = function () { return ew.sigmoid(this); };
p.tanh = function () { return ew.tanh(this); };
p.relu = function () { return ew.relu(this); };
p.softplus = function () { return ew.softplus(this); };
p.logSigmoid = function () { return ew.logSigmoid(this); };
p.sum = function (axis, keepdims) { return sum(this, axis, keepdims); };
p.mean = function (axis, keepdims) { return mean(this, axis, keepdims); };
p.max = function (axis, keepdims) { return max(this, axis, keepdims); };
p.logsumexp = function (axis, keepdims) { return logsumexp(this, axis, keepdims); };
p.matmul = function (o, options) { return matmul(this, o, options); };
p.transpose = function () { return transpose(this); };
p.reshape = function (shape) { return reshape(this, shape); };
p.slice = function (start, end, axis) { return slice(this, start, end, axis); };
p.gather = function (indices) { return gather(this, indices); };
p.concat = function (others, axis) { return concat([this, ...others], axis); };
