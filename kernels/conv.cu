// conv.cu — im2col and col2im for 2-D convolution (NCHW, all channels), on f32 and f64
// (templates over the element type T; entry points NAME_f32 / NAME_f64, see element.cuh). The
// convolution itself is the GEMM of gemm.cu on these columns (with G groups, one GEMM per group
// on the row block g·C/G·kh·kw of the columns; the offsets are in
// crates/tensor/src/cuda/ops/conv_plan.rs):
//   forward:          Y_n[C_out, oh·ow] = W[C_out, C·kh·kw] · cols_n[C·kh·kw, oh·ow]
//   backward, data:   dcols_n = Wᵀ · dY_n, then dX_n = col2im(dcols_n)
//   backward, weight: dW = Σ_n dY_n · cols_nᵀ
//
// What: cols[n, (c·kh + a)·kw + b, i·ow + j] = x[n, c, i·sh − ph + a·dh, j·sw − pw + b·dw]
//   (0 in the padding); col2im is its adjoint: dx[n,c,h,w] = Σ over (a,b,i,j) that read (h,w)
//   of dcols[n, (c·kh+a)·kw+b, i·ow+j] — computed by gathering per input element (no atomics,
//   fixed order, deterministic).
// Launch: grid: [ceil(total/256)], block: [256]; im2col total = N·C·kh·kw·oh·ow,
//   col2im total = N·C·H·W.
// Why it is fast: consecutive threads write consecutive columns (j fastest), so stores are
//   coalesced and reads of x are near-coalesced for stride 1; the heavy lifting is the tiled
//   GEMM, which the column layout feeds with unit-stride rows.

#include "element.cuh"

struct ConvGeometry {
    int channels, height, width;
    int kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    int out_h, out_w;
};

// grid: [ceil(N·C·kh·kw·oh·ow/256)], block: [256]; cols: [N, C·kh·kw, oh·ow]
template <typename T>
__device__ __forceinline__ void im2col(const T* x, T* cols, long long total, const ConvGeometry& g) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int j = (int)(e % g.out_w);
        long long rest = e / g.out_w;
        int i = (int)(rest % g.out_h);
        rest /= g.out_h;
        int b = (int)(rest % g.kernel_w);
        rest /= g.kernel_w;
        int a = (int)(rest % g.kernel_h);
        rest /= g.kernel_h;
        long long plane = rest;  // n·C + c
        int h = i * g.stride_h - g.pad_h + a * g.dilation_h;
        int w = j * g.stride_w - g.pad_w + b * g.dilation_w;
        T v = T(0);
        if (h >= 0 && h < g.height && w >= 0 && w < g.width) {
            v = x[(plane * g.height + h) * g.width + w];
        }
        cols[e] = v;
    }
}

// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void col2im(const T* cols, T* dx, long long total, const ConvGeometry& g) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        int w = (int)(e % g.width);
        int h = (int)((e / g.width) % g.height);
        long long plane = e / ((long long)g.width * g.height);  // n·C + c
        T sum = T(0);
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
                long long row = (plane * g.kernel_h + a) * g.kernel_w + b;
                sum += cols[(row * g.out_h + i) * g.out_w + j];
            }
        }
        dx[e] = sum;
    }
}

// Adds a per-channel bias in place: y[n, c, p] += bias[c].
// grid: [ceil(N·C·P/256)], block: [256]; y: [N, C, P]
template <typename T>
__device__ __forceinline__ void add_channel_bias(T* y, const T* bias, long long total,
                                                 int channels, long long plane) {
    for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total;
         e += (long long)gridDim.x * blockDim.x) {
        y[e] += bias[(e / plane) % channels];
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void im2col##S(const T* x, T* cols, long long total, ConvGeometry g) { \
        im2col<T>(x, cols, total, g);                                                           \
    }                                                                                           \
    extern "C" __global__ void col2im##S(const T* cols, T* dx, long long total, ConvGeometry g) { \
        col2im<T>(cols, dx, total, g);                                                          \
    }                                                                                           \
    extern "C" __global__ void add_channel_bias##S(T* y, const T* bias, long long total,        \
                                                   int channels, long long plane) {             \
        add_channel_bias<T>(y, bias, total, channels, plane);                                   \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
