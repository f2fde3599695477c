//! What the upload endpoints of every platform share: reading a `multipart/form-data` body
//! (Mastodon, X and Facebook take images only that way) and describing the bytes received
//! (their SHA-256 is what tests compare with the image they sent).

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::web::Bytes;
use sha2::{Digest, Sha256};

use crate::ledger::LedgerMedia;

/// The largest upload body any sandbox route reads (X's simple upload allows 5 MB images,
/// Mastodon 16 MB); platform limits below it are checked by each handler.
pub(crate) const MAX_UPLOAD_BYTES: usize = 16 * 1024 * 1024;

/// Bytes a platform accepted as an image.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    pub(crate) bytes: Bytes,
    pub(crate) content_type: String,
}

impl Image {
    pub(crate) fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }

    /// Only images are taken (the sandbox does not check the bytes are one).
    pub(crate) fn is_image(&self) -> bool {
        self.content_type.starts_with("image/")
    }

    pub(crate) fn ledger(&self, alt_text: Option<String>) -> LedgerMedia {
        LedgerMedia {
            sha256: self.sha256(),
            size: self.bytes.len(),
            content_type: self.content_type.clone(),
            alt_text,
        }
    }
}

/// A parsed `multipart/form-data` body: file parts and plain fields by name.
#[derive(Debug, Default)]
pub(crate) struct Form {
    files: HashMap<String, Image>,
    fields: HashMap<String, String>,
}

impl Form {
    pub(crate) fn file(&self, name: &str) -> Option<&Image> {
        self.files.get(name)
    }

    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

/// Why a body is not a usable form; each platform words its own error from it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum FormError {
    #[error("the body is not multipart/form-data")]
    NotMultipart,
    #[error("the multipart body is malformed: {0}")]
    Malformed(String),
}

/// Parses the body of a request whose `Content-Type` must be `multipart/form-data`. A part
/// with a file name (or a content type) is a file, any other part a text field.
pub(crate) async fn form(req: &HttpRequest, body: Bytes) -> Result<Form, FormError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !content_type
        .to_ascii_lowercase()
        .starts_with("multipart/form-data")
    {
        return Err(FormError::NotMultipart);
    }
    let boundary = multer::parse_boundary(content_type).map_err(|_| FormError::NotMultipart)?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut form = Form::default();
    let malformed = |e: multer::Error| FormError::Malformed(e.to_string());
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some() || field.content_type().is_some();
        let content_type = field
            .content_type()
            .map(|m| m.essence_str().to_owned())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = field.bytes().await.map_err(malformed)?;
        if is_file {
            form.files.insert(
                name,
                Image {
                    bytes,
                    content_type,
                },
            );
        } else {
            form.fields
                .insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(form)
}

/// A raw-bytes upload (Bluesky's blob, LinkedIn's PUT): the body as sent with its type.
pub(crate) fn raw(req: &HttpRequest, body: Bytes) -> Image {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    Image {
        bytes: body,
        content_type,
    }
}
