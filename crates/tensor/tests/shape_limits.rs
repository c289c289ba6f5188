//! Shapes too large to exist: every constructor and view that takes a shape checks that its
//! element count, and its size in bytes, fit in `isize::MAX` (zero sizes counted as 1, so the
//! strides of empty tensors stay in range). The `try_` constructors return
//! `ShapeOverflow`/`OutOfMemory` errors naming the op and shape; the infallible ones panic with
//! the same message, like `Vec::with_capacity`; views and reshapes return the error.

use std::sync::Arc;

use unravel_tensor::layout::size_checked;
use unravel_tensor::{Layout, Rng, Storage, Tensor, TensorError};

const HUGE: [usize; 2] = [1 << 40, 1 << 40]; // 2^80 elements: the count overflows usize
/// 2^61 f32 = 2^63 bytes: the count fits in usize, the bytes do not fit in isize.
const TOO_MANY_BYTES: [usize; 1] = [1 << 61];
/// Empty, but its contiguous strides would overflow.
const EMPTY_HUGE: [usize; 3] = [0, 1 << 40, 1 << 40];

fn overflow_op(error: TensorError) -> (&'static str, Vec<usize>) {
    match error {
        TensorError::ShapeOverflow { op, shape } => (op, shape),
        other => panic!("expected ShapeOverflow, got {other:?}"),
    }
}

#[test]
fn size_checked_counts_elements_and_bytes() {
    assert_eq!(size_checked(&[], 4), Some(1));
    assert_eq!(size_checked(&[3, 4, 5], 8), Some(60));
    assert_eq!(size_checked(&[3, 0, 5], 8), Some(0));
    assert_eq!(size_checked(&HUGE, 1), None);
    assert_eq!(size_checked(&EMPTY_HUGE, 1), None);
    assert_eq!(size_checked(&TOO_MANY_BYTES, 4), None);
    assert_eq!(size_checked(&TOO_MANY_BYTES, 2), Some(1 << 61));
    let limit = isize::MAX as usize;
    assert_eq!(size_checked(&[limit / 4], 4), Some(limit / 4));
    assert_eq!(size_checked(&[limit / 4 + 1], 4), None);
}

#[test]
fn try_constructors_return_shape_overflow_naming_op_and_shape() {
    let mut rng = Rng::seed_from(1);
    for shape in [&HUGE[..], &TOO_MANY_BYTES[..], &EMPTY_HUGE[..]] {
        assert_eq!(
            overflow_op(Tensor::<f32>::try_zeros(shape).unwrap_err()),
            ("zeros", shape.to_vec())
        );
        assert_eq!(
            overflow_op(Tensor::<f64>::try_ones(shape).unwrap_err()).0,
            "ones"
        );
        assert_eq!(
            overflow_op(Tensor::<f32>::try_full(shape, 2.0).unwrap_err()).0,
            "full"
        );
        let before = rng.state();
        assert_eq!(
            overflow_op(Tensor::<f32>::try_randn(shape, 0.0, 1.0, &mut rng).unwrap_err()).0,
            "randn"
        );
        let uniform = Tensor::<f64>::try_rand_uniform(shape, 0.0, 1.0, &mut rng);
        assert_eq!(overflow_op(uniform.unwrap_err()).0, "rand_uniform");
        assert_eq!(rng.state(), before, "a failed constructor draws nothing");
        let message = Tensor::<f32>::try_zeros(shape).unwrap_err().to_string();
        assert!(
            message.starts_with("zeros: shape") && message.contains("too large"),
            "{message}"
        );
    }
}

