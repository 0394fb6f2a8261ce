//! Engine benchmark: tract vs onnxruntime on the same ONNX files, preprocessing and images.

use crate::table::{ms, ratio, Table};
use anyhow::{bail, Context};
use liveness_models::{Engine, EngineConfig, ModelPaths, Timings};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

pub(crate) const FACE_IMAGES: [&str; 4] = [
    "silentface_image_T1.jpg",
    "silentface_image_F1.jpg",
    "silentface_image_F2.jpg",
    "astronaut.png",
];

#[derive(clap::Args)]
pub struct Args {
    /// Timed runs per image (the median is reported).
    #[arg(long, default_value_t = 30)]
    iterations: usize,
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// Python with onnxruntime (scripts/lib/env.sh sets up this virtualenv).
    #[arg(long, env = "LIVENESS_PYTHON", default_value = "python3")]
    python: PathBuf,
    /// Python with PyTorch and onnx (Debian's python3-torch and python3-onnx).
    #[arg(
        long,
        env = "LIVENESS_TORCH_PYTHON",
        default_value = "/usr/bin/python3"
    )]
    torch_python: PathBuf,
    /// Write the tables as Markdown to this file as well.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RssArgs {
    #[arg(long, default_value = "models/assets")]
    models: PathBuf,
}

