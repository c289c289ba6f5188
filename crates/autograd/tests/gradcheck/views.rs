//! reshape / flatten / permute / transpose / narrow / stepped slice / squeeze.

use unravel_tensor::Rng;

use crate::common::{check, randn};

#[test]
fn reshape_and_flatten() {
    let mut rng = Rng::seed_from(1);
    let x = randn(&[2, 3, 5], &mut rng);
    check("reshape", |v| v[0].reshape(&[5, 6]), [x.clone()]);
    check("flatten", |v| v[0].flatten(1, 2), [x.clone()]);
    check(
        "unsqueeze+squeeze",
        |v| v[0].unsqueeze(1)?.squeeze(1)?.unsqueeze(3),
        &[x],
    );
}

#[test]
fn permute_and_transpose() {
    let mut rng = Rng::seed_from(2);
    let x = randn(&[3, 1, 5, 2], &mut rng);
    check("permute", |v| v[0].permute(&[2, 0, 3, 1]), [x.clone()]);
    check("transpose", |v| v[0].transpose(0, 3), [x.clone()]);
    // A reshape of a permuted (non-contiguous) view copies; its backward must still line up.
    check(
        "permute then reshape",
        |v| v[0].permute(&[3, 2, 1, 0])?.reshape(&[10, 3]),
        &[x],
    );
}

#[test]
fn narrow_and_stepped_slice() {
    let mut rng = Rng::seed_from(3);
    let x = randn(&[2, 3, 7, 5], &mut rng);
    check("narrow", |v| v[0].narrow(2, 1, 4), [x.clone()]);
    // The option-A shortcut's stride-2 subsample, on odd sizes.
    check(
        "stride-2 subsample",
        |v| v[0].slice(2, 0, 7, 2)?.slice(3, 0, 5, 2),
        [x.clone()],
    );
    check(
        "stepped slice from an offset",
        |v| v[0].slice(3, 1, 5, 3),
        [x.clone()],
    );
    check("empty slice", |v| v[0].slice(1, 2, 2, 1), &[x]);
}