#[test]
fn an_allocation_the_allocator_refuses_is_out_of_memory() {
    // 2^60 f32 = 4 EiB: a valid size for Rust, more than any address space holds.
    let shape = [1 << 30, 1 << 30];
    match Tensor::<f32>::try_zeros(&shape) {
        Err(TensorError::OutOfMemory {
            op,
            shape: s,
            bytes,
        }) => {
            assert_eq!((op, s, bytes), ("zeros", shape.to_vec(), 1 << 62));
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
    let error = Tensor::<f64>::try_randn(&[1 << 59], 0.0, 1.0, &mut Rng::seed_from(0));
    assert!(matches!(
        error,
        Err(TensorError::OutOfMemory { op: "randn", .. })
    ));
}

#[test]
fn try_constructors_match_the_infallible_ones_on_normal_shapes() {
    assert_eq!(
        Tensor::<f32>::try_zeros(&[2, 3]).unwrap().to_vec(),
        vec![0.0; 6]
    );
    assert_eq!(
        Tensor::<f64>::try_ones(&[4]).unwrap().to_vec(),
        vec![1.0; 4]
    );
    assert_eq!(
        Tensor::<f32>::try_full(&[2], -1.5).unwrap().to_vec(),
        vec![-1.5; 2]
    );
    let empty = Tensor::<f32>::try_zeros(&[3, 0]).unwrap();
    assert_eq!((empty.shape(), empty.numel()), (&[3, 0][..], 0));
    assert_eq!(Tensor::<f64>::try_zeros(&[]).unwrap().item().unwrap(), 0.0);
    let a = Tensor::<f64>::try_randn(&[3, 5], 1.0, 2.0, &mut Rng::seed_from(7)).unwrap();
    let b = Tensor::<f64>::randn(&[3, 5], 1.0, 2.0, &mut Rng::seed_from(7));
    assert_eq!(a.to_vec(), b.to_vec());
    let a = Tensor::<f32>::try_rand_uniform(&[9], -1.0, 1.0, &mut Rng::seed_from(3)).unwrap();
    let b = Tensor::<f32>::rand_uniform(&[9], -1.0, 1.0, &mut Rng::seed_from(3));
    assert_eq!(a.to_vec(), b.to_vec());
}

#[test]
#[should_panic(expected = "zeros: shape [1099511627776, 1099511627776] is too large")]
fn zeros_panics_with_the_error_message_on_an_impossible_shape() {
    let _ = Tensor::<f32>::zeros(&HUGE);
}

#[test]
#[should_panic(expected = "randn: shape [0, 1099511627776, 1099511627776] is too large")]
fn randn_panics_on_an_empty_shape_whose_strides_overflow() {
    let _ = Tensor::<f32>::randn(&EMPTY_HUGE, 0.0, 1.0, &mut Rng::seed_from(0));
}

#[test]
fn from_vec_refuses_impossible_shapes_even_when_empty() {
    let error = Tensor::<f32>::from_vec(Vec::new(), &EMPTY_HUGE).unwrap_err();
    assert_eq!(overflow_op(error), ("from_vec", EMPTY_HUGE.to_vec()));
    let error = Tensor::<f32>::from_vec(vec![1.0], &HUGE).unwrap_err();
    assert_eq!(overflow_op(error).0, "from_vec");
    assert!(Tensor::<f32>::from_vec(Vec::new(), &[0, 1 << 20, 1 << 20]).is_ok());
}

#[test]
fn reshape_refuses_shapes_whose_count_wraps_around() {
    // 2^32 · 2^32 wraps to 0 in usize: an empty tensor must not take that shape.
    let empty = Tensor::<f32>::zeros(&[0]);
    let error = empty.reshape(&[1 << 32, 1 << 32]).unwrap_err();
    assert_eq!(overflow_op(error), ("reshape", vec![1 << 32, 1 << 32]));
    // 2^32 · 2^32 + 1 wraps to 1.
    let one = Tensor::<f32>::ones(&[1]);
    assert_eq!(
        overflow_op(one.reshape(&[1 << 32, 1 << 32, 1]).unwrap_err()).0,
        "reshape"
    );
    // Normal reshapes, empty ones included, still work; a plain count mismatch is ShapeMismatch.
    assert_eq!(empty.reshape(&[4, 0, 2]).unwrap().shape(), &[4, 0, 2]);
    let t = Tensor::<f32>::from_vec((0..6).map(|i| i as f32).collect(), &[2, 3]).unwrap();
    assert_eq!(t.reshape(&[3, 2]).unwrap().to_vec(), t.to_vec());
    assert!(matches!(
        t.reshape(&[4]),
        Err(TensorError::ShapeMismatch { op: "reshape", .. })
    ));
    assert_eq!(t.flatten(0, 1).unwrap().shape(), &[6]);
}

#[test]
fn broadcasts_and_expands_refuse_impossible_shapes() {
    let one = Tensor::<f32>::ones(&[1, 1]);
    assert_eq!(
        overflow_op(one.broadcast_to(&HUGE).unwrap_err()).0,
        "broadcast_to"
    );
    let error = one.expand(&[Some(1 << 40), Some(1 << 40)]).unwrap_err();
    assert_eq!(overflow_op(error).0, "broadcast_to");
    assert_eq!(one.broadcast_to(&[3, 4]).unwrap().to_vec(), vec![1.0; 12]);
    // Two valid operands whose broadcast cannot exist: the shape is refused before any
    // elementwise op allocates its output.
    let error = unravel_tensor::layout::broadcast_shape("add", &[1 << 40, 1], &[1, 1 << 40]);
    assert_eq!(overflow_op(error.unwrap_err()), ("add", HUGE.to_vec()));
    let one = Tensor::<f32>::ones(&[1, 1]);
    let tall = one.broadcast_to(&[1 << 40, 1]).unwrap(); // views: nothing allocated
    let wide = one.broadcast_to(&[1, 1 << 40]).unwrap();
    assert_eq!(overflow_op(tall.add(&wide).unwrap_err()).1, HUGE.to_vec());
    let shape = unravel_tensor::layout::broadcast_shape("add", &[0, 1], &[1, 5]).unwrap();
    assert_eq!(shape, vec![0, 5]);
}

#[test]
fn from_storage_refuses_layouts_that_reach_past_usize() {
    let storage = Arc::new(Storage::Cpu(vec![1.0f32; 4]));
    let layout = Layout::from_parts(vec![2, 2], vec![usize::MAX, 1], 0);
    assert_eq!(layout.checked_storage_extent(), None);
    let error = Tensor::from_storage(storage.clone(), layout).unwrap_err();
    assert!(error.to_string().contains("past usize::MAX"), "{error}");
    let error = Tensor::from_storage(
        storage.clone(),
        Layout::from_parts(HUGE.to_vec(), vec![0, 0], 0),
    );
    assert_eq!(overflow_op(error.unwrap_err()).0, "from_storage");
    let fine =
        Tensor::from_storage(storage, Layout::from_parts(vec![2, 2], vec![1, 2], 0)).unwrap();
    assert_eq!(fine.to_vec(), vec![1.0; 4]);
}
