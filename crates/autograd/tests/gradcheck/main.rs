//! Finite-difference gradient checks (f64) of every backward rule, one module per op family,
//! plus composite chains shaped like ResNet blocks. One test binary, to keep CI linking cheap.

mod batch_norm;
mod common;
mod pool;
mod softmax;
mod views;
