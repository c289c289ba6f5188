// element.cuh — what a kernel needs to know about its element type T (float or double).
// Included by every kernels/*.cu file (NVRTC receives it as a header; see
// crates/tensor/src/cuda/kernels.rs).
//
// Every kernel is written once, as a template over T. Each file ends with an ENTRY_POINTS(T, S)
// macro holding one-line extern "C" wrappers, instantiated twice — ENTRY_POINTS(float, _f32) and
// ENTRY_POINTS(double, _f64) — so the Rust side finds `relu_backward_f32`, `relu_backward_f64`,
// … by name. The same names are listed in crates/tensor/src/cuda/kernels.rs, and the
// cuda_compile test checks that the two lists agree, entry by entry.
//
// Num<T>: the math functions in the precision of T (expf vs exp, …), so a double kernel never
//   goes through float and a float kernel never pays for double.
// Quad<T>: four consecutive elements moved as 16-byte vectors — one float4, or two double2 —
//   for the loads that are 16-byte aligned (dense elementwise operands, GEMM panels).

#pragma once

template <typename T>
struct Num;

template <>
struct Num<float> {
    static __device__ __forceinline__ float exp(float x) { return expf(x); }
    static __device__ __forceinline__ float log(float x) { return logf(x); }
    static __device__ __forceinline__ float sqrt(float x) { return sqrtf(x); }
    static __device__ __forceinline__ float rsqrt(float x) { return rsqrtf(x); }
    static __device__ __forceinline__ float abs(float x) { return fabsf(x); }
    static __device__ __forceinline__ float tanh(float x) { return tanhf(x); }
    static __device__ __forceinline__ float pow(float x, float y) { return powf(x, y); }
    static __device__ __forceinline__ float fma(float a, float b, float c) { return fmaf(a, b, c); }
    static __device__ __forceinline__ float max(float a, float b) { return fmaxf(a, b); }
    static __device__ __forceinline__ float min(float a, float b) { return fminf(a, b); }
    static __device__ __forceinline__ float infinity() { return __int_as_float(0x7f800000); }
};

template <>
struct Num<double> {
    static __device__ __forceinline__ double exp(double x) { return ::exp(x); }
    static __device__ __forceinline__ double log(double x) { return ::log(x); }
    static __device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
    static __device__ __forceinline__ double rsqrt(double x) { return ::rsqrt(x); }
    static __device__ __forceinline__ double abs(double x) { return ::fabs(x); }
    static __device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
    static __device__ __forceinline__ double pow(double x, double y) { return ::pow(x, y); }
    static __device__ __forceinline__ double fma(double a, double b, double c) {
        return ::fma(a, b, c);
    }
    static __device__ __forceinline__ double max(double a, double b) { return ::fmax(a, b); }
    static __device__ __forceinline__ double min(double a, double b) { return ::fmin(a, b); }
    static __device__ __forceinline__ double infinity() {
        return __longlong_as_double(0x7ff0000000000000ll);
    }
};

// Four consecutive elements at a 16-byte-aligned address, as 16-byte vector accesses.
template <typename T>
struct Quad;

template <>
struct Quad<float> {
    static __device__ __forceinline__ void load(const float* p, float r[4]) {
        float4 v = *reinterpret_cast<const float4*>(p);
        r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
    }
    static __device__ __forceinline__ void store(float* p, const float r[4]) {
        *reinterpret_cast<float4*>(p) = make_float4(r[0], r[1], r[2], r[3]);
    }
};

template <>
struct Quad<double> {
    static __device__ __forceinline__ void load(const double* p, double r[4]) {
        double2 v = reinterpret_cast<const double2*>(p)[0];
        double2 w = reinterpret_cast<const double2*>(p)[1];
        r[0] = v.x; r[1] = v.y; r[2] = w.x; r[3] = w.y;
    }
    static __device__ __forceinline__ void store(double* p, const double r[4]) {
        reinterpret_cast<double2*>(p)[0] = make_double2(r[0], r[1]);
        reinterpret_cast<double2*>(p)[1] = make_double2(r[2], r[3]);
    }
};
