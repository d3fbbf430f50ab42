//! Access control of `voxide serve`, end to end: the first start's admin token, the
//! endpoint × role matrix, researchers seeing de-identified copies only, OpenID Connect tokens,
//! and the DICOM peer allow-list (with dcmtk's clients).

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{create_token, data, free_port, run, text, Server};
use serde_json::{json, Value};

fn import(data_dir: &Path, file: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(["import", file.to_str().unwrap(), "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "import: {}", text(&o));
}

/// Two studies with identifying attributes: pydicom's CT_small and MR_small.
fn sources() -> Vec<PathBuf> {
    vec![
        data().join("dicom/pydicom/CT_small.dcm"),
        data().join("dicom/pydicom/MR_small.dcm"),
    ]
}

/// The first study's UIDs (study, series, instance), as the admin sees them.
fn first_instance(server: &Server, token: Option<&str>) -> (String, String, String) {
    let (status, body) = server.request_as(token, "GET", "/dicom-web/instances", "", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let found: Value = serde_json::from_slice(&body).unwrap();
    let uid = |tag: &str| found[0][tag]["Value"][0].as_str().unwrap().to_string();
    (uid("0020000D"), uid("0020000E"), uid("00080018"))
}

fn post(server: &Server, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, answer) = server.request_as(
        Some(token),
        "POST",
        path,
        "application/json",
        body.to_string().as_bytes(),
    );
    let json = serde_json::from_slice(&answer).unwrap_or(Value::Null);
    (status, json)
}

fn put(server: &Server, token: &str, path: &str) -> u16 {
    server.request_as(Some(token), "PUT", path, "", b"").0
}

/// An account made over the API: its token.
fn account(server: &Server, admin: &str, name: &str, role: &str, collections: &[&str]) -> String {
    let (status, answer) = post(
        server,
        admin,
        "/api/accounts",
        json!({ "name": name, "role": role, "collections": collections }),
    );
    assert_eq!(status, 201, "{answer}");
    answer["token"].as_str().unwrap().to_string()
}

/// Every committed ledger entry, through the paged API (as the server's admin).
fn ledger(server: &Server) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let (status, page) = server.get_json(&format!("/api/ledger/entries?start={}", all.len()));
        assert_eq!(status, 200, "{page}");
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            return all.into_iter().map(|e: Value| e["entry"].clone()).collect();
        }
        all.extend(page);
    }
}

struct Setup {
    server: Server,
    _tmp: tempfile::TempDir,
    admin: String,
    tokens: Vec<(&'static str, String)>,
    original: (String, String, String),
    copy: (String, String, String),
}

/// Both studies imported and put in `hospital`; a de-identified copy of each in `research`
/// (the first's copy also in `hospital`); one account per role.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    for file in sources() {
        import(&store, &file);
    }
    let server = Server::start(&store, "");
    let admin = server.token.clone().unwrap();
    let original = first_instance(&server, Some(&admin));
    for name in ["hospital", "research"] {
        let (status, a) = post(&server, &admin, "/api/collections", json!({ "name": name }));
        assert_eq!(status, 201, "{a}");
    }
    let (_, studies) = server.get_json("/dicom-web/studies");
    let mut copies = Vec::new();
    for s in studies.as_array().unwrap() {
        let uid = s["0020000D"]["Value"][0].as_str().unwrap();
        assert_eq!(
            put(
                &server,
                &admin,
                &format!("/api/collections/hospital/studies/{uid}")
            ),
            204
        );
    }
    let (status, answer) = post(
        &server,
        &admin,
        "/api/collections/hospital/deidentify",
        json!({ "target": "research" }),
    );
    assert_eq!(status, 200, "{answer}");
    for s in answer["studies"].as_array().unwrap() {
        assert_eq!(s["copied"], 1, "{s}");
        copies.push((
            s["source_study_instance_uid"].as_str().unwrap().to_string(),
            s["study_instance_uids"][0].as_str().unwrap().to_string(),
        ));
    }
    let copy_study = copies
        .iter()
        .find(|(source, _)| *source == original.0)
        .unwrap()
        .1
        .clone();
    assert_eq!(
        put(
            &server,
            &admin,
            &format!("/api/collections/hospital/studies/{copy_study}")
        ),
        204
    );
    let (status, body) = server.request_as(
        Some(&admin),
        "GET",
        &format!("/dicom-web/studies/{copy_study}/instances"),
        "",
        b"",
    );
    assert_eq!(status, 200);
    let found: Value = serde_json::from_slice(&body).unwrap();
    let uid = |tag: &str| found[0][tag]["Value"][0].as_str().unwrap().to_string();
    let copy = (uid("0020000D"), uid("0020000E"), uid("00080018"));
    let tokens = vec![
        ("admin", admin.clone()),
        (
            "uploader",
            account(&server, &admin, "modality", "uploader", &[]),
        ),
        (
            "clinician",
            account(
                &server,
                &admin,
                "dr-house",
                "clinician",
                &["hospital", "research"],
            ),
        ),
        (
            "researcher",
            account(
                &server,
                &admin,
                "alice",
                "researcher",
                &["research", "hospital"],
            ),
        ),
        ("auditor", account(&server, &admin, "audit", "auditor", &[])),
    ];
    Setup {
        server,
        _tmp: tmp,
        admin,
        tokens,
        original,
        copy,
    }
}

