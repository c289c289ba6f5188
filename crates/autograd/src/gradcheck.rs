//! Gradient checking by central finite differences, in f64.
//!
//! For a function `f` of some input tensors, the check compares the gradient that the tape
//! computes (the *analytic* gradient) with the one measured numerically:
//!
//! ```text
//! L(x)        = Σᵢ rᵢ · f(x)ᵢ                   r: a fixed random projection (seeded N(0, 1))
//! numeric_j   = (L(x − 2h·e_j) − 8·L(x − h·e_j) + 8·L(x + h·e_j) − L(x + 2h·e_j)) / 12h
//! analytic_j  = (backward of f with ∂L/∂f = r)_j
//! error_j     = |analytic_j − numeric_j| / max(|analytic_j|, |numeric_j|, floor)
//! ```
//!
//! Projecting with random `r` (rather than summing the output) matters: Σ softmax(x) is
//! constant, so a summed check of softmax would pass with any gradient at all.
//!
//! The numeric derivative is the five-point central difference (exact for polynomials up to
//! degree 4). Its truncation error is O(h⁴) and its rounding error O(ε·|L|/h); with the default
//! h = 1e-4 in f64 these are about 1e-16 and 1e-11, far below the 1e-6 tolerance. (The
//! two-point difference `(L(x+h) − L(x−h))/2h` would need h ≈ 1e-6 to bring its O(h²)
//! truncation down, and its rounding error would then be near 1e-9 — visible against 1e-6 for
//! small gradients.) Gradients smaller than `floor` are compared absolutely
//! (`tolerance·floor`), since their relative error is rounding noise.
//!
//! Piecewise-linear ops (ReLU, max-pool) are not differentiable at their kinks; test inputs
//! must stay further than `2h` from them: see [`away_from_zero`] and [`distinct_values`].

use std::fmt;

use unravel_tensor::{Rng, Tensor};

use crate::error::Result;
use crate::tape::Tape;
use crate::var::Var;

/// How to check.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step `h` (the stencil reaches `x ± 2h`).
    pub step: f64,
    /// The largest relative error that passes.
    pub tolerance: f64,
    /// Gradients below this magnitude are compared absolutely (see the module docs).
    pub floor: f64,
    /// Check at most this many elements of each input (a seeded sample); `None` checks all.
    pub max_elements_per_input: Option<usize>,
    /// Seed of the output projection and of the sample.
    pub seed: u64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            step: 1e-4,
            tolerance: 1e-6,
            floor: 1e-3,
            max_elements_per_input: None,
            seed: 0x5eed,
        }
    }
}

/// Where the largest error was found.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckLocation {
    /// Which input (position in the `inputs` slice).
    pub input: usize,
    /// The element's multi-index in that input.
    pub index: Vec<usize>,
    /// The tape's gradient there.
    pub analytic: f64,
    /// The finite-difference gradient there.
    pub numeric: f64,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// Whether every checked element's relative error is within the tolerance.
    pub passed: bool,
    /// Number of (input, element) pairs checked.
    pub elements_checked: usize,
    /// Largest |analytic − numeric|.
    pub max_abs_error: f64,
    /// Largest relative error (as defined in the module docs).
    pub max_rel_error: f64,
    /// Where the largest relative error is.
    pub worst: Option<GradcheckLocation>,
    /// The tolerance the check was run with.
    pub tolerance: f64,
}

impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck {}: {} elements, max abs error {:.3e}, max rel error {:.3e} (tolerance {:.1e})",
            if self.passed { "passed" } else { "FAILED" },
            self.elements_checked,
            self.max_abs_error,
            self.max_rel_error,
            self.tolerance
        )?;
        if let Some(worst) = &self.worst {
            write!(
                f,
                "; worst at input {} index {:?}: analytic {:.12e}, numeric {:.12e}",
                worst.input, worst.index, worst.analytic, worst.numeric
            )?;
        }
        Ok(())
    }
}

