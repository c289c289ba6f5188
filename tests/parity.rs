//! Parity with PyTorch: every fixture in `../shared/fixtures/parity/` (beside the workspace
//! root) and in each directory of `UNRAVEL_PARITY_DIR`, in f64 (every tensor to 1e-8) and in
//! f32 (eval logits and loss to 1e-4). See `unravel_resnet::parity`.

use std::path::Path;

use unravel_resnet::parity::{fixture_paths, run, Fixture, ParityReport};

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn describe(report: &ParityReport) -> String {
    let failures: Vec<String> = report
        .comparisons
        .iter()
        .filter(|c| !c.passed())
        .map(|c| {
            format!(
                "{} {:.3e} > {:.0e}",
                c.name,
                c.relative_error,
                c.tolerance.unwrap_or(0.0)
            )
        })
        .collect();
    let worst = report
        .worst()
        .map(|c| format!("{} {:.3e}", c.name, c.relative_error))
        .unwrap_or_default();
    format!(
        "{} [{}]: {} tensors, worst {worst}; failures: {failures:?}",
        report.path.display(),
        report.dtype,
        report.comparisons.len()
    )
}

#[test]
fn every_fixture_matches_pytorch_in_f64_and_f32() {
    let paths = fixture_paths(workspace_root()).expect("fixture directories are readable");
    assert!(!paths.is_empty(), "no parity fixtures found");
    let mut failed = Vec::new();
    for path in &paths {
        let fixture = Fixture::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let reports = [
            run::<f64>(&fixture).unwrap_or_else(|e| panic!("{} f64: {e}", path.display())),
            run::<f32>(&fixture).unwrap_or_else(|e| panic!("{} f32: {e}", path.display())),
        ];
        for report in &reports {
            // Every state entry and every parameter gradient was compared.
            assert!(report.comparisons.len() > 4, "{}", describe(report));
            eprintln!("{}", describe(report));
            if !report.passed() {
                failed.push(describe(report));
            }
        }
    }
    assert!(failed.is_empty(), "parity failures:\n{}", failed.join("\n"));
}
