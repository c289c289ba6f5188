//! conv2d, its backward kernels and im2col/col2im against the plain reference kernels in
//! `ops::conv::reference`, finite differences, the adjoint identity, and every error path.

use approx::assert_relative_eq;
use unravel_tensor::ops::conv::{
    col2im, conv2d, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_weight, im2col,
    reference, Conv2dParams,
};
use unravel_tensor::{Float, Rng, Tensor, TensorError};

/// One convolution to test: input `[N, C_in, H, W]`, weight `[C_out, C_in/G, kh, kw]`.
#[derive(Debug, Clone)]
struct Case {
    input: [usize; 4],
    out_channels: usize,
    kernel: [usize; 2],
    params: Conv2dParams,
    bias: bool,
}

impl Case {
    fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.input[1] / self.params.groups,
            self.kernel[0],
            self.kernel[1],
        ]
    }
}

/// A random, valid case: kernel sizes 1, 3, 5, 7 or non-square, stride 1–3, padding 0–3,
/// dilation 1–2, groups 1, 2 or C, spatial sizes from 1 to 13 (odd, prime, 1), batch 1–3.
fn random_case(rng: &mut Rng) -> Case {
    loop {
        let groups_kind = rng.below(3);
        let group_count = [1, 2, 3][rng.below(3)];
        let (in_channels, out_channels, groups) = match groups_kind {
            0 => (1 + rng.below(5), 1 + rng.below(5), 1),
            1 => (2 * (1 + rng.below(3)), 2 * (1 + rng.below(3)), 2),
            _ => {
                // depthwise: G = C_in, C_out a multiple of it
                let c = group_count + rng.below(2);
                (c, c * (1 + rng.below(2)), c)
            }
        };
        let kernel = match rng.below(6) {
            0 => [1, 1],
            1 => [3, 3],
            2 => [5, 5],
            3 => [7, 7],
            4 => [1 + rng.below(4), 1 + rng.below(4)],
            _ => [2, 3],
        };
        let params = Conv2dParams {
            stride: [1 + rng.below(3), 1 + rng.below(3)],
            padding: [rng.below(4), rng.below(4)],
            dilation: [1 + rng.below(2), 1 + rng.below(2)],
            groups,
        };
        let sizes = [1, 2, 3, 5, 7, 8, 11, 13];
        let input = [
            1 + rng.below(3),
            in_channels,
            sizes[rng.below(sizes.len())],
            sizes[rng.below(sizes.len())],
        ];
        if params.output_size([input[2], input[3]], kernel).is_ok() {
            return Case {
                input,
                out_channels,
                kernel,
                params,
                bias: rng.below(2) == 0,
            };
        }
    }
}

/// Hand-picked cases: the 1×1 fast paths, non-square kernels, tiles that split output rows.
fn fixed_cases() -> Vec<Case> {
    let case = |input, out_channels, kernel, stride, padding, dilation, groups| Case {
        input,
        out_channels,
        kernel,
        params: Conv2dParams {
            stride,
            padding,
            dilation,
            groups,
        },
        bias: true,
    };
    vec![
        // 1×1 stride 1 (image is its own column matrix), with and without groups
        case([2, 6, 5, 7], 4, [1, 1], [1, 1], [0, 0], [1, 1], 1),
        case([3, 6, 5, 7], 4, [1, 1], [1, 1], [0, 0], [1, 1], 2),
        // 1×1 stride 2 and 3 (strided subsample)
        case([2, 5, 7, 9], 3, [1, 1], [2, 2], [0, 0], [1, 1], 1),
        case([1, 4, 8, 7], 6, [1, 1], [3, 2], [0, 0], [2, 2], 2),
        // 1×1 with padding: general path
        case([1, 3, 4, 4], 2, [1, 1], [1, 1], [1, 2], [1, 1], 1),
        // size-1 image, 1×1 output
        case([3, 2, 1, 1], 3, [1, 1], [1, 1], [0, 0], [1, 1], 1),
        case([2, 2, 1, 1], 3, [3, 3], [1, 1], [1, 1], [1, 1], 1),
        // non-square kernel, stride and padding
        case([2, 3, 9, 6], 5, [3, 1], [2, 1], [1, 0], [1, 1], 1),
        case([1, 4, 11, 13], 4, [7, 5], [3, 2], [3, 2], [1, 2], 4),
        // several tiles per image, tile edges in the middle of output rows (f32 and f64)
        case([1, 8, 31, 31], 4, [3, 3], [1, 1], [1, 1], [1, 1], 1),
        case([2, 8, 47, 47], 4, [3, 3], [1, 1], [1, 1], [1, 1], 2),
    ]
}

