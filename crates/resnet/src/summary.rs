//! A torchinfo-style summary (torchinfo's `summary(model, input_size=…)` with its default
//! columns and `depth = 3`), from a shape-only forward pass ([`Module::trace`]).
//!
//! The numbers follow torchinfo's definitions exactly:
//!
//! ```text
//! mult-adds   Σ over leaf layers: Conv2d (|W| + |b|)·N·oh·ow;  BatchNorm2d, Linear N·|params|
//! input size  Π input shape · 4 bytes
//! fwd/bwd     2 · 4 bytes · Σ output elements of every leaf layer that has parameters
//! params size total params · 4 bytes
//! ```
//!
//! with MB = 10⁶ bytes and G = 10⁹ mult-adds.

use serde_json::json;

use crate::error::Result;
use crate::nn::Module;
use unravel_tensor::layout::size_checked;
use unravel_tensor::{Float, TensorError};

/// Bytes per element that torchinfo assumes for these sizes (float32).
const ELEMENT_BYTES: usize = 4;
/// torchinfo's widths: the layer column, then each other column.
const LAYER_COLUMN: usize = 40;
const COLUMN: usize = 25;

/// One module call of the traced forward pass.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRow {
    /// PyTorch class name.
    pub kind: &'static str,
    /// Nesting depth (0 for the model itself).
    pub depth: usize,
    /// Per-depth position, in call order (torchinfo's `depth-idx`).
    pub depth_index: usize,
    pub output_shape: Vec<usize>,
    /// Parameters of a leaf layer (containers hold none of their own).
    pub params: usize,
    pub trainable_params: usize,
    pub mult_adds: u64,
    /// Whether the module has no children.
    pub leaf: bool,
}

/// Records module calls in order during [`Module::trace`].
#[derive(Debug, Default)]
pub struct Trace {
    rows: Vec<TraceRow>,
    depth: usize,
    next_index: Vec<usize>,
}

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, kind: &'static str, leaf: bool) -> usize {
        if self.next_index.len() <= self.depth {
            self.next_index.resize(self.depth + 1, 1);
        }
        let depth_index = self.next_index[self.depth];
        self.next_index[self.depth] += 1;
        self.rows.push(TraceRow {
            kind,
            depth: self.depth,
            depth_index,
            output_shape: Vec::new(),
            params: 0,
            trainable_params: 0,
            mult_adds: 0,
            leaf,
        });
        self.rows.len() - 1
    }

    /// Records a layer with no children.
    pub fn leaf(
        &mut self,
        kind: &'static str,
        output_shape: &[usize],
        params: usize,
        trainable_params: usize,
        mult_adds: u64,
    ) {
        let row = self.push(kind, true);
        let row = &mut self.rows[row];
        row.output_shape = output_shape.to_vec();
        row.params = params;
        row.trainable_params = trainable_params;
        row.mult_adds = mult_adds;
    }

    /// Opens a container; its children are recorded one level deeper until [`Trace::close`].
    pub fn open(&mut self, kind: &'static str) -> usize {
        let row = self.push(kind, false);
        self.depth += 1;
        row
    }

    /// Closes the container opened as `row`, with its output shape.
    pub fn close(&mut self, row: usize, output_shape: &[usize]) {
        self.depth = self.depth.saturating_sub(1);
        self.rows[row].output_shape = output_shape.to_vec();
    }

    /// The rows, in call order.
    pub fn rows(&self) -> &[TraceRow] {
        &self.rows
    }
}

/// A model's summary for one input shape.
#[derive(Debug, Clone)]
pub struct Summary {
    pub input_shape: Vec<usize>,
    pub rows: Vec<TraceRow>,
    /// Rows deeper than this are folded into their ancestor at this depth.
    pub max_depth: usize,
    pub total_params: usize,
    pub trainable_params: usize,
    pub mult_adds: u64,
    pub input_bytes: usize,
    pub forward_backward_bytes: usize,
    pub params_bytes: usize,
}

