//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF distribution registry)
//! on 127.0.0.1, on a free port, with its own config and storage in a temporary directory,
//! stopped when the handle is dropped. Only with the `test-registry` feature, which the
//! dev-dependencies of xtask (the packaging tests) and prepuller-check (its `registry://`
//! test) enable; scripts/packaging-deps.sh installs the registry.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user [`Registry::start_with_auth`] accepts.
pub const USER: &str = "publisher";
/// Its password.
pub const PASSWORD: &str = "correct horse battery staple";

/// The registry binary: `$DOCKER_REGISTRY_BIN`, else Debian's.
fn registry_binary() -> PathBuf {
    let path = std::env::var_os("DOCKER_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's docker-registry package (`make packaging-deps` does: \
         scripts/packaging-deps.sh)",
        path.display()
    );
    path
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port on 127.0.0.1")
}

/// A running registry.
pub struct Registry {
    /// Its config, storage and log.
    pub dir: tempfile::TempDir,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    child: Child,
}

impl Registry {
    /// A registry without authentication.
    pub fn start() -> Registry {
        Registry::start_with(false)
    }

    /// A registry that requires HTTP basic authentication for `USER`/`PASSWORD` (bcrypt
    /// htpasswd, the only format distribution accepts).
    pub fn start_with_auth() -> Registry {
        Registry::start_with(true)
    }

    fn start_with(auth: bool) -> Registry {
        let binary = registry_binary();
        let mut last_log = String::new();
        // The port is free when chosen but could be taken before the registry binds it: retry.
        for _ in 0..3 {
            let dir = tempfile::tempdir().expect("temporary directory");
            let port = free_port();
            let mut config = format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n  maintenance:\n    uploadpurging:\n      enabled: false\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: packaging-tests-secret\n",
                dir.path().join("data").display()
            );
            if auth {
                let hash = bcrypt::hash(PASSWORD, 5).expect("bcrypt");
                std::fs::write(dir.path().join("htpasswd"), format!("{USER}:{hash}\n")).unwrap();
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: packaging-tests\n    path: {}\n",
                    dir.path().join("htpasswd").display()
                ));
            }
            let config_path = dir.path().join("config.yml");
            std::fs::write(&config_path, config).unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = Command::new(&binary)
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut registry = Registry { dir, port, child };
            if registry.wait_ready() {
                return registry;
            }
            last_log = registry.log();
        }
        panic!("the registry did not start; its log:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(response) = http_get(self.port, "/v2/", &[])
                && (response.status == 200 || response.status == 401)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// What the registry logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<path>`.
    pub fn reference(&self, path: &str) -> String {
        format!("{}/{path}", self.host())
    }

    fn storage(&self) -> PathBuf {
        self.dir.path().join("data/docker/registry/v2")
    }

    /// The repositories the registry has stored anything for (`a/b` style names).
    pub fn repositories(&self) -> Vec<String> {
        let root = self.storage().join("repositories");
        let mut found = Vec::new();
        collect_repositories(&root, &root, &mut found);
        found.sort();
        found
    }

    /// A blob as the registry stored it on disk.
    pub fn stored_blob(&self, digest: &str) -> Option<Vec<u8>> {
        let hex = digest.strip_prefix("sha256:")?;
        std::fs::read(
            self.storage()
                .join("blobs/sha256")
                .join(&hex[..2])
                .join(hex)
                .join("data"),
        )
        .ok()
    }

    /// Every blob stored, by digest.
    pub fn blob_count(&self) -> usize {
        let root = self.storage().join("blobs/sha256");
        std::fs::read_dir(&root)
            .map(|prefixes| {
                prefixes
                    .flatten()
                    .map(|p| std::fs::read_dir(p.path()).map(|d| d.count()).unwrap_or(0))
                    .sum()
            })
            .unwrap_or(0)
    }
}

fn collect_repositories(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path
            .file_name()
            .is_some_and(|n| n == "_manifests" || n == "_layers" || n == "_uploads")
        {
            let name = dir
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !found.contains(&name) {
                found.push(name);
            }
        } else if path.is_dir() {
            collect_repositories(root, &path, found);
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What [`http_get`] received.
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET, to look at what the registry serves without going through the code
/// under test.
pub fn http_get(port: u16, path: &str, headers: &[(&str, &str)]) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&data[..end])
                .split(';')
                .next()
                .unwrap()
                .trim(),
            16,
        )
        .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}
