// gemm.cu — batched matrix product, three kernels:
//   gemm_f32:      exact f32 (every product and sum an fp32 FMA), the default for f32;
//   gemm_f64:      exact f64 (a DGEMM: the same template and tiling as gemm_f32, fp64 FMAs);
//   gemm_tf32_f32: tensor cores (mma.sync m16n8k8, TF32 inputs rounded to nearest, fp32
//                  accumulation; sm_80 or newer), chosen explicitly by the caller; f32 only
//                  (the launch wrapper refuses f64 with UnsupportedDType).
//
// What: C_b[i, j] = α · Σ_p A_b[i, p] · B_b[p, j] + β · C_b[i, j] for each batch b, where
//   A_b[i, p] = A[b·a_batch + i·a_row + p·a_col] (so transposed or broadcast operands are
//   strides, never copies; a_batch = 0 broadcasts), likewise B, and C is row-major with row
//   stride c_row. With β = 0, C is not read (so garbage or NaN in it never leaks in).
//
// gemm_f32 / gemm_f64 launch: grid: [ceil(N/128), ceil(M/128), batch], block: [256].
//   Why it is fast: each block computes a 128×128 tile of C from 128×8 panels of A and 8×128
//   panels of B staged in shared memory (every global element is read by the block once per
//   tile instead of once per output: 16× less traffic than a naive kernel per dimension);
//   each thread holds an 8×8 block of C in registers (register blocking: 64 FMAs per 16 shared
//   loads); panels are fetched with 16-byte vector loads (one float4, or two double2) when the
//   operand is row-contiguous and aligned; and shared memory is double-buffered: the next panel
//   is loaded from global memory into registers while the current one is multiplied, so load
//   latency hides behind math, with one barrier per k-step.
//   f64: the panels take 32 KiB of shared memory (16 KiB in f32), under the 48 KiB static
//   limit, so the tiling is the same; the 8×8 double accumulators take 128 registers, and
//   ptxas (NVRTC 13, sm_80/sm_90) gives the kernel ~235 registers per thread without spills
//   (f32: ~140), so one 256-thread block fits an SM at a time — fine for FP64, whose FMA rate
//   is half of FP32's on H100/H200 and lower on most other GPUs, but not measured.
//
// gemm_tf32_f32 launch: grid: [ceil(N/64), ceil(M/64), batch], block: [128] (4 warps, each
//   a 32×32 warp tile = 2×4 mma tiles of 16×8).
//   Why it is fast: an mma.sync m16n8k8 does 2048 multiply-adds per warp instruction on the
//   tensor cores, ~8× the fp32 FMA rate of the SIMT path on Ampere/Hopper. TF32 keeps 10
//   mantissa bits, so expect relative errors near 1e-3, not 1e-6.

#include "element.cuh"

// The strides and scalars of one launch; α and β in the element type.
template <typename T>
struct GemmArgs {
    int m, n, k;
    long long a_row, a_col, b_row, b_col, c_row;
    long long a_batch, b_batch, c_batch;
    T alpha, beta;
};

#define BM 128
#define BN 128
#define BK 8

// The exact GEMM for T = float or double (entry points gemm_f32, gemm_f64 below).
// grid: [ceil(N/128), ceil(M/128), batch], block: [256]; C: [batch, M, N] (row stride c_row)
template <typename T>
__device__ __forceinline__ void gemm_tile(const T* __restrict__ A, const T* __restrict__ B,
                                          T* __restrict__ C, const GemmArgs<T>& g) {
    __shared__ __align__(16) T As[2][BK][BM];
    __shared__ __align__(16) T Bs[2][BK][BN];

    const int t = threadIdx.x;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    A += blockIdx.z * g.a_batch;
    B += blockIdx.z * g.b_batch;
    C += blockIdx.z * g.c_batch;

    // Which 4 values each thread fetches: A: row t/2, k offset (t%2)·4; B: k row t/32,
    // column offset (t%32)·4. Four elements are 16 (f32) or 32 (f64) bytes: with 16-byte
    // aligned rows (row stride a multiple of 16/sizeof(T) elements) they are vector loads.
    const int a_r = t >> 1, a_k = (t & 1) * 4;
    const int b_k = t >> 5, b_c = (t & 31) * 4;
    const long long per_16_bytes = 16 / sizeof(T);
    const bool a_vec = g.a_col == 1 && g.a_row % per_16_bytes == 0 &&
                       ((reinterpret_cast<unsigned long long>(A) & 15) == 0);
    const bool b_vec = g.b_col == 1 && g.b_row % per_16_bytes == 0 &&
                       ((reinterpret_cast<unsigned long long>(B) & 15) == 0);

    T a_reg[4], b_reg[4];
    auto load = [&](int k0) {
        int row = m0 + a_r, kk = k0 + a_k;
        if (a_vec && row < g.m && kk + 3 < g.k) {
            Quad<T>::load(A + row * g.a_row + kk, a_reg);
        } else {
            for (int q = 0; q < 4; ++q) {
                a_reg[q] = (row < g.m && kk + q < g.k) ? A[row * g.a_row + (kk + q) * g.a_col] : T(0);
            }
        }
        int krow = k0 + b_k, col = n0 + b_c;
        if (b_vec && krow < g.k && col + 3 < g.n) {
            Quad<T>::load(B + krow * g.b_row + col, b_reg);
        } else {
            for (int q = 0; q < 4; ++q) {
                b_reg[q] = (krow < g.k && col + q < g.n) ? B[krow * g.b_row + (col + q) * g.b_col] : T(0);
            }
        }
    };
    auto store = [&](int buffer) {
        for (int q = 0; q < 4; ++q) As[buffer][a_k + q][a_r] = a_reg[q];
        Quad<T>::store(&Bs[buffer][b_k][b_c], b_reg);
    };

    // Thread (ty, tx) owns rows {ty·4 + i, 64 + ty·4 + i} and columns {tx·4 + j, 64 + tx·4 + j}.
    const int ty = t >> 4, tx = t & 15;
    T acc[8][8];
    for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) acc[i][j] = T(0);

    const int tiles = (g.k + BK - 1) / BK;
    int buffer = 0;
    load(0);
    store(0);
    __syncthreads();
    for (int tile = 0; tile < tiles; ++tile) {
        if (tile + 1 < tiles) load((tile + 1) * BK);  // in flight while we compute
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            T a[8], b[8];
            Quad<T>::load(&As[buffer][kk][ty * 4], a);
            Quad<T>::load(&As[buffer][kk][64 + ty * 4], a + 4);
            Quad<T>::load(&Bs[buffer][kk][tx * 4], b);
            Quad<T>::load(&Bs[buffer][kk][64 + tx * 4], b + 4);
#pragma unroll
            for (int i = 0; i < 8; ++i)
#pragma unroll
                for (int j = 0; j < 8; ++j) acc[i][j] = Num<T>::fma(a[i], b[j], acc[i][j]);
        }
        if (tile + 1 < tiles) store(buffer ^ 1);
        __syncthreads();
        buffer ^= 1;
    }

    for (int i = 0; i < 8; ++i) {
        int row = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
        if (row >= g.m) continue;
        for (int j = 0; j < 8; ++j) {
            int col = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
            if (col >= g.n) continue;
            T* c = C + row * g.c_row + col;
            T v = g.alpha * acc[i][j];
            *c = g.beta == T(0) ? v : v + g.beta * *c;
        }
    }
}

