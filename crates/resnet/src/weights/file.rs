//! Reading safetensors files from untrusted bytes: [`SafetensorsFile`] decodes every tensor
//! (F32, F64, I64) with its dtype, shape and byte offset.
//!
//! The format: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each
//! tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the end of
//! the header) plus an optional `__metadata__` map of strings, then the data. This reader
//! checks every claim of the header against the bytes actually present before it allocates
//! anything for a tensor, with checked arithmetic throughout: whatever the bytes, it returns a
//! [`ResnetError::File`] naming the file, the tensor when there is one, and the byte offset in
//! the file where the problem is — never a panic, and never an allocation larger than a small
//! multiple of the input (an F32 tensor is widened to f64: 2× its bytes).
//!
//! It accepts exactly the files the `safetensors` crate accepts for these dtypes: tensors lie
//! back to back in the order of their offsets, with no gap, and the last one ends at the end
//! of the file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::Dtype;
use serde::Deserialize;
use unravel_tensor::{Float, Tensor};

use crate::error::{ResnetError, Result};

/// Headers longer than this are refused (the `safetensors` crate's limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The values of one stored tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredData {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

/// One tensor of a safetensors file.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte offset of the tensor's data in the file.
    pub offset: u64,
    pub data: StoredData,
}

/// A whole safetensors file, decoded (F32, F64 and I64 tensors; other dtypes are an error
/// naming the tensor and its byte offset).
#[derive(Debug, Clone)]
pub struct SafetensorsFile {
    pub path: PathBuf,
    pub tensors: BTreeMap<String, StoredTensor>,
    /// The `__metadata__` map.
    pub metadata: HashMap<String, String>,
}

pub(crate) fn file_error(
    path: &Path,
    offset: Option<u64>,
    message: impl Into<String>,
) -> ResnetError {
    ResnetError::File {
        path: path.to_path_buf(),
        offset,
        message: message.into(),
    }
}

/// One header entry, as the JSON states it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderEntry {
    dtype: Dtype,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

/// Byte offset in the file of a serde_json error in the header (which starts at byte 8); the
/// header's start when the error is not on its first line.
fn json_offset(error: &serde_json::Error) -> u64 {
    if error.line() == 1 && error.column() > 0 {
        8 + error.column() as u64 - 1
    } else {
        8
    }
}

/// The bytes per element of the dtypes this reader decodes.
fn element_bytes(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F32 => Some(4),
        Dtype::F64 | Dtype::I64 => Some(8),
        _ => None,
    }
}

fn decode(dtype: Dtype, raw: &[u8]) -> StoredData {
    fn words<const N: usize>(raw: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
        raw.chunks_exact(N).map(|chunk| {
            let mut word = [0u8; N];
            word.copy_from_slice(chunk);
            word
        })
    }
    match dtype {
        Dtype::F32 => StoredData::Float(
            words::<4>(raw)
                .map(|w| f64::from(f32::from_le_bytes(w)))
                .collect(),
        ),
        Dtype::F64 => StoredData::Float(words::<8>(raw).map(f64::from_le_bytes).collect()),
        _ => StoredData::Int(words::<8>(raw).map(i64::from_le_bytes).collect()),
    }
}

