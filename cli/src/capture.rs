//! `liveness keygen`, `liveness seal` and `liveness assess`: the capture packet from a shell.

use anyhow::{bail, Context};
use liveness_capture::{
    assess, frame_from_jpeg, render_key_file, retire_key_file, seal_unchecked, Camera, KeyId,
    KeySchedule, Keyring, MemoryStores, Payload, Platform, Policy, PrivateKey, PublicKey, Sdk,
    Submission, FORMAT_VERSION,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Id clients will name the key by (1-64 of A-Z a-z 0-9 . _ -).
    #[arg(long)]
    key_id: String,
    /// Folder for KEY_ID.key (private, mode 600: the worker's); without it both halves are
    /// printed.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Folder for KEY_ID.pub (the producer's; default: --dir).
    #[arg(long)]
    public_dir: Option<PathBuf>,
    /// When clients start being told to seal to it (RFC 3339; default now). A later time
    /// stages the key: give the worker its private half first, then the producer its
    /// public half, and the switch happens at this moment.
    #[arg(long)]
    activate_at: Option<String>,
}

fn parse_time(text: &str) -> anyhow::Result<u64> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)
        .with_context(|| format!("{text:?} is not an RFC 3339 time"))?
        .timestamp_millis()
        .max(0) as u64)
}

