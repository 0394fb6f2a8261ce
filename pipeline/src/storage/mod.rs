//! Sealed captures in S3-compatible storage. Objects hold only what the client sent: the
//! packet stays encrypted at rest, and only the worker, holding the keys, can open it.

pub mod at_rest;

use crate::config::{Checksums, StorageConfig};
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use secrecy::ExposeSecret;

/// Where the worker keeps its encrypted copy of a capture's selfie: beside the packet, under
/// a name derived from the packet's, so retention finds it even if the job that wrote it
/// never recorded it (a failure after the write).
pub fn selfie_key(packet_key: &str) -> String {
    format!("{}.selfie.lvso", packet_key.trim_end_matches(".lvcp"))
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("object {0} does not exist")]
    NotFound(String),
    #[error("object storage unavailable: {0}")]
    Unavailable(String),
}

#[derive(Clone)]
pub struct Storage {
    client: Client,
    pub bucket: String,
    sign_payload: bool,
}

fn unavailable<E: std::error::Error + 'static, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> StorageError {
    StorageError::Unavailable(aws_sdk_s3::error::DisplayErrorContext(e).to_string())
}

impl Storage {
    pub fn new(config: &StorageConfig) -> Self {
        // Some S3-compatible servers refuse the aws-chunked bodies that carry upload CRCs.
        let (request_checksums, response_checksums) = match config.checksums {
            Checksums::WhenSupported => (
                RequestChecksumCalculation::WhenSupported,
                ResponseChecksumValidation::WhenSupported,
            ),
            Checksums::WhenRequired => (
                RequestChecksumCalculation::WhenRequired,
                ResponseChecksumValidation::WhenRequired,
            ),
        };
        let s3 = aws_sdk_s3::Config::builder()
            .request_checksum_calculation(request_checksums)
            .response_checksum_validation(response_checksums)
            .behavior_version_latest()
            .endpoint_url(&config.endpoint)
            .region(Region::new(config.region.clone()))
            .credentials_provider(Credentials::new(
                &config.access_key,
                config.secret_key.expose_secret(),
                None,
                None,
                "liveness",
            ))
            .force_path_style(true)
            // Fail fast when the server is down: callers answer 503 or retry the job later
            // with their own backoff, so the SDK's own retries only add latency.
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(2))
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(std::time::Duration::from_secs(2))
                    .operation_timeout(std::time::Duration::from_secs(30))
                    .build(),
            )
            .build();
        Self {
            client: Client::from_conf(s3),
            bucket: config.bucket.clone(),
            sign_payload: config.sign_payload,
        }
    }

    /// Creates the bucket unless it exists.
    pub async fn ensure_bucket(&self) -> Result<(), StorageError> {
        if self
            .client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                }) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StorageError> {
        self.put_to(&self.bucket, key, body).await
    }

    /// Writes to a named bucket (beside a transaction's packet, wherever that went).
    pub async fn put_to(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), StorageError> {
        let put = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(body))
            .customize();
        // A SHA-256 of the body for the signature costs a pass over it here and another in
        // the server (`bench storage`). The headers stay signed, the SDK's CRC still guards
        // the body in transit (unless S3_CHECKSUMS=when_required), and the worker checks the
        // packet against its SHA-256 recorded at intake.
        let put = if self.sign_payload {
            put
        } else {
            put.disable_payload_signing()
        };
        put.send().await.map_err(unavailable)?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        self.get_from(&self.bucket, key).await
    }

    /// Reads from a named bucket (where a transaction recorded its objects).
    pub async fn get_from(&self, bucket: &str, key: &str) -> Result<Vec<u8>, StorageError> {
        let object = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(object) => object,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(StorageError::NotFound(key.to_string()))
            }
            Err(e) => return Err(unavailable(e)),
        };
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(body.into_bytes().to_vec())
    }

    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        self.delete_from(&self.bucket, key).await
    }

    /// Deletes from a named bucket (a transaction records where its capture went, which
    /// outlives a change of the configured bucket). Deleting a missing key succeeds.
    pub async fn delete_from(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Deletes every object of the bucket, then the bucket itself: for throwaway buckets
    /// (tests, benchmarks), which otherwise pile up on the server's disk run after run.
    /// S3 refuses to delete a bucket that still holds objects, hence the emptying first.
    /// A bucket that does not exist is already removed.
    pub async fn remove_bucket(&self) -> Result<(), StorageError> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        loop {
            let page = match self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .send()
                .await
            {
                Ok(page) => page,
                Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_bucket()) => {
                    return Ok(())
                }
                Err(e) => return Err(unavailable(e)),
            };
            let objects = page
                .contents()
                .iter()
                .filter_map(|o| o.key())
                .map(|key| ObjectIdentifier::builder().key(key).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            if objects.is_empty() {
                break;
            }
            let batch = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            self.client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(batch)
                .send()
                .await
                .map_err(unavailable)?;
        }
        self.client
            .delete_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// The names of every bucket these credentials can see.
    pub async fn bucket_names(&self) -> Result<Vec<String>, StorageError> {
        let listed = self
            .client
            .list_buckets()
            .send()
            .await
            .map_err(unavailable)?;
        Ok(listed
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect())
    }

    /// Keys under a prefix (first page, up to 1000).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect())
    }
}
