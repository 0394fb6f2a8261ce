//! s3s-fs, plus the clean-up it leaves out: it keeps two small files per object beside the
//! buckets (`.bucket-<b64>.object-<b64>.{internal,metadata}.json`: ETag, checksums, content
//! type) and never deletes them, not with the object and not with its bucket. Every deleted
//! capture (retention, purge on request) and every test bucket then left 8 KiB on disk and two
//! entries in one ever-growing folder. Every operation is s3s-fs's own; deletions also remove
//! those files.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;
use std::path::PathBuf;

pub struct DevStore {
    inner: FileSystem,
    root: PathBuf,
}

/// The sidecar files' names, as s3s-fs 0.14.1 forms them (`fs.rs`: `get_internal_info_path`,
/// `get_metadata_path`); the version is pinned in Cargo.toml.
fn b64(s: &str) -> String {
    base64_simd::URL_SAFE_NO_PAD.encode_to_string(s)
}

fn bucket_prefix(bucket: &str) -> String {
    format!(".bucket-{}.object-", b64(bucket))
}

impl DevStore {
    pub fn new(root: PathBuf) -> std::io::Result<Self> {
        let inner = FileSystem::new(&root).map_err(|e| {
            std::io::Error::other(format!("cannot serve {}: {e:?}", root.display()))
        })?;
        Ok(Self { inner, root })
    }

    async fn remove_sidecars(&self, bucket: &str, key: &str) {
        let stem = format!("{}{}", bucket_prefix(bucket), b64(key));
        for suffix in [".internal.json", ".metadata.json"] {
            // Absent is fine: an object written without attributes has no metadata file.
            let _ = tokio::fs::remove_file(self.root.join(format!("{stem}{suffix}"))).await;
        }
    }

    async fn remove_bucket_sidecars(&self, bucket: &str) -> std::io::Result<()> {
        let prefix = bucket_prefix(bucket);
        let mut entries = tokio::fs::read_dir(&self.root).await?;
        while let Some(entry) = entries.next_entry().await? {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }
}

/// The S3 impl: the listed operations go straight to s3s-fs, the items after them are written
/// out. One macro around the whole impl, because `async_trait` rewrites only the methods it
/// sees, not those a macro inside the impl would produce.
macro_rules! dev_store_s3 {
    (delegate { $($op:ident: $input:ty => $output:ty),* $(,)? } $($own:item)*) => {
        #[async_trait::async_trait]
        impl S3 for DevStore {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*
            $($own)*
        }
    };
}

dev_store_s3! {
    delegate {
        create_bucket: CreateBucketInput => CreateBucketOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        get_object: GetObjectInput => GetObjectOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        head_object: HeadObjectInput => HeadObjectOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        put_object: PutObjectInput => PutObjectOutput,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        upload_part: UploadPartInput => UploadPartOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
        list_parts: ListPartsInput => ListPartsOutput,
        complete_multipart_upload: CompleteMultipartUploadInput => CompleteMultipartUploadOutput,
        abort_multipart_upload: AbortMultipartUploadInput => AbortMultipartUploadOutput,
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let deleted = self.inner.delete_object(req).await?;
        self.remove_sidecars(&bucket, &key).await;
        Ok(deleted)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket.clone();
        let deleted = self.inner.delete_objects(req).await?;
        for key in deleted
            .output
            .deleted
            .iter()
            .flatten()
            .filter_map(|d| d.key.as_deref())
        {
            self.remove_sidecars(&bucket, key).await;
        }
        Ok(deleted)
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket.clone();
        let deleted = self.inner.delete_bucket(req).await?;
        if let Err(e) = self.remove_bucket_sidecars(&bucket).await {
            tracing::warn!(bucket, error = %e, "leftover object attributes not removed");
        }
        Ok(deleted)
    }
}
