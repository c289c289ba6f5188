// softmax.cu — softmax, log-softmax and cross-entropy over the last axis of a dense
// [rows, cols] matrix, forward and backward, on f32.
//
// What:
//   softmax:      y[r,c] = exp(x[r,c] − m_r) / Σ_c' exp(x[r,c'] − m_r),  m_r = max_c x[r,c]
//   log_softmax:  y[r,c] = x[r,c] − m_r − log Σ_c' exp(x[r,c'] − m_r)
//   backward:     softmax:     dx = y ⊙ (dy − Σ_c dy·y)
//                 log_softmax: dx = dy − exp(y) · Σ_c dy
//   cross-entropy (mean over rows, integer labels): loss_r = log Σ exp(x_r) − x[r, label_r];
//                 d logits = (softmax(x) − onehot(label)) · d_loss / rows.
// Launch: grid: [rows], block: [256]; outputs [rows, cols] (or [rows] for the loss).
// Why it is fast: one block per row reads the row from global memory a fixed, small number of
//   times (max, sum, write), every pass coalesced; the row statistics are combined with warp
//   shuffles and live in registers/shared memory; subtracting the row max keeps exp finite.

#define NEG_INF __int_as_float(0xff800000)

__device__ __forceinline__ float warp_max(float v) {
    for (int d = 16; d > 0; d >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, d));
    return v;
}
__device__ __forceinline__ float warp_sum(float v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// Reduces `v` over the block; every thread gets the result. `is_max` picks max or sum.
__device__ float block_reduce(float v, bool is_max) {
    __shared__ float partial[32];
    __shared__ float result;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = is_max ? warp_max(v) : warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        float w = lane < warps ? partial[lane] : (is_max ? NEG_INF : 0.0f);
        w = is_max ? warp_max(w) : warp_sum(w);
        if (lane == 0) result = w;
    }
    __syncthreads();
    float out = result;
    __syncthreads();
    return out;
}

// m_r and log Σ exp(x − m_r) of row `row`.
__device__ void row_statistics(const float* x, long long cols, float* max_out, float* log_sum_out) {
    float m = NEG_INF;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) m = fmaxf(m, x[c]);
    m = block_reduce(m, true);
    float s = 0.0f;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += expf(x[c] - m);
    s = block_reduce(s, false);
    *max_out = m;
    *log_sum_out = logf(s);
}

// grid: [rows], block: [256]; y: [rows, cols]. `log` selects log_softmax.
extern "C" __global__ void softmax_forward_f32(const float* x, float* y, long long cols, int log) {
    const float* row = x + blockIdx.x * cols;
    float* out = y + blockIdx.x * cols;
    float m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        float shifted = row[c] - m - log_sum;
        out[c] = log ? shifted : expf(shifted);
    }
}

// grid: [rows], block: [256]; dx: [rows, cols]. `log` selects the log_softmax rule; y is the
// forward output.
extern "C" __global__ void softmax_backward_f32(const float* y, const float* dy, float* dx,
                                                long long cols, int log) {
    const float* yr = y + blockIdx.x * cols;
    const float* dyr = dy + blockIdx.x * cols;
    float* dxr = dx + blockIdx.x * cols;
    float s = 0.0f;
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += log ? dyr[c] : dyr[c] * yr[c];
    s = block_reduce(s, false);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        dxr[c] = log ? dyr[c] - expf(yr[c]) * s : yr[c] * (dyr[c] - s);
    }
}

// Per-row loss (the mean over rows is a sum launch after this).
// grid: [rows], block: [256]; loss: [rows]
extern "C" __global__ void cross_entropy_forward_f32(const float* logits, const int* labels,
                                                     float* loss, long long cols) {
    const float* row = logits + blockIdx.x * cols;
    float m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    if (threadIdx.x == 0) loss[blockIdx.x] = m + log_sum - row[labels[blockIdx.x]];
}

// d logits[r, c] = (softmax(x)[r, c] − [c == label_r]) · scale, scale = d_loss / rows.
// grid: [rows], block: [256]; dx: [rows, cols]
extern "C" __global__ void cross_entropy_backward_f32(const float* logits, const int* labels,
                                                      float* dx, long long cols, float scale) {
    const float* row = logits + blockIdx.x * cols;
    float* out = dx + blockIdx.x * cols;
    float m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    int label = labels[blockIdx.x];
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        float p = expf(row[c] - m - log_sum);
        out[c] = (p - (c == label ? 1.0f : 0.0f)) * scale;
    }
}
