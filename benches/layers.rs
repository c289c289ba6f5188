//! criterion benchmarks: the NN layers besides convolution (pooling, batch norm, softmax and
//! cross-entropy), forward and backward, in f32 at ResNet shapes. Throughput is the bytes the
//! kernel must read and write at least once.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use unravel_tensor::ops::batch_norm::{
    batch_norm_eval, batch_norm_train, batch_norm_train_backward,
};
use unravel_tensor::ops::pool::{
    avg_pool2d, avg_pool2d_backward, global_avg_pool2d, max_pool2d, max_pool2d_backward,
    Pool2dParams,
};
use unravel_tensor::ops::softmax::{
    cross_entropy, cross_entropy_backward, log_softmax, softmax, Reduction,
};
use unravel_tensor::{Rng, Tensor};

fn bytes(elements: usize) -> Throughput {
    Throughput::Bytes((elements * std::mem::size_of::<f32>()) as u64)
}

fn pooling(c: &mut Criterion) {
    let mut rng = Rng::seed_from(1);
    // ResNet's stem pool: [N, 64, 112, 112] → [N, 64, 56, 56], 3×3, stride 2, padding 1.
    let x = Tensor::<f32>::randn(&[8, 64, 112, 112], 0.0, 1.0, &mut rng);
    let params = Pool2dParams::square(3, 2, 1);
    let (y, argmax) = max_pool2d(&x, params).unwrap();
    let mut group = c.benchmark_group("pool");
    group.sample_size(20);
    group.throughput(bytes(x.numel() + y.numel()));
    group.bench_function("max_pool2d 3x3s2p1 [8,64,112,112]", |b| {
        b.iter(|| max_pool2d(black_box(&x), params))
    });
    group.bench_function("max_pool2d_backward [8,64,112,112]", |b| {
        b.iter(|| max_pool2d_backward(black_box(&y), &argmax, x.shape()))
    });
    group.bench_function("avg_pool2d 3x3s2p1 [8,64,112,112]", |b| {
        b.iter(|| avg_pool2d(black_box(&x), params, true))
    });
    group.bench_function("avg_pool2d_backward [8,64,112,112]", |b| {
        b.iter(|| avg_pool2d_backward(black_box(&y), x.shape(), params, true))
    });
    // The head: [N, 512, 7, 7] → [N, 512].
    let head = Tensor::<f32>::randn(&[64, 512, 7, 7], 0.0, 1.0, &mut rng);
    group.throughput(bytes(head.numel()));
    group.bench_function("global_avg_pool2d [64,512,7,7]", |b| {
        b.iter(|| global_avg_pool2d(black_box(&head)))
    });
    group.finish();
}

fn batch_norm(c: &mut Criterion) {
    let mut rng = Rng::seed_from(2);
    let x = Tensor::<f32>::randn(&[8, 64, 56, 56], 0.5, 2.0, &mut rng);
    let dy = Tensor::<f32>::randn(&[8, 64, 56, 56], 0.0, 1.0, &mut rng);
    let weight = Tensor::<f32>::rand_uniform(&[64], 0.5, 1.5, &mut rng);
    let bias = Tensor::<f32>::rand_uniform(&[64], -0.5, 0.5, &mut rng);
    let forward = batch_norm_train(&x, Some(&weight), Some(&bias), 1e-5).unwrap();
    let mut group = c.benchmark_group("batch_norm");
    group.sample_size(20);
    group.throughput(bytes(2 * x.numel()));
    group.bench_function("train [8,64,56,56]", |b| {
        b.iter(|| batch_norm_train(black_box(&x), Some(&weight), Some(&bias), 1e-5))
    });
    group.bench_function("eval [8,64,56,56]", |b| {
        b.iter(|| {
            batch_norm_eval(
                black_box(&x),
                &forward.mean,
                &forward.variance,
                Some(&weight),
                Some(&bias),
                1e-5,
            )
        })
    });
    group.throughput(bytes(3 * x.numel()));
    group.bench_function("train_backward [8,64,56,56]", |b| {
        b.iter(|| {
            batch_norm_train_backward(
                black_box(&dy),
                &x,
                Some(&weight),
                &forward.mean,
                &forward.inverse_std,
            )
        })
    });
    group.finish();
}

fn softmax_family(c: &mut Criterion) {
    let mut rng = Rng::seed_from(3);
    let logits = Tensor::<f32>::randn(&[256, 1000], 0.0, 3.0, &mut rng);
    let targets: Vec<usize> = (0..256).map(|_| rng.below(1000)).collect();
    let mut group = c.benchmark_group("softmax");
    group.sample_size(20);
    group.throughput(bytes(2 * logits.numel()));
    group.bench_function("softmax [256,1000] axis 1", |b| {
        b.iter(|| softmax(black_box(&logits), 1))
    });
    group.bench_function("log_softmax [256,1000] axis 1", |b| {
        b.iter(|| log_softmax(black_box(&logits), 1))
    });
    group.bench_function("cross_entropy [256,1000]", |b| {
        b.iter(|| cross_entropy(black_box(&logits), &targets, Reduction::Mean))
    });
    group.bench_function("cross_entropy_backward [256,1000]", |b| {
        b.iter(|| cross_entropy_backward(black_box(&logits), &targets, Reduction::Mean, 1.0))
    });
    group.finish();
}

criterion_group!(benches, pooling, batch_norm, softmax_family);
criterion_main!(benches);
