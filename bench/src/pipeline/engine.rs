//! The engine alone on the same captures, timed around the pipeline's runs: the bound the
//! pipeline's rate is held to, and where each part runs.

use super::{procstat, Args};
use liveness_models::{Engine, EngineConfig, ModelPaths};
use std::time::Instant;

/// Which cores each part runs on.
pub(super) struct Placement {
    /// Cores whose time the engine bound counts.
    pub(super) bound_cores: usize,
    /// Inference threads per worker.
    pub(super) threads: usize,
    pub(super) workers: Option<String>,
    /// The worker core the engine-alone time is measured on, when workers have their own.
    pub(super) engine_core: Option<String>,
    pub(super) rest: Option<String>,
    pub(super) all: String,
}

impl Placement {
    pub(super) fn new(args: &Args) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let all = format!("0-{}", cores - 1);
        if !args.isolate {
            return Ok(Self {
                bound_cores: cores,
                threads: cores,
                workers: None,
                engine_core: None,
                rest: None,
                all,
            });
        }
        anyhow::ensure!(
            args.workers < cores,
            "--isolate needs a core for the rest besides one per worker ({cores} cores)"
        );
        let first_worker_core = cores - args.workers;
        Ok(Self {
            bound_cores: args.workers,
            threads: 1,
            workers: Some(format!("{first_worker_core}-{}", cores - 1)),
            engine_core: Some(first_worker_core.to_string()),
            rest: Some(format!("0-{}", first_worker_core - 1)),
            all,
        })
    }
}

pub(super) fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub(super) fn load_engine(args: &Args, threads: usize) -> anyhow::Result<Engine> {
    let config = EngineConfig {
        threads,
        ..EngineConfig::default()
    };
    Ok(Engine::load(&ModelPaths::in_dir(&args.models), config)?)
}

/// Median engine time per capture (three frames) over `measured` captures, on a one-thread
/// engine, as the worker runs them.
pub(super) fn engine_alone(engine: &Engine, bursts: &[Vec<Vec<u8>>], measured: usize) -> f64 {
    // The first runs touch fresh memory and caches: not what a running worker sees.
    for burst in bursts.iter().take(3) {
        let refs: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
        engine.analyze_many(&refs);
    }
    let mut times = Vec::new();
    for burst in bursts.iter().skip(3).take(measured) {
        let refs: Vec<&[u8]> = burst.iter().map(Vec::as_slice).collect();
        let t = Instant::now();
        engine.analyze_many(&refs);
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    percentile(&times, 0.5)
}

/// Captures per second of the engine alone with every bound core busy: `threads` inference
/// threads on the frames of many captures at once. Two threads on this VM do not give twice
/// one thread's rate, which the bound (cores / one thread's time) assumes.
pub(super) fn engine_saturated(
    args: &Args,
    bursts: &[Vec<Vec<u8>>],
    threads: usize,
) -> anyhow::Result<f64> {
    let engine = load_engine(args, threads)?;
    let frames = |range: std::ops::Range<usize>| -> Vec<&[u8]> {
        bursts[range]
            .iter()
            .flat_map(|b| b.iter().map(Vec::as_slice))
            .collect()
    };
    engine.analyze_many(&frames(0..5));
    let captures = 20 * threads;
    let start = Instant::now();
    engine.analyze_many(&frames(5..5 + captures));
    Ok(captures as f64 / start.elapsed().as_secs_f64())
}

/// The engine alone (see [`engine_alone`]), on a worker's core when the workers have their
/// own (the workers are idle meanwhile); then this process goes back to the cores `then`.
pub(super) fn engine_alone_placed(
    engine: &Engine,
    bursts: &[Vec<Vec<u8>>],
    measured: usize,
    place: &Placement,
    then: &str,
) -> anyhow::Result<f64> {
    let me = std::process::id();
    if let Some(core) = &place.engine_core {
        procstat::pin(me, core)?;
    }
    let ms = engine_alone(engine, bursts, measured);
    procstat::pin(me, then)?;
    Ok(ms)
}
