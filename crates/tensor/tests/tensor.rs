//! Creation and accessors: constructors, `from_vec` errors, seeded random tensors, `get`/`item`.

use unravel_tensor::{DType, Device, Rng, Tensor, TensorError};

#[test]
fn constant_constructors() {
    let z = Tensor::<f32>::zeros(&[2, 3]);
    assert_eq!(z.shape(), &[2, 3]);
    assert_eq!(z.to_vec(), vec![0.0; 6]);
    assert_eq!(Tensor::<f64>::ones(&[4]).to_vec(), vec![1.0; 4]);
    assert_eq!(Tensor::<f32>::full(&[2, 2], 2.5).to_vec(), vec![2.5; 4]);
    let s = Tensor::<f64>::scalar(7.0);
    assert_eq!(s.rank(), 0);
    assert_eq!(s.numel(), 1);
    assert_eq!(s.item().unwrap(), 7.0);
    let empty = Tensor::<f32>::zeros(&[3, 0]);
    assert_eq!(empty.numel(), 0);
    assert!(empty.to_vec().is_empty());
    assert_eq!(z.dtype(), DType::F32);
    assert_eq!(Tensor::<f64>::zeros(&[1]).dtype(), DType::F64);
    assert_eq!(z.device(), Device::Cpu);
    assert!(z.is_contiguous());
    assert_eq!(z.dim(1).unwrap(), 3);
    assert!(matches!(
        z.dim(2),
        Err(TensorError::AxisOutOfRange {
            op: "dim",
            axis: 2,
            rank: 2
        })
    ));
}

#[test]
fn arange_counts_and_directions() {
    assert_eq!(
        Tensor::<f32>::arange(0.0, 5.0, 1.0).unwrap().to_vec(),
        vec![0.0, 1.0, 2.0, 3.0, 4.0]
    );
    assert_eq!(
        Tensor::<f64>::arange(1.0, 2.0, 0.25).unwrap().to_vec(),
        vec![1.0, 1.25, 1.5, 1.75]
    );
    assert_eq!(
        Tensor::<f64>::arange(3.0, 0.0, -1.0).unwrap().to_vec(),
        vec![3.0, 2.0, 1.0]
    );
    assert_eq!(Tensor::<f64>::arange(0.0, 1.0, 0.3).unwrap().numel(), 4);
    assert_eq!(Tensor::<f64>::arange(2.0, 1.0, 1.0).unwrap().shape(), &[0]);
    for (start, end, step) in [
        (0.0, 1.0, 0.0),
        (0.0, f64::INFINITY, 1.0),
        (f64::NAN, 1.0, 1.0),
        (0.0, 1.0, f64::NAN),
    ] {
        assert!(
            matches!(
                Tensor::<f64>::arange(start, end, step),
                Err(TensorError::InvalidArgument { op: "arange", .. })
            ),
            "{start} {end} {step}"
        );
    }
    // A count that cannot be allocated is an error, not a panic.
    assert!(matches!(
        Tensor::<f32>::arange(0.0, 1e30, 1e-30),
        Err(TensorError::InvalidArgument { op: "arange", .. })
    ));
}

#[test]
fn from_vec_checks_the_element_count() {
    let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]).unwrap();
    assert_eq!(t.get(&[1, 0]).unwrap(), 4.0);
    assert_eq!(
        Tensor::<f32>::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err(),
        TensorError::ElementCount {
            op: "from_vec",
            shape: vec![2, 3],
            expected: 6,
            got: 5
        }
    );
    assert!(matches!(
        Tensor::<f32>::from_vec(vec![], &[usize::MAX, 2]),
        Err(TensorError::ShapeOverflow { op: "from_vec", .. })
    ));
    assert_eq!(
        Tensor::<f64>::from_vec(vec![], &[0, 4]).unwrap().shape(),
        &[0, 4]
    );
    assert_eq!(
        Tensor::<f64>::from_vec(vec![3.0], &[])
            .unwrap()
            .item()
            .unwrap(),
        3.0
    );
    let copied = Tensor::<f64>::from_slice(&[1.0, 2.0], &[2, 1]).unwrap();
    assert_eq!(copied.to_vec(), vec![1.0, 2.0]);
    assert!(matches!(
        Tensor::<f64>::from_slice(&[1.0], &[2]),
        Err(TensorError::ElementCount { .. })
    ));
}