/// Creates a file that must not exist yet, with this mode.
fn create_new(path: &std::path::Path, mode: u32, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, mode);
    let mut f = file
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let key = PrivateKey::generate(KeyId::parse(&args.key_id)?);
    let public = key.public().to_tagged();
    let schedule = KeySchedule {
        activated_at_ms: match &args.activate_at {
            Some(at) => parse_time(at)?,
            None => now_ms(),
        },
        retired_at_ms: None,
    };
    match args.dir {
        Some(dir) => {
            let public_dir = args.public_dir.unwrap_or_else(|| dir.clone());
            std::fs::create_dir_all(&dir)?;
            std::fs::create_dir_all(&public_dir)?;
            let id = &key.key_id;
            create_new(
                &dir.join(format!("{id}.key")),
                0o600,
                &render_key_file(
                    &format!("capture key {id}, private: for the worker only (mode 600)"),
                    &key.to_base64(),
                    &schedule,
                ),
            )?;
            create_new(
                &public_dir.join(format!("{id}.pub")),
                0o644,
                &render_key_file(
                    &format!("capture key {id}, public: for the producer"),
                    &public,
                    &schedule,
                ),
            )?;
            println!("{public}");
        }
        None => println!("{}={}\n{public}", key.key_id, key.to_base64()),
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct RetireArgs {
    /// The key to stop offering.
    #[arg(long)]
    key_id: String,
    /// Folders whose KEY_ID.key / KEY_ID.pub get the retirement time (repeat the flag).
    #[arg(long = "dir", required = true)]
    dirs: Vec<PathBuf>,
    /// When (RFC 3339; default now). Packets sealed to it still open for
    /// LIVENESS_CAPTURE_KEY_GRACE_SECS after this, then it is unknown.
    #[arg(long)]
    at: Option<String>,
}

/// `liveness key-retire`: records the retirement in the key's files; producer and worker
/// read it at their next start.
pub fn retire(args: RetireArgs) -> anyhow::Result<()> {
    let id = KeyId::parse(&args.key_id)?;
    let at = match &args.at {
        Some(at) => parse_time(at)?,
        None => now_ms(),
    };
    let mut changed = Vec::new();
    for dir in &args.dirs {
        for ext in ["key", "pub"] {
            let path = dir.join(format!("{id}.{ext}"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                // Rewritten in place: the file keeps its owner and mode.
                std::fs::write(&path, retire_key_file(&text, at))
                    .with_context(|| format!("writing {}", path.display()))?;
                changed.push(path.display().to_string());
            }
        }
    }
    if changed.is_empty() {
        bail!("no {id}.key or {id}.pub in the given folders");
    }
    println!(
        "{}",
        json!({ "key_id": id.as_str(), "retired_at_ms": at, "files": changed })
    );
    Ok(())
}

#[derive(clap::Args)]
pub struct BurstArgs {
    /// Frames to write.
    #[arg(long, default_value_t = 3)]
    count: usize,
    /// Folder for frame-1.jpg, frame-2.jpg, ...
    #[arg(long)]
    out_dir: PathBuf,
    /// Noise seed; by default a new one each run, since the server rejects frames it has
    /// already seen (replay).
    #[arg(long)]
    seed: Option<u32>,
    /// The photo to turn into a burst (EXIF orientation is applied).
    image: PathBuf,
}

/// Simulates a camera burst from one photo (see `liveness_capture::simulate`).
pub fn burst(args: BurstArgs) -> anyhow::Result<()> {
    let bytes =
        std::fs::read(&args.image).with_context(|| format!("reading {}", args.image.display()))?;
    let image = liveness_models::decode::decode_rgb(&bytes).context("decoding the image")?;
    std::fs::create_dir_all(&args.out_dir)?;
    let seed = args
        .seed
        .unwrap_or_else(|| now_ms() as u32 ^ std::process::id().rotate_left(16));
    for (i, jpeg) in liveness_capture::simulate::noisy_burst(&image, args.count, seed)
        .iter()
        .enumerate()
    {
        let path = args.out_dir.join(format!("frame-{}.jpg", i + 1));
        std::fs::write(&path, jpeg)?;
        println!("{}", path.display());
    }
    Ok(())
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Timestamps {
    /// Frames spread evenly over a capture that just ended.
    Normal,
    /// Frame times run backwards.
    Reversed,
    /// Every frame carries the same time.
    Equal,
    /// The capture ended an hour ago.
    Stale,
}

#[derive(clap::Args)]
pub struct SealArgs {
    /// Server public key as KEY_ID:BASE64URL, or a file holding it (KEY_ID.pub).
    #[arg(long)]
    key: String,
    /// Session nonce the server issued.
    #[arg(long)]
    nonce: String,
    #[arg(long, default_value = "liveness-cli camera")]
    camera_label: String,
    #[arg(long)]
    device_id: Option<String>,
    #[arg(long, value_enum, default_value = "cli")]
    platform: PlatformArg,
    #[arg(long)]
    user_agent: Option<String>,
    /// Report an automation flag as set (e.g. webdriver). Repeatable.
    #[arg(long = "automation")]
    automation: Vec<String>,
    /// Milliseconds between frames.
    #[arg(long, default_value_t = 100)]
    frame_interval_ms: u64,
    /// Write the packet here instead of standard output.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// JPEG frames, in capture order (1-8).
    #[arg(required = true)]
    frames: Vec<PathBuf>,

    // Deliberately broken packets, for tests of the server's checks.
    /// Test aid: flip one ciphertext byte after sealing.
    #[arg(long, help_heading = "Test aids")]
    tamper: bool,
    /// Test aid: name this key id in the header instead of the key's own.
    #[arg(long, help_heading = "Test aids")]
    claim_key_id: Option<String>,
    /// Test aid: give frame 0 a wrong digest in the metadata.
    #[arg(long, help_heading = "Test aids")]
    wrong_frame_hash: bool,
    /// Test aid: claim this size (WxH) for every frame.
    #[arg(long, help_heading = "Test aids")]
    claim_size: Option<String>,
    /// Test aid: how frame times are laid out.
    #[arg(long, value_enum, default_value = "normal", help_heading = "Test aids")]
    timestamps: Timestamps,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum PlatformArg {
    Web,
    Android,
    Ios,
    Cli,
}

pub fn seal(args: SealArgs) -> anyhow::Result<()> {
    let tagged = match std::fs::read_to_string(&args.key) {
        Ok(text) => text,
        Err(_) => args.key.clone(),
    };
    // A KEY_ID.pub file: its first line that is not a comment; the schedule lines follow.
    let key_line = tagged
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default();
    let mut key = PublicKey::parse_tagged(key_line).context("--key")?;
    if args.frames.len() > liveness_capture::MAX_FRAMES {
        bail!("at most {} frames", liveness_capture::MAX_FRAMES);
    }
    let n = args.frames.len() as u64;
    let end = now_ms();
    let start = end - args.frame_interval_ms * n;
    let mut frames = Vec::new();
    for (i, path) in args.frames.iter().enumerate() {
        let jpeg = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let i = i as u64;
        let at = match args.timestamps {
            Timestamps::Normal => start + args.frame_interval_ms * (i + 1),
            Timestamps::Reversed => end - args.frame_interval_ms * i,
            Timestamps::Equal => end,
            Timestamps::Stale => start + args.frame_interval_ms * (i + 1) - 3_600_000,
        };
        let mut frame = frame_from_jpeg(jpeg, at)
            .with_context(|| format!("{} is not a JPEG", path.display()))?;
        if let Some(size) = &args.claim_size {
            let (w, h) = size.split_once('x').context("--claim-size WxH")?;
            (frame.width, frame.height) = (w.parse()?, h.parse()?);
        }
        frames.push(frame);
    }
    if args.wrong_frame_hash {
        frames[0].sha256[0] ^= 0xFF;
    }
    let stale = matches!(args.timestamps, Timestamps::Stale);
    let payload = Payload {
        format_version: FORMAT_VERSION,
        sdk: Sdk {
            name: "liveness-cli".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        platform: match args.platform {
            PlatformArg::Web => Platform::Web,
            PlatformArg::Android => Platform::Android,
            PlatformArg::Ios => Platform::Ios,
            PlatformArg::Cli => Platform::Cli,
        },
        nonce: args.nonce,
        capture_started_at_ms: if stale { start - 3_600_000 } else { start },
        capture_ended_at_ms: if stale { end - 3_600_000 } else { end },
        camera: Camera {
            label: args.camera_label,
            device_id: args.device_id,
        },
        user_agent: args.user_agent,
        automation: args
            .automation
            .into_iter()
            .map(|flag| (flag, true))
            .collect::<BTreeMap<_, _>>(),
        frames,
    };
    payload
        .validate()
        .context("the capture breaks a packet limit")?;
    if let Some(id) = args.claim_key_id {
        key.key_id = KeyId::parse(&id)?;
    }
    let mut packet = seal_unchecked(&payload, &key)?;
    if args.tamper {
        let last = packet.len() - 1;
        packet[last - 20] ^= 0x01;
    }
    match args.out {
        Some(path) => {
            std::fs::write(&path, &packet).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(&packet)?,
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct AssessArgs {
    /// Server keys as KEY_ID=BASE64URL entries (else LIVENESS_CAPTURE_KEYS / _KEY_DIR).
    #[arg(long)]
    keys: Option<String>,
    /// Folder of KEY_ID.key files.
    #[arg(long)]
    key_dir: Option<PathBuf>,
    /// Treat this nonce as issued by the server and unused (this command has no session store).
    #[arg(long)]
    issued_nonce: Option<String>,
    /// The selfie image sent beside the packet (it must be the middle sealed frame).
    #[arg(long)]
    selfie: Option<PathBuf>,
    packet: PathBuf,
}

pub fn assess_packet(args: AssessArgs) -> anyhow::Result<()> {
    let keys = match (&args.keys, &args.key_dir) {
        (Some(entries), _) => Keyring::from_entries(entries)?,
        (None, Some(dir)) => Keyring::from_dir(dir)?,
        (None, None) => Keyring::from_env()?,
    };
    let packet = std::fs::read(&args.packet)
        .with_context(|| format!("reading {}", args.packet.display()))?;
    let selfie = args.selfie.as_ref().map(std::fs::read).transpose()?;
    let stores = MemoryStores::default();
    let now = now_ms();
    if let Some(nonce) = &args.issued_nonce {
        stores.issue_nonce(nonce, now + 60_000);
    }
    let submission = Submission {
        packet: &packet,
        selfie_sha256: selfie.map(|s| Sha256::digest(s).into()),
        id: "cli",
        received_at_ms: now,
    };
    let assessment = complete_now(assess(submission, &keys, &Policy::default(), &stores))?;
    let out = json!({
        "capture_liveness": { "score": assessment.score(), "probability": assessment.probability() },
        "signals": assessment.signals,
    });
    println!("{out}");
    Ok(())
}

/// The in-memory stores never wait, so their futures complete on the first poll.
pub(crate) fn complete_now<F: std::future::Future>(future: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => unreachable!("in-memory stores do not suspend"),
    }
}
