//! A tiny convolution, forward and backward, printed step by step: the im2col matrix, the GEMM
//! that is the forward pass, the three gradients (dW as a GEMM against the same columns, dX as
//! col2im of Wᵀ·dY, db as a sum), and the comparison with finite differences.
//!
//! The numbers are the worked example of `docs/conv-backprop.md`; check them by hand.
//!
//! ```text
//! cargo run --release --example conv_backprop
//! ```

use unravel::autograd::gradcheck::{gradcheck, GradcheckOptions};
use unravel::autograd::{AutogradError, Tape};
use unravel::tensor::ops::conv::{col2im, im2col, Conv2dParams};
use unravel::tensor::{Rng, Tensor};

/// Prints a matrix `[rows, cols]` (a tensor of any shape with `rows·cols` elements).
fn print_matrix(title: &str, tensor: &Tensor<f64>, rows: usize, cols: usize) {
    println!("{title}");
    let values = tensor.to_vec();
    for row in values.chunks(cols).take(rows) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:6.1}")).collect();
        println!("    [{}]", cells.join(" "));
    }
}

fn main() -> Result<(), AutogradError> {
    // ---- the problem ----------------------------------------------------------------------
    // One image, one channel, 3×3; one 2×2 filter; stride 1, no padding → a 2×2 output.
    let x = Tensor::from_vec((1..=9).map(f64::from).collect(), &[1, 1, 3, 3])?;
    let w = Tensor::from_vec(vec![1.0, 2.0, 0.0, -1.0], &[1, 1, 2, 2])?;
    let b = Tensor::from_vec(vec![0.5], &[1])?;
    let params = Conv2dParams::default();
    println!("== Forward: y = conv2d(x, w) + b, as im2col + GEMM\n");
    print_matrix("x [1, 1, 3, 3]:", &x, 3, 3);
    print_matrix("w [1, 1, 2, 2]:", &w, 2, 2);
    println!("b [1]: {:?}\n", b.to_vec());

    // cols: [C·kh·kw, oh·ow] = [4, 4]; row = kernel tap (ky, kx), column = output position.
    let cols = im2col(&x, [2, 2], &params)?;
    print_matrix(
        "cols = im2col(x) [C·kh·kw = 4, oh·ow = 4]  (row: tap (ky,kx); column: output (oy,ox))",
        &cols,
        4,
        4,
    );
    // W as a matrix [C_out, C·kh·kw] = [1, 4]; Y = W·cols + b: [1, 4] = [2, 2] image.
    print_matrix("W as a matrix [C_out = 1, C·kh·kw = 4]:", &w, 1, 4);

    let tape = Tape::<f64>::new();
    let (x_var, w_var, b_var) = (
        tape.leaf(x.clone()),
        tape.leaf(w.clone()),
        tape.leaf(b.clone()),
    );
    let y = x_var.conv2d(&w_var, Some(&b_var), &params)?;
    print_matrix(
        "y = W·cols + b, seen as [oh, ow] = [2, 2]:",
        y.value(),
        2,
        2,
    );

    // ---- backward ---------------------------------------------------------------------------
    // Pretend the loss sends back dY = ∂L/∂y (L = Σ dY ⊙ y).
    let grad_y = Tensor::from_vec(vec![1.0, 0.0, 2.0, -1.0], &[1, 1, 2, 2])?;
    println!("\n== Backward, given dY = ∂L/∂y\n");
    print_matrix("dY [1, 1, 2, 2]:", &grad_y, 2, 2);
    let gradients = tape.backward_with_grad(&y, &grad_y)?;
    let grad_w = gradients.get_or_zeros(&w_var);
    let grad_x = gradients.get_or_zeros(&x_var);
    let grad_b = gradients.get_or_zeros(&b_var);

    // dW = dY·colsᵀ: [1, 4]·[4, 4] → [1, 4]; each tap's gradient is dY dotted with its row.
    print_matrix("dW = dY·colsᵀ [1, 4] → [2, 2]:", &grad_w, 2, 2);
    // By hand, with the same columns:
    let dy_row = grad_y.reshape(&[1, 4])?;
    let by_hand = dy_row.matmul(&cols.reshape(&[4, 4])?.transpose(0, 1)?)?;
    println!(
        "    (dY·colsᵀ computed here directly: {:?})",
        by_hand.to_vec()
    );

    // dX = col2im(Wᵀ·dY): Wᵀ·dY is [4, 1]·[1, 4] → [4, 4], one column of tap contributions per
    // output position; col2im adds each entry onto the pixel that tap read there.
    let wt_dy = w.reshape(&[1, 4])?.transpose(0, 1)?.matmul(&dy_row)?;
    print_matrix("Wᵀ·dY [C·kh·kw = 4, oh·ow = 4]:", &wt_dy, 4, 4);
    let grad_x_by_hand = col2im(&wt_dy.reshape(&[1, 4, 4])?, &[1, 1, 3, 3], [2, 2], &params)?;
    print_matrix("dX = col2im(Wᵀ·dY) [3, 3]:", &grad_x, 3, 3);
    println!(
        "    (col2im computed here directly: {:?})",
        grad_x_by_hand.to_vec()
    );
    println!("db = Σ dY = {:?}\n", grad_b.to_vec());

    // ---- numeric vs analytic ------------------------------------------------------------------
    println!("== Numeric check: central differences vs the tape\n");
    // One element by hand: ∂L/∂w[0,0,1,1] ≈ (L(w + h) − L(w − h)) / 2h with L = Σ dY ⊙ y.
    let loss_at = |w_value: &Tensor<f64>| -> Result<f64, AutogradError> {
        let tape = Tape::<f64>::new();
        let _no_grad = tape.no_grad();
        let y = tape.constant(x.clone()).conv2d(
            &tape.constant(w_value.clone()),
            Some(&tape.constant(b.clone())),
            &params,
        )?;
        Ok(y.value()
            .to_vec()
            .iter()
            .zip(grad_y.to_vec())
            .map(|(y, g)| y * g)
            .sum())
    };
    let h = 1e-4;
    let nudged = |delta: f64| -> Result<Tensor<f64>, AutogradError> {
        let mut data = w.to_vec();
        data[3] += delta;
        Ok(Tensor::from_vec(data, &[1, 1, 2, 2])?)
    };
    let numeric = (loss_at(&nudged(h)?)? - loss_at(&nudged(-h)?)?) / (2.0 * h);
    println!(
        "∂L/∂w[1,1]: numeric {numeric:.9}, analytic {:.9}\n",
        grad_w.to_vec()[3]
    );

    // Every element of x, w and b, with gradcheck (a random projection of y as the loss).
    let report = gradcheck(
        |v| v[0].conv2d(&v[1], Some(&v[2]), &params),
        &[x.clone(), w.clone(), b.clone()],
        &GradcheckOptions::default(),
    )?;
    println!("stride 1, padding 0, dilation 1: {report}");

    // The same with stride 2, padding 1 and dilation 2 on a bigger, odd-sized problem.
    let mut rng = Rng::seed_from(7);
    let x = Tensor::randn(&[2, 3, 7, 6], 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&[4, 3, 3, 3], 0.0, 1.0, &mut rng);
    let b = Tensor::randn(&[4], 0.0, 1.0, &mut rng);
    let strided = Conv2dParams {
        stride: [2, 2],
        padding: [1, 1],
        dilation: [2, 2],
        groups: 1,
    };
    let report = gradcheck(
        |v| v[0].conv2d(&v[1], Some(&v[2]), &strided),
        &[x, w, b],
        &GradcheckOptions::default(),
    )?;
    println!("stride 2, padding 1, dilation 2: {report}");
    Ok(())
}
