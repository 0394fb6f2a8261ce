//! `liveness evaluate` on a small labelled folder built here from the samples, with the
//! figures worked out by hand: an image without a face, an unreadable file, a sealed capture
//! packet, and a live portrait filed as an attack (an attack that gets through).

mod exe;

use exe::{asset, burst, keygen, liveness, ok};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn copy(name: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(asset(name), to.join(name)).unwrap();
}

struct Folder {
    root: PathBuf,
    keys: String,
}

/// bona_fide: T1 (live), astronaut (live portrait), coffee (no face: 704), broken.jpg (708),
/// and a packet sealed from a burst of T1; print: F1 and the astronaut again; replay: F2.
fn folder(name: &str) -> Folder {
    let root =
        std::env::temp_dir().join(format!("liveness-evaluate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let bona_fide = root.join("bona_fide");
    for name in ["silentface_image_T1.jpg", "astronaut.png", "coffee.png"] {
        copy(name, &bona_fide);
    }
    std::fs::write(bona_fide.join("broken.jpg"), b"not an image").unwrap();
    copy("silentface_image_F1.jpg", &root.join("print"));
    copy("astronaut.png", &root.join("print"));
    copy("silentface_image_F2.jpg", &root.join("replay"));

    let keys = keygen(&root.join("keys"), "k-eval");
    let frames = burst(&asset("silentface_image_T1.jpg"), &root.join("frames"));
    let packet = bona_fide.join("t1.packet");
    let mut seal = vec![
        "seal",
        "--key",
        &keys.public,
        "--nonce=evaluation-nonce",
        "--out",
        packet.to_str().unwrap(),
    ];
    seal.extend(frames.iter().map(String::as_str));
    ok(liveness(&seal));
    Folder {
        keys: keys.private_entry,
        root,
    }
}

fn evaluate(f: &Folder, extra: &[&str]) -> Output {
    let dir = |d: &str| f.root.join(d).display().to_string();
    let (bona_fide, print, replay) = (
        dir("bona_fide"),
        format!("print={}", dir("print")),
        format!("replay={}", dir("replay")),
    );
    let mut args = vec![
        "evaluate",
        "--bona-fide",
        &bona_fide,
        "--attack",
        &print,
        "--attack",
        &replay,
        "--capture-keys",
        &f.keys,
    ];
    args.extend_from_slice(extra);
    liveness(&args)
}

fn p_real(name: &str) -> f64 {
    let path = asset(name);
    let line = ok(liveness(&["analyze", path.to_str().unwrap()]));
    let v: Value = serde_json::from_str(line.trim()).unwrap();
    v["api_response"]["face_liveness"]["probability"]
        .as_f64()
        .unwrap()
}

#[test]
fn figures_match_the_hand_computed_ones_and_the_json_is_stable() {
    let f = folder("figures");
    let out = ok(evaluate(
        &f,
        &["--format", "json", "--threshold-for-bpcer", "0.3"],
    ));
    let again = ok(evaluate(
        &f,
        &["--format", "json", "--threshold-for-bpcer", "0.3"],
    ));
    assert_eq!(out, again, "the same run prints the same JSON");
    let v: Value = serde_json::from_str(&out).unwrap();
    let s = &v["model_sets"][0];
    assert_eq!(s["model_set"], "minifasnet");
    assert_eq!(s["threshold"], 0.5);
    // 5 bona fide presentations, of which T1, the astronaut and the packet have a face; every
    // attack has one.
    assert_eq!(s["samples"]["bona_fide"], 5);
    assert_eq!(
        s["samples"]["attacks"],
        serde_json::json!({"print": 2, "replay": 1})
    );
    assert_eq!(s["faces_found"]["bona_fide"], 3);
    // PAD only, at 0.5: the astronaut filed as print passes (1 of 2), F1 and F2 do not;
    // no bona fide face scores below 0.5. ACER = (0.5 + 0) / 2.
    let pad = &s["pad"];
    assert_eq!(pad["apcer"]["print"], 0.5);
    assert_eq!(pad["apcer"]["replay"], 0.0);
    assert_eq!(pad["apcer_max"], 0.5);
    assert_eq!(pad["bpcer"], 0.0);
    assert_eq!(pad["acer"], 0.25);
    // 30 % of 3 bona fide faces allows no rejection: the highest threshold rejecting none is
    // the lowest bona fide score, the astronaut's (rounded down to 6 decimals), where the
    // astronaut filed as an attack still passes.
    let astronaut = p_real("astronaut.png");
    assert!(astronaut < p_real("silentface_image_T1.jpg"));
    let recommended = &pad["recommended"];
    assert_eq!(
        recommended["threshold"].as_f64().unwrap(),
        (astronaut * 1e6).floor() / 1e6
    );
    assert_eq!(recommended["bpcer"], 0.0);
    assert_eq!(recommended["apcer_max"], 0.5);
    // Full pipeline: coffee is 704, the broken file 708, the attacks' outcomes as above.
    let pipeline = &s["pipeline"];
    assert_eq!(
        pipeline["outcomes"]["bona_fide"],
        serde_json::json!({"704": 1, "708": 1, "valid": 3})
    );
    assert_eq!(
        pipeline["outcomes"]["attacks"]["print"],
        serde_json::json!({"715": 1, "valid": 1})
    );
    assert_eq!(
        pipeline["outcomes"]["attacks"]["replay"],
        serde_json::json!({"715": 1})
    );
    assert_eq!(pipeline["bpcer"], 0.4);
    assert_eq!(pipeline["apcer_max"], 0.5);
    std::fs::remove_dir_all(&f.root).unwrap();
}

#[test]
fn det_curve_png_and_the_restricted_set_needs_the_operator_setting() {
    let f = folder("det");
    let png = f.root.join("det.png");
    let refused = evaluate(&f, &["--model-set", "minifasnet-facenox"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("LIVENESS_ALLOW_RESTRICTED_MODELS"));

    let count = |png: &Path, colour: [u8; 3]| {
        let image = image::open(png).unwrap().to_rgb8();
        assert_eq!(image.dimensions(), (800, 600));
        image.pixels().filter(|p| p.0 == colour).count()
    };
    // The sets' curve colours, in order (cli/src/evaluate/det.rs CURVE_COLOURS).
    let (first, second) = ([31, 119, 180], [214, 39, 40]);
    ok(evaluate(&f, &["--det", png.to_str().unwrap()]));
    let alone = count(&png, first);
    assert!(alone >= 300, "the default set's curve: {alone} pixels");
    assert_eq!(count(&png, second), 0);

    let allowed = evaluate(
        &f,
        &[
            "--model-set",
            "minifasnet",
            "--model-set",
            "minifasnet-facenox",
            "--allow-restricted-models",
            "--det",
            png.to_str().unwrap(),
        ],
    );
    let warning = String::from_utf8_lossy(&allowed.stderr).into_owned();
    assert!(
        warning.contains("restricted licence") && warning.contains("CelebA-Spoof"),
        "the operator is warned: {warning}"
    );
    let table = ok(allowed);
    assert!(
        table.contains("minifasnet-facenox") && table.contains("APCER print"),
        "{table}"
    );
    // The second curve is drawn over the first where they coincide.
    assert!(count(&png, second) >= 300);
    assert!(count(&png, first) > 0);
    let markdown = ok(evaluate(&f, &["--format", "markdown"]));
    assert!(markdown.contains("| APCER max |"), "{markdown}");
    std::fs::remove_dir_all(&f.root).unwrap();
}
