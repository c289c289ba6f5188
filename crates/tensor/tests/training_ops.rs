//! The CPU paths of the ops added for device-agnostic training — `slice_scatter`,
//! `relu_backward` and `ops::sgd::sgd_momentum_step` — against plainly written references, in
//! f32 and f64, on sizes 1, primes and SIMD/tile edges, with non-contiguous views as inputs.

#[allow(dead_code)] // the gradient helpers serve the gradcheck tests
mod common;

use common::assert_close;
use unravel_tensor::ops::sgd::{sgd_momentum_step, SgdParams};
use unravel_tensor::{Float, Rng, Tensor};

/// A `shape` tensor as a transposed view (last two axes swapped back), so inputs are strided.
fn strided<E: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<E> {
    let rank = shape.len();
    let mut swapped = shape.to_vec();
    swapped.swap(rank - 2, rank - 1);
    let mut axes: Vec<usize> = (0..rank).collect();
    axes.swap(rank - 2, rank - 1);
    Tensor::<E>::randn(&swapped, 0.0, 1.0, rng)
        .permute(&axes)
        .unwrap()
}

fn as_f64<E: Float>(x: &Tensor<E>) -> Vec<f64> {
    x.to_vec().iter().map(|v| v.to_f64()).collect()
}

/// `out[i] = src[(i_axis − start)/step]` where the axis index is on the slice, else `base[i]`.
fn slice_scatter_reference(
    base: &[f64],
    src: &[f64],
    shape: &[usize],
    axis: usize,
    (start, step): (usize, usize),
) -> Vec<f64> {
    let inner: usize = shape[axis + 1..].iter().product();
    let size = shape[axis];
    let taken = src.len() / (base.len() / size).max(1);
    (0..base.len())
        .map(|i| {
            let (outer, along, within) = (i / (size * inner), (i / inner) % size, i % inner);
            let on_slice = along >= start && (along - start) % step == 0;
            let k = if on_slice {
                (along - start) / step
            } else {
                usize::MAX
            };
            if k < taken {
                src[(outer * taken + k) * inner + within]
            } else {
                base[i]
            }
        })
        .collect()
}

fn check_slice_scatter<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for shape in [[1, 1, 1], [2, 17, 3], [3, 16, 5], [1, 13, 32]] {
        for axis in 0..3 {
            let size = shape[axis];
            for (start, end, step) in [(0, size, 1), (0, size, 2), (size / 2, size, 3)] {
                let base = strided::<E>(&shape, &mut rng);
                let taken = (end - start).div_ceil(step);
                let mut src_shape = shape.to_vec();
                src_shape[axis] = taken;
                let src = strided::<E>(&src_shape, &mut rng);
                let out = base.slice_scatter(&src, axis, start, end, step).unwrap();
                assert_eq!(out.shape(), &shape);
                let expected = slice_scatter_reference(
                    &as_f64(&base),
                    &as_f64(&src),
                    &shape,
                    axis,
                    (start, step),
                );
                assert_close(
                    &out.to_vec(),
                    &expected,
                    0.0,
                    &format!("slice_scatter {shape:?} axis {axis} {start}..{end} step {step}"),
                );
            }
        }
    }
}

#[test]
fn slice_scatter_matches_reference() {
    check_slice_scatter::<f32>(1);
    check_slice_scatter::<f64>(2);
}

fn check_relu_backward<E: Float>(seed: u64) {
    let mut rng = Rng::seed_from(seed);
    for shape in [[1, 1], [7, 13], [16, 17], [3, 64]] {
        let y = strided::<E>(&shape, &mut rng);
        let dy = strided::<E>(&shape, &mut rng);
        let expected: Vec<f64> = as_f64(&y)
            .iter()
            .zip(as_f64(&dy))
            .map(|(&y, dy)| if y > 0.0 { dy } else { 0.0 })
            .collect();
        assert_close(
            &y.relu_backward(&dy).unwrap().to_vec(),
            &expected,
            0.0,
            &format!("relu_backward {shape:?}"),
        );
    }
    let wrong = Tensor::<E>::zeros(&[2, 3]).relu_backward(&Tensor::zeros(&[3, 2]));
    assert!(wrong.is_err(), "mismatched shapes are an error");
}

#[test]
fn relu_backward_matches_reference() {
    check_relu_backward::<f32>(3);
    check_relu_backward::<f64>(4);
}

/// `torch.optim.SGD`'s rule, element by element (ops/sgd.rs's module doc).
fn sgd_reference(p: f64, grad: f64, velocity: Option<f64>, h: &SgdParams) -> (f64, f64) {
    let g = grad + h.weight_decay * p;
    let b = match velocity {
        None => g,
        Some(b) => h.momentum * b + (1.0 - h.dampening) * g,
    };
    let b = if h.momentum == 0.0 { g } else { b };
    let step = if h.nesterov && h.momentum != 0.0 {
        g + h.momentum * b
    } else {
        b
    };
    (p - h.lr * step, b)
}

fn check_sgd<E: Float>(seed: u64, tolerance: f64) {
    let mut rng = Rng::seed_from(seed);
    for (momentum, dampening, nesterov) in [(0.0, 0.0, false), (0.9, 0.0, false), (0.9, 0.1, true)]
    {
        let params = SgdParams {
            lr: 0.1,
            momentum,
            dampening,
            weight_decay: 1e-4,
            nesterov,
        };
        for shape in [[1, 1], [5, 31], [16, 33]] {
            let p = strided::<E>(&shape, &mut rng);
            let g = strided::<E>(&shape, &mut rng);
            let v = strided::<E>(&shape, &mut rng);
            for velocity in [None, Some(&v)] {
                let (new_p, new_v) = sgd_momentum_step(&p, &g, velocity, &params).unwrap();
                let velocities = velocity.map(as_f64);
                let (mut expected_p, mut expected_v) = (Vec::new(), Vec::new());
                for (i, (&p, &g)) in as_f64(&p).iter().zip(&as_f64(&g)).enumerate() {
                    let (p, b) = sgd_reference(p, g, velocities.as_ref().map(|v| v[i]), &params);
                    expected_p.push(p);
                    expected_v.push(b);
                }
                let what = format!("sgd {shape:?} μ={momentum} τ={dampening} nesterov={nesterov}");
                assert_close(&new_p.to_vec(), &expected_p, tolerance, &what);
                if momentum != 0.0 {
                    assert_close(&new_v.to_vec(), &expected_v, tolerance, &what);
                }
            }
        }
    }
}

#[test]
fn sgd_step_matches_reference() {
    check_sgd::<f32>(5, 1e-6);
    check_sgd::<f64>(6, 1e-14);
}
