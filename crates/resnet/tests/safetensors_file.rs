//! The safetensors decoder on hostile bytes: every malformed file is a `ResnetError::File`
//! naming the file, the tensor when there is one, and the byte offset of the problem — never
//! a panic, never an allocation sized by what a header merely claims. The fuzz target
//! `fuzz/fuzz_targets/safetensors.rs` explores the same entry point; crashes it found are
//! pinned here.

use std::path::Path;

use unravel_resnet::weights::{SafetensorsFile, StoredData, MAX_HEADER_BYTES};
use unravel_resnet::ResnetError;

/// length (8 bytes LE) + header + data, unpadded.
fn file_bytes(header: &str, data: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    bytes
}

/// Decodes `bytes` as `bad.safetensors`, expecting a `File` error; returns (offset, message).
fn refused(bytes: &[u8]) -> (Option<u64>, String) {
    let error = SafetensorsFile::from_bytes(Path::new("bad.safetensors"), bytes).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("bad.safetensors"), "{message}");
    match error {
        ResnetError::File { offset, .. } => (offset, message),
        other => panic!("expected a File error, got {other:?}"),
    }
}

#[test]
fn a_valid_file_decodes_with_offsets_shapes_and_metadata() {
    let header = r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},"e":{"dtype":"F64","shape":[0,3],"data_offsets":[16,16]}}"#;
    let mut data = Vec::new();
    data.extend(0.5f32.to_le_bytes());
    data.extend((-3.0f32).to_le_bytes());
    data.extend(7i64.to_le_bytes());
    let bytes = file_bytes(header, &data);
    let file = SafetensorsFile::from_bytes(Path::new("ok.safetensors"), &bytes).unwrap();
    let start = 8 + header.len() as u64;
    assert_eq!(file.metadata["format"], "pt");
    assert_eq!(file.tensors["a"].offset, start);
    assert_eq!(file.tensors["a"].shape, vec![2, 1]);
    assert_eq!(file.tensor::<f32>("a").unwrap().to_vec(), vec![0.5, -3.0]);
    assert_eq!(file.tensors["b"].offset, start + 8);
    assert_eq!(file.int64("b").unwrap(), vec![7]);
    assert_eq!(file.tensors["e"].data, StoredData::Float(Vec::new()));
    assert_eq!(file.tensor::<f64>("e").unwrap().shape(), &[0, 3]);
}

#[test]
fn short_files_and_lying_header_lengths_are_refused_at_byte_0() {
    assert_eq!(refused(&[]).0, Some(0));
    assert_eq!(refused(&[1, 2, 3]).0, Some(0));
    // A header length of 2^64 - 1 and one just over the limit: nothing is allocated for them.
    let (offset, message) = refused(&u64::MAX.to_le_bytes());
    assert_eq!(offset, Some(0));
    assert!(message.contains("exceeds the limit"), "{message}");
    assert_eq!(refused(&(MAX_HEADER_BYTES + 1).to_le_bytes()).0, Some(0));
    // A header length that runs past the end of the file.
    let mut bytes = 100u64.to_le_bytes().to_vec();
    bytes.extend(b"{}");
    let (offset, message) = refused(&bytes);
    assert_eq!(offset, Some(0));
    assert!(message.contains("past the end"), "{message}");
}

