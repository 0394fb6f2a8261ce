//! MiniFASNet side by side with PyTorch (scripts/py/torch_bench.py, Debian's python3-torch):
//! the same weights and the same input tensors as our engine; medians and the logits'
//! largest difference, so the speed comparison is also a correctness check.

use crate::table::Table;
use anyhow::{bail, Context};
use liveness_models::Engine;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

#[derive(serde::Deserialize)]
struct TorchRun {
    ms: f64,
    logits: Vec<f32>,
}

pub fn table(
    engine: &Engine,
    image: &[u8],
    models_dir: &Path,
    runs: usize,
    python: &Path,
) -> anyhow::Result<String> {
    let rgb = liveness_models::decode::decode_rgb(image)?;
    let face = engine
        .detector()
        .detect(&rgb, 0.6, 0.3)?
        .into_iter()
        .next()
        .context("no face in the benchmark image")?;
    let pad = |id: &str| engine.pad_model(id).context("model not loaded");
    let (v2, v1se) = (pad("minifasnet_v2")?, pad("minifasnet_v1se")?);
    let dir = std::env::temp_dir().join(format!("liveness-torch-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut ours = BTreeMap::new();
    let mut pairs = Vec::new();
    for (model, file) in [(v2, "MiniFASNetV2"), (v1se, "MiniFASNetV1SE")] {
        let input = model.preprocess(&rgb, &face.bbox).0;
        let raw: Vec<u8> = input
            .try_as_plain_ram()?
            .as_slice::<f32>()?
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let path = dir.join(format!("{file}.f32"));
        std::fs::write(&path, raw)?;
        pairs.push(format!(
            "{}={}",
            models_dir.join(format!("{file}.onnx")).display(),
            path.display()
        ));
        let logits = model.logits(input.clone())?;
        let mut times: Vec<f64> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                drop(model.logits(input.clone()));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        ours.insert(file, (times[times.len() / 2], logits));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/py/torch_bench.py");
    let output = Command::new(python)
        .arg(script)
        .arg(runs.to_string())
        .args(&pairs)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    let _ = std::fs::remove_dir_all(&dir);
    if !output.status.success() {
        bail!(
            "PyTorch benchmark failed (scripts/bench installs python3-torch and python3-onnx): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let torch: BTreeMap<String, TorchRun> = serde_json::from_slice(&output.stdout)?;
    let mut table = Table::new(&[
        "model (one thread, median ms)",
        "tract",
        "PyTorch",
        "tract / PyTorch",
        "max |logit diff|",
    ]);
    for (name, (ms, logits)) in &ours {
        let t = torch
            .get(*name)
            .with_context(|| format!("{name} missing from the PyTorch run"))?;
        let diff = logits
            .iter()
            .zip(&t.logits)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        table.row(vec![
            format!("{name} 1x3x80x80"),
            format!("{ms:.2}"),
            format!("{:.2}", t.ms),
            format!("{:.2}x", ms / t.ms),
            format!("{diff:.1e}"),
        ]);
    }
    Ok(format!(
        "\n### MiniFASNet: tract vs PyTorch (eager, CPU; the same weights rebuilt node by node)\n\n{}",
        table.markdown()
    ))
}
