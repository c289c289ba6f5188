// reduce.cu — sums (and means) over any set of axes, on f32.
//
// What: out[o] = scale · Σ_r x[offset + kept_offset(o) + reduced_offset(r)], where o runs over
//   the kept axes (the output, dense) and r over the reduced axes; `scale` is 1 for a sum and
//   1/count for a mean. Any strided view works: both index maps are stride arithmetic.
// Launch: grid: [number of outputs], block: [256]; out: [outputs].
// Why it is fast and deterministic: one block per output; its 256 threads stride over the
//   reduced elements (coalesced when the innermost reduced axis is the contiguous one), keep a
//   private partial sum in a register, and combine partials with warp shuffles and one shared
//   array. The combination order is fixed by the thread index, so the result is the same on
//   every run (no atomics).

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

__device__ __forceinline__ float warp_sum(float value) {
    for (int delta = 16; delta > 0; delta >>= 1) {
        value += __shfl_down_sync(0xffffffffu, value, delta);
    }
    return value;
}

// grid: [outputs], block: [256]; out: [outputs]
extern "C" __global__ void sum_axes_f32(const float* x, float* out, float scale, ReduceView view) {
    __shared__ float partial[32];
    long long o = blockIdx.x;
    long long base = view.offset;
    long long rest = o;
    for (int axis = view.kept_rank - 1; axis >= 0; --axis) {
        base += (rest % view.kept_shape[axis]) * view.kept_stride[axis];
        rest /= view.kept_shape[axis];
    }
    float sum = 0.0f;
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
        sum = lane < warps ? partial[lane] : 0.0f;
        sum = warp_sum(sum);
        if (lane == 0) out[o] = sum * scale;
    }
}
