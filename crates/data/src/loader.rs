//! The batch loader: one epoch at a time, it yields `(images [B, C, H, W], labels)` in the
//! epoch's order, with augmentation and normalisation applied, optionally prepared by a
//! background thread one or more batches ahead.
//!
//! Batch i of an epoch is a pure function of the dataset, the configuration, the epoch's
//! [`EpochPlan`] and i ([`BatchLoader::batch`]); the background thread computes exactly the same
//! function in the same order, so the prefetching loader yields the same batches as the
//! synchronous one, bit for bit. The thread sends finished batches through a bounded channel
//! (`std::sync::mpsc::sync_channel` with capacity `prefetch`) and is stopped and joined when the
//! iterator is dropped, also before the epoch's end.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use unravel_tensor::{Float, Tensor};

use crate::augment::{write_image, Augmentation, PixelTable};
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::normalize::Normalization;
use crate::plan::EpochPlan;

/// How the loader batches, orders, augments and converts a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    /// Images per batch B (the last batch may be smaller unless `drop_last`).
    pub batch_size: usize,
    /// A fresh seeded shuffle each epoch; else file order.
    pub shuffle: bool,
    /// Drop the last batch if it has fewer than `batch_size` images.
    pub drop_last: bool,
    /// Random pad-crop-flip; `None` for none (the test set).
    pub augmentation: Option<Augmentation>,
    /// Per-channel normalisation; `None` yields pixels / 255.
    pub normalization: Option<Normalization>,
    /// Seed of the shuffles and augmentations (see [`crate::plan`]).
    pub seed: u64,
    /// Batches a background thread prepares ahead; 0 prepares each batch when asked, on the
    /// calling thread.
    pub prefetch: usize,
}

impl LoaderConfig {
    /// For training: shuffled with `seed`, last partial batch kept, no augmentation or
    /// normalisation (add them with the `with_` methods), one batch prefetched.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: true,
            drop_last: false,
            augmentation: None,
            normalization: None,
            seed,
            prefetch: 1,
        }
    }

    /// For evaluation: file order, no augmentation, one batch prefetched.
    pub fn test(batch_size: usize) -> Self {
        LoaderConfig {
            shuffle: false,
            ..LoaderConfig::train(batch_size, 0)
        }
    }

    /// The same with `augmentation`.
    pub fn with_augmentation(mut self, augmentation: Augmentation) -> Self {
        self.augmentation = Some(augmentation);
        self
    }

    /// The same with `normalization`.
    pub fn with_normalization(mut self, normalization: Normalization) -> Self {
        self.normalization = Some(normalization);
        self
    }

    /// The same with `drop_last`.
    pub fn with_drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The same with `prefetch` batches prepared ahead (0: synchronous).
    pub fn with_prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = prefetch;
        self
    }
}

/// Yields a dataset in batches, epoch by epoch.
///
/// ```
/// use unravel_data::{BatchLoader, Dataset, LoaderConfig, Augmentation};
/// // Five 1×4×4 images, batches of 2.
/// let dataset = Dataset::new("toy", (0..80).collect(), vec![0, 1, 0, 1, 1], [1, 4, 4],
///     vec!["a".into(), "b".into()])?;
/// let config = LoaderConfig::train(2, 7).with_augmentation(Augmentation::paper());
/// let loader = BatchLoader::new(dataset, config)?;
/// let mut seen = 0;
/// for (images, labels) in loader.epoch::<f32>(0) {
///     assert_eq!(&images.shape()[1..], &[1, 4, 4]);
///     assert_eq!(images.shape()[0], labels.len());
///     seen += labels.len();
/// }
/// assert_eq!(seen, 5); // batches of 2, 2 and 1
/// # Ok::<(), unravel_data::DataError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BatchLoader {
    dataset: Arc<Dataset>,
    config: LoaderConfig,
    output_shape: [usize; 3],
}

