use anyhow::Context;
use liveness_models::{Analysis, Engine, EngineConfig, ModelPaths, RejectionCode};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Add faces, gate measurements with their limits, model scores and per-stage timings.
    #[arg(long)]
    details: bool,
    /// Folder holding the model files (scripts/fetch-models puts them in models/assets).
    #[arg(long, env = "LIVENESS_MODEL_DIR", default_value = "models/assets")]
    models: PathBuf,
    /// Inference threads; 0 means one per core.
    #[arg(long, env = "LIVENESS_THREADS", default_value_t = 0)]
    threads: usize,
    /// Model set (models/manifest.toml); the default set when absent.
    #[arg(long)]
    model_set: Option<String>,
    /// Allow a model set whose licence is marked restricted.
    #[arg(long, env = "LIVENESS_ALLOW_RESTRICTED_MODELS")]
    allow_restricted_models: bool,
    /// Images to analyse (JPEG, PNG, WebP, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

/// Exit status when at least one image could not be read or decoded (708).
const EXIT_UNREADABLE: u8 = 1;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = EngineConfig {
        threads: args.threads,
        model_sets: args.model_set.iter().cloned().collect(),
        allow_restricted_models: args.allow_restricted_models,
        ..EngineConfig::default()
    };
    let engine = Engine::load(&ModelPaths::in_dir(&args.models), config)
        .with_context(|| format!("loading models from {}", args.models.display()))?;
    let set = engine.model_set(args.model_set.as_deref())?;
    // An unreadable file is a 708 verdict like a corrupt image, not a reason to stop the run.
    let contents: Vec<Result<Vec<u8>, std::io::Error>> =
        args.images.iter().map(std::fs::read).collect();
    let bytes: Vec<&[u8]> = contents
        .iter()
        .map(|c| c.as_deref().unwrap_or(&[]))
        .collect();
    let analyses = engine.analyze_many_with(set, &bytes);

    let mut out = std::io::stdout().lock();
    let mut unreadable = false;
    for ((path, content), analysis) in args.images.iter().zip(&contents).zip(&analyses) {
        let mut line = verdict_json(analysis, args.details);
        if let Err(e) = content {
            line["error_details"] = json!({ "reason": "read", "detail": e.to_string() });
        }
        line["file"] = json!(path.display().to_string());
        unreadable |= content.is_err()
            || analysis
                .rejection
                .as_ref()
                .is_some_and(|r| r.code == RejectionCode::ImageUnreadable);
        writeln!(out, "{}", Value::Object(reorder(line)))?;
    }
    Ok(if unreadable {
        ExitCode::from(EXIT_UNREADABLE)
    } else {
        ExitCode::SUCCESS
    })
}

/// The API's own field names, so a line reads like the service's answer for that image.
pub fn verdict_json(analysis: &Analysis, details: bool) -> Value {
    let mut v = json!({ "valid": analysis.valid() });
    if let Some(r) = &analysis.rejection {
        v["error_code"] = json!(r.code);
        v["message"] = json!(r.code.message());
        let key = if r.code == RejectionCode::AttackDetected {
            "face_liveness"
        } else {
            "reason"
        };
        v["error_details"] = if key == "reason" {
            json!({ "reason": r.reason, "detail": r.detail })
        } else {
            json!({ "face_liveness": r.detail })
        };
    }
    if let Some(scores) = &analysis.liveness {
        v["api_response"] = json!({ "face_liveness": { "probability": scores.probability } });
    }
    if details {
        v["image"] = json!({ "width": analysis.width, "height": analysis.height });
        v["faces"] = json!(analysis.faces);
        v["subject"] = json!(analysis.subject);
        v["gates"] = json!(analysis.gates);
        if let Some(scores) = &analysis.liveness {
            v["model_set"] = json!(scores.model_set);
            v["models"] = json!(scores.models);
        }
        v["timings_ms"] = json!(analysis.timings);
    }
    v
}

/// `file` first, then the contract fields, then details: easier to read in a terminal.
fn reorder(v: Value) -> Map<String, Value> {
    let Value::Object(mut map) = v else {
        unreachable!("verdict_json builds an object")
    };
    let mut ordered = Map::new();
    for key in [
        "file",
        "valid",
        "error_code",
        "message",
        "error_details",
        "api_response",
    ] {
        if let Some(value) = map.remove(key) {
            ordered.insert(key.to_string(), value);
        }
    }
    ordered.extend(map);
    ordered
}
