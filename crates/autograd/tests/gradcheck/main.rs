//! Finite-difference gradient checks (f64) of every backward rule, one module per op family,
//! plus composite chains shaped like ResNet blocks. One test binary, to keep CI linking cheap.

mod arithmetic;
mod batch_norm;
mod common;
mod composite;
mod conv;
mod layers;
mod pool;
mod reduce;
mod softmax;
mod views;
