//! Test-set evaluation: accuracy, mean cross-entropy and the confusion matrix, in eval mode
//! (batch norm uses its running statistics, He et al. 2015 §3.4).

use serde::{Deserialize, Serialize};
use unravel_data::BatchLoader;
use unravel_resnet::ResNet;
use unravel_tensor::Float;

use crate::error::{Result, TrainError};

/// What a pass over a test set measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Images evaluated.
    pub images: u64,
    /// Fraction classified correctly.
    pub accuracy: f64,
    /// Mean cross-entropy `−log softmax(z)_y`.
    pub loss: f64,
    /// `confusion[true][predicted]`: image counts.
    pub confusion: Vec<Vec<u64>>,
}

/// Per-image results of one batch of logits `[N, K]`: the sum of the cross-entropies, and the
/// predicted class (the first maximum) of each image.
pub fn score_batch(logits: &[f64], classes: usize, labels: &[usize]) -> Result<(f64, Vec<usize>)> {
    if classes == 0 || logits.len() != labels.len() * classes {
        return Err(TrainError::config(format!(
            "{} logits are not {} images × {classes} classes",
            logits.len(),
            labels.len()
        )));
    }
    let mut loss_sum = 0.0;
    let mut predictions = Vec::with_capacity(labels.len());
    for (row, &label) in logits.chunks_exact(classes).zip(labels) {
        if label >= classes {
            return Err(TrainError::config(format!(
                "label {label} is not below the {classes} classes of the network"
            )));
        }
        let mut best = 0;
        for (k, &z) in row.iter().enumerate() {
            if z > row[best] {
                best = k;
            }
        }
        // log Σ exp(z) computed around the maximum, for stability.
        let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let log_sum = max + row.iter().map(|&z| (z - max).exp()).sum::<f64>().ln();
        loss_sum += log_sum - row[label];
        predictions.push(best);
    }
    Ok((loss_sum, predictions))
}

/// Evaluates `model` on every batch of `loader` (its epoch 0, which for a test loader is the
/// file order, unaugmented).
pub fn evaluate<E: Float>(model: &mut ResNet<E>, loader: &BatchLoader) -> Result<Evaluation> {
    let classes = model.config.num_classes;
    let mut confusion = vec![vec![0u64; classes]; classes];
    let (mut loss_sum, mut images) = (0.0, 0u64);
    for (batch, labels) in loader.epoch::<E>(0) {
        let logits: Vec<f64> = model
            .predict(&batch)?
            .to_vec()
            .iter()
            .map(|v| v.to_f64())
            .collect();
        let (batch_loss, predictions) = score_batch(&logits, classes, &labels)?;
        loss_sum += batch_loss;
        for (&truth, &predicted) in labels.iter().zip(&predictions) {
            confusion[truth][predicted] += 1;
        }
        images += labels.len() as u64;
    }
    if images == 0 {
        return Err(TrainError::config("the test set is empty"));
    }
    let correct: u64 = (0..classes).map(|k| confusion[k][k]).sum();
    Ok(Evaluation {
        images,
        accuracy: correct as f64 / images as f64,
        loss: loss_sum / images as f64,
        confusion,
    })
}

/// The confusion matrix as a text table, rows the true classes, columns the predictions.
pub fn confusion_table(confusion: &[Vec<u64>], class_names: &[String]) -> String {
    let width = class_names
        .iter()
        .map(|n| n.len())
        .max()
        .unwrap_or(0)
        .max(6);
    let mut text = format!("{:>width$} |", "true \\ predicted");
    for k in 0..confusion.len() {
        text.push_str(&format!(" {k:>5}"));
    }
    text.push('\n');
    for (k, row) in confusion.iter().enumerate() {
        let name = class_names.get(k).map(String::as_str).unwrap_or("?");
        text.push_str(&format!(
            "{:>width$} |",
            format!("{k} {name}"),
            width = width.max(16)
        ));
        for count in row {
            text.push_str(&format!(" {count:>5}"));
        }
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_batch_matches_a_hand_computation() {
        // Two images, three classes.
        let logits = [1.0, 2.0, 0.0, 0.0, 0.0, 0.0];
        let (loss, predictions) = score_batch(&logits, 3, &[1, 2]).unwrap();
        let first = (1f64.exp() + 2f64.exp() + 1.0).ln() - 2.0;
        let second = 3f64.ln();
        assert!((loss - first - second).abs() < 1e-12);
        // Ties go to the first maximum.
        assert_eq!(predictions, vec![1, 0]);
        assert!(score_batch(&logits, 3, &[1, 3]).is_err());
        assert!(score_batch(&logits, 4, &[1, 2]).is_err());
    }
}
