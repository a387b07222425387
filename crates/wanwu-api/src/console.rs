//! The web console: the repository's `console/` directory, embedded in the binary and
//! served at `/`. Paths without a file fall back to `index.html` (client-side routing);
//! unknown paths under `/api/` answer the error JSON.

use crate::error::ApiError;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

/// The console's files.
#[derive(RustEmbed)]
#[folder = "../../console/"]
#[exclude = "tests/*"]
#[exclude = "scripts/*"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
struct ConsoleFiles;

/// Serves a console file, `index.html` for `/` and for unknown paths without an extension.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route {}", uri.path()),
        )
        .into_response();
    }
    let path = if path.is_empty() { "index.html" } else { path };
    if let Some(file) = ConsoleFiles::get(path) {
        return file_response(path, file);
    }
    let looks_like_file = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    match ConsoleFiles::get("index.html") {
        Some(index) if !looks_like_file => file_response("index.html", index),
        _ => ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            format!("no route {}", uri.path()),
        )
        .into_response(),
    }
}

fn file_response(path: &str, file: rust_embed::EmbeddedFile) -> Response {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    (
        [
            (header::CONTENT_TYPE, mime.as_ref().to_owned()),
            (header::CACHE_CONTROL, "no-cache".to_owned()),
        ],
        file.data,
    )
        .into_response()
}
