//! conv2d: input, weight and bias gradients, over strides, paddings, dilations, groups, odd
//! sizes, 1×1 kernels (the GEMM fast paths) and a non-contiguous input.

use unravel_tensor::ops::conv::Conv2dParams;
use unravel_tensor::Rng;

use crate::common::{check, randn};

struct Case {
    input: [usize; 4],
    weight: [usize; 4],
    params: Conv2dParams,
}

#[test]
fn conv2d_input_weight_bias() {
    let p = |stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], groups: usize| {
        Conv2dParams {
            stride,
            padding,
            dilation,
            groups,
        }
    };
    let cases = [
        // 3×3, stride 1, padding 1 (the BasicBlock conv), odd image.
        Case {
            input: [2, 3, 5, 7],
            weight: [4, 3, 3, 3],
            params: p([1, 1], [1, 1], [1, 1], 1),
        },
        // 3×3 stride 2 (a stage's first conv), odd size so the last row is dropped.
        Case {
            input: [2, 2, 7, 5],
            weight: [3, 2, 3, 3],
            params: p([2, 2], [1, 1], [1, 1], 1),
        },
        // Rectangular kernel, unequal strides and paddings, dilation 2.
        Case {
            input: [1, 2, 9, 7],
            weight: [3, 2, 3, 2],
            params: p([2, 1], [2, 0], [2, 2], 1),
        },
        // 1×1, stride 1 (the Bottleneck's reduce/expand): GEMM fast path.
        Case {
            input: [2, 5, 3, 4],
            weight: [3, 5, 1, 1],
            params: p([1, 1], [0, 0], [1, 1], 1),
        },
        // 1×1, stride 2 (the projection shortcut): strided-gather fast path.
        Case {
            input: [2, 3, 5, 5],
            weight: [4, 3, 1, 1],
            params: p([2, 2], [0, 0], [1, 1], 1),
        },
        // Grouped.
        Case {
            input: [1, 4, 5, 5],
            weight: [6, 2, 3, 3],
            params: p([1, 1], [1, 1], [1, 1], 2),
        },
    ];
    let mut rng = Rng::seed_from(60);
    for case in cases {
        let x = randn(&case.input, &mut rng);
        let w = randn(&case.weight, &mut rng);
        let b = randn(&[case.weight[0]], &mut rng);
        let params = case.params;
        check(
            &format!("conv2d {:?} {:?} {params:?}", case.input, case.weight),
            |v| v[0].conv2d(&v[1], Some(&v[2]), &params),
            &[x, w, b],
        );
    }
}

#[test]
fn conv2d_of_a_permuted_view_and_without_bias() {
    let mut rng = Rng::seed_from(61);
    // Stored as [N, H, W, C], convolved as the permuted view [N, C, H, W].
    let x_nhwc = randn(&[2, 5, 4, 3], &mut rng);
    let w = randn(&[2, 3, 3, 3], &mut rng);
    let params = Conv2dParams::square(1, 1, 1, 1);
    check(
        "conv2d of a permuted input",
        |v| v[0].permute(&[0, 3, 1, 2])?.conv2d(&v[1], None, &params),
        &[x_nhwc, w],
    );
}
