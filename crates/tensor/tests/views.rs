//! View ops: results against index arithmetic written out by hand, view-versus-copy behaviour,
//! copy-on-write, and error paths.

use std::sync::Arc;

use unravel_tensor::{Rng, Tensor, TensorError};

/// `[2, 3, 4]` holding 0, 1, …, 23.
fn counting() -> Tensor<f64> {
    Tensor::from_vec((0..24).map(f64::from).collect(), &[2, 3, 4]).unwrap()
}

fn shares_storage(a: &Tensor<f64>, b: &Tensor<f64>) -> bool {
    Arc::ptr_eq(a.storage(), b.storage())
}

#[test]
fn reshape_is_a_view_when_possible_and_a_copy_otherwise() {
    let x = counting();
    let r = x.reshape(&[6, 4]).unwrap();
    assert!(shares_storage(&x, &r));
    assert_eq!(r.to_vec(), x.to_vec());
    // A transpose cannot be flattened without a copy; the values follow row-major order.
    let t = x.transpose(1, 2).unwrap(); // [2, 4, 3]
    let flat = t.reshape(&[24]).unwrap();
    assert!(!shares_storage(&x, &flat));
    let expected: Vec<f64> = (0..2)
        .flat_map(|a| (0..4).flat_map(move |c| (0..3).map(move |b| (a * 12 + b * 4 + c) as f64)))
        .collect();
    assert_eq!(flat.to_vec(), expected);
    // Splitting an axis of a narrowed tensor is still a view.
    let narrowed = x.narrow(2, 1, 2).unwrap(); // [2, 3, 2]
    let split = narrowed.reshape(&[2, 3, 2, 1]).unwrap();
    assert!(shares_storage(&x, &split));
    assert_eq!(split.to_vec(), narrowed.to_vec());
    let merged = narrowed.reshape(&[6, 2]).unwrap();
    assert!(shares_storage(&x, &merged));
    assert_eq!(merged.to_vec(), narrowed.to_vec());
    let all = narrowed.reshape(&[12]).unwrap();
    assert_eq!(all.to_vec(), narrowed.to_vec());
    // Broadcast layouts reshape correctly too.
    let b = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1])
        .unwrap()
        .broadcast_to(&[3, 4])
        .unwrap();
    assert_eq!(b.reshape(&[3, 2, 2]).unwrap().to_vec(), b.to_vec());
    assert_eq!(b.reshape(&[12]).unwrap().to_vec(), b.to_vec());
    assert_eq!(b.reshape(&[2, 6]).unwrap().to_vec(), b.to_vec());
}

#[test]
fn reshape_of_random_views_preserves_row_major_order() {
    let mut rng = Rng::seed_from(1);
    let x = Tensor::<f64>::randn(&[4, 6, 10], 0.0, 1.0, &mut rng);
    let views = [
        x.permute(&[2, 0, 1]).unwrap(),
        x.slice(2, 1, 10, 3).unwrap(),
        x.narrow(1, 2, 3).unwrap(),
        x.slice(0, 0, 4, 2).unwrap().transpose(0, 2).unwrap(),
    ];
    for view in views {
        let n = view.numel();
        let values = view.to_vec();
        for shape in [
            vec![n],
            vec![1, n, 1],
            view.shape().iter().rev().copied().collect(),
        ] {
            assert_eq!(
                view.reshape(&shape).unwrap().to_vec(),
                values,
                "{:?} -> {shape:?}",
                view.shape()
            );
        }
    }
}

#[test]
fn flatten_merges_axes() {
    let x = counting();
    assert_eq!(x.flatten(1, 2).unwrap().shape(), &[2, 12]);
    assert_eq!(x.flatten(0, 2).unwrap().shape(), &[24]);
    assert_eq!(x.flatten(1, 1).unwrap().shape(), &[2, 3, 4]);
    assert_eq!(x.flatten(0, 1).unwrap().to_vec(), x.to_vec());
    assert!(matches!(
        x.flatten(2, 1),
        Err(TensorError::InvalidArgument { op: "flatten", .. })
    ));
    assert!(matches!(
        x.flatten(0, 3),
        Err(TensorError::AxisOutOfRange {
            op: "flatten",
            axis: 3,
            rank: 3
        })
    ));
}

