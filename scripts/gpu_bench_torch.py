#!/usr/bin/env python3
"""PyTorch's figures for the same workloads as crates/tensor/examples/cuda_bench.rs, on the GPU,
in the same run: cuBLAS SGEMM (torch.matmul with TF32 off, and with TF32 on), cuDNN convolution
forward and forward + backward (input and weight) with TF32 off. One JSON object per line."""
import json
import time

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.backends.cudnn.benchmark = True
device = torch.device("cuda")


def timed(repeats, f):
    for _ in range(2):
        f()
    torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        torch.cuda.synchronize()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


for n in (512, 1024, 2048, 4096):
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    flops = 2.0 * n ** 3
    torch.backends.cuda.matmul.allow_tf32 = False
    f32 = timed(10, lambda: torch.matmul(a, b))
    torch.backends.cuda.matmul.allow_tf32 = True
    tf32 = timed(10, lambda: torch.matmul(a, b))
    torch.backends.cuda.matmul.allow_tf32 = False
    print(json.dumps({"kind": "gemm", "n": n, "f32_gflops": flops / f32 / 1e9, "tf32_gflops": flops / tf32 / 1e9}))

layers = [
    ("stem7x7s2", 3, 64, 7, 2, 3, 224, 8),
    ("l1_3x3", 64, 64, 3, 1, 1, 56, 8),
    ("l1_1x1_up", 64, 256, 1, 1, 0, 56, 8),
    ("l2_3x3s2", 128, 128, 3, 2, 1, 56, 8),
    ("l3_3x3", 256, 256, 3, 1, 1, 14, 8),
    ("l4_1x1_down", 2048, 512, 1, 1, 0, 7, 8),
    ("cifar_3x3_16", 16, 16, 3, 1, 1, 32, 128),
    ("cifar_3x3_64", 64, 64, 3, 1, 1, 8, 128),
]
for name, c_in, c_out, k, stride, padding, size, batch in layers:
    x = torch.randn(batch, c_in, size, size, device=device, requires_grad=True)
    w = torch.randn(c_out, c_in, k, k, device=device, requires_grad=True)
    y = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
    dy = torch.randn_like(y)
    flops = 2.0 * batch * c_out * y.shape[2] * y.shape[3] * c_in * k * k
    with torch.no_grad():
        forward = timed(10, lambda: torch.nn.functional.conv2d(x, w, stride=stride, padding=padding))

    def step():
        out = torch.nn.functional.conv2d(x, w, stride=stride, padding=padding)
        torch.autograd.grad(out, (x, w), dy)

    training = timed(5, step)
    print(json.dumps({"kind": "conv", "name": name, "forward_gflops": flops / forward / 1e9, "training_gflops": 3 * flops / training / 1e9}))