fn random_inputs<E: Float>(case: &Case, rng: &mut Rng) -> (Tensor<E>, Tensor<E>, Tensor<E>) {
    let x = Tensor::randn(&case.input, 0.0, 1.0, rng);
    let w = Tensor::randn(&case.weight_shape(), 0.0, 1.0, rng);
    let b = Tensor::randn(&[case.out_channels], 0.0, 1.0, rng);
    (x, w, b)
}

/// `x` as a non-contiguous view with the same values: stored as `[N, H, W, C]` and permuted.
fn permuted_copy<E: Float>(x: &Tensor<E>) -> Tensor<E> {
    let nhwc = x.permute(&[0, 2, 3, 1]).unwrap().contiguous();
    let view = nhwc.permute(&[0, 3, 1, 2]).unwrap();
    assert!(!view.is_contiguous() || x.shape()[1] == 1 || x.shape()[2] * x.shape()[3] == 1);
    view
}

/// `x` as a non-contiguous view with the same values: narrowed out of a wider tensor.
fn narrowed_copy<E: Float>(x: &Tensor<E>, rng: &mut Rng) -> Tensor<E> {
    let [n, c, h, w] = [x.shape()[0], x.shape()[1], x.shape()[2], x.shape()[3]];
    let wide = Tensor::<E>::randn(&[n, c + 1, h, w + 3], 0.0, 1.0, rng);
    let mut data = wide.to_vec();
    let values = x.to_vec();
    for (i, &value) in values.iter().enumerate() {
        let (ni, ci, yi, xi) = (i / (c * h * w), (i / (h * w)) % c, (i / w) % h, i % w);
        data[((ni * (c + 1) + ci + 1) * h + yi) * (w + 3) + xi + 2] = value;
    }
    let wide = Tensor::from_vec(data, &[n, c + 1, h, w + 3]).unwrap();
    let view = wide.narrow(1, 1, c).unwrap().narrow(3, 2, w).unwrap();
    assert_eq!(view.to_vec(), values);
    view
}

fn assert_close<E: Float>(got: &Tensor<E>, expected: &Tensor<E>, what: &str) {
    assert_eq!(got.shape(), expected.shape(), "{what}: shape");
    let tolerance = if E::DTYPE == unravel_tensor::DType::F32 {
        2e-4
    } else {
        1e-11
    };
    for (i, (a, b)) in got.to_vec().iter().zip(expected.to_vec()).enumerate() {
        let (a, b) = (a.to_f64(), b.to_f64());
        assert!(
            (a - b).abs() <= tolerance * (1.0 + b.abs()),
            "{what}: element {i}: {a} vs {b}"
        );
    }
}

