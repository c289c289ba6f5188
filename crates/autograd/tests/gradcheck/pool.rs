//! max_pool2d (to the argmax), avg_pool2d (with and without padding in the divisor), global
//! average pool.

use unravel_autograd::gradcheck::distinct_values;
use unravel_tensor::ops::pool::Pool2dParams;
use unravel_tensor::Rng;

use crate::common::{check, randn};

#[test]
fn max_pool2d_routes_to_the_argmax() {
    let mut rng = Rng::seed_from(10);
    // Distinct values 0.01 apart: a step of 1e-6 never changes a window's winner.
    let x = distinct_values(&[2, 3, 7, 6], 0.01, -1.0, &mut rng).unwrap();
    for params in [
        Pool2dParams::square(3, 2, 1), // ResNet's stem pool: overlapping windows, padding
        Pool2dParams::square(2, 2, 0), // tiling windows
        Pool2dParams::new([3, 2], [1, 2], [1, 0]), // rectangular, stride 1 on one axis
    ] {
        check(
            &format!("max_pool2d {params:?}"),
            |v| v[0].max_pool2d(params),
            [x.clone()],
        );
    }
}

#[test]
fn avg_pool2d() {
    let mut rng = Rng::seed_from(11);
    let x = randn(&[2, 3, 7, 5], &mut rng);
    for params in [
        Pool2dParams::square(3, 2, 1),
        Pool2dParams::new([2, 3], [2, 1], [1, 1]),
    ] {
        for count_include_pad in [true, false] {
            check(
                &format!("avg_pool2d {params:?} count_include_pad={count_include_pad}"),
                |v| v[0].avg_pool2d(params, count_include_pad),
                [x.clone()],
            );
        }
    }
}

#[test]
fn global_avg_pool2d() {
    let mut rng = Rng::seed_from(12);
    let x = randn(&[3, 5, 3, 7], &mut rng);
    check("global_avg_pool2d", |v| v[0].global_avg_pool2d(), &[x]);
}
