//! How much of the f32 error on a parity fixture is the problem's conditioning rather than
//! the engine's arithmetic.
//!
//! For every compared tensor it prints, as relative errors against the fixture's PyTorch f64
//! values (which our f64 run matches to ~1e-12, so they are equally errors against our f64):
//!
//! * `f32`: our f32 run;
//! * `x·(1±u)`: our f64 run on the input multiplied elementwise by `1 + δ`, δ uniform in
//!   [−u, u], u = 2⁻²⁴ (f32's unit roundoff), median over `TRIALS` draws;
//! * `all·(1±u)`: the same with every weight and running statistic perturbed as well.
//!
//! The perturbed runs are exact arithmetic (f64) on data that differs from the original only
//! by one f32 rounding. Any f32 computation — however it accumulates — rounds the input of
//! every layer at least that much, so where these columns are as large as `f32`, the error is
//! the problem's, not the kernels'.
//!
//! ```sh
//! cargo run --release -p unravel-resnet --example parity_conditioning -- \
//!     ../shared/fixtures/parity/basic_w8_2222_b2_64x64.safetensors
//! ```

use std::collections::BTreeMap;

use unravel_resnet::parity::{run, Fixture};
use unravel_resnet::weights::StoredData;
use unravel_tensor::Rng;

const TRIALS: u64 = 5;
const UNIT_ROUNDOFF: f64 = 1.0 / (1u64 << 24) as f64;

/// `fixture` with the selected float tensors multiplied elementwise by `1 + δ`.
fn perturbed(fixture: &Fixture, seed: u64, everything: bool) -> Fixture {
    let mut copy = fixture.clone();
    let mut rng = Rng::seed_from(seed);
    for (name, tensor) in copy.file.tensors.iter_mut() {
        let selected =
            name == "input" || (everything && !name.starts_with("expect.") && name != "target");
        if let (true, StoredData::Float(values)) = (selected, &mut tensor.data) {
            for value in values.iter_mut() {
                *value *= 1.0 + rng.uniform(-UNIT_ROUNDOFF, UNIT_ROUNDOFF);
            }
        }
    }
    copy
}

fn errors(fixture: &Fixture, f32_run: bool) -> BTreeMap<String, f64> {
    let report = if f32_run {
        run::<f32>(fixture)
    } else {
        run::<f64>(fixture)
    }
    .expect("the fixture runs");
    report
        .comparisons
        .into_iter()
        .map(|c| (c.name, c.relative_error))
        .collect()
}

fn median_errors(fixture: &Fixture, everything: bool) -> BTreeMap<String, f64> {
    let runs: Vec<_> = (0..TRIALS)
        .map(|seed| errors(&perturbed(fixture, seed, everything), false))
        .collect();
    runs[0]
        .keys()
        .map(|name| {
            let mut values: Vec<f64> = runs.iter().map(|r| r[name]).collect();
            values.sort_by(f64::total_cmp);
            (name.clone(), values[values.len() / 2])
        })
        .collect()
}

fn main() {
    for path in std::env::args().skip(1) {
        let fixture = Fixture::open(&path).expect("a parity fixture");
        let single = errors(&fixture, true);
        let input_only = median_errors(&fixture, false);
        let everything = median_errors(&fixture, true);
        println!("{path}");
        println!(
            "  {:<44} {:>10} {:>10} {:>10}",
            "tensor", "f32", "x·(1±u)", "all·(1±u)"
        );
        let mut names: Vec<&String> = single.keys().collect();
        names.sort_by(|a, b| single[*b].total_cmp(&single[*a]));
        for name in names {
            println!(
                "  {name:<44} {:>10.3e} {:>10.3e} {:>10.3e}",
                single[name], input_only[name], everything[name]
            );
        }
        let ratio: Vec<f64> = single
            .keys()
            .filter(|n| n.starts_with("grad."))
            .map(|n| single[n] / everything[n].max(f64::MIN_POSITIVE))
            .collect();
        let mut sorted = ratio.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "  gradients: f32 error / perturbation error, median {:.2}, max {:.2}",
            sorted[sorted.len() / 2],
            sorted[sorted.len() - 1]
        );
    }
}
