// sgd.cu — one SGD step with momentum and weight decay, PyTorch's convention, on f32 and f64
// (a template over the element type T; entry points sgd_momentum_f32 / _f64, see element.cuh).
//
// What: g = grad + weight_decay·param;
//       v' = momentum·v + (1 − dampening)·g   (v' = g on the first step, `first_step` = 1);
//       step = nesterov ? g + momentum·v' : v';
//       param' = param − lr·step.
//   Written out of place (param_out, velocity_out), since device buffers are immutable once
//   shared; the caller swaps them in. The hyper-parameters arrive in the element type.
// Launch: grid: [ceil(n/256)], block: [256]; every output [n].
// Why it is fast: one pass reading three arrays and writing two — the minimum traffic for the
//   update — instead of the five passes of composing it from elementwise ops.

#include "element.cuh"

template <typename T>
__device__ __forceinline__ void sgd_momentum(long long n, const T* param, const T* grad,
                                             const T* velocity, T* param_out, T* velocity_out,
                                             T lr, T momentum, T dampening, T weight_decay,
                                             int nesterov, int first_step) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n;
         i += (long long)gridDim.x * blockDim.x) {
        T p = param[i];
        T g = grad[i] + weight_decay * p;
        T v = g;
        if (momentum != T(0)) {
            v = first_step ? g : momentum * velocity[i] + (T(1) - dampening) * g;
        }
        T step = (nesterov && momentum != T(0)) ? g + momentum * v : v;
        velocity_out[i] = v;
        param_out[i] = p - lr * step;
    }
}

// The entry points, NAME_f32 and NAME_f64 (see element.cuh); parameters as in the template.
#define ENTRY_POINTS(T, S)                                                                      \
    extern "C" __global__ void sgd_momentum##S(long long n, const T* param, const T* grad,      \
                                               const T* velocity, T* param_out,                 \
                                               T* velocity_out, T lr, T momentum, T dampening,  \
                                               T weight_decay, int nesterov, int first_step) {  \
        sgd_momentum<T>(n, param, grad, velocity, param_out, velocity_out, lr, momentum,        \
                        dampening, weight_decay, nesterov, first_step);                         \
    }

ENTRY_POINTS(float, _f32)
ENTRY_POINTS(double, _f64)
