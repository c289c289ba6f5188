//! [`Spread`]: mean, standard deviation and range of repeated measurements (the error bars of
//! Veit et al. 2016, Fig. 5 and 6b).

/// Summary of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    /// Population standard deviation, √(Σ(x − mean)² / count).
    pub standard_deviation: f64,
    pub min: f64,
    pub max: f64,
    pub count: usize,
}

impl Spread {
    /// The spread of `samples` (all zero for no samples).
    ///
    /// ```
    /// use unravel_resnet::ensemble::Spread;
    /// let spread = Spread::of(&[1.0, 3.0]);
    /// assert_eq!((spread.mean, spread.standard_deviation, spread.min, spread.max), (2.0, 1.0, 1.0, 3.0));
    /// ```
    pub fn of(samples: &[f64]) -> Spread {
        if samples.is_empty() {
            return Spread {
                mean: 0.0,
                standard_deviation: 0.0,
                min: 0.0,
                max: 0.0,
                count: 0,
            };
        }
        let count = samples.len() as f64;
        let mean = samples.iter().sum::<f64>() / count;
        let variance = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / count;
        Spread {
            mean,
            standard_deviation: variance.sqrt(),
            min: samples.iter().copied().fold(f64::INFINITY, f64::min),
            max: samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            count: samples.len(),
        }
    }
}