impl Summary {
    /// Traces `model` on `input_shape` and adds up torchinfo's totals.
    ///
    /// ```
    /// use unravel_resnet::{presets, summary::Summary};
    /// let model = presets::build::<f32>("resnet18", &presets::PresetOptions::default(), 0)?;
    /// let summary = Summary::new(&model, &[1, 3, 224, 224], 3)?;
    /// assert_eq!(summary.total_params, 11_689_512);
    /// assert_eq!(format!("{:.2}", summary.mult_adds as f64 / 1e9), "1.81");
    /// # Ok::<(), unravel_resnet::ResnetError>(())
    /// ```
    pub fn new<E: Float>(
        model: &dyn Module<E>,
        input_shape: &[usize],
        max_depth: usize,
    ) -> Result<Self> {
        // The shape comes from the user (`--input`): one that cannot exist is an error. The
        // totals below saturate rather than overflow (a huge input times a wide layer).
        let input_bytes = size_checked(input_shape, ELEMENT_BYTES)
            .map(|count| count * ELEMENT_BYTES)
            .ok_or_else(|| TensorError::ShapeOverflow {
                op: "summary",
                shape: input_shape.to_vec(),
            })?;
        let mut trace = Trace::new();
        model.trace(input_shape, &mut trace)?;
        let rows = trace.rows;
        let mut summary = Summary {
            input_shape: input_shape.to_vec(),
            max_depth,
            total_params: 0,
            trainable_params: 0,
            mult_adds: 0,
            input_bytes,
            forward_backward_bytes: 0,
            params_bytes: 0,
            rows: Vec::new(),
        };
        for row in rows.iter().filter(|r| r.leaf) {
            summary.mult_adds = summary.mult_adds.saturating_add(row.mult_adds);
            summary.total_params += row.params;
            summary.trainable_params += row.trainable_params;
            if row.params > 0 {
                // ×2: the output and its gradient.
                let mut factors = vec![2 * ELEMENT_BYTES];
                factors.extend(&row.output_shape);
                let bytes = usize::try_from(saturating_product(&factors)).unwrap_or(usize::MAX);
                summary.forward_backward_bytes =
                    summary.forward_backward_bytes.saturating_add(bytes);
            }
        }
        summary.params_bytes = summary.total_params.saturating_mul(ELEMENT_BYTES);
        summary.rows = rows;
        Ok(summary)
    }

    /// Parameters in a row's subtree (the row and every deeper row that follows it).
    fn subtree_params(&self, index: usize) -> (usize, usize) {
        let depth = self.rows[index].depth;
        let mut total = (self.rows[index].params, self.rows[index].trainable_params);
        for row in self.rows[index + 1..]
            .iter()
            .take_while(|r| r.depth > depth)
        {
            total.0 += row.params;
            total.1 += row.trainable_params;
        }
        total
    }

    /// The table, exactly as torchinfo prints it.
    pub fn table(&self) -> String {
        let names: Vec<String> = self
            .rows
            .iter()
            .map(|row| {
                if row.depth == 0 {
                    row.kind.to_string()
                } else {
                    format!("{}: {}-{}", row.kind, row.depth, row.depth_index)
                }
            })
            .collect();
        // torchinfo widens the first column (to a multiple of 5) for deep or long names.
        let longest = self
            .rows
            .iter()
            .zip(&names)
            .map(|(row, name)| name.chars().count() + row.depth * 5 + 1)
            .max()
            .unwrap_or(0);
        let layer_width = if longest >= LAYER_COLUMN {
            longest.div_ceil(5) * 5
        } else {
            LAYER_COLUMN
        };
        let total_width = layer_width + 2 * COLUMN;
        let divider = "=".repeat(total_width);
        let format_row = |name: &str, shape: &str, params: &str| {
            let line = format!(
                "{} {} {} ",
                pad(name, layer_width),
                pad(shape, COLUMN),
                pad(params, COLUMN)
            );
            format!("{}\n", line.trim_end())
        };

        let mut out = String::new();
        out.push_str(&divider);
        out.push('\n');
        out.push_str(&format_row(
            "Layer (type:depth-idx)",
            "Output Shape",
            "Param #",
        ));
        out.push_str(&divider);
        out.push('\n');
        for (index, row) in self.rows.iter().enumerate() {
            if row.depth > self.max_depth {
                continue;
            }
            let start = match row.depth {
                0 => String::new(),
                1 => "├─".to_string(),
                depth => format!("{}└─", "│    ".repeat(depth - 1)),
            };
            let params = if row.leaf {
                count_or_dashes(row.params, row.trainable_params)
            } else if row.depth == self.max_depth {
                let (total, trainable) = self.subtree_params(index);
                count_or_dashes(total, trainable)
            } else {
                "--".to_string()
            };
            out.push_str(&format_row(
                &format!("{start}{}", names[index]),
                &format!("{:?}", row.output_shape),
                &params,
            ));
        }
        out.push_str(&divider);
        out.push('\n');
        out.push_str(&format!("Total params: {}\n", thousands(self.total_params)));
        out.push_str(&format!(
            "Trainable params: {}\n",
            thousands(self.trainable_params)
        ));
        out.push_str(&format!(
            "Non-trainable params: {}\n",
            thousands(self.total_params - self.trainable_params)
        ));
        let (unit, value) = readable(self.mult_adds as f64);
        out.push_str(&format!("Total mult-adds ({unit}): {value:.2}\n"));
        out.push_str(&divider);
        out.push('\n');
        out.push_str(&format!("Input size (MB): {:.2}\n", self.input_mb()));
        out.push_str(&format!(
            "Forward/backward pass size (MB): {:.2}\n",
            self.forward_backward_mb()
        ));
        out.push_str(&format!("Params size (MB): {:.2}\n", self.params_mb()));
        out.push_str(&format!(
            "Estimated Total Size (MB): {:.2}\n",
            self.total_mb()
        ));
        out.push_str(&divider);
        out
    }