impl BatchLoader {
    /// A loader of `dataset` with `config`. Fails if the batch size is 0, the normalisation
    /// has a different number of channels than the images, or the crop does not fit.
    pub fn new(dataset: impl Into<Arc<Dataset>>, config: LoaderConfig) -> Result<Self> {
        let dataset = dataset.into();
        if config.batch_size == 0 {
            return Err(DataError::config("loader", "batch size 0"));
        }
        let image_shape = dataset.image_shape();
        if let Some(normalization) = &config.normalization {
            if normalization.channels() != image_shape[0] {
                return Err(DataError::config(
                    "loader",
                    format!(
                        "normalisation for {} channels, images have {}",
                        normalization.channels(),
                        image_shape[0]
                    ),
                ));
            }
        }
        let output_shape = match &config.augmentation {
            Some(augmentation) => augmentation.output_shape(image_shape)?,
            None => image_shape,
        };
        Ok(BatchLoader {
            dataset,
            config,
            output_shape,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<Dataset> {
        &self.dataset
    }

    /// The configuration.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// [C, H, W] of each yielded image (the crop size with augmentation).
    pub fn image_shape(&self) -> [usize; 3] {
        self.output_shape
    }

    /// Batches per epoch: ⌈N / B⌉, or ⌊N / B⌋ with `drop_last`.
    pub fn num_batches(&self) -> usize {
        let (len, batch) = (self.dataset.len(), self.config.batch_size);
        if self.config.drop_last {
            len / batch
        } else {
            len.div_ceil(batch)
        }
    }

    /// The order and transforms of epoch `epoch` (see [`EpochPlan::new`]).
    pub fn plan(&self, epoch: u64) -> EpochPlan {
        EpochPlan::new(
            self.dataset.len(),
            self.dataset.image_shape(),
            self.config.seed,
            epoch,
            self.config.shuffle,
            self.config.augmentation.as_ref(),
        )
    }

    /// Batch `index` of the epoch `plan`, computed on the calling thread: the images at
    /// positions `index·B .. min((index+1)·B, N)` of the plan's order, converted by
    /// [`write_image`], and their labels. Panics if `index >= num_batches()`.
    pub fn batch<E: Float>(&self, plan: &EpochPlan, index: usize) -> (Tensor<E>, Vec<usize>) {
        let table = PixelTable::new(
            self.dataset.image_shape()[0],
            self.config.normalization.as_ref(),
        );
        let (pixels, labels) = assemble_batch(
            &self.dataset,
            plan,
            &table,
            self.config.batch_size,
            self.output_shape,
            index,
        );
        (
            batch_tensor(pixels, labels.len(), self.output_shape),
            labels,
        )
    }

    /// An iterator over the batches of epoch `epoch`.
    pub fn epoch<E: Float>(&self, epoch: u64) -> Batches<E> {
        self.epoch_from(epoch, 0)
    }

    /// An iterator over the batches of epoch `epoch` from batch `first_batch` on, as a run
    /// resumed mid-epoch needs.
    pub fn epoch_from<E: Float>(&self, epoch: u64, first_batch: usize) -> Batches<E> {
        let job = Arc::new(self.job::<E>(self.plan(epoch)));
        let end = self.num_batches();
        let next = first_batch.min(end);
        if self.config.prefetch == 0 {
            return Batches {
                job,
                next,
                end,
                worker: None,
            };
        }
        let (sender, receiver) = sync_channel(self.config.prefetch);
        let stop = Arc::new(AtomicBool::new(false));
        let thread_job = Arc::clone(&job);
        let thread_stop = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("unravel-data-prefetch".to_string())
            .spawn(move || {
                for index in next..end {
                    if thread_stop.load(Ordering::Relaxed) {
                        break;
                    }
                    // A send fails once the receiver is gone: stop then.
                    if sender.send(thread_job.assemble(index)).is_err() {
                        break;
                    }
                }
            });
        // If no thread can be started, fall back to the synchronous loader (same batches).
        let worker = handle.ok().map(|handle| Worker {
            receiver: Some(receiver),
            stop,
            handle: Some(handle),
        });
        Batches {
            job,
            next,
            end,
            worker,
        }
    }

    fn job<E: Float>(&self, plan: EpochPlan) -> BatchJob<E> {
        BatchJob {
            dataset: Arc::clone(&self.dataset),
            table: PixelTable::new(
                self.dataset.image_shape()[0],
                self.config.normalization.as_ref(),
            ),
            plan,
            batch_size: self.config.batch_size,
            output_shape: self.output_shape,
        }
    }
}

/// Everything needed to assemble any batch of one epoch; shared with the background thread.
struct BatchJob<E> {
    dataset: Arc<Dataset>,
    plan: EpochPlan,
    table: PixelTable<E>,
    batch_size: usize,
    output_shape: [usize; 3],
}

impl<E: Float> BatchJob<E> {
    fn assemble(&self, index: usize) -> (Vec<E>, Vec<usize>) {
        assemble_batch(
            &self.dataset,
            &self.plan,
            &self.table,
            self.batch_size,
            self.output_shape,
            index,
        )
    }

    fn tensor(&self, pixels: Vec<E>, batch: usize) -> Tensor<E> {
        batch_tensor(pixels, batch, self.output_shape)
    }
}

/// Pixels [b, C, H, W] and labels of batch `index`: the images at positions
/// `index·B .. min((index+1)·B, N)` of the plan's order, each written by [`write_image`].
fn assemble_batch<E: Float>(
    dataset: &Dataset,
    plan: &EpochPlan,
    table: &PixelTable<E>,
    batch_size: usize,
    output_shape: [usize; 3],
    index: usize,
) -> (Vec<E>, Vec<usize>) {
    let start = index * batch_size;
    let stop = (start + batch_size).min(plan.order().len());
    let out_len: usize = output_shape.iter().product();
    let mut pixels = vec![E::ZERO; (stop - start) * out_len];
    let mut labels = Vec::with_capacity(stop - start);
    for (position, output) in (start..stop).zip(pixels.chunks_exact_mut(out_len)) {
        let image_index = plan.order()[position];
        write_image(
            dataset.image(image_index),
            dataset.image_shape(),
            plan.transform(position),
            table,
            output,
            output_shape,
        );
        labels.push(dataset.label(image_index));
    }
    (pixels, labels)
}

/// `pixels` as a tensor [batch, C, H, W].
fn batch_tensor<E: Float>(pixels: Vec<E>, batch: usize, output_shape: [usize; 3]) -> Tensor<E> {
    let [channels, height, width] = output_shape;
    // images: [B, C, H, W]
    Tensor::from_vec(pixels, &[batch, channels, height, width])
        .expect("a batch has B·C·H·W pixels by construction")
}

/// The background thread of a prefetching [`Batches`].
struct Worker<E> {
    receiver: Option<Receiver<(Vec<E>, Vec<usize>)>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl<E> Worker<E> {
    /// Stops the thread and waits for it; returns its panic, if it panicked.
    fn shut_down(&mut self) -> Option<Box<dyn std::any::Any + Send>> {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receiver wakes a thread blocked in `send`, which then fails.
        self.receiver = None;
        self.handle.take().and_then(|handle| handle.join().err())
    }
}

impl<E> Drop for Worker<E> {
    fn drop(&mut self) {
        // A panic of the thread has already been resumed by `next`, or is dropped here.
        let _ = self.shut_down();
    }
}

/// The batches of one epoch: `(images [B, C, H, W], labels)`, made by [`BatchLoader::epoch`].
/// Dropping it stops its background thread.
pub struct Batches<E> {
    job: Arc<BatchJob<E>>,
    next: usize,
    end: usize,
    worker: Option<Worker<E>>,
}

impl<E> Batches<E> {
    /// Whether a background thread prepares the batches.
    pub fn is_prefetching(&self) -> bool {
        self.worker.is_some()
    }
}

impl<E: Float> Iterator for Batches<E> {
    type Item = (Tensor<E>, Vec<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let index = self.next;
        self.next += 1;
        let (pixels, labels) = match &mut self.worker {
            None => self.job.assemble(index),
            Some(worker) => {
                let received = worker.receiver.as_ref().and_then(|r| r.recv().ok());
                match received {
                    Some(batch) => batch,
                    // The thread ended early: it can only have panicked; pass the panic on.
                    None => match worker.shut_down() {
                        Some(panic) => std::panic::resume_unwind(panic),
                        None => self.job.assemble(index),
                    },
                }
            }
        };
        let batch = labels.len();
        Some((self.job.tensor(pixels, batch), labels))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let remaining = self.end - self.next;
        (remaining, Some(remaining))
    }
}

impl<E: Float> ExactSizeIterator for Batches<E> {}
