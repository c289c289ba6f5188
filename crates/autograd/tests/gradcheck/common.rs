//! Helpers shared by the gradient checks.

use unravel_autograd::gradcheck::{gradcheck, GradcheckOptions};
use unravel_autograd::{Result, Var};
use unravel_tensor::{Rng, Tensor};

/// Runs a gradcheck with the default options (five-point stencil, h = 1e-4, relative tolerance 1e-6) and fails the
/// test with the report if it does not pass.
pub fn check<F>(name: &str, function: F, inputs: impl Into<Vec<Tensor<f64>>>)
where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    check_with(name, function, inputs, &GradcheckOptions::default());
}

/// As [`check`], with options.
pub fn check_with<F>(
    name: &str,
    function: F,
    inputs: impl Into<Vec<Tensor<f64>>>,
    options: &GradcheckOptions,
) where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    let report =
        gradcheck(function, &inputs.into(), options).unwrap_or_else(|e| panic!("{name}: {e}"));
    println!("{name}: {report}");
    assert!(report.passed, "{name}: {report}");
    assert!(report.elements_checked > 0, "{name}: nothing checked");
    assert!(report.max_rel_error <= 1e-6, "{name}: {report}");
}

/// N(0, 1) samples.
pub fn randn(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, rng)
}
