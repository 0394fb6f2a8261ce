//! The server binary over a fresh folder, driven by the pipeline's own S3 client: deleting
//! objects and buckets leaves nothing of them on disk, and touches no other bucket.

use liveness_pipeline::config::StorageConfig;
use liveness_pipeline::storage::Storage;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "cleanup-test";
const SECRET_KEY: &str = "cleanup-test-secret";

struct Server {
    child: Child,
    endpoint: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(root: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_liveness-s3-dev"))
        .args(["--listen", &listen, "--access-key", ACCESS_KEY])
        .args(["--secret-key", SECRET_KEY])
        .arg(root)
        .spawn()
        .expect("liveness-s3-dev starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&listen).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        child,
        endpoint: format!("http://{listen}"),
    }
}

fn bucket(server: &Server, name: &str) -> Storage {
    Storage::new(&StorageConfig {
        endpoint: server.endpoint.clone(),
        access_key: ACCESS_KEY.into(),
        secret_key: SECRET_KEY.into(),
        bucket: name.into(),
        ..StorageConfig::from_env().unwrap()
    })
}

/// Every entry of the server's folder, bucket folders and per-object files alike.
fn entries(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn deleted_objects_and_buckets_leave_nothing_behind() {
    let root = tempfile::tempdir().unwrap();
    let server = start(root.path());
    // One name a prefix of the other: removing the first must not touch the second.
    let doomed = bucket(&server, "captures");
    let kept = bucket(&server, "captures-kept");
    for storage in [&doomed, &kept] {
        storage.ensure_bucket().await.unwrap();
        for key in ["tenant-1/a.lvcp", "tenant-1/b.lvcp", "tenant-2/c.lvcp"] {
            storage.put(key, b"sealed".to_vec()).await.unwrap();
        }
    }
    let before_deletes = entries(root.path());

    doomed.delete("tenant-1/a.lvcp").await.unwrap();
    let after_one = entries(root.path());
    assert_eq!(
        before_deletes.len() - after_one.len(),
        2,
        "the deleted object's two files went with it: {after_one:?}"
    );
    assert_eq!(doomed.get("tenant-1/b.lvcp").await.unwrap(), b"sealed");

    doomed.remove_bucket().await.unwrap();
    let expected: Vec<String> = before_deletes
        .iter()
        .filter(|name| !name.starts_with(".bucket-Y2FwdHVyZXM.object-") && *name != "captures")
        .cloned()
        .collect();
    assert_eq!(
        entries(root.path()),
        expected,
        "only the kept bucket remains"
    );
    assert_eq!(
        expected.len(),
        1 + 2 * 3,
        "its folder and two files per object"
    );
    for key in ["tenant-1/a.lvcp", "tenant-1/b.lvcp", "tenant-2/c.lvcp"] {
        assert_eq!(kept.get(key).await.unwrap(), b"sealed");
    }
}
