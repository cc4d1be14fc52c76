//! A small EC2 instance metadata service (IMDSv2) on 127.0.0.1, speaking the real protocol:
//! `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`, then GETs carrying
//! `X-aws-ec2-metadata-token`, which it refuses (401) without a token it issued.
//!
//! It serves the instance profile (`/latest/meta-data/iam/security-credentials/` and
//! `/<role>`, new keys at each request) and `/latest/meta-data/placement/region`. IMDS
//! cannot run here, so this is the only stand-in the tests use.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_smithy_types::date_time::{DateTime, Format};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the metadata service does.
#[derive(Debug, Clone)]
pub struct ImdsBehavior {
    /// The instance profile's role; `None`: no role attached (404).
    pub role: Option<String>,
    /// The instance's region; `None`: 404.
    pub region: Option<String>,
    /// How long the credentials it hands out stay valid.
    pub lifetime: Duration,
    /// `false`: read the token request and never answer it (what a pod sees behind an
    /// IMDSv2 hop limit of 1).
    pub answer_token: bool,
}

impl ImdsBehavior {
    /// An instance with `role` in `region`, handing out credentials valid for `lifetime`.
    pub fn instance_profile(role: &str, region: &str, lifetime: Duration) -> Self {
        Self {
            role: Some(role.to_owned()),
            region: Some(region.to_owned()),
            lifetime,
            answer_token: true,
        }
    }

    /// Accepts connections and token requests and never answers them.
    pub fn never_answering_token() -> Self {
        Self {
            role: None,
            region: None,
            lifetime: Duration::ZERO,
            answer_token: false,
        }
    }
}

#[derive(Debug, Default)]
struct Seen {
    token_requests: usize,
    token_ttls: Vec<String>,
    credential_requests: usize,
    refused_requests: usize,
    issued_access_keys: Vec<String>,
    tokens: Vec<String>,
}

/// A running metadata service; stops when dropped.
pub struct ImdsServer {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    seen: Arc<Mutex<Seen>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ImdsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ImdsServer {
    pub async fn start(behavior: ImdsBehavior) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen::default()));
        let state = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, behavior.clone(), state.clone()));
            }
        });
        Self {
            endpoint,
            seen,
            task,
        }
    }

    /// Token requests received (answered or not).
    pub fn token_requests(&self) -> usize {
        self.seen.lock().unwrap().token_requests
    }

    /// The TTL header of each token request.
    pub fn token_ttls(&self) -> Vec<String> {
        self.seen.lock().unwrap().token_ttls.clone()
    }

    /// Requests for the role's credentials.
    pub fn credential_requests(&self) -> usize {
        self.seen.lock().unwrap().credential_requests
    }

    /// GETs refused for lack of a valid token.
    pub fn refused_requests(&self) -> usize {
        self.seen.lock().unwrap().refused_requests
    }

    /// The access key ids handed out, in order.
    pub fn issued_access_keys(&self) -> Vec<String> {
        self.seen.lock().unwrap().issued_access_keys.clone()
    }

    /// The secret access key handed out with `access_key`.
    pub fn secret_of(access_key: &str) -> String {
        format!("imds-secret-of-{access_key}")
    }
}

/// One connection: requests one after another (the SDK keeps connections alive).
async fn serve(mut socket: TcpStream, behavior: ImdsBehavior, seen: Arc<Mutex<Seen>>) {
    let mut buffer = Vec::new();
    loop {
        let Some(request) = read_request(&mut socket, &mut buffer).await else {
            return;
        };
        if request.method == "PUT" && request.path == "/latest/api/token" {
            seen.lock().unwrap().token_requests += 1;
            if !behavior.answer_token {
                // Hold the connection open and silent, like a dropped answer.
                std::future::pending::<()>().await;
            }
        }
        let response = respond(&request, &behavior, &seen);
        if socket.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_request(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let (method, path) = (request_line.next()?.to_owned(), request_line.next()?);
    // The SDK sends absolute paths; strip a query string if there is one.
    let path = path.split('?').next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    // Bodies are not used by IMDS; consume them to keep the connection in step.
    while buffer.len() < end + 4 + length {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    buffer.drain(..end + 4 + length);
    Some(Request {
        method,
        path,
        headers,
    })
}

fn respond(request: &Request, behavior: &ImdsBehavior, seen: &Mutex<Seen>) -> String {
    if request.method == "PUT" && request.path == "/latest/api/token" {
        let ttl = request.header("x-aws-ec2-metadata-token-ttl-seconds");
        let Some(ttl) = ttl.filter(|t| t.parse::<u32>().is_ok_and(|t| (1..=21600).contains(&t)))
        else {
            return http(400, &[], "");
        };
        let mut seen = seen.lock().unwrap();
        seen.token_ttls.push(ttl.to_owned());
        let token = format!("imds-session-token-{}", seen.tokens.len() + 1);
        seen.tokens.push(token.clone());
        return http(
            200,
            &[("X-aws-ec2-metadata-token-ttl-seconds", ttl)],
            &token,
        );
    }
    if request.method != "GET" {
        return http(405, &[], "");
    }
    let token = request.header("x-aws-ec2-metadata-token");
    let mut seen = seen.lock().unwrap();
    if !token.is_some_and(|t| seen.tokens.iter().any(|issued| issued == t)) {
        seen.refused_requests += 1;
        return http(401, &[], "");
    }
    const CREDENTIALS: &str = "/latest/meta-data/iam/security-credentials/";
    match (request.path.as_str(), &behavior.role, &behavior.region) {
        ("/latest/meta-data/placement/region", _, Some(region)) => http(200, &[], region),
        (CREDENTIALS, Some(role), _) => http(200, &[], role),
        (path, Some(role), _) if path.strip_prefix(CREDENTIALS) == Some(role.as_str()) => {
            seen.credential_requests += 1;
            let access_key = format!("ASIAIMDS{:012}", seen.credential_requests);
            seen.issued_access_keys.push(access_key.clone());
            let now = SystemTime::now();
            let stamp = |t: SystemTime| DateTime::from(t).fmt(Format::DateTime).unwrap();
            let body = format!(
                "{{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"{}\",\n  \"Type\" : \
                 \"AWS-HMAC\",\n  \"AccessKeyId\" : \"{access_key}\",\n  \"SecretAccessKey\" : \
                 \"{}\",\n  \"Token\" : \"imds-session-{access_key}\",\n  \"Expiration\" : \
                 \"{}\"\n}}",
                stamp(now),
                ImdsServer::secret_of(&access_key),
                stamp(now + behavior.lifetime),
            );
            http(200, &[], &body)
        }
        _ => http(404, &[], ""),
    }
}

fn http(status: u16, headers: &[(&str, &str)], body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(body);
    response
}
