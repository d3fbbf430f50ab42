//! The HTTP handlers under bad input: wrong content types, truncated and malformed multipart
//! bodies, oversized requests, invalid UIDs, query syntax errors and garbage. Each gets a clear
//! 4xx, nothing partial is stored, and the server keeps answering.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use voxide_server::{AppState, ServerConfig};

async fn state(dir: &std::path::Path, max_request_bytes: u64) -> Arc<AppState> {
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        max_request_bytes,
        // Bad input, not access control, is under test here (tests/auth.rs covers that).
        auth: voxide_server::AuthConfig {
            enabled: false,
            ..Default::default()
        },
        ..ServerConfig::default()
    };
    voxide_server::open(config).await.unwrap()
}

async fn send(state: &Arc<AppState>, request: Request<Body>) -> (StatusCode, String) {
    let response = voxide_server::app(state.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(uri: &str, accept: &str) -> Request<Body> {
    Request::get(uri)
        .header("accept", accept)
        .body(Body::empty())
        .unwrap()
}

fn stow(uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut r = Request::post(uri);
    if let Some(ct) = content_type {
        r = r.header("content-type", ct);
    }
    r.body(Body::from(body)).unwrap()
}

fn multipart(boundary: &str, parts: &[&[u8]], close: bool) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/dicom\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    if close {
        body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    }
    body
}

fn ct_small() -> Vec<u8> {
    std::fs::read(voxide_testdata::data("dicom/pydicom/CT_small.dcm")).unwrap()
}

async fn instances(state: &Arc<AppState>) -> u64 {
    state.store.stats().await.unwrap().instances
}

#[tokio::test]
async fn stow_refuses_bad_requests_and_stores_nothing_partial() {
    let tmp = tempfile::tempdir().unwrap();
    let s = state(tmp.path(), 4 << 20).await;
    let ct = ct_small();
    let related = "multipart/related; type=\"application/dicom\"; boundary=XyZ";

    let (status, body) = send(&s, stow("/dicom-web/studies", None, ct.clone())).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    assert!(body.contains("Content-Type"), "{body}");
    let (status, _) = send(
        &s,
        stow("/dicom-web/studies", Some("application/json"), ct.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, body) = send(
        &s,
        stow(
            "/dicom-web/studies",
            Some("multipart/related; type=\"application/dicom+json\"; boundary=a"),
            vec![],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = send(
        &s,
        stow(
            "/dicom-web/studies",
            Some("multipart/related; type=application/dicom"),
            ct.clone(),
        ),
    )
    .await;
    assert!(status.is_client_error(), "{status} {body}");
    assert!(body.contains("boundary"), "{body}");

    // Truncated: two complete parts, no closing delimiter. Nothing is stored.
    let other = std::fs::read(voxide_testdata::data("dicom/pydicom/MR_small.dcm")).unwrap();
    let truncated = multipart("XyZ", &[&ct, &other], false);
    let (status, body) = send(&s, stow("/dicom-web/studies", Some(related), truncated)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body.contains("nothing from this request was stored"),
        "{body}"
    );
    let cut = multipart("XyZ", &[&ct], true);
    let (status, _) = send(
        &s,
        stow(
            "/dicom-web/studies",
            Some(related),
            cut[..cut.len() / 2].to_vec(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(instances(&s).await, 0);

    // Oversized.
    let big = multipart("XyZ", &[&vec![0u8; 5 << 20]], true);
    let (status, _) = send(&s, stow("/dicom-web/studies", Some(related), big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    // Garbage parts fail one by one; the good one is stored (202, Failed SOP Sequence).
    let garbage = b"this is not DICOM".to_vec();
    let mut truncated_dicom = ct.clone();
    truncated_dicom.truncate(ct.len() / 3);
    let body = multipart("XyZ", &[&garbage, &ct, &truncated_dicom], true);
    let (status, body) = send(&s, stow("/dicom-web/studies", Some(related), body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    let failed = json["00081198"]["Value"].as_array().unwrap();
    assert_eq!(failed.len(), 2, "{body}");
    assert_eq!(failed[0]["00081197"]["Value"][0], 0xC000, "{body}");
    assert_eq!(
        json["00081199"]["Value"].as_array().unwrap().len(),
        1,
        "{body}"
    );
    assert_eq!(instances(&s).await, 1);

    // Only failures: 409. A study in the URL that the instance does not belong to: C409.
    let body = multipart("XyZ", &[&garbage], true);
    let (status, _) = send(&s, stow("/dicom-web/studies", Some(related), body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let body = multipart("XyZ", &[&other], true);
    let (status, body) = send(&s, stow("/dicom-web/studies/1.2.3.4", Some(related), body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.contains(&format!("{}", 0xC409)), "{body}");
    assert_eq!(instances(&s).await, 1);

    // Unquoted parameters and an identical re-send: 200, still one instance.
    let body = multipart("b1", &[&ct], true);
    let (status, body) = send(
        &s,
        stow(
            "/dicom-web/studies",
            Some("Multipart/Related; boundary=b1; type=application/dicom"),
            body,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(instances(&s).await, 1);
}

#[tokio::test]
async fn queries_and_retrievals_with_bad_parameters_are_4xx() {
    let tmp = tempfile::tempdir().unwrap();
    let s = state(tmp.path(), 64 << 20).await;
    let ct = ct_small();
    let (status, _) = send(
        &s,
        stow(
            "/dicom-web/studies",
            Some("multipart/related; type=\"application/dicom\"; boundary=q"),
            multipart("q", &[&ct], true),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let cases: &[(&str, &str, StatusCode)] = &[
        (
            "/dicom-web/studies?StudyDate=2020",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?StudyDate=20201301",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?NoSuchAttribute=1",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?limit=-1",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?offset=x",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?StudyInstanceUID=1.2.abc",
            "application/dicom+json",
            StatusCode::BAD_REQUEST,
        ),
        (
            "/dicom-web/studies?includefield=NoSuchKeyword",
            "application/dicom+json",
            StatusCode::OK,
        ),
        (
            "/dicom-web/studies?fuzzymatching=true&PatientName=*",
            "",
            StatusCode::OK,
        ),
        (
            "/dicom-web/studies",
            "application/dicom+xml",
            StatusCode::NOT_ACCEPTABLE,
        ),
        (
            "/dicom-web/studies",
            "text/html;q=0.9, */*;q=0.1",
            StatusCode::OK,
        ),
        ("/dicom-web/studies/1.2.x", "*/*", StatusCode::BAD_REQUEST),
        ("/dicom-web/studies/1.2.3", "*/*", StatusCode::NOT_FOUND),
        (
            "/dicom-web/studies/1.2.3/metadata",
            "application/dicom+json",
            StatusCode::NOT_FOUND,
        ),
        ("/dicom-web/studies/%FF%FE", "*/*", StatusCode::BAD_REQUEST),
        ("/dicom-web/nothing/here", "*/*", StatusCode::NOT_FOUND),
        ("/wado?requestType=WADO", "*/*", StatusCode::BAD_REQUEST),
        (
            "/wado?studyUID=1&seriesUID=2&objectUID=3",
            "*/*",
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (uri, accept, expected) in cases {
        let (status, body) = send(&s, get(uri, accept)).await;
        assert_eq!(status, *expected, "{uri} (Accept: {accept}): {body}");
        if status.is_client_error() {
            // Our errors are JSON {status, error}; axum's own URL rejections are plain text.
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let why = json["error"].as_str().unwrap_or(&body);
            assert!(why.len() > 10, "{uri}: the error must say why: {body}");
        }
    }

    // Frames and rendering of the stored instance, with bad frame numbers and parameters.
    let studies: serde_json::Value = serde_json::from_str(
        &send(&s, get("/dicom-web/instances", "application/dicom+json"))
            .await
            .1,
    )
    .unwrap();
    let i = &studies[0];
    let uid = |tag: &str| i[tag]["Value"][0].as_str().unwrap().to_string();
    let base = format!(
        "/dicom-web/studies/{}/series/{}/instances/{}",
        uid("0020000D"),
        uid("0020000E"),
        uid("00080018")
    );
    let octets = "multipart/related; type=application/octet-stream; transfer-syntax=*";
    let cases: Vec<(String, &str, StatusCode)> = vec![
        (format!("{base}/frames/1"), octets, StatusCode::OK),
        (format!("{base}/frames/0"), octets, StatusCode::NOT_FOUND),
        (format!("{base}/frames/2"), octets, StatusCode::NOT_FOUND),
        (format!("{base}/frames/abc"), octets, StatusCode::BAD_REQUEST),
        (format!("{base}/frames/1"), "image/gif", StatusCode::NOT_ACCEPTABLE),
        (format!("{base}/frames/1"), "multipart/related; type=application/octet-stream; transfer-syntax=1.2.840.10008.1.2.4.50", StatusCode::NOT_ACCEPTABLE),
        (format!("{base}/rendered"), "image/png", StatusCode::OK),
        (format!("{base}/rendered?window=40,0"), "image/png", StatusCode::BAD_REQUEST),
        (format!("{base}/rendered?quality=0"), "image/jpeg", StatusCode::BAD_REQUEST),
        (format!("{base}/thumbnail"), "image/jpeg", StatusCode::OK),
        (format!("{base}/bulkdata/zz"), "*/*", StatusCode::BAD_REQUEST),
        (format!("{base}/bulkdata/00090001"), "*/*", StatusCode::NOT_FOUND),
        (base.clone(), "multipart/related; type=\"application/dicom\"; transfer-syntax=1.2.840.10008.1.2.4.90", StatusCode::NOT_ACCEPTABLE),
        (base.clone(), "multipart/related; type=\"application/dicom\"", StatusCode::OK),
        (base.clone(), "multipart/related; type=\"application/dicom\"; q=x", StatusCode::BAD_REQUEST),
    ];
    for (uri, accept, expected) in &cases {
        let (status, body) = send(&s, get(uri, accept)).await;
        assert_eq!(
            status,
            *expected,
            "{uri} (Accept: {accept}): {}",
            &body[..body.len().min(300)]
        );
    }
}

#[tokio::test]
async fn random_requests_never_crash_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let s = state(tmp.path(), 1 << 20).await;
    // A small deterministic generator: no dependency, reproducible failures.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let ct = ct_small();
    for round in 0..300 {
        let n = (next() % 2048) as usize;
        let mut body: Vec<u8> = (0..n).map(|_| next() as u8).collect();
        if round % 3 == 0 {
            // Start like a real body, then go wrong.
            let mut real = multipart("R", &[&ct], true);
            let cut = (next() as usize) % real.len();
            real.truncate(cut);
            real.extend_from_slice(&body);
            body = real;
        }
        let content_type = match round % 4 {
            0 => "multipart/related; type=\"application/dicom\"; boundary=R".to_string(),
            1 => format!("multipart/related; boundary=\"{}\"", (next() % 1000)),
            2 => String::from_utf8_lossy(&body[..body.len().min(40)]).replace(['\r', '\n'], ""),
            _ => "multipart/related; type=application/dicom; boundary=".to_string(),
        };
        let request = Request::post("/dicom-web/studies")
            .header("content-type", content_type.as_bytes())
            .body(Body::from(body));
        let Ok(request) = request else { continue };
        let (status, body) = send(&s, request).await;
        assert!(!status.is_server_error(), "round {round}: {status} {body}");
        let query: String = (0..(next() % 40))
            .map(|_| char::from(b"aZ09=&%*?-.\\,+"[(next() % 14) as usize]))
            .collect();
        if let Ok(request) = Request::get(format!("/dicom-web/studies?{query}")).body(Body::empty())
        {
            let (status, body) = send(&s, request).await;
            assert!(
                !status.is_server_error(),
                "query '{query}': {status} {body}"
            );
        }
    }
    let (status, _) = send(&s, get("/healthz", "*/*")).await;
    assert_eq!(status, StatusCode::OK);
}
