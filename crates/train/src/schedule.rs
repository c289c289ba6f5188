//! Learning-rate schedules, evaluated at every optimizer step.
//!
//! - [`ScheduleKind::Step`]: He et al. 2015 §4.2 divide the learning rate by 10 at 32k and 48k
//!   of 64k iterations, i.e. at 50% and 75% of training; here at 50% and 75% of the total steps.
//! - [`ScheduleKind::Cosine`]: `η_t = η/2 · (1 + cos(π·t/T))` over the steps after warm-up
//!   (Loshchilov & Hutter 2017, without restarts).
//! - [`ScheduleKind::Constant`]: `η` throughout.
//!
//! Warm-up (He et al. 2015 §4.2 train ResNet-110 at 0.01 first): during the first
//! `warmup_steps`, the rate rises linearly from `warmup_lr` to `η`, then the schedule runs over
//! the remaining steps.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The shape of the schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// ÷10 at 50% and at 75% of the steps (He et al. 2015 §4.2).
    Step,
    /// Cosine annealing to 0.
    Cosine,
    /// No change.
    Constant,
}

impl std::str::FromStr for ScheduleKind {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text {
            "step" => Ok(ScheduleKind::Step),
            "cosine" => Ok(ScheduleKind::Cosine),
            "constant" => Ok(ScheduleKind::Constant),
            _ => Err(format!(
                "unknown schedule `{text}`; expected step, cosine or constant"
            )),
        }
    }
}

/// A learning rate for every step `0..total_steps`.
///
/// ```
/// use unravel_train::schedule::{Schedule, ScheduleKind};
/// let schedule = Schedule::new(ScheduleKind::Step, 0.1, 100, 0, 0.0)?;
/// assert_eq!(schedule.lr(0), 0.1);
/// assert!((schedule.lr(50) - 0.01).abs() < 1e-15);
/// assert!((schedule.lr(99) - 0.001).abs() < 1e-15);
/// # Ok::<(), unravel_train::TrainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    /// The base rate η.
    pub lr: f64,
    pub total_steps: u64,
    pub warmup_steps: u64,
    /// The rate at step 0 of the warm-up.
    pub warmup_lr: f64,
}

impl Schedule {
    /// Checks that the rates are finite and non-negative and the warm-up fits.
    pub fn new(
        kind: ScheduleKind,
        lr: f64,
        total_steps: u64,
        warmup_steps: u64,
        warmup_lr: f64,
    ) -> Result<Self> {
        if !(lr.is_finite() && lr >= 0.0 && warmup_lr.is_finite() && warmup_lr >= 0.0) {
            return Err(TrainError::config(format!(
                "learning rates must be finite and non-negative, got lr {lr}, warm-up lr {warmup_lr}"
            )));
        }
        if warmup_steps > total_steps {
            return Err(TrainError::config(format!(
                "the warm-up ({warmup_steps} steps) is longer than training ({total_steps} steps)"
            )));
        }
        Ok(Schedule {
            kind,
            lr,
            total_steps,
            warmup_steps,
            warmup_lr,
        })
    }

    /// The learning rate of step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            let fraction = step as f64 / self.warmup_steps as f64;
            return self.warmup_lr + (self.lr - self.warmup_lr) * fraction;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let t = (step - self.warmup_steps).min(span);
        match self.kind {
            ScheduleKind::Constant => self.lr,
            ScheduleKind::Step => {
                // Integer comparisons: t ≥ 50% and t ≥ 75% of the span, exactly.
                if 4 * t >= 3 * span {
                    self.lr / 100.0
                } else if 2 * t >= span {
                    self.lr / 10.0
                } else {
                    self.lr
                }
            }
            ScheduleKind::Cosine => {
                let progress = t as f64 / span as f64;
                0.5 * self.lr * (1.0 + (std::f64::consts::PI * progress).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_schedule_divides_at_half_and_three_quarters() {
        let s = Schedule::new(ScheduleKind::Step, 0.1, 64_000, 0, 0.0).unwrap();
        assert_eq!(s.lr(31_999), 0.1);
        assert_eq!(s.lr(32_000), 0.1 / 10.0);
        assert_eq!(s.lr(47_999), 0.1 / 10.0);
        assert_eq!(s.lr(48_000), 0.1 / 100.0);
        assert_eq!(s.lr(63_999), 0.1 / 100.0);
    }

    #[test]
    fn cosine_runs_from_lr_to_zero() {
        let s = Schedule::new(ScheduleKind::Cosine, 0.2, 100, 0, 0.0).unwrap();
        assert_eq!(s.lr(0), 0.2);
        assert!((s.lr(50) - 0.1).abs() < 1e-12);
        assert!(s.lr(100).abs() < 1e-12);
        for step in 1..100 {
            assert!(s.lr(step) < s.lr(step - 1));
        }
    }

    #[test]
    fn warmup_is_linear_then_the_schedule_starts() {
        let s = Schedule::new(ScheduleKind::Cosine, 0.1, 110, 10, 0.01).unwrap();
        assert_eq!(s.lr(0), 0.01);
        assert!((s.lr(5) - 0.055).abs() < 1e-12);
        assert_eq!(s.lr(10), 0.1);
        let step = Schedule::new(ScheduleKind::Step, 0.1, 110, 10, 0.01).unwrap();
        // 50% of the 100 steps after warm-up: step 10 + 50.
        assert_eq!(step.lr(59), 0.1);
        assert_eq!(step.lr(60), 0.01);
    }

    #[test]
    fn bad_rates_and_warmups_are_errors() {
        assert!(Schedule::new(ScheduleKind::Step, f64::NAN, 10, 0, 0.0).is_err());
        assert!(Schedule::new(ScheduleKind::Step, -1.0, 10, 0, 0.0).is_err());
        assert!(Schedule::new(ScheduleKind::Step, 0.1, 10, 11, 0.0).is_err());
        assert!("linear".parse::<ScheduleKind>().is_err());
        assert_eq!("cosine".parse::<ScheduleKind>(), Ok(ScheduleKind::Cosine));
    }
}