#[test]
fn randn_is_deterministic_and_precision_independent() {
    let a = Tensor::<f64>::randn(&[1000], 0.0, 1.0, &mut Rng::seed_from(42));
    let b = Tensor::<f64>::randn(&[1000], 0.0, 1.0, &mut Rng::seed_from(42));
    let c = Tensor::<f64>::randn(&[1000], 0.0, 1.0, &mut Rng::seed_from(43));
    assert_eq!(a.to_vec(), b.to_vec());
    assert_ne!(a.to_vec(), c.to_vec());
    // f32 samples are the f64 samples rounded.
    let single = Tensor::<f32>::randn(&[1000], 0.0, 1.0, &mut Rng::seed_from(42));
    for (s, d) in single.to_vec().iter().zip(a.to_vec()) {
        assert_eq!(*s, d as f32);
    }
    // Moments are plausible for N(2, 3²).
    let x = Tensor::<f64>::randn(&[20_000], 2.0, 3.0, &mut Rng::seed_from(7));
    let mean = x.mean_all().unwrap().item().unwrap();
    let var = x.var(&[0], false, 1).unwrap().item().unwrap();
    assert!((mean - 2.0).abs() < 0.1, "mean {mean}");
    assert!((var - 9.0).abs() < 0.5, "var {var}");
    // Drawing continues the stream: two halves equal one whole.
    let mut rng = Rng::seed_from(5);
    let first = Tensor::<f64>::randn(&[3], 0.0, 1.0, &mut rng);
    let second = Tensor::<f64>::randn(&[2], 0.0, 1.0, &mut rng);
    let whole = Tensor::<f64>::randn(&[5], 0.0, 1.0, &mut Rng::seed_from(5));
    assert_eq!([first.to_vec(), second.to_vec()].concat(), whole.to_vec());
    // Shape does not change the numbers, only their arrangement.
    let shaped = Tensor::<f64>::randn(&[10, 100], 0.0, 1.0, &mut Rng::seed_from(42));
    assert_eq!(shaped.to_vec(), a.to_vec());
}

#[test]
fn rand_uniform_stays_in_range() {
    let x = Tensor::<f32>::rand_uniform(&[10_000], -2.0, 3.0, &mut Rng::seed_from(1));
    assert!(x.to_vec().iter().all(|&v| (-2.0..3.0).contains(&v)));
    let y = Tensor::<f32>::rand_uniform(&[10_000], -2.0, 3.0, &mut Rng::seed_from(1));
    assert_eq!(x.to_vec(), y.to_vec());
}

#[test]
fn get_and_item_errors() {
    let t = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    assert_eq!(t.get(&[1, 1]).unwrap(), 4.0);
    assert!(matches!(
        t.get(&[2, 0]),
        Err(TensorError::InvalidArgument { op: "get", .. })
    ));
    assert!(matches!(
        t.get(&[0]),
        Err(TensorError::InvalidArgument { op: "get", .. })
    ));
    assert!(matches!(
        t.get(&[0, 0, 0]),
        Err(TensorError::InvalidArgument { op: "get", .. })
    ));
    match t.item() {
        Err(TensorError::InvalidArgument {
            op: "item",
            message,
        }) => assert!(message.contains("[2, 2]"), "{message}"),
        other => panic!("expected an item error, got {other:?}"),
    }
    assert!(Tensor::<f32>::zeros(&[0]).item().is_err());
    assert_eq!(
        t.narrow(0, 1, 1)
            .unwrap()
            .narrow(1, 0, 1)
            .unwrap()
            .item()
            .unwrap(),
        3.0
    );
    assert_eq!(Tensor::<f32>::scalar(2.0).get(&[]).unwrap(), 2.0);
}

#[test]
fn cast_and_debug() {
    let t = Tensor::<f64>::from_vec(vec![0.1, 2.0], &[2]).unwrap();
    let single: Tensor<f32> = t.cast();
    assert_eq!(single.to_vec(), vec![0.1f32, 2.0]);
    let view = Tensor::<f64>::arange(0.0, 6.0, 1.0)
        .unwrap()
        .reshape(&[2, 3])
        .unwrap()
        .transpose(0, 1)
        .unwrap();
    assert_eq!(
        view.cast::<f32>().to_vec(),
        vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    );
    let text = format!("{:?}", Tensor::<f32>::zeros(&[40]));
    assert!(
        text.contains("shape=[40]") && text.contains("24 more"),
        "{text}"
    );
}

#[test]
fn from_storage_checks_the_layout() {
    use unravel_tensor::{Layout, Storage};
    let storage = std::sync::Arc::new(Storage::Cpu(vec![1.0f32, 2.0, 3.0, 4.0]));
    let ok =
        Tensor::from_storage(storage.clone(), Layout::from_parts(vec![2], vec![2], 1)).unwrap();
    assert_eq!(ok.to_vec(), vec![2.0, 4.0]);
    assert!(matches!(
        Tensor::from_storage(storage, Layout::from_parts(vec![3], vec![2], 0)),
        Err(TensorError::InvalidArgument {
            op: "from_storage",
            ..
        })
    ));
}
