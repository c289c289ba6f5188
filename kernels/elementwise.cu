// elementwise.cu — elementwise maps with NumPy broadcasting, on f32 and f64 (every kernel is a
// template over the element type T; entry points NAME_f32 / NAME_f64, see element.cuh).
//
// What: out[i] = op(a[ia(i)], b[ib(i)]) for the binary ops (add, sub, mul, div, maximum,
//   minimum, pow, and the 1/0 masks gt, ge, lt, le, eq), out[i] = op(x[i], scalar) for the unary ops, ReLU's backward, the fused residual
//   add + ReLU, a strided gather (makes any view dense), a strided copy into a region of an
//   output (pad, concat, slice scatter), NumPy's `where` (select) and a fill.
// Launch: 1-D grid-stride loops; grid: [min(ceil(n/256), 65535·8)], block: [256].
// Why it is fast: these kernels are memory-bound, so the whole game is touching each byte once
//   with coalesced accesses: consecutive threads handle consecutive outputs; the dense
//   binary path moves 16 bytes per operand per access (one float4, or two double2 for f64) when
//   every operand is 16-byte aligned; broadcasting and views are index arithmetic (strides of 0
//   for broadcast axes), never a materialised copy; add + ReLU after a residual block is one
//   pass instead of two.

#include "element.cuh"

#define MAX_RANK 8

// A view of up to MAX_RANK axes, passed by value: element (i0, …) of the *output* shape is at
// offset + Σ index[k]·stride[k] of the operand (stride 0 on broadcast axes).
struct StridedPair {
    int rank;
    long long shape[MAX_RANK];
    long long a_stride[MAX_RANK];
    long long b_stride[MAX_RANK];
    long long a_offset;
    long long b_offset;
};

// Three operands broadcast to one output shape (select's condition, on_true, on_false).
struct StridedTriple {
    int rank;
    long long shape[MAX_RANK];
    long long c_stride[MAX_RANK];
    long long t_stride[MAX_RANK];
    long long f_stride[MAX_RANK];
    long long c_offset;
    long long t_offset;
    long long f_offset;
};

struct Strided {
    int rank;
    long long shape[MAX_RANK];
    long long stride[MAX_RANK];
    long long offset;
};

enum BinaryOp {
    OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3, OP_MAX = 4, OP_MIN = 5, OP_POW = 6,
    OP_GT = 7, OP_GE = 8, OP_LT = 9, OP_LE = 10, OP_EQ = 11
};

template <typename T>
__device__ __forceinline__ T apply_binary(int op, T a, T b) {
    switch (op) {
        case OP_ADD: return a + b;
        case OP_SUB: return a - b;
        case OP_MUL: return a * b;
        case OP_DIV: return a / b;
        // NaN propagates (matches the CPU kernels' `if a > b || a.is_nan()` convention).
        case OP_MAX: return (a > b || a != a) ? a : b;
        case OP_MIN: return (a < b || a != a) ? a : b;
        case OP_POW: return Num<T>::pow(a, b);
        // Comparisons give a 1/0 mask; any comparison with NaN is false.
        case OP_GT: return a > b ? T(1) : T(0);
        case OP_GE: return a >= b ? T(1) : T(0);
        case OP_LT: return a < b ? T(1) : T(0);
        case OP_LE: return a <= b ? T(1) : T(0);
        default: return a == b ? T(1) : T(0);
    }
}

// out[i] = op(a[ia(i)], b[ib(i)]) over the broadcast output shape; out is dense.
// grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void binary_strided(int op, long long n, const T* a, const T* b,
                                               T* out, const StridedPair& view) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, ia = view.a_offset, ib = view.b_offset;
        for (int axis = view.rank - 1; axis >= 0; --axis) {
            long long index = rest % view.shape[axis];
            rest /= view.shape[axis];
            ia += index * view.a_stride[axis];
            ib += index * view.b_stride[axis];
        }
        out[i] = apply_binary(op, a[ia], b[ib]);
    }
}

// Dense operands of one shape. Vector path: n4 = n/4 groups of four elements, each moved as 16
// bytes per operand (Quad<T>: one float4, or two double2), when all three pointers are 16-byte
// aligned; then the tail scalar.
// grid: [ceil(n/1024)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void binary_dense(int op, long long n, const T* a, const T* b, T* out,
                                             int vectorised) {
    long long stride = (long long)gridDim.x * blockDim.x;
    long long first = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    long long done = 0;
    // The caller allows vectors only for offsets that keep 16-byte alignment; the pointers'
    // alignment is checked here too (the allocator's alignment is not assumed).
    unsigned long long misaligned = (reinterpret_cast<unsigned long long>(a) |
                                     reinterpret_cast<unsigned long long>(b) |
                                     reinterpret_cast<unsigned long long>(out)) & 15ull;
    if (vectorised && misaligned == 0) {
        long long n4 = n / 4;
        for (long long i = first; i < n4; i += stride) {
            T x[4], y[4], z[4];
            Quad<T>::load(a + 4 * i, x);
            Quad<T>::load(b + 4 * i, y);
#pragma unroll
            for (int q = 0; q < 4; ++q) z[q] = apply_binary(op, x[q], y[q]);
            Quad<T>::store(out + 4 * i, z);
        }
        done = n4 * 4;
    }
    for (long long i = done + first; i < n; i += stride) {
        out[i] = apply_binary(op, a[i], b[i]);
    }
}

enum UnaryOp {
    U_NEG = 0, U_RELU = 1, U_EXP = 2, U_LOG = 3, U_SQRT = 4, U_ABS = 5, U_TANH = 6,
    U_SIGMOID = 7, U_ADD_SCALAR = 8, U_MUL_SCALAR = 9, U_POW_SCALAR = 10, U_SQUARE = 11,
    U_RECIPROCAL = 12
};