#[test]
fn every_endpoint_answers_each_role_as_the_matrix_says() {
    let s = setup();
    let (st, se, i) = &s.copy;
    let orig = &s.original.0;
    let inst = format!("/dicom-web/studies/{st}/series/{se}/instances/{i}");
    // (method, path, body, roles allowed: a admin, u uploader, c clinician, r researcher,
    // d auditor; "-" public). Written from the issue's role definitions, not from the code.
    let rows: Vec<(&str, String, &str, &str)> = vec![
        ("GET", "/healthz".into(), "", "-"),
        ("GET", "/dicom-web/studies".into(), "", "acr"),
        ("GET", "/dicom-web/series".into(), "", "acr"),
        ("GET", "/dicom-web/instances".into(), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/instances"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series/{se}/instances"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/metadata"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/rendered"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/thumbnail"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series/{se}"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series/{se}/metadata"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series/{se}/rendered"), "", "acr"),
        ("GET", format!("/dicom-web/studies/{st}/series/{se}/thumbnail"), "", "acr"),
        ("GET", inst.clone(), "", "acr"),
        ("GET", format!("{inst}/metadata"), "", "acr"),
        ("GET", format!("{inst}/rendered"), "", "acr"),
        ("GET", format!("{inst}/thumbnail"), "", "acr"),
        ("GET", format!("{inst}/frames/1"), "", "acr"),
        ("GET", format!("{inst}/frames/1/rendered"), "", "acr"),
        ("GET", format!("{inst}/frames/1/thumbnail"), "", "acr"),
        ("GET", format!("{inst}/bulkdata/7FE00010"), "", "acr"),
        (
            "GET",
            format!("/wado?requestType=WADO&studyUID={st}&seriesUID={se}&objectUID={i}&contentType=application/dicom"),
            "",
            "acr",
        ),
        ("POST", "/dicom-web/studies".into(), "", "auc"),
        ("POST", format!("/dicom-web/studies/{st}"), "", "auc"),
        ("POST", format!("/api/studies/{orig}/deidentify"), "", "ac"),
        (
            "POST",
            "/api/collections/hospital/deidentify".into(),
            r#"{"target": "research"}"#,
            "ac",
        ),
        ("GET", "/api/models".into(), "", "acr"),
        ("GET", "/api/models/none".into(), "", "acr"),
        ("POST", "/api/models/none/runs".into(), "{}", "ac"),
        ("GET", "/api/jobs".into(), "", "ac"),
        ("GET", "/api/jobs/1".into(), "", "ac"),
        ("POST", "/api/jobs/1/cancel".into(), "", "ac"),
        ("GET", "/api/rules".into(), "", "ac"),
        ("GET", "/api/ledger".into(), "", "ad"),
        ("GET", "/api/ledger/checkpoint".into(), "", "ad"),
        ("GET", "/api/ledger/entries".into(), "", "ad"),
        ("GET", "/api/ledger/export?format=fhir".into(), "", "ad"),
        ("GET", "/api/ledger/proof/inclusion?index=0&size=1".into(), "", "ad"),
        ("GET", "/api/ledger/proof/consistency?from=1&to=2".into(), "", "ad"),
        ("GET", "/metrics".into(), "", "ad"),
        ("GET", "/api/whoami".into(), "", "aucrd"),
        ("GET", "/api/accounts".into(), "", "a"),
        ("POST", "/api/accounts".into(), "{}", "a"),
        ("POST", "/api/accounts/nobody".into(), "{}", "a"),
        ("POST", "/api/accounts/nobody/tokens".into(), "", "a"),
        ("PUT", "/api/accounts/nobody/grants/research".into(), "", "a"),
        ("DELETE", "/api/accounts/nobody/grants/research".into(), "", "a"),
        ("GET", "/api/tokens".into(), "", "a"),
        ("DELETE", "/api/tokens/0000000000000000".into(), "", "a"),
        ("GET", "/api/collections".into(), "", "a"),
        ("POST", "/api/collections".into(), "{}", "a"),
        ("GET", "/api/collections/research".into(), "", "a"),
        ("PUT", "/api/collections/none/studies/1.2.3".into(), "", "a"),
        ("DELETE", "/api/collections/none/studies/1.2.3".into(), "", "a"),
    ];
    let letter = |role: &str| match role {
        "admin" => 'a',
        "uploader" => 'u',
        "clinician" => 'c',
        "researcher" => 'r',
        _ => 'd',
    };
    let mut checked = 0;
    for (method, path, body, allowed) in &rows {
        let content_type = if body.is_empty() {
            ""
        } else {
            "application/json"
        };
        // No credentials, and a token that is not one: refused unless public.
        for token in [None, Some("vx_0123456789abcdef_forged")] {
            let (status, _) =
                s.server
                    .request_as(token, method, path, content_type, body.as_bytes());
            if *allowed == "-" {
                assert_eq!(status, 200, "{method} {path} without credentials");
            } else {
                assert_eq!(status, 401, "{method} {path} with {token:?}");
            }
        }
        for (role, token) in &s.tokens {
            let (status, answer) =
                s.server
                    .request_as(Some(token), method, path, content_type, body.as_bytes());
            let answer = String::from_utf8_lossy(&answer);
            if *allowed == "-" || allowed.contains(letter(role)) {
                assert!(
                    status != 401 && status != 403,
                    "{role} {method} {path}: refused with {status}: {answer}"
                );
                // Reads of data the role may see succeed outright.
                if method == &"GET" && (path.starts_with("/dicom-web") || path.starts_with("/wado"))
                {
                    assert_eq!(status, 200, "{role} {method} {path}: {answer}");
                }
            } else {
                assert_eq!(status, 403, "{role} {method} {path}: {answer}");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, rows.len() * 5);

    // Grants count: the researcher sees no original study, the clinician no study outside
    // its collection.
    let researcher = &s.tokens[3].1;
    let (status, _) = s.server.request_as(
        Some(researcher),
        "GET",
        &format!("/dicom-web/studies/{orig}/metadata"),
        "",
        b"",
    );
    assert_eq!(status, 404);
    let outsider = account(&s.server, &s.admin, "dr-other", "clinician", &["elsewhere"]);
    let (status, body) = s
        .server
        .request_as(Some(&outsider), "GET", "/dicom-web/studies", "", b"");
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!([]));
    let (status, _) = s.server.request_as(
        Some(&outsider),
        "GET",
        &format!("/dicom-web/studies/{orig}/metadata"),
        "",
        b"",
    );
    assert_eq!(status, 404);

    // Filling a collection takes its grant: a clinician of the hospital only may not put
    // copies into the research collection.
    let ward = account(&s.server, &s.admin, "dr-ward", "clinician", &["hospital"]);
    let (status, answer) = post(
        &s.server,
        &ward,
        "/api/collections/hospital/deidentify",
        json!({ "target": "research" }),
    );
    assert_eq!(status, 403, "{answer}");
    let (status, _) = post(
        &s.server,
        &ward,
        &format!("/api/studies/{orig}/deidentify"),
        json!({ "collection": "research" }),
    );
    assert_eq!(status, 403);

    // A revoked token stops working at once; the change is on the ledger.
    let (_, tokens) = s.server.get_json("/api/tokens");
    let id = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["account"] == "dr-other")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = s.server.request_as(
        Some(&s.admin),
        "DELETE",
        &format!("/api/tokens/{id}"),
        "",
        b"",
    );
    assert_eq!(status, 204);
    let (status, _) = s
        .server
        .request_as(Some(&outsider), "GET", "/api/whoami", "", b"");
    assert_eq!(status, 401);
    let entries = ledger(&s.server);
    let has = |action: &str, needle: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e.to_string().contains(needle))
    };
    assert!(has("permission_change", &format!("token {id} revoked")));
    assert!(has(
        "permission_change",
        "account alice created with role researcher"
    ));
    assert!(has("login", "alice"));
    assert!(has("login_failed", "unknown or revoked API token"));
    assert!(has("deidentify", "research"));
}

