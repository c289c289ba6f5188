// pool.cu — 2-D max pooling with argmax indices, average pooling and global average pooling,
// forward and backward, on dense NCHW f32 and f64 tensors (templates over the element type T;
// entry points NAME_f32 / NAME_f64, see element.cuh).
//
// What:
//   max_pool forward:  y[n,c,i,j] = max over the window (i·sh − ph + a·dh, j·sw − pw + b·dw) of
//                      x[n,c,·,·] (padding never wins), index[n,c,i,j] = the flat h·W + w of
//                      the first maximum (NaN wins, as on the CPU).
//   max_pool backward: dx[n,c,h,w] = Σ dy[n,c,i,j] over the windows whose index is (h,w) —
//                      one thread per plane scatters in output order: no atomics, a fixed
//                      summation order (the backward gets the indices, not the geometry).
//   avg pool forward:  y[n,c,i,j] = (1/d(i,j)) Σ x over window(i,j) ∩ input, where d counts the
//                      window's positions inside the padded input (count_include_pad = 1) or
//                      inside the input (0), PyTorch's two conventions.
//   avg pool backward: dx[n,c,h,w] = Σ dy[n,c,i,j] / d(i,j) over the windows containing (h,w) —
//                      a gather per input element (no atomics, fixed order).
//   global avg pool:   y[n,c] = (1/HW) Σ x[n,c,·,·];  backward dx[n,c,h,w] = dy[n,c] / HW.
// Launch: element-parallel kernels (one thread per output element; the average-pool backward
//   one per input element): grid: [ceil(elements/256)], block: [256]; max-pool
//   backward: grid: [ceil(N·C/256)], block: [256]; global average forward: grid: [N·C],
//   block: [256].
// Why it is fast: every output is one thread reading its window from L1/L2 (windows of
//   neighbouring threads overlap, so most reads hit cache). The max-pool backward trades
//   parallelism (one thread per plane) for determinism; ResNet-50 at batch 64 has
//   N·C = 4096 planes at its one max pool, enough threads to keep the GPU busy.

#include "element.cuh"

struct PoolGeometry {
    int channels, height, width;
    int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int out_h, out_w;
};

// grid: [ceil(N·C·oh·ow/256)], block: [256]; y, index: [N, C, oh, ow]
template <typename T>
__device__ __forceinline__ void max_pool_forward(const T* x, T* y, int* index, long long total,
                                                 const PoolGeometry& g) {
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        int j = (int)(o % g.out_w), i = (int)((o / g.out_w) % g.out_h);
        long long plane = o / ((long long)g.out_w * g.out_h);
        const T* xp = x + plane * g.height * g.width;
        T best = -Num<T>::infinity();
        int best_index = -1;
        for (int a = 0; a < g.kernel_h; ++a) {
            int h = i * g.stride_h - g.pad_h + a * g.dilation_h;
            if (h < 0 || h >= g.height) continue;
            for (int b = 0; b < g.kernel_w; ++b) {
                int w = j * g.stride_w - g.pad_w + b * g.dilation_w;
                if (w < 0 || w >= g.width) continue;
                T v = xp[h * g.width + w];
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

// One thread per (n, c) plane: zero the plane of dx, then add dy[o] at index[o] for every
// output o of the plane in order (the backward knows only the indices, not the window
// geometry; a sequential scatter per plane is deterministic and needs no atomics).
// grid: [ceil(N·C/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void max_pool_backward(const T* dy, const int* index, T* dx,
                                                  long long planes, long long in_plane,
                                                  long long out_plane) {
    for (long long p = blockIdx.x * (long long)blockDim.x + threadIdx.x; p < planes;
         p += (long long)gridDim.x * blockDim.x) {
        T* dxp = dx + p * in_plane;
        for (long long e = 0; e < in_plane; ++e) dxp[e] = T(0);
        const T* dyp = dy + p * out_plane;
        const int* ip = index + p * out_plane;
        for (long long o = 0; o < out_plane; ++o) dxp[ip[o]] += dyp[o];
    }
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// grid: [N·C], block: [256]; y: [N, C]
template <typename T>
__device__ __forceinline__ void global_avg_pool_forward(const T* x, T* y, long long plane) {
    __shared__ T partial[32];
    const T* xp = x + blockIdx.x * plane;
    T s = T(0);
    for (long long p = threadIdx.x; p < plane; p += blockDim.x) s += xp[p];
    s = warp_sum(s);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = s;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        s = warp_sum(lane < warps ? partial[lane] : T(0));
        if (lane == 0) y[blockIdx.x] = s / (T)plane;
    }
}

// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void global_avg_pool_backward(const T* dy, T* dx, long long total,
                                                         long long plane) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        dx[e] = dy[e / plane] / (T)plane;
    }
}

