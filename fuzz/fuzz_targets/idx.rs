//! The IDX readers on arbitrary bytes (plain or gzip): they must return Ok or a DataError,
//! never panic, and what they accept must be consistent with its header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unravel_data::{parse_idx_images, parse_idx_labels};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(images) = parse_idx_images(bytes, "fuzz-images") {
        assert_eq!(
            images.pixels.len(),
            images.count * images.rows * images.columns
        );
        assert!(images.rows > 0 && images.columns > 0);
    }
    // The first byte picks the number of classes, so the range check is exercised too.
    let classes = usize::from(bytes.first().copied().unwrap_or(0) % 12);
    if let Ok(labels) = parse_idx_labels(bytes, "fuzz-labels", classes) {
        assert!(labels.iter().all(|&label| usize::from(label) < classes));
    }
});
