//! `unravel bench gemm`: GFLOP/s of unravel's GEMM against matrixmultiply and (when python3
//! has numpy) numpy's OpenBLAS, one JSON object per line:
//!
//! `{"op":"gemm","impl":"unravel","m":1024,"n":1024,"k":1024,"dtype":"f32","threads":2,"gflops":…,"ms":…}`
//!
//! Implementations are interleaved (one timing of each per round) and the best round is kept,
//! so noise from other processes hits all of them alike.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use unravel::workloads::{MatrixmultiplyBaseline, CONV_LAYERS};
use unravel_tensor::gemm::{gemm, MatMut, MatRef};
use unravel_tensor::Rng;

use super::{with_threads, CliResult};

#[derive(clap::Args)]
pub struct GemmArgs {
    /// Square sizes to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = vec![512, 1024, 2048])]
    pub sizes: Vec<usize>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Element type: f32 or f64.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Measure the im2col GEMM shapes of the convolution layers of ../shared/bench/README.md
    /// instead of square sizes.
    #[arg(long)]
    pub conv_shapes: bool,
    /// Timed rounds per shape (the best is reported).
    #[arg(long, default_value_t = 7)]
    pub reps: usize,
}

struct Shape {
    label: Option<&'static str>,
    m: usize,
    n: usize,
    k: usize,
}

pub fn run(args: GemmArgs) -> CliResult<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // matrixmultiply reads its thread count once, from this variable.
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    let shapes: Vec<Shape> = if args.conv_shapes {
        CONV_LAYERS
            .iter()
            .map(|layer| {
                let (m, n, k) = layer.gemm_shape();
                Shape {
                    label: Some(layer.name),
                    m,
                    n,
                    k,
                }
            })
            .collect()
    } else {
        args.sizes
            .iter()
            .map(|&s| Shape {
                label: None,
                m: s,
                n: s,
                k: s,
            })
            .collect()
    };
    let reps = args.reps.max(1);
    match args.dtype.as_str() {
        "f32" => Ok(with_threads(Some(threads), || {
            measure::<f32>(&shapes, threads, reps)
        })??),
        "f64" => Ok(with_threads(Some(threads), || {
            measure::<f64>(&shapes, threads, reps)
        })??),
        other => Err(format!("--dtype must be f32 or f64, not {other:?}").into()),
    }
}