fn check_case<E: Float>(case: &Case, rng: &mut Rng) {
    let (x, w, b) = random_inputs::<E>(case, rng);
    let bias = case.bias.then_some(&b);
    let what = format!("{case:?} {}", E::DTYPE);
    let p = &case.params;

    let expected = reference::conv2d_direct(&x, &w, bias, p).unwrap();
    let y = conv2d(&x, &w, bias, p).unwrap();
    assert_close(&y, &expected, &format!("forward {what}"));
    assert_close(
        &conv2d(&permuted_copy(&x), &w, bias, p).unwrap(),
        &expected,
        &format!("forward permuted {what}"),
    );
    assert_close(
        &conv2d(&narrowed_copy(&x, rng), &w, bias, p).unwrap(),
        &expected,
        &format!("forward narrowed {what}"),
    );

    let dy = Tensor::<E>::randn(y.shape(), 0.0, 1.0, rng);
    let dx = conv2d_backward_input(&dy, &w, x.shape(), p).unwrap();
    let dx_expected = reference::conv2d_backward_input_direct(&dy, &w, x.shape(), p).unwrap();
    assert_close(&dx, &dx_expected, &format!("backward input {what}"));
    // A non-contiguous grad_output and weight give the same result.
    let dx_view =
        conv2d_backward_input(&permuted_copy(&dy), &permuted_copy(&w), x.shape(), p).unwrap();
    assert_close(
        &dx_view,
        &dx_expected,
        &format!("backward input, views {what}"),
    );

    let dw = conv2d_backward_weight(&dy, &x, w.shape(), p).unwrap();
    let dw_expected = reference::conv2d_backward_weight_direct(&dy, &x, w.shape(), p).unwrap();
    assert_close(&dw, &dw_expected, &format!("backward weight {what}"));
    let dw_view =
        conv2d_backward_weight(&permuted_copy(&dy), &narrowed_copy(&x, rng), w.shape(), p).unwrap();
    assert_close(
        &dw_view,
        &dw_expected,
        &format!("backward weight, views {what}"),
    );
    let dw_permuted = conv2d_backward_weight(&dy, &permuted_copy(&x), w.shape(), p).unwrap();
    assert_close(
        &dw_permuted,
        &dw_expected,
        &format!("backward weight, permuted {what}"),
    );

    let db = conv2d_backward_bias(&dy).unwrap();
    assert_close(
        &db,
        &reference::conv2d_backward_bias_direct(&dy).unwrap(),
        &format!("backward bias {what}"),
    );
}

#[test]
fn fixed_cases_match_reference_f64() {
    let mut rng = Rng::seed_from(11);
    for case in fixed_cases() {
        check_case::<f64>(&case, &mut rng);
    }
}

#[test]
fn fixed_cases_match_reference_f32() {
    let mut rng = Rng::seed_from(12);
    for case in fixed_cases() {
        check_case::<f32>(&case, &mut rng);
    }
}

#[test]
fn random_cases_match_reference_f64() {
    let mut rng = Rng::seed_from(13);
    for _ in 0..120 {
        let case = random_case(&mut rng);
        check_case::<f64>(&case, &mut rng);
    }
}

#[test]
fn random_cases_match_reference_f32() {
    let mut rng = Rng::seed_from(14);
    for _ in 0..120 {
        let case = random_case(&mut rng);
        check_case::<f32>(&case, &mut rng);
    }
}

#[test]
fn random_cases_cover_every_kind() {
    // The generator above must actually produce each kind of case it claims to.
    let mut rng = Rng::seed_from(13);
    let cases: Vec<Case> = (0..120)
        .map(|_| {
            let case = random_case(&mut rng);
            let _ = random_inputs::<f64>(&case, &mut rng);
            case
        })
        .collect();
    let any = |f: &dyn Fn(&Case) -> bool| cases.iter().any(f);
    assert!(any(&|c| c.kernel == [7, 7]));
    assert!(any(&|c| c.kernel[0] != c.kernel[1]));
    assert!(any(&|c| c.params.stride.contains(&3)));
    assert!(any(&|c| c.params.padding.contains(&3)));
    assert!(any(&|c| c.params.dilation.contains(&2)));
    assert!(any(&|c| c.params.groups == 2));
    assert!(any(
        &|c| c.params.groups > 2 && c.params.groups == c.input[1]
    ));
    assert!(any(&|c| c.input[2] == 1 || c.input[3] == 1));
    assert!(any(&|c| c.input[0] == 3));
}

// ---- im2col / col2im ---------------------------------------------------------------------

fn transform_cases(rng: &mut Rng) -> Vec<([usize; 4], [usize; 2], Conv2dParams)> {
    let mut cases = Vec::new();
    while cases.len() < 60 {
        let case = random_case(rng);
        let params = Conv2dParams {
            groups: 1,
            ..case.params
        };
        cases.push((case.input, case.kernel, params));
    }
    cases
}

