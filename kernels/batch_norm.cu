// batch_norm.cu — batch normalisation over the channels of a dense NCHW tensor, on f32 and f64
// (Ioffe & Szegedy 2015, Algorithm 1 and the backward pass of section 3; templates over the
// element type T, entry points NAME_f32 / NAME_f64, see element.cuh).
//
// What:
//   statistics:  mean_c = (1/M) Σ x,  var_c = (1/M) Σ (x − mean_c)²  over M = N·H·W values of
//                channel c (biased variance, used to normalise; the caller updates running
//                statistics with the unbiased one, var·M/(M−1)).
//   forward:     y = γ_c · (x − mean_c) · invstd_c + β_c, invstd_c = 1/√(var_c + ε),
//                optionally followed by ReLU in the same pass (the fused BN + ReLU).
//   backward:    x̂ = (x − mean)·invstd; dβ_c = Σ dy; dγ_c = Σ dy·x̂;
//                dx = γ_c·invstd_c/M · (M·dy − dβ_c − x̂·dγ_c)  (with dy masked by y > 0 first
//                when the forward was fused with ReLU).
//   running:     running_mean ← (1 − m)·running_mean + m·mean_c,
//                running_var  ← (1 − m)·running_var + m·var_c·M/(M − 1)  (PyTorch's update,
//                in double like the CPU's; written out of place, buffers being immutable).
//   eval backward: dx = dy·γ_c·invstd_c (the statistics are constants).
// Launch: statistics and backward reductions: grid: [C], block: [256]; the elementwise passes:
//   grid: [ceil(N·C·H·W/256)], block: [256]; per-channel passes: grid: [ceil(C/256)].
// Why it is fast: one pass over x for both moments — each thread keeps a Welford (count, mean,
//   M2) triple and the triples are merged with Chan's formula across warps, which is as
//   accurate as the two-pass method (no catastrophic cancellation of E[x²] − E[x]²); the
//   backward gathers Σdy and Σdy·x̂ in one pass too; fusing ReLU saves a full read and write of
//   the activation.

#include "element.cuh"

template <typename T>
struct Welford {
    T count, mean, m2;
};

template <typename T>
__device__ __forceinline__ Welford<T> welford_merge(Welford<T> a, Welford<T> b) {
    T count = a.count + b.count;
    if (count == T(0)) return a;
    T delta = b.mean - a.mean;
    T fb = b.count / count;
    Welford<T> r;
    r.count = count;
    r.mean = a.mean + delta * fb;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * fb;
    return r;
}

template <typename T>
__device__ __forceinline__ Welford<T> welford_shuffle(Welford<T> w, int delta) {
    Welford<T> o;
    o.count = __shfl_down_sync(0xffffffffu, w.count, delta);
    o.mean = __shfl_down_sync(0xffffffffu, w.mean, delta);
    o.m2 = __shfl_down_sync(0xffffffffu, w.m2, delta);
    return o;
}

// mean[c], var[c] (biased) and invstd[c] of channel c.
// grid: [C], block: [256]; mean, var, invstd: [C]
template <typename T>
__device__ __forceinline__ void bn_statistics(const T* x, T* mean, T* var, T* invstd, int n,
                                              int channels, long long plane, T eps) {
    __shared__ Welford<T> partial[32];
    int c = blockIdx.x;
    Welford<T> w = {T(0), T(0), T(0)};
    long long total = (long long)n * plane;
    for (long long i = threadIdx.x; i < total; i += blockDim.x) {
        long long image = i / plane, pixel = i % plane;
        T v = x[(image * channels + c) * plane + pixel];
        w.count += T(1);
        T delta = v - w.mean;
        w.mean += delta / w.count;
        w.m2 += delta * (v - w.mean);
    }
    for (int d = 16; d > 0; d >>= 1) w = welford_merge(w, welford_shuffle(w, d));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = w;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        Welford<T> zero = {T(0), T(0), T(0)};
        w = lane < warps ? partial[lane] : zero;
        for (int d = 16; d > 0; d >>= 1) w = welford_merge(w, welford_shuffle(w, d));
        if (lane == 0) {
            T v = w.count > T(0) ? w.m2 / w.count : T(0);
            mean[c] = w.mean;
            var[c] = v;
            invstd[c] = Num<T>::rsqrt(v + eps);
        }
    }
}

// y = γ·(x − mean)·invstd + β, then ReLU (max(y, 0), NaN kept) if `relu`. Used for training (batch statistics) and
// evaluation (running statistics, invstd computed by the caller's launch of bn_invstd).
// grid: [ceil(N·C·H·W/256)], block: [256]; y: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void bn_forward(const T* x, const T* mean, const T* invstd,
                                           const T* gamma, const T* beta, T* y, long long total,
                                           int channels, long long plane, int relu) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        T v = gamma[c] * (x[i] - mean[c]) * invstd[c] + beta[c];
        // ReLU as U_RELU and add_relu: a NaN stays NaN.
        y[i] = (relu && !(v > T(0)) && v == v) ? T(0) : v;
    }
}