/// Every value an original instance identifies its patient and study by, as the admin sees it.
fn original_identifiers(server: &Server, admin: &str, study: &str) -> Vec<String> {
    let (status, body) = server.request_as(
        Some(admin),
        "GET",
        &format!("/dicom-web/studies/{study}/metadata"),
        "",
        b"",
    );
    assert_eq!(status, 200);
    let metadata: Value = serde_json::from_slice(&body).unwrap();
    let mut out = Vec::new();
    for tag in [
        "00100010", "00100020", "00100030", "0020000D", "0020000E", "00080018", "00200052",
        "00080050", "00080080", "00080090", "00080020", "00200010",
    ] {
        for v in metadata[0][tag]["Value"].as_array().into_iter().flatten() {
            let value = match v {
                Value::Object(o) => o["Alphabetic"].as_str().unwrap_or_default().to_string(),
                other => other.as_str().unwrap_or_default().to_string(),
            };
            for part in value.split(['^', ' ']) {
                if part.len() >= 4 {
                    out.push(part.to_string());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn a_researcher_cannot_obtain_an_original_identifier_by_any_endpoint() {
    let s = setup();
    let researcher = &s.tokens[3].1;
    let mut originals = Vec::new();
    let (_, studies) = s.server.get_json("/dicom-web/studies");
    for study in studies.as_array().unwrap() {
        let uid = study["0020000D"]["Value"][0].as_str().unwrap();
        if uid != s.copy.0 && !s.server.get("/api/collections/research").1.contains(uid) {
            originals.extend(original_identifiers(&s.server, &s.admin, uid));
        }
    }
    assert!(originals.len() >= 12, "{originals:?}");
    assert!(
        originals.iter().any(|v| v == "CompressedSamples"),
        "{originals:?}"
    );

    // Everything the researcher can reach: searches at every level, then every kind of read of
    // every instance found, and the endpoints it is refused.
    let get = |path: &str| {
        let (status, body) = s.server.request_as(Some(researcher), "GET", path, "", b"");
        (status, body)
    };
    let mut bodies = Vec::new();
    let mut paths = vec![
        "/dicom-web/studies?includefield=all".to_string(),
        "/dicom-web/series?includefield=all".to_string(),
        "/dicom-web/instances?includefield=all".to_string(),
        "/dicom-web/studies?PatientName=*".to_string(),
        "/api/whoami".to_string(),
        "/api/models".to_string(),
    ];
    let (status, found) = get("/dicom-web/instances");
    assert_eq!(status, 200);
    let found: Value = serde_json::from_slice(&found).unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 2, "the two de-identified copies, nothing else");
    for f in found {
        let uid = |tag: &str| f[tag]["Value"][0].as_str().unwrap().to_string();
        let (st, se, i) = (uid("0020000D"), uid("0020000E"), uid("00080018"));
        let inst = format!("/dicom-web/studies/{st}/series/{se}/instances/{i}");
        for p in [
            format!("/dicom-web/studies/{st}"),
            format!("/dicom-web/studies/{st}/metadata"),
            format!("/dicom-web/studies/{st}/series"),
            format!("/dicom-web/studies/{st}/series/{se}/metadata"),
            format!("/dicom-web/studies/{st}/series/{se}/rendered"),
            inst.clone(),
            format!("{inst}/metadata"),
            format!("{inst}/rendered"),
            format!("{inst}/thumbnail"),
            format!("{inst}/frames/1"),
            format!("{inst}/bulkdata/7FE00010"),
            format!("/wado?requestType=WADO&studyUID={st}&seriesUID={se}&objectUID={i}&contentType=application/dicom"),
        ] {
            paths.push(p);
        }
    }
    for p in &paths {
        let (status, body) = get(p);
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
        bodies.push((p.clone(), body));
    }
    // Refused: originals by UID, the ledger (it names original UIDs), exports, jobs.
    let (ost, ose, oi) = &s.original;
    for p in [
        format!("/dicom-web/studies/{ost}/metadata"),
        format!("/dicom-web/studies/{ost}/series/{ose}/instances/{oi}"),
        format!("/dicom-web/studies/{ost}/series/{ose}/instances/{oi}/frames/1"),
        format!(
            "/wado?requestType=WADO&studyUID={}&seriesUID={ose}&objectUID={oi}",
            s.copy.0
        ),
        format!("/wado?requestType=WADO&objectUID={oi}"),
        "/api/ledger/entries".to_string(),
        "/api/ledger/export?format=dicom".to_string(),
        "/api/jobs".to_string(),
        "/api/collections".to_string(),
        "/api/accounts".to_string(),
    ] {
        let (status, body) = get(&p);
        assert!(status == 404 || status == 403, "{p}: {status}");
        bodies.push((p, body));
    }
    let (status, body) = s.server.request_as(
        Some(researcher),
        "POST",
        &format!("/api/studies/{ost}/deidentify"),
        "",
        b"",
    );
    assert_eq!(status, 403);
    bodies.push(("deidentify".into(), body));

    // Nobody adds an identified instance to a de-identified study: not even an admin peer.
    let forged = s._tmp.path().join("forged.dcm");
    std::fs::copy(data().join("dicom/pydicom/CT_small.dcm"), &forged).unwrap();
    let study_of_copy = format!(
        "StudyInstanceUID={}",
        found[0]["0020000D"]["Value"][0].as_str().unwrap()
    );
    let o = run(
        "dcmodify",
        &[
            "-nb",
            "-m",
            &study_of_copy,
            "-m",
            "SeriesInstanceUID=1.2.826.0.1.3680043.99.1",
            forged.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = run(
        "storescu",
        &[
            "-v",
            "-aec",
            "VOXIDE",
            "127.0.0.1",
            &s.server.dicom.to_string(),
            forged.to_str().unwrap(),
        ],
    );
    assert!(text(&o).contains("Unknown Status: 0x124"), "{}", text(&o));
    let (status, after) = get("/dicom-web/instances");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&after)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let mut leaks = Vec::new();
    for (path, body) in &bodies {
        for value in &originals {
            // A refusal may repeat what the researcher itself sent.
            if path.contains(value.as_str()) {
                continue;
            }
            if body
                .windows(value.len())
                .any(|w| w.eq_ignore_ascii_case(value.as_bytes()))
            {
                leaks.push(format!("{path}: {value}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "original identifiers reached a researcher: {leaks:?}"
    );
}

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../voxide-auth/tests/keys");

fn jwt(role: &str, expires_in: i64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let claims = json!({
        "iss": "https://login.hospital.example/realms/imaging",
        "aud": "voxide",
        "sub": "alice",
        "exp": now + expires_in,
        "voxide_role": role,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("test-ec".into());
    let key = jsonwebtoken::EncodingKey::from_ec_pem(
        &std::fs::read(format!("{KEYS}/ec-test.pem")).unwrap(),
    )
    .unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[test]
fn a_new_server_prints_one_admin_token_and_accepts_openid_connect_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let http = free_port();
    let config = tmp.path().join("voxide.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nhttp = \"127.0.0.1:{http}\"\ndicom = \"127.0.0.1:0\"\n[auth.oidc]\nissuer = \"https://login.hospital.example/realms/imaging\"\naudiences = [\"voxide\"]\njwks_file = {:?}\n",
            store.to_str().unwrap(),
            format!("{KEYS}/jwks.json")
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_voxide"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let start = Instant::now();
    let token = loop {
        let line = lines.next().expect("voxide serve ended").unwrap();
        if let Some(t) = line.trim().strip_prefix("vx_") {
            break format!("vx_{t}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no token printed"
        );
    };
    let server = Server {
        child,
        http,
        dicom: 0,
        token: Some(token.clone()),
    };
    while server.get("/healthz").0 != 200 {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, me) = server.get_json("/api/whoami");
    assert_eq!(status, 200);
    assert_eq!(me["name"], "admin");
    assert_eq!(me["role"], "admin");
    assert_eq!(
        server
            .request_as(None, "GET", "/dicom-web/studies", "", b"")
            .0,
        401
    );

    // An OpenID Connect user: its role from the token, its collections from grants.
    let (status, _) = server.request_as(
        Some(&token),
        "PUT",
        "/api/accounts/oidc:alice/grants/research",
        "",
        b"",
    );
    assert_eq!(status, 204);
    let researcher = jwt("researcher", 300);
    let (status, body) = server.request_as(Some(&researcher), "GET", "/api/whoami", "", b"");
    assert_eq!(status, 200);
    let me: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(me["name"], "oidc:alice");
    assert_eq!(me["role"], "researcher");
    assert_eq!(me["collections"], json!(["research"]));
    assert_eq!(
        server
            .request_as(Some(&researcher), "GET", "/api/ledger", "", b"")
            .0,
        403
    );
    assert_eq!(
        server
            .request_as(
                Some(&jwt("researcher", -3600)),
                "GET",
                "/api/whoami",
                "",
                b""
            )
            .0,
        401
    );
    assert_eq!(
        server
            .request_as(Some(&jwt("superuser", 300)), "GET", "/api/whoami", "", b"")
            .0,
        401
    );

    // A restart prints no new token: the admin exists.
    drop(server);
    let o = Command::new("timeout")
        .args(["3", env!("CARGO_BIN_EXE_voxide"), "serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!text(&o).contains("vx_"), "{}", text(&o));
    assert!(text(&o).contains("DICOMweb at"), "{}", text(&o));
}

#[test]
fn dicom_peers_need_an_allow_list_entry_and_a_role_for_each_service() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let admin = create_token(&store, "test-admin", "admin", &[]);
    let config = "[[auth.dicom_peers]]\nae_title = \"MODALITY\"\naddresses = [\"127.0.0.1\"]\nrole = \"uploader\"\nupload_collection = \"ward\"\n\
        [[auth.dicom_peers]]\nae_title = \"VIEWER\"\naddresses = [\"10.0.0.0/8\", \"127.0.0.0/8\"]\nrole = \"clinician\"\ncollections = [\"ward\"]\n\
        [[auth.dicom_peers]]\nae_title = \"FARAWAY\"\naddresses = [\"192.0.2.0/24\"]\nrole = \"admin\"\n";
    let server = Server::start_raw(
        &store,
        config,
        free_port(),
        free_port(),
        Some(admin.clone()),
    );
    let (status, _) = post(
        &server,
        &admin,
        "/api/collections",
        json!({ "name": "ward" }),
    );
    assert_eq!(status, 201);
    let port = server.dicom.to_string();
    let ct = data().join("dicom/pydicom/CT_small.dcm");
    let ct = ct.to_str().unwrap();

    // Unknown AE titles, and known ones from another address, are refused at association.
    for aet in ["STRANGER", "FARAWAY"] {
        let o = run(
            "echoscu",
            &["-aet", aet, "-aec", "VOXIDE", "127.0.0.1", &port],
        );
        assert!(!o.status.success(), "{aet}: {}", text(&o));
        assert!(
            text(&o).contains("Calling AE Title Not Recognized"),
            "{}",
            text(&o)
        );
    }
    // The modality stores (into its collection) but may not search.
    let o = run(
        "storescu",
        &["-aet", "MODALITY", "-aec", "VOXIDE", "127.0.0.1", &port, ct],
    );
    assert!(o.status.success(), "{}", text(&o));
    let find = |aet: &str| {
        run(
            "findscu",
            &[
                "-v",
                "-aet",
                aet,
                "-aec",
                "VOXIDE",
                "-S",
                "-k",
                "QueryRetrieveLevel=STUDY",
                "-k",
                "StudyInstanceUID",
                "127.0.0.1",
                &port,
            ],
        )
    };
    let o = find("MODALITY");
    assert!(text(&o).contains("Status: 0x124"), "{}", text(&o));
    assert_eq!(text(&o).matches("(Pending)").count(), 0, "{}", text(&o));
    // The viewer, granted the collection, finds the study the modality sent.
    let o = find("VIEWER");
    assert_eq!(text(&o).matches("(Pending)").count(), 1, "{}", text(&o));
    let entries = Value::Array(ledger(&server)).to_string();
    assert!(entries.contains("dicom:STRANGER@127.0.0.1"), "{entries}");
    assert!(entries.contains("login_failed"), "{entries}");
}
