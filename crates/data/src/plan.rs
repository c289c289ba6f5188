//! What one epoch does, decided before its first batch: the order of the images (a fresh
//! shuffle each epoch) and each image's crop and flip.
//!
//! Epoch e's random numbers depend only on the seed and e, so a resumed run reproduces any
//! epoch without replaying the ones before. They come from ChaCha8 streams of the generator
//! [`Rng::seed_from`]`(seed)` (same key, independent streams): stream `2e + 1` shuffles,
//! stream `2e + 2` draws the augmentation. Stream 0, the one `Rng::seed_from(seed)` itself
//! uses, is left to the caller.

use unravel_tensor::Rng;

use crate::augment::{Augmentation, Transform};

/// Which of an epoch's two random streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpochStream {
    /// The permutation of the images.
    Shuffle,
    /// The crop offsets and flips.
    Augment,
}

/// The generator of `stream` for epoch `epoch` (see the module documentation).
///
/// ```
/// use unravel_data::plan::{epoch_rng, EpochStream};
/// let mut a = epoch_rng(42, 3, EpochStream::Shuffle);
/// let mut b = epoch_rng(42, 3, EpochStream::Shuffle);
/// assert_eq!(a.next_u64(), b.next_u64());
/// ```
pub fn epoch_rng(seed: u64, epoch: u64, stream: EpochStream) -> Rng {
    let (key, _, _) = Rng::seed_from(seed).state();
    let offset = match stream {
        EpochStream::Shuffle => 1,
        EpochStream::Augment => 2,
    };
    Rng::from_state(key, 0, epoch.wrapping_mul(2).wrapping_add(offset))
}

/// The order of the `len` images in epoch `epoch`: a Fisher–Yates shuffle ([`Rng::shuffle`])
/// of `0..len` with the epoch's shuffle stream.
///
/// ```
/// let order = unravel_data::plan::epoch_order(7, 0, 5);
/// let mut sorted = order.clone();
/// sorted.sort();
/// assert_eq!(sorted, [0, 1, 2, 3, 4]);
/// ```
pub fn epoch_order(seed: u64, epoch: u64, len: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    epoch_rng(seed, epoch, EpochStream::Shuffle).shuffle(&mut order);
    order
}

/// One epoch's image order and per-position transforms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochPlan {
    order: Vec<usize>,
    transforms: Option<Vec<Transform>>,
}

impl EpochPlan {
    /// The plan of epoch `epoch` for `len` images of `image_shape`: shuffled by
    /// [`epoch_order`] if `shuffle`, else in file order; with `augmentation`, one
    /// [`Augmentation::draw`] per position, in epoch order, from the epoch's augment stream.
    pub fn new(
        len: usize,
        image_shape: [usize; 3],
        seed: u64,
        epoch: u64,
        shuffle: bool,
        augmentation: Option<&Augmentation>,
    ) -> Self {
        let order = if shuffle {
            epoch_order(seed, epoch, len)
        } else {
            (0..len).collect()
        };
        let transforms = augmentation.map(|augmentation| {
            let mut rng = epoch_rng(seed, epoch, EpochStream::Augment);
            (0..len)
                .map(|_| augmentation.draw(image_shape, &mut rng))
                .collect()
        });
        EpochPlan { order, transforms }
    }

    /// Image indices in the order the epoch visits them.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Transform of the image at each position of [`EpochPlan::order`]; `None` without
    /// augmentation.
    pub fn transforms(&self) -> Option<&[Transform]> {
        self.transforms.as_deref()
    }

    /// Transform of the image at `position`.
    pub fn transform(&self, position: usize) -> Transform {
        match &self.transforms {
            Some(transforms) => transforms[position],
            None => Transform::IDENTITY,
        }
    }
}
