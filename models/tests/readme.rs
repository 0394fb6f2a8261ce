//! The README's table of thresholds must show the defaults the code uses.

use liveness_models::EngineConfig;
use serde_json::Value;

#[test]
fn readme_states_every_default_threshold() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let config = serde_json::to_value(EngineConfig::default()).unwrap();
    let mut fields: Vec<(String, Value)> = Vec::new();
    for (key, value) in config.as_object().unwrap() {
        match key.as_str() {
            "threads" | "model_sets" | "allow_restricted_models" => {}
            "gates" => fields.extend(value.as_object().unwrap().clone()),
            _ => fields.push((key.clone(), value.clone())),
        }
    }
    let missing: Vec<String> = fields
        .iter()
        .map(|(key, value)| {
            let number = value.as_f64().unwrap();
            // Thresholds are stored as f32 or f64; print the shortest decimal a person would write.
            let shown = format!("{}", (number * 1e6).round() / 1e6);
            format!("`{key}` = {shown}")
        })
        .filter(|needle| !readme.contains(needle))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md lacks or misstates: {missing:?}"
    );
}
