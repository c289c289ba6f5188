//! An image-classification dataset held in memory as bytes: images u8 [N, C, H, W], one label
//! per image, and the class names. Pixels stay `u8` (60 000 × 784 bytes for Fashion-MNIST) and
//! are converted to floats one batch at a time by the loader.

use crate::error::{DataError, Result};

/// An in-memory image-classification dataset.
///
/// ```
/// use unravel_data::Dataset;
/// // Three 1×2×2 images with labels 0, 1, 1 out of two classes.
/// let images = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
/// let dataset = Dataset::new("toy", images, vec![0, 1, 1], [1, 2, 2], vec!["a".into(), "b".into()])
///     .unwrap();
/// assert_eq!(dataset.len(), 3);
/// assert_eq!(dataset.image(1), &[4, 5, 6, 7]);
/// assert_eq!(dataset.class_counts(), vec![1, 2]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    name: String,
    images: Vec<u8>,
    labels: Vec<u8>,
    image_shape: [usize; 3],
    class_names: Vec<String>,
}

impl Dataset {
    /// A dataset of `labels.len()` images of shape `image_shape` = [C, H, W], stored one after
    /// the other in `images` (row-major [N, C, H, W]).
    ///
    /// Fails if `images.len() != N·C·H·W`, a side is zero, there are no classes or more than
    /// 256, or a label is not below the number of classes.
    pub fn new(
        name: impl Into<String>,
        images: Vec<u8>,
        labels: Vec<u8>,
        image_shape: [usize; 3],
        class_names: Vec<String>,
    ) -> Result<Self> {
        let name = name.into();
        if image_shape.contains(&0) {
            return Err(DataError::config(
                "dataset",
                format!("{name}: image shape {image_shape:?} has a zero side"),
            ));
        }
        if class_names.is_empty() || class_names.len() > 256 {
            return Err(DataError::config(
                "dataset",
                format!(
                    "{name}: {} classes; a dataset needs between 1 and 256",
                    class_names.len()
                ),
            ));
        }
        let image_len: usize = image_shape.iter().product();
        if labels.len().checked_mul(image_len) != Some(images.len()) {
            return Err(DataError::config(
                "dataset",
                format!(
                    "{name}: {} image bytes are not {} images of {image_shape:?}",
                    images.len(),
                    labels.len()
                ),
            ));
        }
        if let Some(index) = labels
            .iter()
            .position(|&label| usize::from(label) >= class_names.len())
        {
            return Err(DataError::config(
                "dataset",
                format!(
                    "{name}: label {} of image {index} is not below the {} classes",
                    labels[index],
                    class_names.len()
                ),
            ));
        }
        Ok(Dataset {
            name,
            images,
            labels,
            image_shape,
            class_names,
        })
    }

    /// The dataset's name, e.g. `"Fashion-MNIST (train)"`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of images N.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// [C, H, W] of every image.
    pub fn image_shape(&self) -> [usize; 3] {
        self.image_shape
    }

    /// C·H·W, the bytes of one image.
    pub fn image_len(&self) -> usize {
        self.image_shape.iter().product()
    }

    /// All pixels, row-major [N, C, H, W].
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// Pixels of image `index`, row-major [C, H, W]. Panics if `index >= len()`, like slice
    /// indexing.
    pub fn image(&self, index: usize) -> &[u8] {
        let image_len = self.image_len();
        &self.images[index * image_len..(index + 1) * image_len]
    }

    /// All labels, each below [`Dataset::num_classes`].
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// Label of image `index`.
    pub fn label(&self, index: usize) -> usize {
        usize::from(self.labels[index])
    }

    /// Names of the classes, indexed by label.
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// How many images each class has, indexed by label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.num_classes()];
        for &label in &self.labels {
            counts[usize::from(label)] += 1;
        }
        counts
    }

    /// The images at `indices`, in that order (repeats allowed): e.g. the first 1000 images for
    /// a quick run. Fails if an index is out of range.
    ///
    /// ```
    /// # use unravel_data::Dataset;
    /// let dataset = Dataset::new("toy", vec![10, 20, 30], vec![0, 1, 0], [1, 1, 1],
    ///     vec!["a".into(), "b".into()]).unwrap();
    /// let subset = dataset.subset(&[2, 1]).unwrap();
    /// assert_eq!(subset.images(), &[30, 20]);
    /// assert_eq!(subset.labels(), &[0, 1]);
    /// ```
    pub fn subset(&self, indices: &[usize]) -> Result<Dataset> {
        if let Some(&bad) = indices.iter().find(|&&index| index >= self.len()) {
            return Err(DataError::config(
                "subset",
                format!("index {bad} is out of range for {} images", self.len()),
            ));
        }
        let mut images = Vec::with_capacity(indices.len() * self.image_len());
        let mut labels = Vec::with_capacity(indices.len());
        for &index in indices {
            images.extend_from_slice(self.image(index));
            labels.push(self.labels[index]);
        }
        Ok(Dataset {
            name: self.name.clone(),
            images,
            labels,
            image_shape: self.image_shape,
            class_names: self.class_names.clone(),
        })
    }
}