impl SafetensorsFile {
    /// Reads and decodes `path` (through [`SafetensorsFile::from_bytes`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ResnetError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(path, &bytes)
    }

    /// Decodes the bytes of a safetensors file (`path` names it in errors).
    ///
    /// ```
    /// use std::path::Path;
    /// use unravel_resnet::weights::SafetensorsFile;
    /// let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    /// let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    /// bytes.extend(header);
    /// bytes.extend(1.5f32.to_le_bytes());
    /// bytes.extend((-2.0f32).to_le_bytes());
    /// let file = SafetensorsFile::from_bytes(Path::new("w.safetensors"), &bytes)?;
    /// assert_eq!(file.tensor::<f64>("w")?.to_vec(), vec![1.5, -2.0]);
    /// assert_eq!(file.tensors["w"].offset, 8 + header.len() as u64);
    ///
    /// // A header that claims more data than the file holds is an error naming the tensor.
    /// let lying = SafetensorsFile::from_bytes(Path::new("w.safetensors"), &bytes[..bytes.len() - 1]);
    /// assert!(lying.unwrap_err().to_string().contains("`w`"));
    /// # Ok::<(), unravel_resnet::ResnetError>(())
    /// ```
    pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Self> {
        let error = |offset: u64, message: String| file_error(path, Some(offset), message);
        let Some(length_bytes) = bytes.get(..8) else {
            return Err(error(
                0,
                format!(
                    "not a safetensors file: {} bytes, fewer than the 8 of the header length",
                    bytes.len()
                ),
            ));
        };
        let header_length = u64::from_le_bytes(length_bytes.try_into().expect("8 bytes"));
        if header_length > MAX_HEADER_BYTES {
            return Err(error(
                0,
                format!(
                    "header length {header_length} exceeds the limit of {MAX_HEADER_BYTES} bytes"
                ),
            ));
        }
        // At most 100 MB, so it fits in usize and 8 + length cannot overflow.
        let data_start = 8 + header_length as usize;
        let Some(header) = bytes.get(8..data_start) else {
            return Err(error(
                0,
                format!(
                    "header length {header_length} runs past the end of the file ({} bytes)",
                    bytes.len()
                ),
            ));
        };
        let header = std::str::from_utf8(header).map_err(|e| {
            error(
                8 + e.valid_up_to() as u64,
                "the header is not valid UTF-8".into(),
            )
        })?;
        let entries: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(header).map_err(|e| {
                error(
                    json_offset(&e),
                    format!("the header is not valid JSON: {e}"),
                )
            })?;
        let data = &bytes[data_start..];
        let data_start = data_start as u64;

        let mut metadata = HashMap::new();
        let mut layout: Vec<(String, HeaderEntry)> = Vec::with_capacity(entries.len());
        for (name, value) in entries {
            if name == "__metadata__" {
                metadata = serde_json::from_value(value).map_err(|e| {
                    error(8, format!("`__metadata__` is not a map of strings: {e}"))
                })?;
                continue;
            }
            let entry: HeaderEntry = serde_json::from_value(value)
                .map_err(|e| error(8, format!("header entry of tensor `{name}`: {e}")))?;
            layout.push((name, entry));
        }
        layout.sort_by_key(|(_, entry)| entry.data_offsets);

        let mut tensors = BTreeMap::new();
        let mut expected_begin = 0usize;
        for (name, entry) in layout {
            let (begin, end) = entry.data_offsets;
            let offset = data_start.saturating_add(begin as u64);
            let fail = |message: String| error(offset, format!("tensor `{name}`: {message}"));
            if begin != expected_begin {
                return Err(fail(format!(
                    "data offsets [{begin}, {end}] leave a gap or overlap: the previous tensor ends at {expected_begin}"
                )));
            }
            let elements = entry
                .shape
                .iter()
                .try_fold(1usize, |count, &size| count.checked_mul(size));
            let Some(size) = element_bytes(entry.dtype) else {
                return Err(fail(format!(
                    "dtype {:?}; only F32, F64 and I64 are read",
                    entry.dtype
                )));
            };
            let byte_count = elements.and_then(|count| count.checked_mul(size));
            if end.checked_sub(begin) != byte_count || byte_count.is_none() {
                return Err(fail(format!(
                    "data offsets [{begin}, {end}] do not hold {:?} {:?} ({} bytes each)",
                    entry.shape, entry.dtype, size
                )));
            }
            let Some(raw) = data.get(begin..end) else {
                return Err(fail(format!(
                    "data offsets [{begin}, {end}] run past the end of the file ({} data bytes)",
                    data.len()
                )));
            };
            expected_begin = end;
            tensors.insert(
                name,
                StoredTensor {
                    dtype: entry.dtype,
                    shape: entry.shape,
                    offset,
                    data: decode(entry.dtype, raw),
                },
            );
        }
        if expected_begin != data.len() {
            return Err(error(
                data_start + expected_begin as u64,
                format!(
                    "{} bytes after the last tensor's data",
                    data.len() - expected_begin
                ),
            ));
        }
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            tensors,
            metadata,
        })
    }

    fn entry(&self, name: &str) -> Result<&StoredTensor> {
        self.tensors
            .get(name)
            .ok_or_else(|| file_error(&self.path, None, format!("no tensor named `{name}`")))
    }

    /// Floating-point tensor `name`, converted to `E`.
    pub fn tensor<E: Float>(&self, name: &str) -> Result<Tensor<E>> {
        let entry = self.entry(name)?;
        match &entry.data {
            StoredData::Float(values) => Ok(Tensor::from_vec(
                values.iter().map(|&v| E::from_f64(v)).collect(),
                &entry.shape,
            )?),
            StoredData::Int(_) => Err(file_error(
                &self.path,
                Some(entry.offset),
                format!(
                    "tensor `{name}` is {:?}, expected a floating-point tensor",
                    entry.dtype
                ),
            )),
        }
    }

    /// Integer tensor `name` (I64), flattened.
    pub fn int64(&self, name: &str) -> Result<Vec<i64>> {
        let entry = self.entry(name)?;
        match &entry.data {
            StoredData::Int(values) => Ok(values.clone()),
            StoredData::Float(_) => Err(file_error(
                &self.path,
                Some(entry.offset),
                format!("tensor `{name}` is {:?}, expected I64", entry.dtype),
            )),
        }
    }
}
