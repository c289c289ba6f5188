//! The GEMM plans of the GPU convolution, executed on the CPU: a plain interpretation of
//! `gemm.cu`'s convention (operand `X_z[i, j] = X[x_offset + z·x_batch + i·x_row + j·x_col]`, C
//! row-major with row stride `c_row`, C not read when β = 0) applied to the CPU's im2col
//! columns, compared with the CPU convolution in f64 (the plans are generic over the element
//! type; the f64 instantiation is the one checked). Every output element must be written by
//! exactly the expected number of launches (once; once per image for the weight gradient),
//! and every index must fall inside its buffer (an out-of-range index panics the test).
//! What is not checked here is the kernels themselves; `tests/cuda_nn_ops.rs` does that on a
//! GPU.

use super::{backward_input, backward_weight, forward, GemmCall};
use crate::ops::conv::{
    col2im, conv2d, conv2d_backward_input, conv2d_backward_weight, im2col, Conv2dParams, ConvShape,
};
use crate::{Rng, Tensor};

/// `C_z = α·A_z·B_z + β·C_z` as `sgemm_f32` defines it; counts the writes of each element of C.
fn run(call: &GemmCall<f64>, a: &[f64], b: &[f64], c: &mut [f64], writes: &mut [usize]) {
    let g = call.args;
    let u = |v: i64| usize::try_from(v).expect("non-negative stride");
    for z in 0..call.batch {
        let a0 = call.a_offset + z * u(g.a_batch);
        let b0 = call.b_offset + z * u(g.b_batch);
        let c0 = call.c_offset + z * u(g.c_batch);
        for i in 0..g.m as usize {
            for j in 0..g.n as usize {
                let mut sum = 0.0;
                for p in 0..g.k as usize {
                    sum += a[a0 + i * u(g.a_row) + p * u(g.a_col)]
                        * b[b0 + p * u(g.b_row) + j * u(g.b_col)];
                }
                let index = c0 + i * u(g.c_row) + j;
                let previous = if g.beta == 0.0 {
                    0.0
                } else {
                    g.beta * c[index]
                };
                c[index] = g.alpha * sum + previous;
                writes[index] += 1;
            }
        }
    }
}

/// Runs `plan` into a NaN-filled C of `len` elements; checks the write counts.
fn execute(
    plan: &[GemmCall<f64>],
    a: &[f64],
    b: &[f64],
    len: usize,
    each: usize,
    what: &str,
) -> Vec<f64> {
    let mut c = vec![f64::NAN; len];
    let mut writes = vec![0; len];
    for call in plan {
        run(call, a, b, &mut c, &mut writes);
    }
    assert!(
        writes.iter().all(|&w| w == each),
        "{what}: every element must be written {each} times, counts {writes:?}"
    );
    c
}

#[track_caller]
fn assert_close(what: &str, got: &[f64], expected: &Tensor<f64>) {
    let expected = expected.to_vec();
    assert_eq!(got.len(), expected.len(), "{what}: sizes");
    let scale = expected.iter().fold(1e-300f64, |m, v| m.max(v.abs()));
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (g - e).abs() <= 1e-12 * scale,
            "{what}: element {i} is {g}, the CPU convolution gives {e}"
        );
    }
}

/// (input, weight, stride, padding, dilation, groups).
type Case = ([usize; 4], [usize; 4], usize, usize, usize, usize);

const CASES: [Case; 8] = [
    // groups 1 (the ungrouped plan), 2, 3, depthwise, depthwise with 2 outputs per channel
    ([2, 4, 5, 5], [8, 4, 3, 3], 1, 1, 1, 1),
    ([2, 4, 7, 9], [6, 2, 3, 3], 1, 1, 1, 2),
    ([3, 6, 11, 10], [9, 2, 3, 3], 2, 1, 1, 3),
    ([2, 5, 9, 9], [5, 1, 3, 3], 2, 1, 1, 5),
    ([1, 3, 8, 7], [6, 1, 5, 3], 1, 2, 1, 3),
    // dilation; a 1×1 grouped kernel with stride 2
    ([2, 6, 13, 13], [4, 3, 3, 3], 2, 0, 2, 2),
    ([2, 6, 9, 7], [9, 2, 1, 1], 2, 0, 1, 3),
    // an empty batch (the weight gradient is then zero)
    ([0, 4, 5, 5], [4, 2, 3, 3], 1, 1, 1, 2),
];

