//! Kendall's rank correlation τ between two orderings of the same blocks (Veit et al. 2016,
//! §4, Fig. 5b: the error after reordering against how far the order moved).
//!
//! For two rankings of n items, τ = (C − D) / (n(n−1)/2), where C and D count the concordant
//! and discordant pairs (τ-a; there are no ties in an ordering). D is the number of inversions
//! of the permutation that maps one order onto the other, counted here by merge sort in
//! O(n log n).

use crate::error::{ResnetError, Result};

/// τ between orders `a` and `b`, each a permutation of the same items (`a[p]` is the item at
/// position p). 1 for the same order, −1 for the reverse; 1 for fewer than two items.
///
/// ```
/// use unravel_resnet::ensemble::kendall_tau;
/// assert_eq!(kendall_tau(&[0, 1, 2, 3], &[0, 1, 2, 3])?, 1.0);
/// assert_eq!(kendall_tau(&[0, 1, 2, 3], &[3, 2, 1, 0])?, -1.0);
/// // One swap of neighbours: 1 discordant pair of 6.
/// assert!((kendall_tau(&[0, 1, 2, 3], &[1, 0, 2, 3])? - 4.0 / 6.0).abs() < 1e-12);
/// # Ok::<(), unravel_resnet::ResnetError>(())
/// ```
pub fn kendall_tau(a: &[usize], b: &[usize]) -> Result<f64> {
    let n = a.len();
    let invalid = |message: String| Err(ResnetError::experiment("Kendall's tau", message));
    if b.len() != n {
        return invalid(format!("orders of {} and {} items", n, b.len()));
    }
    // position_in_a[item] = where `item` stands in a.
    let mut position_in_a = vec![usize::MAX; n];
    for (position, &item) in a.iter().enumerate() {
        if item >= n || position_in_a[item] != usize::MAX {
            return invalid(format!("{a:?} is not a permutation of 0..{n}"));
        }
        position_in_a[item] = position;
    }
    let mut seen = vec![false; n];
    let mut sequence = Vec::with_capacity(n);
    for &item in b {
        if item >= n || seen[item] {
            return invalid(format!("{b:?} is not a permutation of 0..{n}"));
        }
        seen[item] = true;
        sequence.push(position_in_a[item]);
    }
    if n < 2 {
        return Ok(1.0);
    }
    let discordant = count_inversions(&mut sequence) as f64;
    let pairs = (n * (n - 1) / 2) as f64;
    Ok((pairs - 2.0 * discordant) / pairs)
}

/// The number of pairs i < j with `values[i] > values[j]`; sorts `values`.
fn count_inversions(values: &mut [usize]) -> u64 {
    let n = values.len();
    if n < 2 {
        return 0;
    }
    let middle = n / 2;
    let mut inversions = count_inversions(&mut values[..middle]);
    inversions += count_inversions(&mut values[middle..]);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, middle);
    while i < middle && j < n {
        if values[i] <= values[j] {
            merged.push(values[i]);
            i += 1;
        } else {
            // values[j] is smaller than every remaining element of the left half.
            inversions += (middle - i) as u64;
            merged.push(values[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&values[i..middle]);
    merged.extend_from_slice(&values[j..]);
    values.copy_from_slice(&merged);
    inversions
}
