//! `liveness analyze` end to end: the real binary, the real models, one JSON line per image.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn assets() -> PathBuf {
    std::env::var_os("LIVENESS_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/assets"))
}

fn analyze(args: &[&str], files: &[PathBuf]) -> (Option<i32>, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_liveness"))
        .arg("analyze")
        .args(args)
        .arg("--models")
        .arg(assets())
        .args(files)
        .output()
        .unwrap();
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (out.status.code(), lines)
}

#[test]
fn one_line_per_image_in_order_and_bad_files_do_not_stop_the_run() {
    let dir = std::env::temp_dir().join(format!("liveness-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("notes.jpg");
    std::fs::write(&text, "not an image").unwrap();
    let files = [
        assets().join("silentface_image_T1.jpg"),
        dir.join("missing.png"),
        text,
        assets().join("coffee.png"),
    ];
    let (status, lines) = analyze(&[], &files);
    assert_eq!(status, Some(1), "unreadable inputs set exit status 1");
    assert_eq!(lines.len(), 4);
    for (line, file) in lines.iter().zip(&files) {
        assert_eq!(line["file"], file.display().to_string());
    }
    assert_eq!(lines[0]["valid"], true);
    assert!(
        lines[0]["api_response"]["face_liveness"]["probability"]
            .as_f64()
            .unwrap()
            >= 0.9
    );
    assert!(lines[0].get("gates").is_none(), "details only when asked");
    for bad in &lines[1..3] {
        assert_eq!(bad["valid"], false);
        assert_eq!(bad["error_code"], 708);
        assert_eq!(bad["message"], "Error reading image.");
    }
    assert_eq!(lines[3]["error_code"], 704);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn details_show_faces_gates_and_timings() {
    let (status, lines) = analyze(&["--details"], &[assets().join("silentface_image_F2.jpg")]);
    assert_eq!(status, Some(0));
    let line = &lines[0];
    assert_eq!(line["error_code"], 715);
    assert!(line["error_details"]["face_liveness"]
        .as_str()
        .unwrap()
        .contains("value achieved"));
    assert_eq!(line["faces"].as_array().unwrap().len(), 1);
    assert!(line["faces"][0]["landmarks"]["nose"]["x"].is_number());
    let gates = line["gates"].as_array().unwrap();
    assert!(gates
        .iter()
        .all(|g| g["measured"].is_number() && g["limit"].is_number()));
    assert!(gates.iter().any(|g| g["gate"] == "interocular_px"));
    for stage in ["decode", "detect", "crop", "total"] {
        assert!(
            line["timings_ms"][stage].as_f64().unwrap() >= 0.0,
            "{stage}"
        );
    }
    for model in ["minifasnet_v2", "minifasnet_v1se"] {
        assert!(line["timings_ms"]["pad_models"][model].as_f64().unwrap() >= 0.0);
        assert_eq!(line["models"][model].as_array().unwrap().len(), 3);
    }
    assert_eq!(line["model_set"], "minifasnet");
}
