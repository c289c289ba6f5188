//! The per-epoch progress bar (indicatif, on stderr): batches done, mean loss and accuracy so
//! far, images per second, time left. Hidden when not verbose.

use indicatif::{ProgressBar, ProgressStyle};

/// One epoch's bar.
pub struct EpochBar {
    bar: ProgressBar,
}

impl EpochBar {
    /// A bar for epoch `epoch` of `epochs`, `batches` long, starting at `position`.
    pub fn new(
        visible: bool,
        epoch: usize,
        epochs: usize,
        batches: usize,
        position: usize,
    ) -> Self {
        let bar = if visible {
            ProgressBar::new(batches as u64)
        } else {
            ProgressBar::hidden()
        };
        let template = "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("epoch {epoch}/{epochs}"));
        bar.set_position(position as u64);
        EpochBar { bar }
    }

    /// One more batch done; the epoch's running loss, accuracy and speed.
    pub fn update(&mut self, loss: f64, accuracy: f64, images_per_s: f64) {
        self.bar.inc(1);
        self.bar.set_message(format!(
            "loss {loss:.4} acc {:.2}% {images_per_s:.0} img/s",
            100.0 * accuracy
        ));
    }

    /// The epoch's batches are done.
    pub fn finish(&mut self) {
        self.bar.finish_and_clear();
    }

    /// Training stopped mid-epoch.
    pub fn abandon(&mut self) {
        self.bar.abandon();
    }
}
