//! The small answer the benchmark servers give (`static_upstream`'s `/plain` and `/cached`,
//! every request to `server_floor`); `loadtest/peers/nginx-upstream.conf.tmpl` gives the same.

pub const BODY: &str =
    r#"{"status":"ok","message":"a small static answer from the benchmark upstream"}"#;
pub const CONTENT_TYPE: &str = "application/json";