// The divisor of average-pool output (i, j): window positions inside the padded input
// (include_pad) or inside the input.
__device__ __forceinline__ int avg_divisor(const PoolGeometry& g, int i, int j, int include_pad) {
    int top = i * g.stride_h - g.pad_h, left = j * g.stride_w - g.pad_w;
    if (include_pad) {
        int bottom = min(top + g.kernel_h, g.height + g.pad_h);
        int right = min(left + g.kernel_w, g.width + g.pad_w);
        return (bottom - top) * (right - left);
    }
    int h0 = max(top, 0), h1 = min(top + g.kernel_h, g.height);
    int w0 = max(left, 0), w1 = min(left + g.kernel_w, g.width);
    return (h1 - h0) * (w1 - w0);
}

// grid: [ceil(N·C·oh·ow/256)], block: [256]; y: [N, C, oh, ow]
template <typename T>
__device__ __forceinline__ void avg_pool_forward(const T* x, T* y, long long total,
                                                 const PoolGeometry& g, int include_pad) {
    for (long long o = blockIdx.x * (long long)blockDim.x + threadIdx.x; o < total;
         o += (long long)gridDim.x * blockDim.x) {
        int j = (int)(o % g.out_w), i = (int)((o / g.out_w) % g.out_h);
        long long plane = o / ((long long)g.out_w * g.out_h);
        const T* xp = x + plane * g.height * g.width;
        int top = i * g.stride_h - g.pad_h, left = j * g.stride_w - g.pad_w;
        int h0 = max(top, 0), h1 = min(top + g.kernel_h, g.height);
        int w0 = max(left, 0), w1 = min(left + g.kernel_w, g.width);
        T sum = T(0);
        for (int h = h0; h < h1; ++h) {
            for (int w = w0; w < w1; ++w) sum += xp[h * g.width + w];
        }
        y[o] = sum / (T)avg_divisor(g, i, j, include_pad);
    }
}

// Output rows i whose window [i·s − p, i·s − p + k) contains h: ⌈(h + p − k + 1)/s⌉ ≤ i ≤
// ⌊(h + p)/s⌋, clipped to [0, out − 1]; the same on the width axis.
// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void avg_pool_backward(const T* dy, T* dx, long long total,
                                                  const PoolGeometry& g, int include_pad) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int w = (int)(e % g.width), h = (int)((e / g.width) % g.height);
        long long plane = e / ((long long)g.width * g.height);
        const T* dyp = dy + plane * g.out_h * g.out_w;
        int first_h = h + g.pad_h - g.kernel_h + 1, first_w = w + g.pad_w - g.kernel_w + 1;
        int i0 = first_h <= 0 ? 0 : (first_h + g.stride_h - 1) / g.stride_h;
        int j0 = first_w <= 0 ? 0 : (first_w + g.stride_w - 1) / g.stride_w;
        int i1 = min((h + g.pad_h) / g.stride_h, g.out_h - 1);
        int j1 = min((w + g.pad_w) / g.stride_w, g.out_w - 1);
        T sum = T(0);
        for (int i = i0; i <= i1; ++i) {
            for (int j = j0; j <= j1; ++j) {
                sum += dyp[i * g.out_w + j] / (T)avg_divisor(g, i, j, include_pad);
            }
        }
        dx[e] = sum;
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void max_pool_forward##S(const T* x, T* y, int* index,                \
                                                   long long total, PoolGeometry g) {           \
        max_pool_forward<T>(x, y, index, total, g);                                             \
    }                                                                                           \
    extern "C" __global__ void max_pool_backward##S(const T* dy, const int* index, T* dx,       \
                                                    long long planes, long long in_plane,       \
                                                    long long out_plane) {                      \
        max_pool_backward<T>(dy, index, dx, planes, in_plane, out_plane);                       \
    }                                                                                           \
    extern "C" __global__ void global_avg_pool_forward##S(const T* x, T* y, long long plane) {  \
        global_avg_pool_forward<T>(x, y, plane);                                                \
    }                                                                                           \
    extern "C" __global__ void global_avg_pool_backward##S(const T* dy, T* dx, long long total, \
                                                           long long plane) {                   \
        global_avg_pool_backward<T>(dy, dx, total, plane);                                      \
    }                                                                                           \
    extern "C" __global__ void avg_pool_forward##S(const T* x, T* y, long long total,           \
                                                   PoolGeometry g, int include_pad) {           \
        avg_pool_forward<T>(x, y, total, g, include_pad);                                       \
    }                                                                                           \
    extern "C" __global__ void avg_pool_backward##S(const T* dy, T* dx, long long total,        \
                                                    PoolGeometry g, int include_pad) {          \
        avg_pool_backward<T>(dy, dx, total, g, include_pad);                                    \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
