//! `Tensor::matmul` against a plain loop, on contiguous and strided inputs (transposed,
//! narrowed, stepped, broadcast), batched with broadcast batch axes, 1-D operands, f32 and f64,
//! and its shape errors.

use unravel_tensor::{Float, Rng, Tensor, TensorError};

/// `torch.matmul` by definition: broadcast the batch axes, then a triple loop per matrix.
fn reference<E: Float>(lhs: &Tensor<E>, rhs: &Tensor<E>) -> (Vec<usize>, Vec<f64>) {
    let lhs2 = if lhs.rank() == 1 {
        lhs.unsqueeze(0).unwrap()
    } else {
        lhs.clone()
    };
    let rhs2 = if rhs.rank() == 1 {
        rhs.unsqueeze(1).unwrap()
    } else {
        rhs.clone()
    };
    let (lr, rr) = (lhs2.rank(), rhs2.rank());
    let (m, k, n) = (
        lhs2.shape()[lr - 2],
        lhs2.shape()[lr - 1],
        rhs2.shape()[rr - 1],
    );
    let batch_rank = (lr - 2).max(rr - 2);
    let mut batch = vec![1usize; batch_rank];
    for (shape, rank) in [(lhs2.shape(), lr), (rhs2.shape(), rr)] {
        for (axis, &size) in shape[..rank - 2].iter().enumerate() {
            let slot = &mut batch[batch_rank - (rank - 2) + axis];
            *slot = if size == 1 { *slot } else { size };
        }
    }
    let full = |t: &Tensor<E>, rows: usize, cols: usize| {
        let mut shape = batch.clone();
        shape.extend([rows, cols]);
        t.broadcast_to(&shape).unwrap().to_vec()
    };
    let (a, b) = (full(&lhs2, m, k), full(&rhs2, k, n));
    let count: usize = batch.iter().product();
    let mut out = Vec::new();
    for index in 0..count {
        for i in 0..m {
            for j in 0..n {
                let sum: f64 = (0..k)
                    .map(|p| {
                        a[index * m * k + i * k + p].to_f64()
                            * b[index * k * n + p * n + j].to_f64()
                    })
                    .sum();
                out.push(sum);
            }
        }
    }
    let mut shape = batch;
    if lhs.rank() > 1 {
        shape.push(m);
    }
    if rhs.rank() > 1 {
        shape.push(n);
    }
    (shape, out)
}

fn check<E: Float>(lhs: &Tensor<E>, rhs: &Tensor<E>) {
    let got = lhs.matmul(rhs).unwrap();
    let (shape, expected) = reference(lhs, rhs);
    assert_eq!(
        got.shape(),
        &shape[..],
        "{:?} · {:?}",
        lhs.shape(),
        rhs.shape()
    );
    let k = lhs.shape()[lhs.rank() - 1] as f64;
    for (x, y) in got.to_vec().iter().zip(&expected) {
        let tolerance = (k + 2.0) * E::EPSILON.to_f64() * (1.0 + y.abs()) * 4.0;
        assert!(
            (x.to_f64() - y).abs() <= tolerance,
            "{:?} · {:?}: {x} vs {y}",
            lhs.shape(),
            rhs.shape()
        );
    }
}

fn random<E: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<E> {
    Tensor::rand_uniform(shape, -1.0, 1.0, rng)
}