#[test]
fn permute_and_transpose_index_correctly() {
    let x = counting();
    let p = x.permute(&[2, 0, 1]).unwrap();
    assert_eq!(p.shape(), &[4, 2, 3]);
    assert!(!p.is_contiguous());
    assert!(shares_storage(&x, &p));
    for a in 0..2 {
        for b in 0..3 {
            for c in 0..4 {
                assert_eq!(p.get(&[c, a, b]).unwrap(), x.get(&[a, b, c]).unwrap());
            }
        }
    }
    let t = x.transpose(0, 2).unwrap();
    assert_eq!(t.get(&[3, 1, 0]).unwrap(), x.get(&[0, 1, 3]).unwrap());
    assert_eq!(x.transpose(1, 1).unwrap().to_vec(), x.to_vec());
    assert!(matches!(
        x.permute(&[0, 1]),
        Err(TensorError::InvalidArgument { op: "permute", .. })
    ));
    assert!(matches!(
        x.permute(&[0, 1, 1]),
        Err(TensorError::InvalidArgument { op: "permute", .. })
    ));
    assert!(matches!(
        x.permute(&[0, 1, 3]),
        Err(TensorError::AxisOutOfRange { op: "permute", .. })
    ));
    assert!(matches!(
        x.transpose(0, 3),
        Err(TensorError::AxisOutOfRange {
            op: "transpose",
            ..
        })
    ));
}

#[test]
fn narrow_and_stepped_slices() {
    let x = counting();
    let n = x.narrow(1, 1, 2).unwrap();
    assert_eq!(n.shape(), &[2, 2, 4]);
    assert_eq!(n.get(&[1, 0, 2]).unwrap(), x.get(&[1, 1, 2]).unwrap());
    let s = x.slice(2, 1, 4, 2).unwrap();
    assert_eq!(s.shape(), &[2, 3, 2]);
    assert_eq!(s.get(&[0, 0, 1]).unwrap(), 3.0);
    assert_eq!(s.get(&[1, 2, 0]).unwrap(), 21.0);
    // A stepped slice of a stepped slice.
    let line = Tensor::<f64>::arange(0.0, 20.0, 1.0).unwrap();
    let twice = line.slice(0, 1, 20, 3).unwrap().slice(0, 1, 7, 2).unwrap();
    assert_eq!(twice.to_vec(), vec![4.0, 10.0, 16.0]);
    // Empty slices are allowed.
    assert_eq!(x.narrow(2, 4, 0).unwrap().shape(), &[2, 3, 0]);
    assert_eq!(x.slice(0, 1, 1, 5).unwrap().numel(), 0);
    assert!(matches!(
        x.narrow(1, 2, 2),
        Err(TensorError::InvalidArgument { op: "slice", .. })
    ));
    assert!(matches!(
        x.narrow(1, usize::MAX, 2),
        Err(TensorError::InvalidArgument { op: "narrow", .. })
    ));
    assert!(matches!(
        x.slice(0, 0, 2, 0),
        Err(TensorError::InvalidArgument { op: "slice", .. })
    ));
    assert!(matches!(
        x.slice(0, 2, 1, 1),
        Err(TensorError::InvalidArgument { op: "slice", .. })
    ));
    assert!(matches!(
        x.slice(3, 0, 1, 1),
        Err(TensorError::AxisOutOfRange { op: "slice", .. })
    ));
}

#[test]
fn broadcast_to_and_expand_repeat_without_copying() {
    let column = Tensor::<f64>::from_vec(vec![1.0, 2.0, 3.0], &[3, 1]).unwrap();
    let b = column.broadcast_to(&[2, 3, 4]).unwrap();
    assert!(shares_storage(&column, &b));
    assert_eq!(b.strides(), &[0, 1, 0]);
    assert_eq!(b.get(&[1, 2, 3]).unwrap(), 3.0);
    assert_eq!(b.to_vec().iter().sum::<f64>(), 2.0 * 4.0 * 6.0);
    let e = column.expand(&[Some(2), None, Some(4)]).unwrap();
    assert_eq!(e.to_vec(), b.to_vec());
    assert_eq!(
        column.broadcast_to(&[3, 2]).unwrap().to_vec(),
        vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0]
    );
    assert_eq!(
        column.broadcast_to(&[2, 4]).unwrap_err(),
        TensorError::Broadcast {
            op: "broadcast_to",
            lhs: vec![3, 1],
            rhs: vec![2, 4]
        }
    );
    assert!(matches!(
        column.broadcast_to(&[3]),
        Err(TensorError::Broadcast {
            op: "broadcast_to",
            ..
        })
    ));
    assert!(matches!(
        column.expand(&[None, None, None]),
        Err(TensorError::InvalidArgument { op: "expand", .. })
    ));
    assert!(matches!(
        column.expand(&[None]),
        Err(TensorError::Broadcast { op: "expand", .. })
    ));
}

