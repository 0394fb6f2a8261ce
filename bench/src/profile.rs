//! Where tract spends its time: each model run many times with a timer around every node,
//! summed per operator kind.

use crate::table::{ms, Table};
use liveness_models::onnx::load_model;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::eval;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// Operator kinds listed per model.
    #[arg(long, default_value_t = 8)]
    top: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    for (file, shape, ignore_shapes) in [
        ("yunet_s_dynamic.onnx", [1, 3, 256, 256], true),
        ("MiniFASNetV2.onnx", [1, 3, 80, 80], false),
        ("MiniFASNetV1SE.onnx", [1, 3, 80, 80], false),
    ] {
        let model = load_model(&args.models.join(file), shape, ignore_shapes)?;
        let input: TValue = Tensor::zero::<f32>(&shape)?.into();
        let mut per_op: HashMap<String, (f64, usize)> = HashMap::new();
        let mut state = model.plan().spawn()?;
        state.run(tvec!(input.clone()))?;
        let start = Instant::now();
        for _ in 0..args.runs {
            state.run_plan_with_eval(tvec!(input.clone()), |ctx, op_state, node, inputs| {
                let t = Instant::now();
                let out = eval(ctx, op_state, node, inputs);
                let entry = per_op.entry(node.op().name().to_string()).or_default();
                entry.0 += t.elapsed().as_secs_f64() * 1e3;
                entry.1 += 1;
                out
            })?;
        }
        let total = start.elapsed().as_secs_f64() * 1e3 / args.runs as f64;
        let mut ops: Vec<_> = per_op.into_iter().collect();
        ops.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
        let mut table = Table::new(&["operator", "ms per run", "share", "nodes"]);
        let summed: f64 = ops.iter().map(|o| o.1 .0).sum::<f64>() / args.runs as f64;
        for (name, (time, count)) in ops.iter().take(args.top) {
            let per_run = time / args.runs as f64;
            table.row(vec![
                name.clone(),
                ms(per_run),
                format!("{:.0}%", 100.0 * per_run / summed),
                (count / args.runs).to_string(),
            ]);
        }
        println!(
            "\n### {file} {shape:?}: {total:.2} ms per run\n\n{}",
            table.markdown()
        );
    }
    Ok(())
}