#[test]
fn header_syntax_errors_point_into_the_header() {
    // Invalid UTF-8 at header byte 3 = file byte 11.
    let mut bytes = 5u64.to_le_bytes().to_vec();
    bytes.extend([b'{', b' ', b' ', 0xff, b'}']);
    assert_eq!(refused(&bytes).0, Some(11));
    // Invalid JSON: the offset is where serde_json stopped (the `o` of `nope`, read as `null`).
    let (offset, message) = refused(&file_bytes(r#"{"a": nope}"#, &[]));
    assert_eq!(offset, Some(8 + 7));
    assert!(message.contains("not valid JSON"), "{message}");
    // Not an object at all.
    assert_eq!(refused(&file_bytes("[1, 2]", &[])).0, Some(8));
    // Metadata values must be strings.
    let (_, message) = refused(&file_bytes(r#"{"__metadata__":{"a":1}}"#, &[]));
    assert!(message.contains("__metadata__"), "{message}");
    // A malformed entry is named.
    let (_, message) = refused(&file_bytes(r#"{"w":{"dtype":"F32","shape":[1]}}"#, &[0; 4]));
    assert!(
        message.contains("`w`") && message.contains("data_offsets"),
        "{message}"
    );
    let (_, message) = refused(&file_bytes(
        r#"{"w":{"dtype":"F99","shape":[1],"data_offsets":[0,4]}}"#,
        &[0; 4],
    ));
    assert!(message.contains("`w`"), "{message}");
}

#[test]
fn data_that_does_not_match_the_header_names_the_tensor_and_its_offset() {
    let header = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}"#;
    let start = 8 + header.len() as u64;
    // Truncated data.
    let (offset, message) = refused(&file_bytes(header, &[0; 11]));
    assert_eq!(offset, Some(start));
    assert!(
        message.contains("`w`") && message.contains("past the end"),
        "{message}"
    );
    // Trailing bytes after the last tensor.
    let (offset, message) = refused(&file_bytes(header, &[0; 13]));
    assert_eq!(offset, Some(start + 12));
    assert!(message.contains("1 bytes after"), "{message}");
    // Offsets that do not match shape × dtype.
    let header = r#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    let (offset, message) = refused(&file_bytes(header, &[0; 8]));
    assert_eq!(offset, Some(8 + header.len() as u64));
    assert!(
        message.contains("`w`") && message.contains("do not hold"),
        "{message}"
    );
    // A gap between two tensors.
    let header = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#;
    let (offset, message) = refused(&file_bytes(header, &[0; 12]));
    assert_eq!(offset, Some(8 + header.len() as u64 + 8));
    assert!(
        message.contains("`b`") && message.contains("gap"),
        "{message}"
    );
}

#[test]
fn huge_claimed_shapes_are_refused_without_allocating() {
    // The element count overflows usize.
    let header = format!(
        r#"{{"w":{{"dtype":"F64","shape":[{0},{0}],"data_offsets":[0,8]}}}}"#,
        u64::MAX / 2
    );
    let (_, message) = refused(&file_bytes(&header, &[0; 8]));
    assert!(
        message.contains("`w`") && message.contains("do not hold"),
        "{message}"
    );
    // A consistent claim of 2^61 bytes in a file that holds 8.
    let header = format!(
        r#"{{"w":{{"dtype":"I64","shape":[{}],"data_offsets":[0,{}]}}}}"#,
        1u64 << 58,
        1u64 << 61
    );
    let (_, message) = refused(&file_bytes(&header, &[0; 8]));
    assert!(
        message.contains("`w`") && message.contains("past the end"),
        "{message}"
    );
}

/// Eight tensors of 2^61 − 8 bytes each claim 2^64 − 64 data bytes in all: the `safetensors`
/// crate's `read_metadata` (0.8.0) adds that to the header length and overflows (a panic with
/// overflow checks on). This reader checks each tensor against the bytes present instead.
#[test]
fn claimed_sizes_summing_past_usize_are_refused() {
    let size = (1u64 << 61) - 8;
    let entries: Vec<String> = (0..8u64)
        .map(|i| {
            format!(
                r#""t{i}":{{"dtype":"I64","shape":[{}],"data_offsets":[{},{}]}}"#,
                size / 8,
                i * size,
                (i + 1) * size
            )
        })
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let (offset, message) = refused(&file_bytes(&header, &[0; 64]));
    assert_eq!(offset, Some(8 + header.len() as u64));
    assert!(
        message.contains("`t0`") && message.contains("past the end"),
        "{message}"
    );
}