extern "C" __global__ void __launch_bounds__(256)
gemm_f32(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
         GemmArgs<float> g) {
    gemm_tile<float>(A, B, C, g);
}

extern "C" __global__ void __launch_bounds__(256)
gemm_f64(const double* __restrict__ A, const double* __restrict__ B, double* __restrict__ C,
         GemmArgs<double> g) {
    gemm_tile<double>(A, B, C, g);
}

#define TM 64
#define TN 64
#define TK 16

__device__ __forceinline__ unsigned to_tf32(float x) {
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return r;
}

// f32 only: there is no TF32 for double (f64 tensors always take gemm_f64).
// grid: [ceil(N/64), ceil(M/64), batch], block: [128]; C: [batch, M, N] (row stride c_row)
extern "C" __global__ void __launch_bounds__(128)
gemm_tf32_f32(const float* __restrict__ A, const float* __restrict__ B, float* __restrict__ C,
              GemmArgs<float> g) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    __shared__ float As[TM][TK + 4];
    __shared__ float Bs[TK][TN + 4];
    const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int m0 = blockIdx.y * TM, n0 = blockIdx.x * TN;
    const int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
    const int group = lane >> 2, tig = lane & 3;
    A += blockIdx.z * g.a_batch;
    B += blockIdx.z * g.b_batch;
    C += blockIdx.z * g.c_batch;

    float acc[2][4][4];
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j)
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;

    for (int k0 = 0; k0 < g.k; k0 += TK) {
        for (int q = 0; q < (TM * TK) / 128; ++q) {
            int index = t + q * 128, r = index / TK, kk = index % TK;
            int row = m0 + r, col = k0 + kk;
            As[r][kk] = (row < g.m && col < g.k) ? A[row * g.a_row + col * g.a_col] : 0.0f;
        }
        for (int q = 0; q < (TK * TN) / 128; ++q) {
            int index = t + q * 128, kr = index / TN, nn = index % TN;
            int row = k0 + kr, col = n0 + nn;
            Bs[kr][nn] = (row < g.k && col < g.n) ? B[row * g.b_row + col * g.b_col] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int ks = 0; ks < TK; ks += 8) {
            unsigned a[2][4], b[4][2];
            for (int i = 0; i < 2; ++i) {
                int r = wm + i * 16 + group;
                a[i][0] = to_tf32(As[r][ks + tig]);
                a[i][1] = to_tf32(As[r + 8][ks + tig]);
                a[i][2] = to_tf32(As[r][ks + tig + 4]);
                a[i][3] = to_tf32(As[r + 8][ks + tig + 4]);
            }
            for (int j = 0; j < 4; ++j) {
                int c = wn + j * 8 + group;
                b[j][0] = to_tf32(Bs[ks + tig][c]);
                b[j][1] = to_tf32(Bs[ks + tig + 4][c]);
            }
            for (int i = 0; i < 2; ++i)
                for (int j = 0; j < 4; ++j)
                    asm volatile(
                        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                        "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                        : "+f"(acc[i][j][0]), "+f"(acc[i][j][1]), "+f"(acc[i][j][2]),
                          "+f"(acc[i][j][3])
                        : "r"(a[i][0]), "r"(a[i][1]), "r"(a[i][2]), "r"(a[i][3]), "r"(b[j][0]),
                          "r"(b[j][1]));
        }
        __syncthreads();
    }
    // Accumulator fragment: c0,c1 at (group, 2·tig + {0,1}); c2,c3 at (group + 8, …).
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 4; ++j)
            for (int q = 0; q < 4; ++q) {
                int row = m0 + wm + i * 16 + group + (q >= 2 ? 8 : 0);
                int col = n0 + wn + j * 8 + tig * 2 + (q & 1);
                if (row < g.m && col < g.n) {
                    float* c = C + row * g.c_row + col;
                    float v = g.alpha * acc[i][j][q];
                    *c = g.beta == 0.0f ? v : v + g.beta * *c;
                }
            }
#else
    __trap();  // tensor-core TF32 needs sm_80 or newer; the launch wrapper checks this first.
#endif
}