#[derive(Deserialize)]
struct OrtReport {
    models: BTreeMap<String, f64>,
    per_image: BTreeMap<String, BTreeMap<String, f64>>,
    pool_images_per_s: f64,
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn time_ms(f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1e3
}

fn load(models: &Path, threads: usize) -> anyhow::Result<Engine> {
    let config = EngineConfig {
        threads,
        ..EngineConfig::default()
    };
    Engine::load(&ModelPaths::in_dir(models), config)
        .context("loading models (run scripts/fetch-models)")
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let paths: Vec<PathBuf> = FACE_IMAGES.iter().map(|n| args.models.join(n)).collect();
    let images: Vec<Vec<u8>> = paths
        .iter()
        .map(std::fs::read)
        .collect::<Result<_, _>>()
        .context("reading sample images")?;

    eprintln!("timing onnxruntime ...");
    let ort = run_ort(&args, &paths, cores)?;
    eprintln!("timing tract ...");
    let single = load(&args.models, 1)?;
    let mut out = String::new();
    out += &model_table(&single, &args.models, &images[0], args.iterations * 3, &ort)?;
    out += &crate::torch::table(
        &single,
        &images[0],
        &args.models,
        args.iterations * 3,
        &args.torch_python,
    )?;
    out += &stage_table(&single, &paths, &images, args.iterations, &ort);
    drop(single);
    out += &crate::model_sets::table(&args.models, &paths, &images, args.iterations)?;
    out += &throughput_table(&args, &images, cores, &ort)?;
    out += &rss_table(&args)?;
    print!("{out}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &out)?;
    }
    Ok(())
}

fn run_ort(args: &Args, paths: &[PathBuf], threads: usize) -> anyhow::Result<OrtReport> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/py/ort_bench.py");
    let output = Command::new(&args.python)
        .arg(script)
        .arg(&args.models)
        .arg(args.iterations.to_string())
        .arg(threads.to_string())
        .args(paths)
        .output()
        .with_context(|| format!("running {}", args.python.display()))?;
    if !output.status.success() {
        bail!(
            "onnxruntime benchmark failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

fn model_table(
    engine: &Engine,
    models: &Path,
    image: &[u8],
    runs: usize,
    ort: &OrtReport,
) -> anyhow::Result<String> {
    let rgb = liveness_models::decode::decode_rgb(image)?;
    let detector = engine.detector();
    let face = detector
        .detect(&rgb, 0.6, 0.3)?
        .into_iter()
        .next()
        .context("no face in the benchmark image")?;
    let pad = |id: &str| engine.pad_model(id).context("model not loaded");
    let (v2, v1se) = (pad("minifasnet_v2")?, pad("minifasnet_v1se")?);
    let mut table = Table::new(&[
        "model (one thread, median ms)",
        "tract",
        "onnxruntime",
        "tract / ort",
    ]);
    let det_input = detector.preprocess(&rgb).tensor;
    // tract's own operators throughout (no max-pool or depthwise rewrite), timed interleaved
    // with ours.
    let side = detector.input_side();
    let unrewritten = liveness_models::onnx::load_model_unrewritten(
        &models.join(liveness_models::DETECTOR_FILE),
        [1, 3, side, side],
        true,
    )?;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(time_ms(|| drop(detector.infer(det_input.clone()))));
        theirs.push(time_ms(|| drop(unrewritten.run(det_input.clone()))));
    }
    let (det, det_before) = (median(ours), median(theirs));
    table.row(vec![
        "YuNet 1x3x256x256".into(),
        ms(det),
        ms(ort.models["yunet"]),
        ratio(det, ort.models["yunet"]),
    ]);
    table.row(vec![
        "YuNet, tract's own operators (before)".into(),
        ms(det_before),
        ms(ort.models["yunet"]),
        ratio(det_before, ort.models["yunet"]),
    ]);
    for (model, key) in [(v2, "minifasnet_v2"), (v1se, "minifasnet_v1se")] {
        let input = model.preprocess(&rgb, &face.bbox).0;
        let t = median(
            (0..runs)
                .map(|_| time_ms(|| drop(model.logits(input.clone()))))
                .collect(),
        );
        table.row(vec![
            format!("{} 1x3x80x80", model.spec.file.trim_end_matches(".onnx")),
            ms(t),
            ms(ort.models[key]),
            ratio(t, ort.models[key]),
        ]);
    }
    let probe = median(
        (0..runs)
            .map(|_| time_ms(|| drop(detector.measure_roll(&rgb, &face))))
            .collect(),
    );
    table.row(vec![
        "YuNet roll views 3 x 1x3x96x96".into(),
        ms(probe),
        "-".into(),
        "-".into(),
    ]);
    Ok(format!("\n### Models alone\n\n{}", table.markdown()))
}

fn stage_table(
    engine: &Engine,
    paths: &[PathBuf],
    images: &[Vec<u8>],
    runs: usize,
    ort: &OrtReport,
) -> String {
    let mut table = Table::new(&[
        "image (one thread, median ms)",
        "decode",
        "detect",
        "gates+roll",
        "crop",
        "V2",
        "V1SE",
        "total",
        "ort total",
        "tract / ort",
    ]);
    let (mut sum_ours, mut sum_ort) = (0.0, 0.0);
    for (path, bytes) in paths.iter().zip(images) {
        engine.analyze(bytes);
        let runs: Vec<Timings> = (0..runs).map(|_| engine.analyze(bytes).timings).collect();
        let m = |f: fn(&Timings) -> f64| median(runs.iter().map(f).collect());
        let total = m(|t| t.total);
        let ort_total = ort.per_image[&path.display().to_string()]["total"];
        sum_ours += total;
        sum_ort += ort_total;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        table.row(vec![
            name,
            ms(m(|t| t.decode)),
            ms(m(|t| t.detect)),
            ms(m(|t| t.gates)),
            ms(m(|t| t.crop)),
            ms(m(|t| {
                t.pad_models.get("minifasnet_v2").copied().unwrap_or(0.0)
            })),
            ms(m(|t| {
                t.pad_models.get("minifasnet_v1se").copied().unwrap_or(0.0)
            })),
            ms(total),
            ms(ort_total),
            ratio(total, ort_total),
        ]);
    }
    let mut row = vec!["mean".to_string()];
    row.extend(std::iter::repeat_n(String::new(), 6));
    let n = images.len() as f64;
    row.extend([ms(sum_ours / n), ms(sum_ort / n), ratio(sum_ours, sum_ort)]);
    table.row(row);
    let ort_stages: Vec<String> = [
        "decode",
        "detect",
        "crop",
        "minifasnet_v2",
        "minifasnet_v1se",
    ]
    .iter()
    .map(|k| {
        let mean = ort.per_image.values().map(|s| s[*k]).sum::<f64>() / n;
        format!("{k} {mean:.2}")
    })
    .collect();
    format!(
        "\n### Whole image, decode to verdict\n\n{}\nonnxruntime stage means (numpy preprocessing, no quality gates or roll views): {}\n",
        table.markdown(),
        ort_stages.join(", ")
    )
}

fn throughput_table(
    args: &Args,
    images: &[Vec<u8>],
    cores: usize,
    ort: &OrtReport,
) -> anyhow::Result<String> {
    let mut table = Table::new(&[
        "throughput (images/s)",
        "tract",
        "onnxruntime",
        "tract / ort",
    ]);
    let work: Vec<&[u8]> = (0..args.iterations * images.len())
        .map(|i| images[i % images.len()].as_slice())
        .collect();
    let single = load(&args.models, 1)?;
    let one = work.len() as f64 / (time_ms(|| drop(single.analyze_many(&work))) / 1e3);
    drop(single);
    let pool = load(&args.models, cores)?;
    pool.analyze_many(&work[..images.len()]);
    let many = work.len() as f64 / (time_ms(|| drop(pool.analyze_many(&work))) / 1e3);
    table.row(vec![
        "1 thread".into(),
        format!("{one:.1}"),
        "-".into(),
        "-".into(),
    ]);
    table.row(vec![
        format!("pool of {cores}"),
        format!("{many:.1}"),
        format!("{:.1}", ort.pool_images_per_s),
        ratio(many, ort.pool_images_per_s),
    ]);
    Ok(format!("\n### Throughput\n\n{}", table.markdown()))
}

fn rss_table(args: &Args) -> anyhow::Result<String> {
    let output = Command::new(std::env::current_exe()?)
        .arg("rss")
        .arg("--models")
        .arg(&args.models)
        .output()?;
    if !output.status.success() {
        bail!(
            "rss probe failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let kib: f64 = String::from_utf8_lossy(&output.stdout).trim().parse()?;
    Ok(format!(
        "\nPeak RSS, all models loaded and every sample analysed: {:.1} MiB\n",
        kib / 1024.0
    ))
}

/// Runs in a child process so the figure is not inflated by the benchmark's own engines.
pub fn rss(args: RssArgs) -> anyhow::Result<()> {
    let engine = load(&args.models, 0)?;
    for name in FACE_IMAGES {
        engine.analyze(&std::fs::read(args.models.join(name))?);
    }
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .context("VmHWM not in /proc/self/status")?;
    println!("{peak}");
    Ok(())
}
