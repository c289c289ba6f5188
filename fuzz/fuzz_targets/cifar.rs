//! The CIFAR-10 batch reader on arbitrary bytes (plain or gzip): Ok or a DataError, never a
//! panic; an accepted batch has 3072 pixel bytes per label and labels below 10.
#![no_main]

use libfuzzer_sys::fuzz_target;
use unravel_data::parse_cifar_batch;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(batch) = parse_cifar_batch(bytes, "fuzz-batch.bin") {
        assert!(!batch.labels.is_empty());
        assert_eq!(batch.images.len(), batch.labels.len() * 3072);
        assert!(batch.labels.iter().all(|&label| label < 10));
    }
});