    /// Input size in MB (10⁶ bytes).
    pub fn input_mb(&self) -> f64 {
        self.input_bytes as f64 / 1e6
    }

    /// Forward/backward pass size in MB.
    pub fn forward_backward_mb(&self) -> f64 {
        self.forward_backward_bytes as f64 / 1e6
    }

    /// Parameter size in MB.
    pub fn params_mb(&self) -> f64 {
        self.params_bytes as f64 / 1e6
    }

    /// Their sum, torchinfo's "Estimated Total Size".
    pub fn total_mb(&self) -> f64 {
        (self.input_bytes + self.forward_backward_bytes + self.params_bytes) as f64 / 1e6
    }

    /// Mult-adds in G (10⁹).
    pub fn mult_adds_g(&self) -> f64 {
        self.mult_adds as f64 / 1e9
    }

    /// The totals as one JSON object (values rounded as printed).
    pub fn to_json(&self) -> serde_json::Value {
        let round = |v: f64| (v * 100.0).round() / 100.0;
        json!({
            "input_shape": self.input_shape,
            "total_params": self.total_params,
            "trainable_params": self.trainable_params,
            "mult_adds": self.mult_adds,
            "mult_adds_g": round(self.mult_adds_g()),
            "input_mb": round(self.input_mb()),
            "forward_backward_mb": round(self.forward_backward_mb()),
            "params_mb": round(self.params_mb()),
            "total_mb": round(self.total_mb()),
        })
    }
}

fn pad(text: &str, width: usize) -> String {
    let length = text.chars().count();
    if length >= width {
        text.to_string()
    } else {
        format!("{text}{}", " ".repeat(width - length))
    }
}

fn count_or_dashes(total: usize, trainable: usize) -> String {
    if total == 0 {
        "--".to_string()
    } else if trainable == 0 {
        format!("({})", thousands(total))
    } else {
        thousands(total)
    }
}

/// The product of `factors`, saturating at `u64::MAX` (the mult-adds and sizes of a summary
/// of a huge input: a statistic, not an allocation).
pub(crate) fn saturating_product(factors: &[usize]) -> u64 {
    factors.iter().fold(1u64, |product, &factor| {
        product.saturating_mul(factor as u64)
    })
}

/// `60196712` → `60,196,712`.
pub fn thousands(value: usize) -> String {
    let digits: Vec<char> = value.to_string().chars().rev().collect();
    let groups: Vec<String> = digits
        .chunks(3)
        .map(|group| group.iter().rev().collect())
        .collect();
    groups.into_iter().rev().collect::<Vec<_>>().join(",")
}

/// torchinfo's unit choice for mult-adds: T, G, or M.
fn readable(value: f64) -> (&'static str, f64) {
    if value >= 1e12 {
        ("T", value / 1e12)
    } else if value >= 1e9 {
        ("G", value / 1e9)
    } else {
        ("M", value / 1e6)
    }
}