#[test]
fn im2col_and_col2im_match_reference() {
    let mut rng = Rng::seed_from(21);
    for (shape, kernel, params) in transform_cases(&mut rng) {
        let x = Tensor::<f64>::randn(&shape, 0.0, 1.0, &mut rng);
        let cols = im2col(&x, kernel, &params).unwrap();
        let expected = reference::im2col_direct(&x, kernel, &params).unwrap();
        assert_eq!(
            cols.to_vec(),
            expected.to_vec(),
            "im2col {shape:?} {kernel:?} {params:?}"
        );
        assert_eq!(
            im2col(&permuted_copy(&x), kernel, &params)
                .unwrap()
                .to_vec(),
            expected.to_vec()
        );

        let y = Tensor::<f64>::randn(cols.shape(), 0.0, 1.0, &mut rng);
        let back = col2im(&y, &shape, kernel, &params).unwrap();
        let back_expected = reference::col2im_direct(&y, &shape, kernel, &params).unwrap();
        assert_close(
            &back,
            &back_expected,
            &format!("col2im {shape:?} {kernel:?} {params:?}"),
        );
        let y_view = y
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .transpose(1, 2)
            .unwrap();
        assert_close(
            &col2im(&y_view, &shape, kernel, &params).unwrap(),
            &back_expected,
            "col2im view",
        );
    }
}

#[test]
fn col2im_is_the_adjoint_of_im2col() {
    // ⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩
    let mut rng = Rng::seed_from(22);
    for (shape, kernel, params) in transform_cases(&mut rng) {
        let x = Tensor::<f64>::randn(&shape, 0.0, 1.0, &mut rng);
        let cols = im2col(&x, kernel, &params).unwrap();
        let y = Tensor::<f64>::randn(cols.shape(), 0.0, 1.0, &mut rng);
        let lhs: f64 = cols
            .to_vec()
            .iter()
            .zip(y.to_vec())
            .map(|(a, b)| a * b)
            .sum();
        let back = col2im(&y, &shape, kernel, &params).unwrap();
        let rhs: f64 = x
            .to_vec()
            .iter()
            .zip(back.to_vec())
            .map(|(a, b)| a * b)
            .sum();
        assert_relative_eq!(lhs, rhs, epsilon = 1e-10, max_relative = 1e-12);
    }
}

// ---- gradients by finite differences -----------------------------------------------------

/// L(x, w, b) = ⟨conv2d(x, w, b), r⟩, so ∂L/∂x = backward_input(r), and so on.
#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::seed_from(31);
    let cases = [
        Case {
            input: [2, 4, 5, 6],
            out_channels: 4,
            kernel: [3, 2],
            params: Conv2dParams {
                stride: [2, 1],
                padding: [1, 1],
                dilation: [1, 2],
                groups: 2,
            },
            bias: true,
        },
        Case {
            input: [1, 3, 4, 4],
            out_channels: 2,
            kernel: [1, 1],
            params: Conv2dParams::default(),
            bias: true,
        },
        Case {
            input: [1, 2, 5, 5],
            out_channels: 3,
            kernel: [3, 3],
            params: Conv2dParams::square(2, 2, 1, 1),
            bias: true,
        },
    ];
    for case in cases {
        let (x, w, b) = random_inputs::<f64>(&case, &mut rng);
        let p = case.params;
        let y = conv2d(&x, &w, Some(&b), &p).unwrap();
        let r = Tensor::<f64>::randn(y.shape(), 0.0, 1.0, &mut rng);
        let loss = |x: &Tensor<f64>, w: &Tensor<f64>, b: &Tensor<f64>| -> f64 {
            let y = conv2d(x, w, Some(b), &p).unwrap();
            y.to_vec().iter().zip(r.to_vec()).map(|(a, b)| a * b).sum()
        };
        let numeric = |t: &Tensor<f64>, f: &dyn Fn(&Tensor<f64>) -> f64| -> Vec<f64> {
            let h = 1e-6;
            (0..t.numel())
                .map(|i| {
                    let mut plus = t.clone();
                    plus.data_mut().unwrap()[i] += h;
                    let mut minus = t.clone();
                    minus.data_mut().unwrap()[i] -= h;
                    (f(&plus) - f(&minus)) / (2.0 * h)
                })
                .collect()
        };
        let checks = [
            (
                conv2d_backward_input(&r, &w, x.shape(), &p).unwrap(),
                numeric(&x, &|x| loss(x, &w, &b)),
            ),
            (
                conv2d_backward_weight(&r, &x, w.shape(), &p).unwrap(),
                numeric(&w, &|w| loss(&x, w, &b)),
            ),
            (
                conv2d_backward_bias(&r).unwrap(),
                numeric(&b, &|b| loss(&x, &w, b)),
            ),
        ];
        for (analytic, numeric) in checks {
            for (a, n) in analytic.to_vec().iter().zip(&numeric) {
                assert_relative_eq!(*a, *n, epsilon = 1e-6, max_relative = 1e-6);
            }
        }
    }
}

