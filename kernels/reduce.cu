// reduce.cu — sums (and means), maxima and minima over any set of axes, and argmax along one
// axis, on f32 and f64 (templates over the element type T; entry points NAME_f32 / NAME_f64,
// see element.cuh).
//
// What: out[o] = scale · Σ_r x[offset + kept_offset(o) + reduced_offset(r)], where o runs over
//   the kept axes (the output, dense) and r over the reduced axes; `scale` is 1 for a sum and
//   1/count for a mean. max/min: out[o] = max_r / min_r of the same elements (NaN if any is
//   NaN). Any strided view works: both index maps are stride arithmetic.
//   argmax: index[o, k] = the first j maximising x[o, j, k] of a dense [outer, size, inner]
//   tensor (the first NaN wins, as on the CPU).
// Launch: sum, max, min: grid: [number of outputs], block: [256]; out: [outputs].
//   argmax: grid: [ceil(outer·inner/256)], block: [256]; one thread per output, the threads of
//   a warp reading consecutive k (coalesced).
// Why it is fast and deterministic: one block per output; its 256 threads stride over the
//   reduced elements (coalesced when the innermost reduced axis is the contiguous one), keep a
//   private partial sum in a register, and combine partials with warp shuffles and one shared
//   array. The combination order is fixed by the thread index, so the result is the same on
//   every run (no atomics).

#include "element.cuh"

#define MAX_RANK 8

struct ReduceView {
    int kept_rank;
    long long kept_shape[MAX_RANK];
    long long kept_stride[MAX_RANK];
    int reduced_rank;
    long long reduced_shape[MAX_RANK];
    long long reduced_stride[MAX_RANK];
    long long offset;
    long long reduced_count;
};

template <typename T>
__device__ __forceinline__ T warp_sum(T value) {
    for (int delta = 16; delta > 0; delta >>= 1) {
        value += __shfl_down_sync(0xffffffffu, value, delta);
    }
    return value;
}

// The offset of output o's first element: offset + Σ kept_index_k(o)·kept_stride_k.
__device__ __forceinline__ long long kept_base(const ReduceView& view, long long o) {
    long long base = view.offset, rest = o;
    for (int axis = view.kept_rank - 1; axis >= 0; --axis) {
        base += (rest % view.kept_shape[axis]) * view.kept_stride[axis];
        rest /= view.kept_shape[axis];
    }
    return base;
}

// The offset of reduced element r of the output whose first element is at `base`.
__device__ __forceinline__ long long reduced_offset(const ReduceView& view, long long base,
                                                    long long r) {
    long long index = base, remaining = r;
    for (int axis = view.reduced_rank - 1; axis >= 0; --axis) {
        index += (remaining % view.reduced_shape[axis]) * view.reduced_stride[axis];
        remaining /= view.reduced_shape[axis];
    }
    return index;
}

// grid: [outputs], block: [256]; out: [outputs]
template <typename T>
__device__ __forceinline__ void sum_axes(const T* x, T* out, T scale, const ReduceView& view) {
    __shared__ T partial[32];
    long long o = blockIdx.x;
    long long base = view.offset;
    long long rest = o;
    for (int axis = view.kept_rank - 1; axis >= 0; --axis) {
        base += (rest % view.kept_shape[axis]) * view.kept_stride[axis];
        rest /= view.kept_shape[axis];
    }
    T sum = T(0);
    for (long long r = threadIdx.x; r < view.reduced_count; r += blockDim.x) {
        long long index = base, remaining = r;
        for (int axis = view.reduced_rank - 1; axis >= 0; --axis) {
            index += (remaining % view.reduced_shape[axis]) * view.reduced_stride[axis];
            remaining /= view.reduced_shape[axis];
        }
        sum += x[index];
    }
    sum = warp_sum(sum);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = sum;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        sum = lane < warps ? partial[lane] : T(0);
        sum = warp_sum(sum);
        if (lane == 0) out[o] = sum * scale;
    }
}

// max (is_max = 1) or min of a and b; a NaN in either wins.
template <typename T>
__device__ __forceinline__ T pick_extreme(T a, T b, int is_max) {
    if (a != a) return a;
    if (b != b) return b;
    return is_max ? Num<T>::max(a, b) : Num<T>::min(a, b);
}

template <typename T>
__device__ __forceinline__ T warp_extreme(T value, int is_max) {
    for (int delta = 16; delta > 0; delta >>= 1) {
        value = pick_extreme(value, __shfl_down_sync(0xffffffffu, value, delta), is_max);
    }
    return value;
}

// out[o] = max (is_max = 1) or min of the reduced elements; the caller guarantees at least one.
// grid: [outputs], block: [256]; out: [outputs]
template <typename T>
__device__ __forceinline__ void extreme_axes(const T* x, T* out, int is_max,
                                             const ReduceView& view) {
    __shared__ T partial[32];
    // −∞ for max, +∞ for min: the identity, held by threads that get no element.
    const T identity = is_max ? -Num<T>::infinity() : Num<T>::infinity();
    long long base = kept_base(view, blockIdx.x);
    T best = identity;
    for (long long r = threadIdx.x; r < view.reduced_count; r += blockDim.x) {
        best = pick_extreme(best, x[reduced_offset(view, base, r)], is_max);
    }
    best = warp_extreme(best, is_max);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = best;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        best = warp_extreme(lane < warps ? partial[lane] : identity, is_max);
        if (lane == 0) out[blockIdx.x] = best;
    }
}

// index[e] (e = o·inner + k) = the first j < size maximising x[(o·size + j)·inner + k], x dense;
// a NaN counts as the maximum (the first NaN wins). size ≥ 1.
// grid: [ceil(outer·inner/256)], block: [256]; index: [outer·inner]
template <typename T>
__device__ __forceinline__ void argmax_axis(const T* x, int* index, long long outputs,
                                            long long size, long long inner) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < outputs;
         e += (long long)gridDim.x * blockDim.x) {
        long long o = e / inner, k = e % inner;
        const T* column = x + o * size * inner + k;
        T best = column[0];
        int best_j = 0;
        for (long long j = 1; j < size; ++j) {
            T v = column[j * inner];
            if (best == best && (v != v || v > best)) {
                best = v;
                best_j = (int)j;
            }
        }
        index[e] = best_j;
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void sum_axes##S(const T* x, T* out, T scale, ReduceView view) {      \
        sum_axes<T>(x, out, scale, view);                                                       \
    }                                                                                           \
    extern "C" __global__ void extreme_axes##S(const T* x, T* out, int is_max,                  \
                                               ReduceView view) {                               \
        extreme_axes<T>(x, out, is_max, view);                                                  \
    }                                                                                           \
    extern "C" __global__ void argmax_axis##S(const T* x, int* index, long long outputs,        \
                                              long long size, long long inner) {                \
        argmax_axis<T>(x, index, outputs, size, inner);                                         \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