#[test]
fn grouped_plans_on_the_cpu_match_the_cpu_convolution() {
    let mut rng = Rng::seed_from(11);
    for (x_shape, w_shape, stride, padding, dilation, groups) in CASES {
        let what = format!("{x_shape:?} {w_shape:?} s{stride} p{padding} d{dilation} g{groups}");
        let params = Conv2dParams::square(stride, padding, dilation, groups);
        let shape = ConvShape::new("test", &x_shape, &w_shape, &params).unwrap();
        let kernel = [w_shape[2], w_shape[3]];
        let x = Tensor::<f64>::randn(&x_shape, 0.0, 1.0, &mut rng);
        let w = Tensor::<f64>::randn(&w_shape, 0.0, 1.0, &mut rng);
        // im2col_f32 computes the same columns as the CPU im2col (all channels, groups unused).
        let cols = im2col(&x, kernel, &params).unwrap().to_vec();

        let y = conv2d(&x, &w, None, &params).unwrap();
        let plan = forward::<f64>("test", &shape).unwrap();
        assert_eq!(plan.len(), groups, "{what}: one forward launch per group");
        let got = execute(&plan, &w.to_vec(), &cols, y.numel(), 1, &what);
        assert_close(&format!("{what} forward"), &got, &y);

        let dy = Tensor::<f64>::randn(y.shape(), 0.0, 1.0, &mut rng);
        let rows = w_shape[1] * kernel[0] * kernel[1] * groups;
        let cols_shape = [x_shape[0], rows, shape.positions()];
        let plan = backward_input::<f64>("test", &shape).unwrap();
        let dcols = execute(&plan, &w.to_vec(), &dy.to_vec(), cols.len(), 1, &what);
        let dcols = Tensor::from_vec(dcols, &cols_shape).unwrap();
        // col2im_f32 computes the CPU col2im (the adjoint of im2col).
        let dx = col2im(&dcols, &x_shape, kernel, &params).unwrap();
        let expected = conv2d_backward_input(&dy, &w, &x_shape, &params).unwrap();
        assert_close(&format!("{what} dx"), &dx.to_vec(), &expected);

        let plan = backward_weight::<f64>("test", &shape).unwrap();
        let launches = x_shape[0].max(1);
        assert_eq!(plan.len(), launches, "{what}: one dW launch per image");
        let dw = execute(&plan, &dy.to_vec(), &cols, w.numel(), launches, &what);
        let expected = conv2d_backward_weight(&dy, &x, &w_shape, &params).unwrap();
        assert_close(&format!("{what} dw"), &dw, &expected);
    }
}

#[test]
fn one_group_plans_are_the_ungrouped_gemms() {
    // groups = 1: the single batched GEMM the GPU convolution ran before groups existed.
    let params = Conv2dParams::square(2, 1, 1, 1);
    let shape = ConvShape::new("test", &[3, 5, 9, 11], &[7, 5, 3, 3], &params).unwrap();
    let (rows, positions) = (5 * 9, shape.positions());
    let plan = forward::<f64>("test", &shape).unwrap();
    assert_eq!(plan.len(), 1);
    let call = plan[0];
    assert_eq!((call.a_offset, call.b_offset, call.c_offset), (0, 0, 0));
    assert_eq!(
        (call.args.m, call.args.n, call.args.k),
        (7, positions as i32, rows as i32)
    );
    assert_eq!(
        (call.args.a_batch, call.args.b_batch),
        (0, (rows * positions) as i64)
    );
    assert_eq!(call.args.c_batch, (7 * positions) as i64);
    assert_eq!(call.batch, 3);
}