// ---- determinism -------------------------------------------------------------------------

#[test]
fn results_do_not_depend_on_thread_count() {
    // 3×3 on big images (tiles), 3×3 on small images (several per block), 1×1 (row blocks).
    let mut rng = Rng::seed_from(41);
    for (input, weight, padding) in [
        ([7, 3, 17, 17], [4, 3, 3, 3], 1),
        ([9, 5, 4, 3], [6, 5, 3, 3], 1),
        ([5, 24, 6, 6], [40, 24, 1, 1], 0),
    ] {
        let x = Tensor::<f32>::randn(&input, 0.0, 1.0, &mut rng);
        let w = Tensor::<f32>::randn(&weight, 0.0, 1.0, &mut rng);
        let p = Conv2dParams::square(1, padding, 1, 1);
        let dy = Tensor::<f32>::randn(
            conv2d(&x, &w, None, &p).unwrap().shape(),
            0.0,
            1.0,
            &mut rng,
        );
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                [
                    conv2d(&x, &w, None, &p).unwrap().to_vec(),
                    conv2d_backward_input(&dy, &w, x.shape(), &p)
                        .unwrap()
                        .to_vec(),
                    conv2d_backward_weight(&dy, &x, w.shape(), &p)
                        .unwrap()
                        .to_vec(),
                ]
            })
        };
        let one = run(1);
        assert_eq!(one, run(2), "{input:?} {weight:?}");
        assert_eq!(one, run(3), "{input:?} {weight:?}");
    }
}

// ---- error paths -------------------------------------------------------------------------

