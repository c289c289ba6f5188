// batch_norm.cu — batch normalisation over the channels of a dense NCHW tensor, on f32
// (Ioffe & Szegedy 2015, Algorithm 1 and the backward pass of section 3).
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

struct Welford {
    float count, mean, m2;
};

__device__ __forceinline__ Welford welford_merge(Welford a, Welford b) {
    float count = a.count + b.count;
    if (count == 0.0f) return a;
    float delta = b.mean - a.mean;
    float fb = b.count / count;
    Welford r;
    r.count = count;
    r.mean = a.mean + delta * fb;
    r.m2 = a.m2 + b.m2 + delta * delta * a.count * fb;
    return r;
}

__device__ __forceinline__ Welford welford_shuffle(Welford w, int delta) {
    Welford o;
    o.count = __shfl_down_sync(0xffffffffu, w.count, delta);
    o.mean = __shfl_down_sync(0xffffffffu, w.mean, delta);
    o.m2 = __shfl_down_sync(0xffffffffu, w.m2, delta);
    return o;
}

// mean[c], var[c] (biased) and invstd[c] of channel c.
// grid: [C], block: [256]; mean, var, invstd: [C]
extern "C" __global__ void bn_statistics_f32(const float* x, float* mean, float* var,
                                             float* invstd, int n, int channels, long long plane,
                                             float eps) {
    __shared__ Welford partial[32];
    int c = blockIdx.x;
    Welford w = {0.0f, 0.0f, 0.0f};
    long long total = (long long)n * plane;
    for (long long i = threadIdx.x; i < total; i += blockDim.x) {
        long long image = i / plane, pixel = i % plane;
        float v = x[(image * channels + c) * plane + pixel];
        w.count += 1.0f;
        float delta = v - w.mean;
        w.mean += delta / w.count;
        w.m2 += delta * (v - w.mean);
    }
    for (int d = 16; d > 0; d >>= 1) w = welford_merge(w, welford_shuffle(w, d));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) partial[warp] = w;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        Welford zero = {0.0f, 0.0f, 0.0f};
        w = lane < warps ? partial[lane] : zero;
        for (int d = 16; d > 0; d >>= 1) w = welford_merge(w, welford_shuffle(w, d));
        if (lane == 0) {
            float v = w.count > 0.0f ? w.m2 / w.count : 0.0f;
            mean[c] = w.mean;
            var[c] = v;
            invstd[c] = rsqrtf(v + eps);
        }
    }
}

// y = γ·(x − mean)·invstd + β, then ReLU if `relu`. Used for training (batch statistics) and
// evaluation (running statistics, invstd computed by the caller's launch of bn_invstd_f32).
// grid: [ceil(N·C·H·W/256)], block: [256]; y: [N, C, H, W]
extern "C" __global__ void bn_forward_f32(const float* x, const float* mean, const float* invstd,
                                          const float* gamma, const float* beta, float* y,
                                          long long total, int channels, long long plane,
                                          int relu) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        float v = gamma[c] * (x[i] - mean[c]) * invstd[c] + beta[c];
        y[i] = relu ? fmaxf(v, 0.0f) : v;
    }
}

// invstd[c] = 1/√(var[c] + ε). grid: [ceil(C/256)], block: [256]; invstd: [C]
extern "C" __global__ void bn_invstd_f32(const float* var, float* invstd, int channels, float eps) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < channels) invstd[c] = rsqrtf(var[c] + eps);
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// dβ[c] = Σ g, dγ[c] = Σ g·x̂ with g = dy (masked by y > 0 when `relu`).
// grid: [C], block: [256]; dgamma, dbeta: [C]
extern "C" __global__ void bn_backward_reduce_f32(const float* x, const float* y, const float* dy,
                                                  const float* mean, const float* invstd,
                                                  float* dgamma, float* dbeta, int n, int channels,
                                                  long long plane, int relu) {
    __shared__ float partial_g[32], partial_gx[32];
    int c = blockIdx.x;
    float m = mean[c], s = invstd[c];
    float sum_g = 0.0f, sum_gx = 0.0f;
    long long total = (long long)n * plane;
    for (long long i = threadIdx.x; i < total; i += blockDim.x) {
        long long index = ((i / plane) * channels + c) * plane + i % plane;
        float g = dy[index];
        if (relu && !(y[index] > 0.0f)) g = 0.0f;
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
        sum_g = warp_sum(lane < warps ? partial_g[lane] : 0.0f);
        sum_gx = warp_sum(lane < warps ? partial_gx[lane] : 0.0f);
        if (lane == 0) {
            dbeta[c] = sum_g;
            dgamma[c] = sum_gx;
        }
    }
}

// dx = γ·invstd/M · (M·g − dβ − x̂·dγ), g = dy (masked by y > 0 when `relu`).
// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
extern "C" __global__ void bn_backward_input_f32(const float* x, const float* y, const float* dy,
                                                 const float* mean, const float* invstd,
                                                 const float* gamma, const float* dgamma,
                                                 const float* dbeta, float* dx, long long total,
                                                 int channels, long long plane, float count,
                                                 int relu) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        float g = dy[i];
        if (relu && !(y[i] > 0.0f)) g = 0.0f;
        float xhat = (x[i] - mean[c]) * invstd[c];
        dx[i] = gamma[c] * invstd[c] / count * (count * g - dbeta[c] - xhat * dgamma[c]);
    }
}

// Evaluation-mode backward (statistics are constants): dx = g·γ·invstd.
// grid: [ceil(N·C·H·W/256)], block: [256]; dx: [N, C, H, W]
extern "C" __global__ void bn_eval_backward_input_f32(const float* dy, const float* invstd,
                                                      const float* gamma, float* dx,
                                                      long long total, int channels,
                                                      long long plane) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int c = (int)((i / plane) % channels);
        dx[i] = dy[i] * gamma[c] * invstd[c];
    }
}

// new_mean = (1 − m)·running_mean + m·mean; new_var = (1 − m)·running_var + m·var·correction
// (correction = M/(M − 1) turns the biased batch variance into the unbiased one).
// grid: [ceil(C/256)], block: [256]; new_mean, new_var: [C]
extern "C" __global__ void bn_running_update_f32(const float* running_mean,
                                                 const float* running_var, const float* mean,
                                                 const float* var, float* new_mean,
                                                 float* new_var, int channels, double momentum,
                                                 double correction) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < channels) {
        new_mean[c] = (float)((1.0 - momentum) * (double)running_mean[c] +
                              momentum * (double)mean[c]);
        new_var[c] = (float)((1.0 - momentum) * (double)running_var[c] +
                             momentum * ((double)var[c] * correction));
    }
}
