//! Helpers shared by the tests that run `voxide serve`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The shared test data folder.
pub fn data() -> PathBuf {
    voxide_testdata::data_dir()
}

/// Runs a reference tool (dcmtk, ...) to completion.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        // Debian's dcmtk leaves Nagle on unless told (see shared/notes/peers.md).
        .env("TCP_NODELAY", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (installed by scripts/setup-test.sh): {e}")
        })
}

/// A finished command's standard output and error, as text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `voxide serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub http: u16,
    pub dicom: u16,
    /// The bearer token sent with every request ([`Server::request_as`] sends another).
    pub token: Option<String>,
}

/// DICOM peers of the tests: any AE title from this machine, as admin.
pub const LOCAL_PEERS: &str =
    "\n[[auth.dicom_peers]]\nae_title = \"*\"\naddresses = [\"127.0.0.1\"]\nrole = \"admin\"\ncollections = [\"*\"]\n";

/// `voxide token create` for a data folder: the token.
pub fn create_token(data_dir: &Path, name: &str, role: &str, collections: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_voxide"));
    cmd.args(["token", "create", "--data-dir", data_dir.to_str().unwrap()])
        .args(["--name", name, "--role", role]);
    for c in collections {
        cmd.args(["--collection", c]);
    }
    let out = cmd.output().expect("run voxide token create");
    assert!(
        out.status.success(),
        "voxide token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("vx_"), "{token}");
    token
}

impl Server {
    /// A server with authentication on, an admin token for the tests' requests, and every
    /// local DICOM peer allowed as admin.
    pub fn start(data_dir: &Path, extra_config: &str) -> Server {
        Self::start_on(data_dir, extra_config, free_port(), free_port())
    }

    pub fn start_on(data_dir: &Path, extra_config: &str, http: u16, dicom: u16) -> Server {
        // On a restart the account exists and gets another token.
        let token = create_token(data_dir, "test-admin", "admin", &[]);
        Self::start_raw(
            data_dir,
            &format!("{extra_config}{LOCAL_PEERS}"),
            http,
            dicom,
            Some(token),
        )
    }

    /// A server with exactly `extra_config` (authentication as it says) and `token` sent.
    pub fn start_raw(
        data_dir: &Path,
        extra_config: &str,
        http: u16,
        dicom: u16,
        token: Option<String>,
    ) -> Server {
        let config = data_dir.with_extension("toml");
        std::fs::write(
            &config,
            format!(
                "data_dir = {:?}\nhttp = \"127.0.0.1:{http}\"\ndicom = \"127.0.0.1:{dicom}\"\nae_title = \"VOXIDE\"\n{extra_config}",
                data_dir.to_str().unwrap()
            ),
        )
        .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_voxide"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start voxide serve");
        let server = Server {
            child,
            http,
            dicom,
            token,
        };
        let start = Instant::now();
        while server.get("/healthz").0 != 200 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "voxide serve did not come up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/dicom-web", self.http)
    }

    /// A plain HTTP/1.0 GET: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let (status, body) = self.request("GET", path, "", &[]);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// A GET answered with JSON.
    pub fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let (status, body) = self.get(path);
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: {status} {body:?} is not JSON: {e}"));
        (status, json)
    }

    /// A POST of a JSON body answered with JSON.
    pub fn post_json(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, answer) = self.request("POST", path, "application/json", body.as_bytes());
        let json = serde_json::from_slice(&answer).unwrap_or_else(|e| {
            panic!(
                "POST {path}: {status} {:?} is not JSON: {e}",
                String::from_utf8_lossy(&answer)
            )
        });
        (status, json)
    }

    /// A plain HTTP/1.0 request with the server's token: (status, body bytes).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        self.request_as(self.token.as_deref(), method, path, content_type, body)
    }

    /// A plain HTTP/1.0 request with `token` (none: no Authorization header).
    pub fn request_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.http)) else {
            return (0, Vec::new());
        };
        let _ = write!(
            s,
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nAccept: */*\r\nContent-Length: {}\r\n{}{}\r\n",
            self.http,
            body.len(),
            token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n")),
            if content_type.is_empty() {
                String::new()
            } else {
                format!("Content-Type: {content_type}\r\n")
            }
        );
        let _ = s.write_all(body);
        let mut response = Vec::new();
        let _ = s.read_to_end(&mut response);
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |p| p + 4);
        let text = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, response[split..].to_vec())
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