/// Checks the tape's gradients of `function` with respect to every input against central
/// differences.
///
/// `function` receives one leaf per input and returns an output of any shape; it must be
/// deterministic. It is run once on a recording tape and four times per checked element
/// without recording.
///
/// ```
/// use unravel_autograd::gradcheck::{gradcheck, GradcheckOptions};
/// use unravel_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.5, -1.5, 2.0, 0.25, 1.0, -0.75], &[2, 3])?;
/// let report = gradcheck(
///     |inputs| inputs[0].mul(&inputs[0])?.permute(&[1, 0]), // y = (x ⊙ x)ᵀ
///     &[x],
///     &GradcheckOptions::default(),
/// )?;
/// assert!(report.passed, "{report}");
/// # Ok::<(), unravel_autograd::AutogradError>(())
/// ```
pub fn gradcheck<F>(
    function: F,
    inputs: &[Tensor<f64>],
    options: &GradcheckOptions,
) -> Result<GradcheckReport>
where
    F: Fn(&[Var<f64>]) -> Result<Var<f64>>,
{
    let mut rng = Rng::seed_from(options.seed);

    // Analytic: one recorded forward, one backward with ∂L/∂output = r.
    let tape = Tape::<f64>::new();
    let leaves: Vec<Var<f64>> = inputs.iter().map(|x| tape.leaf(x.clone())).collect();
    let output = function(&leaves)?;
    let projection = Tensor::<f64>::randn(output.shape(), 0.0, 1.0, &mut rng);
    let analytic: Vec<Vec<f64>> = if output.requires_grad() {
        let gradients = tape.backward_with_grad(&output, &projection)?;
        leaves
            .iter()
            .map(|leaf| gradients.get_or_zeros(leaf).to_vec())
            .collect()
    } else {
        inputs.iter().map(|x| vec![0.0; x.numel()]).collect()
    };
    let projection = projection.to_vec();
    drop(output);

    // Numeric: L at x ± h·e_j, without recording.
    let evaluation_tape = Tape::<f64>::new();
    let _no_grad = evaluation_tape.no_grad();
    let base: Vec<Vec<f64>> = inputs.iter().map(Tensor::to_vec).collect();
    let projected_output = |perturbed_input: usize, element: usize, delta: f64| -> Result<f64> {
        let vars: Vec<Var<f64>> = inputs
            .iter()
            .enumerate()
            .map(|(i, x)| {
                if i == perturbed_input {
                    let mut data = base[i].clone();
                    data[element] += delta;
                    Tensor::from_vec(data, x.shape()).map(|t| evaluation_tape.constant(t))
                } else {
                    Ok(evaluation_tape.constant(x.clone()))
                }
            })
            .collect::<std::result::Result<_, _>>()?;
        let output = function(&vars)?.into_value().to_vec();
        Ok(output.iter().zip(&projection).map(|(y, r)| y * r).sum())
    };

    let mut report = GradcheckReport {
        passed: true,
        elements_checked: 0,
        max_abs_error: 0.0,
        max_rel_error: 0.0,
        worst: None,
        tolerance: options.tolerance,
    };
    for (input_index, input) in inputs.iter().enumerate() {
        for element in sample_elements(input.numel(), options.max_elements_per_input, &mut rng) {
            let h = options.step;
            let plus = projected_output(input_index, element, h)?;
            let minus = projected_output(input_index, element, -h)?;
            let plus_2 = projected_output(input_index, element, 2.0 * h)?;
            let minus_2 = projected_output(input_index, element, -2.0 * h)?;
            let numeric = (minus_2 - 8.0 * minus + 8.0 * plus - plus_2) / (12.0 * h);
            let analytic = analytic[input_index][element];
            let abs_error = (analytic - numeric).abs();
            let scale = analytic.abs().max(numeric.abs()).max(options.floor);
            let rel_error = if abs_error.is_nan() {
                f64::INFINITY
            } else {
                abs_error / scale
            };
            report.elements_checked += 1;
            report.max_abs_error = report.max_abs_error.max(abs_error);
            if report.worst.is_none() || rel_error > report.max_rel_error {
                report.max_rel_error = rel_error;
                report.worst = Some(GradcheckLocation {
                    input: input_index,
                    index: unravel_index(element, input.shape()),
                    analytic,
                    numeric,
                });
            }
        }
    }
    report.passed = report.max_rel_error <= options.tolerance;
    Ok(report)
}

/// Every element index, or a seeded sample of `limit` of them, in increasing order.
fn sample_elements(numel: usize, limit: Option<usize>, rng: &mut Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..numel).collect();
    match limit {
        Some(limit) if limit < numel => {
            rng.shuffle(&mut all);
            all.truncate(limit);
            all.sort_unstable();
            all
        }
        _ => all,
    }
}

fn unravel_index(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &size) in shape.iter().enumerate().rev() {
        index[i] = flat % size.max(1);
        flat /= size.max(1);
    }
    index
}

/// Uniform samples in `[-high, -low] ∪ [low, high]`, for inputs of ReLU-like ops: every value
/// is at least `low` away from the kink at 0, so a stencil reaching less than `low` never
/// crosses it.
pub fn away_from_zero(shape: &[usize], low: f64, high: f64, rng: &mut Rng) -> Result<Tensor<f64>> {
    let numel = checked_numel(shape)?;
    let data: Vec<f64> = (0..numel)
        .map(|_| {
            let magnitude = rng.uniform(low, high);
            if rng.uniform(0.0, 1.0) < 0.5 {
                -magnitude
            } else {
                magnitude
            }
        })
        .collect();
    Ok(Tensor::from_vec(data, shape)?)
}

/// Distinct values `offset + gap·k` for `k = 0, 1, …` in a random order, for inputs of max-pool:
/// no two elements tie, and each differs from every other by at least `gap`, so a stencil
/// reaching less than `gap / 2` never changes which element of a window is the largest.
pub fn distinct_values(
    shape: &[usize],
    gap: f64,
    offset: f64,
    rng: &mut Rng,
) -> Result<Tensor<f64>> {
    let numel = checked_numel(shape)?;
    let mut data: Vec<f64> = (0..numel).map(|k| offset + gap * k as f64).collect();
    rng.shuffle(&mut data);
    Ok(Tensor::from_vec(data, shape)?)
}

fn checked_numel(shape: &[usize]) -> Result<usize> {
    unravel_tensor::layout::checked_numel(shape).ok_or_else(|| {
        crate::AutogradError::invalid("gradcheck", format!("shape {shape:?} overflows usize"))
    })
}