// invstd[c] = 1/√(var[c] + ε). grid: [ceil(C/256)], block: [256]; invstd: [C]
template <typename T>
__device__ __forceinline__ void bn_invstd(const T* var, T* invstd, int channels, T eps) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < channels) invstd[c] = Num<T>::rsqrt(var[c] + eps);
}

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// dβ[c] = Σ g, dγ[c] = Σ g·x̂ with g = dy (masked by y > 0 when `relu`).
// grid: [C], block: [256]; dgamma, dbeta: [C]
template <typename T>
__device__ __forceinline__ void bn_backward_reduce(const T* x, const T* y, const T* dy,
                                                   const T* mean, const T* invstd, T* dgamma,
                                                   T* dbeta, int n, int channels, long long plane,
                                                   int relu) {
    __shared__ T partial_g[32], partial_gx[32];
    int c = blockIdx.x;
    T m = mean[c], s = invstd[c];
    T sum_g = T(0), sum_gx = T(0);
    long long total = (long long)n * plane;
    for (long long i = threadIdx.x; i < total; i += blockDim.x) {
        long long index = ((i / plane) * channels + c) * plane + i % plane;
        T g = dy[index];
        if (relu && !(y[index] > T(0))) g = T(0);
        sum_g += g;
        sum_gx += g * (x[index] - m) * s;
    }
    sum_g = warp_sum(sum_g);
    sum_gx = warp_sum(sum_gx);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) {
        partial_g[warp] = sum_g;
        partial_gx[warp] = sum_gx;
    }
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        sum_g = warp_sum(lane < warps ? partial_g[lane] : T(0));
        sum_gx = warp_sum(lane < warps ? partial_gx[lane] : T(0));
        if (lane == 0) {
            dbeta[c] = sum_g;
            dgamma[c] = sum_gx;
        }
    }
}

// dx = γ·invstd/M · (M·g − dβ − x̂·dγ), g = dy (masked by y > 0 when `relu`).
// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void bn_backward_input(const T* x, const T* y, const T* dy,
                                                  const T* mean, const T* invstd, const T* gamma,
                                                  const T* dgamma, const T* dbeta, T* dx,
                                                  long long total, int channels, long long plane,
                                                  T count, int relu) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        T g = dy[i];
        if (relu && !(y[i] > T(0))) g = T(0);
        T xhat = (x[i] - mean[c]) * invstd[c];
        dx[i] = gamma[c] * invstd[c] / count * (count * g - dbeta[c] - xhat * dgamma[c]);
    }
}

// Evaluation-mode backward (statistics are constants): dx = g·γ·invstd.
// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
template <typename T>
__device__ __forceinline__ void bn_eval_backward_input(const T* dy, const T* invstd,
                                                       const T* gamma, T* dx, long long total,
                                                       int channels, long long plane) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        dx[i] = dy[i] * gamma[c] * invstd[c];
    }
}

// new_mean = (1 − m)·running_mean + m·mean; new_var = (1 − m)·running_var + m·var·correction
// (correction = M/(M − 1) turns the biased batch variance into the unbiased one).
// grid: [ceil(C/256)], block: [256]; new_mean, new_var: [C]
template <typename T>
__device__ __forceinline__ void bn_running_update(const T* running_mean, const T* running_var,
                                                  const T* mean, const T* var, T* new_mean,
                                                  T* new_var, int channels, double momentum,
                                                  double correction) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < channels) {
        new_mean[c] = (T)((1.0 - momentum) * (double)running_mean[c] +
                          momentum * (double)mean[c]);
        new_var[c] = (T)((1.0 - momentum) * (double)running_var[c] +
                         momentum * ((double)var[c] * correction));
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void bn_statistics##S(const T* x, T* mean, T* var, T* invstd, int n,  \
                                                int channels, long long plane, T eps) {         \
        bn_statistics<T>(x, mean, var, invstd, n, channels, plane, eps);                        \
    }                                                                                           \
    extern "C" __global__ void bn_forward##S(const T* x, const T* mean, const T* invstd,        \
                                             const T* gamma, const T* beta, T* y,               \
                                             long long total, int channels, long long plane,    \
                                             int relu) {                                        \
        bn_forward<T>(x, mean, invstd, gamma, beta, y, total, channels, plane, relu);           \
    }                                                                                           \
    extern "C" __global__ void bn_invstd##S(const T* var, T* invstd, int channels, T eps) {     \
        bn_invstd<T>(var, invstd, channels, eps);                                               \
    }                                                                                           \
    extern "C" __global__ void bn_backward_reduce##S(const T* x, const T* y, const T* dy,       \
                                                     const T* mean, const T* invstd,            \
                                                     T* dgamma, T* dbeta, int n, int channels,  \
                                                     long long plane, int relu) {               \
        bn_backward_reduce<T>(x, y, dy, mean, invstd, dgamma, dbeta, n, channels, plane, relu); \
    }                                                                                           \
    extern "C" __global__ void bn_backward_input##S(const T* x, const T* y, const T* dy,        \
                                                    const T* mean, const T* invstd,             \
                                                    const T* gamma, const T* dgamma,            \
                                                    const T* dbeta, T* dx, long long total,     \
                                                    int channels, long long plane, T count,     \
                                                    int relu) {                                 \
        bn_backward_input<T>(x, y, dy, mean, invstd, gamma, dgamma, dbeta, dx, total,           \
                             channels, plane, count, relu);                                     \
    }                                                                                           \
    extern "C" __global__ void bn_eval_backward_input##S(const T* dy, const T* invstd,          \
                                                         const T* gamma, T* dx,                 \
                                                         long long total, int channels,         \
                                                         long long plane) {                     \
        bn_eval_backward_input<T>(dy, invstd, gamma, dx, total, channels, plane);               \
    }                                                                                           \
    extern "C" __global__ void bn_running_update##S(const T* running_mean,                      \
                                                    const T* running_var, const T* mean,        \
                                                    const T* var, T* new_mean, T* new_var,      \
                                                    int channels, double momentum,              \
                                                    double correction) {                        \
        bn_running_update<T>(running_mean, running_var, mean, var, new_mean, new_var,           \
                             channels, momentum, correction);                                   \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