/// A python3 child that times numpy's matmul on request (`m n k dtype iterations` → seconds per
/// call, best of one timed batch), or `None` when python3 or numpy is missing.
struct Numpy {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

const NUMPY_SCRIPT: &str = r#"
import sys, time
import numpy as np
cache = {}
for line in sys.stdin:
    m, n, k, dtype, iters = line.split()
    dtype = {"f32": "float32", "f64": "float64"}[dtype]
    m, n, k, iters = int(m), int(n), int(k), int(iters)
    key = (m, n, k, dtype)
    if key not in cache:
        rng = np.random.default_rng(0)
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        c = np.empty((m, n), dtype=dtype)
        np.matmul(a, b, out=c)
        cache[key] = (a, b, c)
    a, b, c = cache[key]
    start = time.perf_counter()
    for _ in range(iters):
        np.matmul(a, b, out=c)
    print((time.perf_counter() - start) / iters, flush=True)
"#;

impl Numpy {
    fn start(threads: usize) -> Option<Numpy> {
        let available = Command::new("python3")
            .args(["-c", "import numpy"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !available {
            eprintln!("bench gemm: python3 with numpy not found; skipping the numpy baseline");
            return None;
        }
        let mut child = Command::new("python3")
            .args(["-c", NUMPY_SCRIPT])
            .env("OPENBLAS_NUM_THREADS", threads.to_string())
            .env("OMP_NUM_THREADS", threads.to_string())
            // These two (set on some machines) slow a current numpy's OpenBLAS down.
            .env_remove("OPENBLAS_CORETYPE")
            .env_remove("OPENBLAS_L2_SIZE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .ok()?;
        let input = child.stdin.take()?;
        let output = BufReader::new(child.stdout.take()?);
        Some(Numpy {
            child,
            input,
            output,
        })
    }

    fn time(&mut self, shape: &Shape, dtype: &str, iterations: usize) -> Option<f64> {
        writeln!(
            self.input,
            "{} {} {} {} {}",
            shape.m, shape.n, shape.k, dtype, iterations
        )
        .ok()?;
        let mut line = String::new();
        self.output.read_line(&mut line).ok()?;
        line.trim().parse().ok()
    }
}

impl Drop for Numpy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A row-major `[rows, cols]` matrix of values drawn from `value`, or an error if it cannot
/// be allocated.
fn matrix<E>([rows, cols]: [usize; 2], value: impl FnMut() -> E) -> Result<Vec<E>, String> {
    let error = || format!("bench gemm: a {rows}×{cols} matrix cannot be allocated");
    let len = rows.checked_mul(cols).ok_or_else(error)?;
    let mut values = Vec::new();
    values.try_reserve_exact(len).map_err(|_| error())?;
    values.extend(std::iter::repeat_with(value).take(len));
    Ok(values)
}

/// Seconds per call of `body`, run `iterations` times.
fn time_per_call(iterations: usize, mut body: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        body();
    }
    start.elapsed().as_secs_f64() / iterations as f64
}

fn measure<E: MatrixmultiplyBaseline>(
    shapes: &[Shape],
    threads: usize,
    reps: usize,
) -> Result<(), String> {
    let mut numpy = Numpy::start(threads);
    let dtype = E::DTYPE.to_string();
    let mut rng = Rng::seed_from(0);
    for shape in shapes {
        let (m, n, k) = (shape.m, shape.n, shape.k);
        // --sizes can ask for any size: a matrix that cannot be allocated is an error.
        let a = matrix([m, k], || E::from_f64(rng.normal()))?;
        let b = matrix([k, n], || E::from_f64(rng.normal()))?;
        let mut c = matrix([m, n], || E::ZERO)?;
        let flops = 2.0 * m as f64 * n as f64 * k as f64;
        // Enough calls per timing to last ~30 ms at 100 GFLOP/s.
        let iterations = ((3e9 / flops).ceil() as usize).clamp(1, 1000);
        let run_ours = |c: &mut [E]| {
            // C [m × n] ← A [m × k] · B [k × n]
            let result = MatRef::row_major(&a, m, k).and_then(|a_view| {
                gemm(
                    E::ONE,
                    a_view,
                    MatRef::row_major(&b, k, n)?,
                    E::ZERO,
                    MatMut::row_major(c, m, n)?,
                )
            });
            result.expect("dense operands of matching shapes")
        };
        // Warm up (page faults, packing buffers, thread pools).
        run_ours(&mut c);
        E::matrixmultiply(&a, &b, &mut c, m, n, k).map_err(|e| e.to_string())?;
        let mut best = [f64::INFINITY; 3];
        for _ in 0..reps {
            best[0] = best[0].min(time_per_call(iterations, || run_ours(&mut c)));
            let mut baseline = Ok(());
            best[1] = best[1].min(time_per_call(iterations, || {
                baseline = baseline.and_then(|()| E::matrixmultiply(&a, &b, &mut c, m, n, k));
            }));
            baseline.map_err(|e| e.to_string())?;
            if let Some(numpy) = numpy.as_mut() {
                if let Some(seconds) = numpy.time(shape, &dtype, iterations) {
                    best[2] = best[2].min(seconds);
                }
            }
        }
        for (name, seconds) in ["unravel", "matrixmultiply", "numpy"].iter().zip(best) {
            if !seconds.is_finite() {
                continue;
            }
            // Written field by field to keep this order (serde_json's map would sort the keys).
            let layer = shape
                .label
                .map(|l| format!(",\"layer\":{}", serde_json::Value::from(l)))
                .unwrap_or_default();
            writeln!(
                std::io::stdout().lock(),
                "{{\"op\":\"gemm\",\"impl\":\"{name}\",\"m\":{m},\"n\":{n},\"k\":{k},\"dtype\":\"{dtype}\",\"threads\":{threads},\"gflops\":{:.2},\"ms\":{:.4}{layer}}}",
                flops / seconds / 1e9,
                seconds * 1e3
            )
            .map_err(|e| format!("bench gemm: cannot write the results: {e}"))?;
        }
    }
    Ok(())
}
