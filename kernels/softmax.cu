// softmax.cu — softmax, log-softmax and cross-entropy over the last axis of a dense
// [rows, cols] matrix, forward and backward, on f32 and f64 (templates over the element type
// T; entry points NAME_f32 / NAME_f64, see element.cuh).
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

#include "element.cuh"

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
    for (int d = 16; d > 0; d >>= 1) v = Num<T>::max(v, __shfl_down_sync(0xffffffffu, v, d));
    return v;
}
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
    for (int d = 16; d > 0; d >>= 1) v += __shfl_down_sync(0xffffffffu, v, d);
    return v;
}

// Reduces `v` over the block; every thread gets the result. `is_max` picks max or sum.
template <typename T>
__device__ T block_reduce(T v, bool is_max) {
    __shared__ T partial[32];
    __shared__ T result;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = is_max ? warp_max(v) : warp_sum(v);
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        T w = lane < warps ? partial[lane] : (is_max ? -Num<T>::infinity() : T(0));
        w = is_max ? warp_max(w) : warp_sum(w);
        if (lane == 0) result = w;
    }
    __syncthreads();
    T out = result;
    __syncthreads();
    return out;
}

// m_r and log Σ exp(x − m_r) of row `row`.
template <typename T>
__device__ void row_statistics(const T* x, long long cols, T* max_out, T* log_sum_out) {
    T m = -Num<T>::infinity();
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) m = Num<T>::max(m, x[c]);
    m = block_reduce(m, true);
    T s = T(0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += Num<T>::exp(x[c] - m);
    s = block_reduce(s, false);
    *max_out = m;
    *log_sum_out = Num<T>::log(s);
}

// grid: [rows], block: [256]; y: [rows, cols]. `log` selects log_softmax.
template <typename T>
__device__ __forceinline__ void softmax_forward(const T* x, T* y, long long cols, int log) {
    const T* row = x + blockIdx.x * cols;
    T* out = y + blockIdx.x * cols;
    T m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        T shifted = row[c] - m - log_sum;
        out[c] = log ? shifted : Num<T>::exp(shifted);
    }
}

// grid: [rows], block: [256]; dx: [rows, cols]. `log` selects the log_softmax rule; y is the
// forward output.
template <typename T>
__device__ __forceinline__ void softmax_backward(const T* y, const T* dy, T* dx, long long cols,
                                                 int log) {
    const T* yr = y + blockIdx.x * cols;
    const T* dyr = dy + blockIdx.x * cols;
    T* dxr = dx + blockIdx.x * cols;
    T s = T(0);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) s += log ? dyr[c] : dyr[c] * yr[c];
    s = block_reduce(s, false);
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        dxr[c] = log ? dyr[c] - Num<T>::exp(yr[c]) * s : yr[c] * (dyr[c] - s);
    }
}

// Per-row loss (the mean over rows is a sum launch after this).
// grid: [rows], block: [256]; loss: [rows]
template <typename T>
__device__ __forceinline__ void cross_entropy_forward(const T* logits, const int* labels, T* loss,
                                                      long long cols) {
    const T* row = logits + blockIdx.x * cols;
    T m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    if (threadIdx.x == 0) loss[blockIdx.x] = m + log_sum - row[labels[blockIdx.x]];
}

// d logits[r, c] = (softmax(x)[r, c] − [c == label_r]) · scale, scale = d_loss / rows.
// grid: [rows], block: [256]; dx: [rows, cols]
template <typename T>
__device__ __forceinline__ void cross_entropy_backward(const T* logits, const int* labels, T* dx,
                                                       long long cols, T scale) {
    const T* row = logits + blockIdx.x * cols;
    T* out = dx + blockIdx.x * cols;
    T m, log_sum;
    row_statistics(row, cols, &m, &log_sum);
    int label = labels[blockIdx.x];
    for (long long c = threadIdx.x; c < cols; c += blockDim.x) {
        T p = Num<T>::exp(row[c] - m - log_sum);
        out[c] = (p - (c == label ? T(1) : T(0))) * scale;
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the templates.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void softmax_forward##S(const T* x, T* y, long long cols, int log) {   \
        softmax_forward<T>(x, y, cols, log);                                                    \
    }                                                                                           \
    extern "C" __global__ void softmax_backward##S(const T* y, const T* dy, T* dx,              \
                                                   long long cols, int log) {                   \
        softmax_backward<T>(y, dy, dx, cols, log);                                              \
    }                                                                                           \
    extern "C" __global__ void cross_entropy_forward##S(const T* logits, const int* labels,     \
                                                        T* loss, long long cols) {              \
        cross_entropy_forward<T>(logits, labels, loss, cols);                                   \
    }                                                                                           \
    extern "C" __global__ void cross_entropy_backward##S(const T* logits, const int* labels,    \
                                                         T* dx, long long cols, T scale) {      \
        cross_entropy_backward<T>(logits, labels, dx, cols, scale);                             \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
