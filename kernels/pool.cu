// pool.cu — 2-D max pooling with argmax indices, and global average pooling, forward and
// backward, on dense NCHW f32 tensors.
//
// What:
//   max_pool forward:  y[n,c,i,j] = max over the window (i·sh − ph + a·dh, j·sw − pw + b·dw) of
//                      x[n,c,·,·] (padding never wins), index[n,c,i,j] = the flat h·W + w of
//                      the first maximum (NaN wins, as on the CPU).
//   max_pool backward: dx[n,c,h,w] = Σ dy[n,c,i,j] over the windows whose index is (h,w) —
//                      gathered per input element, so no atomics and a fixed summation order.
//   global avg pool:   y[n,c] = (1/HW) Σ x[n,c,·,·];  backward dx[n,c,h,w] = dy[n,c] / HW.
// Launch: element-parallel kernels: grid: [ceil(outputs/256)], block: [256]; global average
//   forward: grid: [N·C], block: [256].
// Why it is fast: every output is one thread reading its window from L1/L2 (windows of
//   neighbouring threads overlap, so most reads hit cache); the backward gathers instead of
//   scattering, so it writes each dx exactly once with no atomic traffic.

struct PoolGeometry {
    int channels, height, width;
    int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int out_h, out_w;
};

// grid: [ceil(N·C·oh·ow/256)], block: [256]; y, index: [N, C, oh, ow]
extern "C" __global__ void max_pool_forward_f32(const float* x, float* y, int* index,
                                                long long total, PoolGeometry g) {
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        int j = (int)(o % g.out_w), i = (int)((o / g.out_w) % g.out_h);
        long long plane = o / ((long long)g.out_w * g.out_h);
        const float* xp = x + plane * g.height * g.width;
        float best = __int_as_float(0xff800000);
        int best_index = -1;
        for (int a = 0; a < g.kernel_h; ++a) {
            int h = i * g.stride_h - g.pad_h + a * g.dilation_h;
            if (h < 0 || h >= g.height) continue;
            for (int b = 0; b < g.kernel_w; ++b) {
                int w = j * g.stride_w - g.pad_w + b * g.dilation_w;
                if (w < 0 || w >= g.width) continue;
                float v = xp[h * g.width + w];
                if (best_index < 0 || v > best || (v != v && best == best)) {
                    best = v;
                    best_index = h * g.width + w;
                }
            }
        }
        y[o] = best;
        index[o] = best_index;
    }
}

// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
extern "C" __global__ void max_pool_backward_f32(const float* dy, const int* index, float* dx,
                                                 long long total, PoolGeometry g) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int w = (int)(e % g.width), h = (int)((e / g.width) % g.height);
        long long plane = e / ((long long)g.width * g.height);
        int flat = h * g.width + w;
        // Output rows i whose window can contain h: i·sh − ph + a·dh = h for some a.
        float sum = 0.0f;
        for (int a = 0; a < g.kernel_h; ++a) {
            int top = h + g.pad_h - a * g.dilation_h;
            if (top < 0 || top % g.stride_h != 0) continue;
            int i = top / g.stride_h;
            if (i >= g.out_h) continue;
            for (int b = 0; b < g.kernel_w; ++b) {
                int left = w + g.pad_w - b * g.dilation_w;
                if (left < 0 || left % g.stride_w != 0) continue;
                int j = left / g.stride_w;
                if (j >= g.out_w) continue;
                long long o = (plane * g.out_h + i) * g.out_w + j;
                if (index[o] == flat) sum += dy[o];
            }
        }
        dx[e] = sum;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// grid: [N·C], block: [256]; y: [N, C]
extern "C" __global__ void global_avg_pool_forward_f32(const float* x, float* y, long long plane) {
    __shared__ float partial[32];
    const float* xp = x + blockIdx.x * plane;
    float s = 0.0f;
    for (long long p = threadIdx.x; p < plane; p += blockDim.x) s += xp[p];
    s = warp_sum(s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        s = warp_sum(lane < warps ? partial[lane] : 0.0f);
        if (lane == 0) y[blockIdx.x] = s / (float)plane;
    }
}

// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
extern "C" __global__ void global_avg_pool_backward_f32(const float* dy, float* dx, long long total,
                                                        long long plane) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        dx[e] = dy[e / plane] / (float)plane;
    }
}