template <typename T>
__device__ __forceinline__ T apply_unary(int op, T x, T s) {
    switch (op) {
        case U_NEG: return -x;
        case U_RELU: return x > T(0) ? x : (x != x ? x : T(0));
        case U_EXP: return Num<T>::exp(x);
        case U_LOG: return Num<T>::log(x);
        case U_SQRT: return Num<T>::sqrt(x);
        case U_ABS: return Num<T>::abs(x);
        case U_TANH: return Num<T>::tanh(x);
        case U_SIGMOID: return T(1) / (T(1) + Num<T>::exp(-x));
        case U_ADD_SCALAR: return x + s;
        case U_MUL_SCALAR: return x * s;
        case U_POW_SCALAR: return Num<T>::pow(x, s);
        case U_SQUARE: return x * x;
        default: return T(1) / x;
    }
}

// out[i] = op(x[i], scalar), x dense. grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void unary(int op, long long n, const T* x, T scalar, T* out) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = apply_unary(op, x[i], scalar);
    }
}

// dx[i] = x[i] > 0 ? dy[i] : 0. grid: [ceil(n/256)], block: [256]; dx: [n]
template <typename T>
__device__ __forceinline__ void relu_backward(long long n, const T* x, const T* dy, T* dx) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        dx[i] = x[i] > T(0) ? dy[i] : T(0);
    }
}

// The residual join: out[i] = max(a[i] + b[i], 0) in one pass (a NaN sum stays NaN, as U_RELU).
// grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void add_relu(long long n, const T* a, const T* b, T* out) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        T s = a[i] + b[i];
        out[i] = s > T(0) ? s : (s != s ? s : T(0));
    }
}

// Makes a view dense: out[i] = x[offset + Σ index_k(i)·stride_k].
// grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void gather(long long n, const T* x, T* out, const Strided& view) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, source = view.offset;
        for (int axis = view.rank - 1; axis >= 0; --axis) {
            source += (rest % view.shape[axis]) * view.stride[axis];
            rest /= view.shape[axis];
        }
        out[i] = x[source];
    }
}

// out[i] = value. grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void fill(long long n, T value, T* out) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        out[i] = value;
    }
}

// Copies a view into a region of another buffer, both described over one shape (`a` is the
// source, `b` the destination): dst[b_offset + Σ index_k·b_stride_k] =
// src[a_offset + Σ index_k·a_stride_k] for every index of view.shape. Only the addressed
// elements of dst are written (pad fills the rest first; concat writes disjoint regions).
// grid: [ceil(n/256)], block: [256]; n = numel(view.shape)
template <typename T>
__device__ __forceinline__ void copy_strided(long long n, const T* src, T* dst,
                                             const StridedPair& view) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, is = view.a_offset, id = view.b_offset;
        for (int axis = view.rank - 1; axis >= 0; --axis) {
            long long index = rest % view.shape[axis];
            rest /= view.shape[axis];
            is += index * view.a_stride[axis];
            id += index * view.b_stride[axis];
        }
        dst[id] = src[is];
    }
}

// NumPy's where: out[i] = c[ic(i)] != 0 ? t[it(i)] : f[if(i)] over the broadcast shape (a NaN
// condition is nonzero, so it picks t, as on the CPU).
// grid: [ceil(n/256)], block: [256]; out: [n]
template <typename T>
__device__ __forceinline__ void select_strided(long long n, const T* c, const T* t, const T* f,
                                               T* out, const StridedTriple& view) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        long long rest = i, ic = view.c_offset, it = view.t_offset, jf = view.f_offset;
        for (int axis = view.rank - 1; axis >= 0; --axis) {
            long long index = rest % view.shape[axis];
            rest /= view.shape[axis];
            ic += index * view.c_stride[axis];
            it += index * view.t_stride[axis];
            jf += index * view.f_stride[axis];
        }
        out[i] = c[ic] != T(0) ? t[it] : f[jf];
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void binary_strided##S(int op, long long n, const T* a, const T* b,   \
                                                 T* out, StridedPair view) {                    \
        binary_strided<T>(op, n, a, b, out, view);                                              \
    }                                                                                           \
    extern "C" __global__ void binary_dense##S(int op, long long n, const T* a, const T* b,     \
                                               T* out, int vectorised) {                        \
        binary_dense<T>(op, n, a, b, out, vectorised);                                          \
    }                                                                                           \
    extern "C" __global__ void unary##S(int op, long long n, const T* x, T scalar, T* out) {    \
        unary<T>(op, n, x, scalar, out);                                                        \
    }                                                                                           \
    extern "C" __global__ void relu_backward##S(long long n, const T* x, const T* dy, T* dx) {  \
        relu_backward<T>(n, x, dy, dx);                                                         \
    }                                                                                           \
    extern "C" __global__ void add_relu##S(long long n, const T* a, const T* b, T* out) {       \
        add_relu<T>(n, a, b, out);                                                              \
    }                                                                                           \
    extern "C" __global__ void gather##S(long long n, const T* x, T* out, Strided view) {       \
        gather<T>(n, x, out, view);                                                             \
    }                                                                                           \
    extern "C" __global__ void fill##S(long long n, T value, T* out) { fill<T>(n, value, out); } \
    extern "C" __global__ void copy_strided##S(long long n, const T* src, T* dst,               \
                                               StridedPair view) {                              \
        copy_strided<T>(n, src, dst, view);                                                     \
    }                                                                                           \
    extern "C" __global__ void select_strided##S(long long n, const T* c, const T* t,           \
                                                 const T* f, T* out, StridedTriple view) {      \
        select_strided<T>(n, c, t, f, out, view);                                               \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
