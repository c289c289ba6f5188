#!/usr/bin/env python3
"""PyTorch's ResNet-50 training throughput on the GPU, the baseline of `unravel bench net
--device cuda --arch resnet50 --input 64x3x224x224` in scripts/gpu-check.sh: images/s of one SGD
training step (forward, mean cross-entropy, backward, SGD with momentum 0.9, weight decay 1e-4)
on a synthetic batch (default 64 x 3 x 224 x 224, 1000 classes), fp32 with TF32 off for both
cuBLAS and cuDNN. The model is torchvision's resnet50 when torchvision is importable, otherwise
the same network (ResNet-50 v1.5: stride on the 3x3 convolution of the bottleneck) built below
in plain torch.nn. Each step ends with torch.cuda.synchronize(), as unravel's does; the figure
is the mean over the timed steps after the warm-up ones. One JSON object on stdout, in the
format of scripts/gpu_bench_torch.py's rows (kind, name, figures)."""
import argparse
import json
import time

import torch
from torch import nn


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (carrying the stride), 1x1 expand by 4, each followed by batch norm;
    ReLU after the first two and after the residual sum; projection shortcut (1x1 + BN) when
    the shape changes."""

    expansion = 4

    def __init__(self, in_channels, width, stride):
        super().__init__()
        out_channels = width * self.expansion
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def plain_resnet50(num_classes):
    """torchvision's resnet50 architecture: 7x7/2 stem, 3x3/2 max pool, stages of 3, 4, 6, 3
    bottlenecks of widths 64..512 (the first block of stages 2-4 strides 2), global average
    pool, linear classifier."""
    layers = [
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, stride=2, padding=1),
    ]
    in_channels = 64
    for stage, (width, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(Bottleneck(in_channels, width, stride))
            in_channels = width * Bottleneck.expansion
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_classes)]
    return nn.Sequential(*layers)


def build(num_classes):
    """(model, whether it is torchvision's)."""
    try:
        import torchvision

        return torchvision.models.resnet50(num_classes=num_classes), True
    except ImportError:
        return plain_resnet50(num_classes), False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=5)
    args = parser.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    device = torch.device("cuda")
    torch.manual_seed(0)

    model, from_torchvision = build(args.classes)
    model = model.to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    # images: [batch, 3, size, size], labels: [batch], both on the GPU.
    images = torch.randn(args.batch, 3, args.size, args.size, device=device)
    labels = torch.randint(0, args.classes, (args.batch,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        torch.cuda.synchronize()

    for _ in range(args.warmup):
        step()
    steps = max(args.steps, 1)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    seconds = (time.perf_counter() - start) / steps

    print(json.dumps({
        "kind": "net",
        "name": "resnet50",
        "input": [args.batch, 3, args.size, args.size],
        "classes": args.classes,
        "torchvision": from_torchvision,
        "warmup_steps": args.warmup,
        "timed_steps": steps,
        "train_images_per_s": args.batch / seconds,
        "train_step_ms": 1e3 * seconds,
        "peak_gpu_memory_mb": torch.cuda.max_memory_allocated() / 2**20,
    }))


if __name__ == "__main__":
    main()