fn cases<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    // 2-D, sizes across tile edges.
    for (m, k, n) in [
        (1, 1, 1),
        (3, 5, 7),
        (14, 15, 33),
        (17, 64, 31),
        (40, 129, 50),
    ] {
        check(
            &random::<E>(&[m, k], &mut rng),
            &random::<E>(&[k, n], &mut rng),
        );
    }
    // Transposed views on either side (read in place).
    let a = random::<E>(&[13, 21], &mut rng);
    let b = random::<E>(&[17, 13], &mut rng);
    check(&a.transpose(0, 1).unwrap(), &b.transpose(0, 1).unwrap());
    check(&b, &a);
    // Narrowed and stepped views.
    let big = random::<E>(&[30, 40], &mut rng);
    let narrowed = big.narrow(0, 3, 20).unwrap().narrow(1, 5, 17).unwrap(); // [20, 17]
    let stepped = big.slice(0, 1, 30, 2).unwrap().slice(1, 0, 40, 3).unwrap(); // [15, 14]
    check(&narrowed, &random::<E>(&[17, 9], &mut rng));
    check(
        &stepped.transpose(0, 1).unwrap(),
        &random::<E>(&[15, 6], &mut rng),
    );
    // A broadcast (stride 0) operand.
    let row = random::<E>(&[1, 11], &mut rng)
        .broadcast_to(&[8, 11])
        .unwrap();
    check(&row, &random::<E>(&[11, 5], &mut rng));
    // Batched, with broadcast batch axes and non-contiguous batches.
    check(
        &random::<E>(&[3, 4, 5], &mut rng),
        &random::<E>(&[3, 5, 6], &mut rng),
    );
    check(
        &random::<E>(&[2, 1, 4, 5], &mut rng),
        &random::<E>(&[3, 5, 6], &mut rng),
    );
    check(
        &random::<E>(&[4, 5], &mut rng),
        &random::<E>(&[2, 3, 5, 7], &mut rng),
    );
    let permuted = random::<E>(&[6, 3, 4], &mut rng)
        .permute(&[1, 2, 0])
        .unwrap(); // [3, 4, 6]
    check(
        &permuted,
        &random::<E>(&[6, 2], &mut rng)
            .broadcast_to(&[3, 6, 2])
            .unwrap(),
    );
    // A batch big enough that each GEMM is threaded.
    check(
        &random::<E>(&[2, 100, 120], &mut rng),
        &random::<E>(&[120, 110], &mut rng),
    );
    // 1-D operands.
    check(&random::<E>(&[7], &mut rng), &random::<E>(&[7], &mut rng));
    check(
        &random::<E>(&[7], &mut rng),
        &random::<E>(&[2, 7, 3], &mut rng),
    );
    check(
        &random::<E>(&[2, 4, 7], &mut rng),
        &random::<E>(&[7], &mut rng),
    );
    // Empty: k = 0 gives zeros; m = 0 or a 0-sized batch gives an empty result.
    check(
        &random::<E>(&[3, 0], &mut rng),
        &random::<E>(&[0, 4], &mut rng),
    );
    check(
        &random::<E>(&[0, 5], &mut rng),
        &random::<E>(&[5, 4], &mut rng),
    );
    check(
        &random::<E>(&[0, 2, 5], &mut rng),
        &random::<E>(&[5, 4], &mut rng),
    );
}

#[test]
fn matches_reference_f32() {
    cases::<f32>(11);
}

#[test]
fn matches_reference_f64() {
    cases::<f64>(12);
}

#[test]
fn k_zero_is_zeros() {
    let c = Tensor::<f64>::ones(&[2, 0])
        .matmul(&Tensor::ones(&[0, 3]))
        .unwrap();
    assert_eq!(c.to_vec(), vec![0.0; 6]);
}

#[test]
fn shape_errors() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    assert!(matches!(
        a.matmul(&Tensor::zeros(&[2, 3])),
        Err(TensorError::ShapeMismatch { op: "matmul", .. })
    ));
    assert!(matches!(
        a.matmul(&Tensor::zeros(&[4])),
        Err(TensorError::ShapeMismatch { op: "matmul", .. })
    ));
    assert!(matches!(
        Tensor::<f32>::zeros(&[4]).matmul(&a),
        Err(TensorError::ShapeMismatch { op: "matmul", .. })
    ));
    assert!(matches!(
        a.matmul(&Tensor::scalar(1.0)),
        Err(TensorError::Rank { op: "matmul", .. })
    ));
    assert!(matches!(
        Tensor::scalar(1.0f32).matmul(&a),
        Err(TensorError::Rank { op: "matmul", .. })
    ));
    let batch_a = Tensor::<f32>::zeros(&[2, 2, 3]);
    let batch_b = Tensor::<f32>::zeros(&[3, 3, 4]);
    assert!(matches!(
        batch_a.matmul(&batch_b),
        Err(TensorError::Broadcast { op: "matmul", .. })
    ));
}