#[test]
fn squeeze_and_unsqueeze() {
    let x = counting();
    let u = x.unsqueeze(1).unwrap();
    assert_eq!(u.shape(), &[2, 1, 3, 4]);
    assert!(shares_storage(&x, &u));
    assert_eq!(x.unsqueeze(3).unwrap().shape(), &[2, 3, 4, 1]);
    assert_eq!(u.squeeze(1).unwrap().shape(), &[2, 3, 4]);
    assert_eq!(u.squeeze(1).unwrap().to_vec(), x.to_vec());
    // On a non-contiguous tensor the result is still a view with the right values.
    let t = x.transpose(0, 2).unwrap().unsqueeze(0).unwrap();
    assert_eq!(t.shape(), &[1, 4, 3, 2]);
    assert_eq!(t.get(&[0, 3, 1, 0]).unwrap(), x.get(&[0, 1, 3]).unwrap());
    assert!(shares_storage(&x, &t));
    assert!(matches!(
        x.unsqueeze(4),
        Err(TensorError::AxisOutOfRange {
            op: "unsqueeze",
            ..
        })
    ));
    assert!(matches!(
        x.squeeze(0),
        Err(TensorError::InvalidArgument { op: "squeeze", .. })
    ));
    assert!(matches!(
        x.squeeze(3),
        Err(TensorError::AxisOutOfRange { op: "squeeze", .. })
    ));
}

#[test]
fn contiguous_copies_only_when_needed() {
    let x = counting();
    assert!(shares_storage(&x, &x.contiguous()));
    let t = x.permute(&[1, 2, 0]).unwrap();
    let c = t.contiguous();
    assert!(c.is_contiguous());
    assert!(!shares_storage(&x, &c));
    assert_eq!(c.to_vec(), t.to_vec());
    assert_eq!(c.strides(), &[8, 2, 1]);
    assert_eq!(t.as_slice(), None);
    assert_eq!(c.as_slice().unwrap(), &t.to_vec()[..]);
    // A narrowed outer axis is contiguous with an offset: as_slice starts at the offset.
    let tail = x.narrow(0, 1, 1).unwrap();
    assert!(tail.is_contiguous());
    assert_eq!(tail.as_slice().unwrap()[0], 12.0);
}

#[test]
fn data_mut_copies_on_write() {
    let x = counting();
    let mut y = x.clone();
    let view = x.narrow(1, 0, 1).unwrap();
    y.data_mut().unwrap()[0] = 100.0;
    assert_eq!(y.get(&[0, 0, 0]).unwrap(), 100.0);
    assert_eq!(x.get(&[0, 0, 0]).unwrap(), 0.0, "the original is untouched");
    assert_eq!(
        view.get(&[0, 0, 0]).unwrap(),
        0.0,
        "other views are untouched"
    );
    // Writing through a view makes it dense and leaves its parent alone.
    let mut t = x.transpose(0, 2).unwrap();
    t.data_mut().unwrap()[1] = -1.0;
    assert!(t.is_contiguous());
    assert_eq!(t.get(&[0, 0, 1]).unwrap(), -1.0);
    assert_eq!(x.get(&[1, 0, 0]).unwrap(), 12.0);
    // A uniquely owned dense tensor is written in place (no copy).
    let mut owned = Tensor::<f64>::zeros(&[4]);
    let before = Arc::as_ptr(owned.storage());
    owned.data_mut().unwrap()[3] = 1.0;
    assert_eq!(Arc::as_ptr(owned.storage()), before);
    assert_eq!(owned.to_vec(), vec![0.0, 0.0, 0.0, 1.0]);
}