fn is_invalid(result: Result<Tensor<f32>, TensorError>, needle: &str) {
    match result {
        Err(TensorError::InvalidArgument { message, .. }) => {
            assert!(
                message.contains(needle),
                "message {message:?} lacks {needle:?}"
            )
        }
        other => panic!("expected an InvalidArgument error about {needle:?}, got {other:?}"),
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let x = Tensor::<f32>::zeros(&[2, 4, 5, 5]);
    let w = Tensor::<f32>::zeros(&[6, 4, 3, 3]);
    let ok = Conv2dParams::default();

    // rank of input, weight, grad_output
    assert!(matches!(
        conv2d(&Tensor::<f32>::zeros(&[4, 5, 5]), &w, None, &ok),
        Err(TensorError::Rank {
            op: "conv2d",
            expected: 4,
            ..
        })
    ));
    assert!(matches!(
        conv2d(&x, &Tensor::<f32>::zeros(&[6, 4, 3]), None, &ok),
        Err(TensorError::Rank { op: "conv2d", .. })
    ));
    assert!(matches!(
        conv2d_backward_bias(&Tensor::<f32>::zeros(&[6, 3])),
        Err(TensorError::Rank {
            op: "conv2d_backward_bias",
            ..
        })
    ));
    assert!(matches!(
        conv2d_backward_input(&Tensor::<f32>::zeros(&[2, 6, 3, 3]), &w, &[2, 4, 5], &ok),
        Err(TensorError::Rank {
            op: "conv2d_backward_input",
            ..
        })
    ));
    // zero stride, dilation, groups, kernel size, channels
    is_invalid(
        conv2d(
            &x,
            &w,
            None,
            &Conv2dParams {
                stride: [1, 0],
                ..ok
            },
        ),
        "stride",
    );
    is_invalid(
        conv2d(
            &x,
            &w,
            None,
            &Conv2dParams {
                dilation: [0, 1],
                ..ok
            },
        ),
        "dilation",
    );
    is_invalid(
        conv2d(&x, &w, None, &Conv2dParams { groups: 0, ..ok }),
        "groups",
    );
    is_invalid(
        conv2d(&x, &Tensor::zeros(&[6, 4, 0, 3]), None, &ok),
        "kernel size",
    );
    is_invalid(
        conv2d(
            &Tensor::zeros(&[2, 0, 5, 5]),
            &Tensor::zeros(&[6, 0, 3, 3]),
            None,
            &ok,
        ),
        "channel",
    );
    // groups not dividing the channel counts; weight channels not matching the input
    is_invalid(
        conv2d(
            &x,
            &Tensor::zeros(&[6, 4, 3, 3]),
            None,
            &Conv2dParams { groups: 3, ..ok },
        ),
        "groups do not divide",
    );
    is_invalid(
        conv2d(
            &x,
            &Tensor::zeros(&[5, 2, 3, 3]),
            None,
            &Conv2dParams { groups: 2, ..ok },
        ),
        "groups do not divide",
    );
    is_invalid(
        conv2d(&x, &Tensor::zeros(&[6, 3, 3, 3]), None, &ok),
        "input channels per group",
    );
    is_invalid(
        conv2d(
            &x,
            &Tensor::zeros(&[6, 4, 3, 3]),
            None,
            &Conv2dParams { groups: 2, ..ok },
        ),
        "input channels per group",
    );
    // kernel larger than the padded input (also through dilation)
    is_invalid(
        conv2d(&x, &Tensor::zeros(&[6, 4, 7, 3]), None, &ok),
        "spans more than",
    );
    is_invalid(
        conv2d(
            &x,
            &w,
            None,
            &Conv2dParams {
                dilation: [3, 1],
                ..ok
            },
        ),
        "spans more than",
    );
    assert!(conv2d(
        &x,
        &Tensor::zeros(&[6, 4, 7, 3]),
        None,
        &Conv2dParams {
            padding: [1, 0],
            ..ok
        }
    )
    .is_ok());
    // bias of the wrong shape
    assert!(matches!(
        conv2d(&x, &w, Some(&Tensor::zeros(&[5])), &ok),
        Err(TensorError::ShapeMismatch { op: "conv2d", .. })
    ));
    // grad_output of the wrong shape
    assert!(matches!(
        conv2d_backward_input(&Tensor::<f32>::zeros(&[2, 6, 4, 3]), &w, &[2, 4, 5, 5], &ok),
        Err(TensorError::ShapeMismatch {
            op: "conv2d_backward_input",
            ..
        })
    ));
    assert!(matches!(
        conv2d_backward_weight(&Tensor::<f32>::zeros(&[2, 5, 3, 3]), &x, &[6, 4, 3, 3], &ok),
        Err(TensorError::ShapeMismatch {
            op: "conv2d_backward_weight",
            ..
        })
    ));
    // backward weight with a weight shape that does not fit the input
    is_invalid(
        conv2d_backward_weight(&Tensor::zeros(&[2, 6, 3, 3]), &x, &[6, 3, 3, 3], &ok),
        "input channels per group",
    );
    // im2col / col2im
    is_invalid(im2col(&x, [6, 1], &ok), "spans more than");
    assert!(matches!(
        im2col(&Tensor::<f32>::zeros(&[5, 5]), [1, 1], &ok),
        Err(TensorError::Rank { op: "im2col", .. })
    ));
    assert!(matches!(
        col2im(
            &Tensor::<f32>::zeros(&[2, 36, 10]),
            &[2, 4, 5, 5],
            [3, 3],
            &ok
        ),
        Err(TensorError::ShapeMismatch { op: "col2im", .. })
    ));
    // the output_size helper
    assert!(ok.output_size([5, 5], [6, 1]).is_err());
    assert_eq!(
        Conv2dParams::square(2, 3, 1, 1)
            .output_size([224, 224], [7, 7])
            .unwrap(),
        [112, 112]
    );
}

#[test]
fn empty_batch_gives_empty_results() {
    let x = Tensor::<f32>::zeros(&[0, 3, 5, 5]);
    let w = Tensor::<f32>::ones(&[2, 3, 3, 3]);
    let p = Conv2dParams::default();
    let y = conv2d(&x, &w, None, &p).unwrap();
    assert_eq!(y.shape(), &[0, 2, 3, 3]);
    assert_eq!(
        conv2d_backward_input(&y, &w, x.shape(), &p)
            .unwrap()
            .shape(),
        &[0, 3, 5, 5]
    );
    assert_eq!(
        conv2d_backward_weight(&y, &x, w.shape(), &p)
            .unwrap()
            .to_vec(),
        vec![0.0; 54]
    );
    assert_eq!(conv2d_backward_bias(&y).unwrap().to_vec(), vec![0.0; 2]);
}
