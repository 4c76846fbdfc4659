//! The page, embedded in the binary: one HTML file, one script, one style sheet, no
//! library and nothing fetched from elsewhere (it works offline).

use axum::http::header;
use axum::response::IntoResponse;

/// The page's content security policy: its own script and style only, no inline script.
const POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
                      object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `/`: the page.
pub async fn index() -> impl IntoResponse {
    asset("text/html; charset=utf-8", include_str!("page/index.html"))
}

/// `/app.js`: what the page does.
pub async fn script() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    )
}

/// `/style.css`: how it looks.
pub async fn style() -> impl IntoResponse {
    asset("text/css; charset=utf-8", include_str!("page/style.css"))
}
