//! Per-epoch metrics, written after every epoch to `metrics.csv` and `metrics.json` in the run
//! directory (atomically: a temporary file, then a rename).
//!
//! Error is `1 − accuracy`, the quantity He et al. 2015 plot in Figures 1, 4 and 6.

use std::path::Path;

use serde::{Deserialize, Serialize};
use unravel_resnet::weights::write_atomically;

use crate::error::{Result, TrainError};

/// What one epoch measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
    /// Mean cross-entropy over the epoch's training images (train mode, augmented).
    pub train_loss: f64,
    /// Fraction of training images misclassified during the epoch.
    pub train_error: f64,
    /// Mean cross-entropy on the test set (eval mode).
    pub test_loss: f64,
    /// Fraction of test images misclassified.
    pub test_error: f64,
    /// Training images per second (forward, backward and update).
    pub images_per_s: f64,
    /// Wall-clock seconds of the epoch, test included.
    pub seconds: f64,
}

/// The CSV header line of [`to_csv`].
pub const CSV_HEADER: &str =
    "epoch,lr,train_loss,train_error,test_loss,test_error,images_per_s,seconds";

/// The records as CSV, one line per epoch after [`CSV_HEADER`].
///
/// ```
/// use unravel_train::metrics::{to_csv, EpochRecord};
/// let record = EpochRecord { epoch: 1, lr: 0.1, train_loss: 0.5, train_error: 0.2,
///     test_loss: 0.4, test_error: 0.15, images_per_s: 300.0, seconds: 2.0 };
/// assert_eq!(to_csv(&[record]).lines().nth(1), Some("1,0.1,0.5,0.2,0.4,0.15,300,2"));
/// ```
pub fn to_csv(records: &[EpochRecord]) -> String {
    let mut text = format!("{CSV_HEADER}\n");
    for r in records {
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            r.epoch,
            r.lr,
            r.train_loss,
            r.train_error,
            r.test_loss,
            r.test_error,
            r.images_per_s,
            r.seconds
        ));
    }
    text
}

/// Writes `metrics.csv` and `metrics.json` (an array of records) into `run_dir`, atomically.
pub fn write(run_dir: &Path, records: &[EpochRecord]) -> Result<()> {
    write_atomically(&run_dir.join("metrics.csv"), to_csv(records).as_bytes())?;
    let json = serde_json::to_string_pretty(records)
        .map_err(|e| TrainError::config(format!("encoding metrics: {e}")))?;
    write_atomically(&run_dir.join("metrics.json"), json.as_bytes())?;
    Ok(())
}

/// Reads `metrics.json` of a run directory.
pub fn read(run_dir: &Path) -> Result<Vec<EpochRecord>> {
    let path = run_dir.join("metrics.json");
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path,
        message: format!("not a metrics file: {e}"),
    })
}
