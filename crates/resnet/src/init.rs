//! Weight initialisation, as torchvision's ResNet does it, drawn from a seeded [`Rng`] in
//! registration order so that the same seed gives the same weights.
//!
//! - Convolutions: Kaiming normal (He et al. 2015b, "Delving deep into rectifiers", §2.2) in
//!   `fan_out` mode with the ReLU gain: `W ~ N(0, 2 / fan_out)`, `fan_out = C_out·kh·kw`.
//! - Linear layers and biases: PyTorch's default, `U(−1/√fan_in, 1/√fan_in)` (what
//!   `kaiming_uniform_(a = √5)` reduces to).
//! - Batch norm: γ = 1, β = 0 (γ = 0 for the last BN of a residual branch when
//!   `zero_init_residual` is set: Goyal et al. 2017, §5.1).

use unravel_tensor::{Float, Rng, Tensor};

/// `N(0, 2/fan_out)` with `fan_out = shape[0]·Π shape[2..]` (a conv weight `[C_out, C_in, kh, kw]`).
///
/// ```
/// use unravel_resnet::init::kaiming_normal_fan_out;
/// use unravel_tensor::Rng;
/// let w = kaiming_normal_fan_out::<f64>(&[64, 3, 7, 7], &mut Rng::seed_from(0));
/// let variance = w.to_vec().iter().map(|v| v * v).sum::<f64>() / w.numel() as f64;
/// assert!((variance - 2.0 / (64.0 * 49.0)).abs() < 2e-4);
/// ```
pub fn kaiming_normal_fan_out<E: Float>(shape: &[usize], rng: &mut Rng) -> Tensor<E> {
    let receptive: usize = shape.iter().skip(2).product();
    let fan_out = shape.first().copied().unwrap_or(1) * receptive.max(1);
    let std = (2.0 / fan_out.max(1) as f64).sqrt();
    Tensor::randn(shape, 0.0, std, rng)
}

/// `U(−1/√fan_in, 1/√fan_in)`: PyTorch's default for `Linear` weights and every bias.
pub fn uniform_fan_in<E: Float>(shape: &[usize], fan_in: usize, rng: &mut Rng) -> Tensor<E> {
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    Tensor::rand_uniform(shape, -bound, bound, rng)
}
