//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1, for the upload tests.
//!
//! It forwards every request to an upstream S3 server, reading each request's head and body
//! (by `Content-Length` or chunked framing) so that it can single out UploadPart requests
//! (`partNumber=` in the request line) and do something else with one of them: reset the
//! connection in the middle of the body, answer `503 SlowDown` itself, accept the request and
//! never answer, or flip one byte of the body on its way through. Responses are copied back
//! unchanged. The proxy counts the UploadPart requests it saw, per part number, so a test can
//! tell a retried part from one that was given up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to a targeted UploadPart request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward the head and half the body, then reset both connections (`SO_LINGER` 0).
    ResetMidBody,
    /// Read the request without forwarding it and answer `503 SlowDown` with an S3 XML
    /// error body, then close the connection.
    SlowDown,
    /// Read the request without forwarding it and never answer; the connection stays open
    /// until the client gives up.
    Stall,
    /// Forward the request with one byte in the middle of the body flipped.
    CorruptBody,
}

/// Which UploadPart requests get the fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The Nth UploadPart request the proxy sees (1-based), whatever its part number; later
    /// attempts of the same part pass.
    NthPartRequest(usize),
    /// Every attempt of the part with this number.
    EveryAttemptOfPart(u32),
    /// The Nth PutObject request (a `PUT` of a whole object: no `partNumber`, no
    /// `uploadId`), 1-based.
    NthObjectPut(usize),
}

#[derive(Default)]
struct Record {
    /// Part numbers of the UploadPart requests, in arrival order.
    part_requests: Vec<u32>,
    /// Part numbers of the requests that got the fault, in arrival order (0 for a
    /// PutObject).
    faulted: Vec<u32>,
    /// How many PutObject requests arrived.
    object_puts: usize,
}

/// A running fault proxy; it stops with the test's runtime.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to use as the store's endpoint.
    pub endpoint: String,
    record: Arc<Mutex<Record>>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (`http://host:port`) that applies `fault` to the
    /// UploadPart requests `target` names.
    pub async fn start(upstream: &str, target: Target, fault: Fault) -> Self {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let record = Arc::new(Mutex::new(Record::default()));
        let shared = record.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                let rule = Rule {
                    target,
                    fault,
                    record: shared.clone(),
                };
                tokio::spawn(rule.serve(client, server));
            }
        });
        Self { endpoint, record }
    }

    /// The part numbers of all UploadPart requests seen so far, in arrival order (retries
    /// included).
    pub fn part_requests(&self) -> Vec<u32> {
        self.record.lock().unwrap().part_requests.clone()
    }

    /// How many UploadPart requests for `part_number` arrived.
    pub fn attempts_of_part(&self, part_number: u32) -> usize {
        self.part_requests()
            .iter()
            .filter(|&&n| n == part_number)
            .count()
    }

    /// The part numbers of the requests that got the fault, in arrival order (0 stands for
    /// a PutObject).
    pub fn faulted_parts(&self) -> Vec<u32> {
        self.record.lock().unwrap().faulted.clone()
    }

    /// How many PutObject requests (whole objects, not parts) arrived.
    pub fn object_puts(&self) -> usize {
        self.record.lock().unwrap().object_puts
    }
}

#[derive(Clone)]
struct Rule {
    target: Target,
    fault: Fault,
    record: Arc<Mutex<Record>>,
}

/// A parsed request head, with its raw bytes to forward unchanged.
struct Head {
    raw: Vec<u8>,
    kind: Kind,
    body: Framing,
}

/// The requests the proxy tells apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    UploadPart(u32),
    PutObject,
    Other,
}

enum Framing {
    Length(u64),
    Chunked,
}

impl Rule {
    /// Registers a request; tells whether it gets the fault.
    fn hits(&self, kind: Kind) -> bool {
        let mut record = self.record.lock().unwrap();
        let hit = match kind {
            Kind::UploadPart(number) => {
                record.part_requests.push(number);
                match self.target {
                    Target::NthPartRequest(n) => record.part_requests.len() == n,
                    Target::EveryAttemptOfPart(p) => number == p,
                    Target::NthObjectPut(_) => false,
                }
            }
            Kind::PutObject => {
                record.object_puts += 1;
                self.target == Target::NthObjectPut(record.object_puts)
            }
            Kind::Other => false,
        };
        if hit {
            let number = match kind {
                Kind::UploadPart(n) => n,
                _ => 0,
            };
            record.faulted.push(number);
        }
        hit
    }

    async fn serve(self, client: TcpStream, server: TcpStream) {
        let (client_read, client_write) = client.into_split();
        let (server_read, mut server_write) = server.into_split();
        let client_write = Arc::new(tokio::sync::Mutex::new(client_write));
        let responses = tokio::spawn(copy_responses(server_read, client_write.clone()));
        let mut client_read = BufReader::new(client_read);
        loop {
            let Some(head) = read_head(&mut client_read).await else {
                break;
            };
            let fault = self.hits(head.kind).then_some(self.fault);
            match fault {
                None => {
                    if server_write.write_all(&head.raw).await.is_err()
                        || forward_body(&mut client_read, &mut server_write, &head.body, None)
                            .await
                            .is_err()
                    {
                        break;
                    }
                }
                Some(Fault::CorruptBody) => {
                    let flip_at = match head.body {
                        Framing::Length(n) => n / 2,
                        Framing::Chunked => 0,
                    };
                    if server_write.write_all(&head.raw).await.is_err()
                        || forward_body(
                            &mut client_read,
                            &mut server_write,
                            &head.body,
                            Some(flip_at),
                        )
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                Some(Fault::ResetMidBody) => {
                    let half = match head.body {
                        Framing::Length(n) => n / 2,
                        Framing::Chunked => 0,
                    };
                    let _ = server_write.write_all(&head.raw).await;
                    let mut first_half = (&mut client_read).take(half);
                    let _ = tokio::io::copy(&mut first_half, &mut server_write).await;
                    responses.abort();
                    let _ = responses.await;
                    // A zero linger turns the close into a reset (RST) instead of a FIN.
                    let _ = client_read.get_ref().as_ref().set_zero_linger();
                    return;
                }
                Some(Fault::SlowDown) => {
                    let _ = discard_body(&mut client_read, &head.body).await;
                    responses.abort();
                    let _ = responses.await;
                    let mut writer = client_write.lock().await;
                    let _ = writer.write_all(slow_down_response().as_bytes()).await;
                    let _ = writer.shutdown().await;
                    drop(writer);
                    drain_until_closed(&mut client_read).await;
                    return;
                }
                Some(Fault::Stall) => {
                    let _ = discard_body(&mut client_read, &head.body).await;
                    responses.abort();
                    drain_until_closed(&mut client_read).await;
                    return;
                }
            }
        }
        responses.abort();
    }
}

/// Copies the upstream's responses to the client; closes the client's side when the
/// upstream closes.
async fn copy_responses(
    mut server_read: OwnedReadHalf,
    client_write: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
) {
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = match server_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if client_write
            .lock()
            .await
            .write_all(&buffer[..n])
            .await
            .is_err()
        {
            return;
        }
    }
    let _ = client_write.lock().await.shutdown().await;
}

/// Reads one request head; `None` when the client closed the connection.
async fn read_head<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Head> {
    let mut raw = Vec::new();
    let mut request_line = None;
    let mut length = 0u64;
    let mut chunked = false;
    loop {
        let start = raw.len();
        if reader.read_until(b'\n', &mut raw).await.ok()? == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&raw[start..]).trim_end().to_owned();
        if request_line.is_none() {
            if line.is_empty() {
                // Stray line breaks between requests.
                raw.clear();
                continue;
            }
            request_line = Some(line);
            continue;
        }
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => {
                    chunked = value.to_ascii_lowercase().contains("chunked");
                }
                _ => {}
            }
        }
    }
    let request_line = request_line?;
    let kind = if !request_line.starts_with("PUT ") {
        Kind::Other
    } else if let Some(n) = query_value(&request_line, "partNumber").and_then(|v| v.parse().ok()) {
        Kind::UploadPart(n)
    } else if query_value(&request_line, "uploadId").is_none() && names_an_object(&request_line) {
        Kind::PutObject
    } else {
        Kind::Other
    };
    Some(Head {
        raw,
        kind,
        body: if chunked {
            Framing::Chunked
        } else {
            Framing::Length(length)
        },
    })
}

/// Whether the (path-style) request target is `/bucket/key`, not just `/bucket`.
fn names_an_object(request_line: &str) -> bool {
    let target = request_line.split(' ').nth(1).unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    path.trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty())
}

fn query_value<'a>(request_line: &'a str, name: &str) -> Option<&'a str> {
    let target = request_line.split(' ').nth(1)?;
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Forwards one request body; flips the byte at offset `flip_at` of a `Content-Length` body.
async fn forward_body<R, W>(
    reader: &mut BufReader<R>,
    writer: &mut W,
    framing: &Framing,
    flip_at: Option<u64>,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    match framing {
        Framing::Length(length) => {
            let mut left = *length;
            let mut offset = 0u64;
            let mut buffer = vec![0u8; 64 * 1024];
            while left > 0 {
                let want = buffer.len().min(left as usize);
                let n = reader.read(&mut buffer[..want]).await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                if let Some(at) = flip_at
                    && (offset..offset + n as u64).contains(&at)
                {
                    buffer[(at - offset) as usize] ^= 0xff;
                }
                writer.write_all(&buffer[..n]).await?;
                left -= n as u64;
                offset += n as u64;
            }
        }
        Framing::Chunked => {
            // size line, data, CRLF ... the zero chunk, trailers, an empty line.
            let mut line = Vec::new();
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line).await? == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                writer.write_all(&line).await?;
                let text = String::from_utf8_lossy(&line);
                let size_text = text.trim().split(';').next().unwrap_or("0").to_owned();
                let size = u64::from_str_radix(size_text.trim(), 16).unwrap_or(0);
                if size == 0 {
                    loop {
                        line.clear();
                        if reader.read_until(b'\n', &mut line).await? == 0 {
                            return Err(std::io::ErrorKind::UnexpectedEof.into());
                        }
                        writer.write_all(&line).await?;
                        if line == b"\r\n" || line == b"\n" {
                            return Ok(());
                        }
                    }
                }
                let mut chunk = (&mut *reader).take(size + 2);
                tokio::io::copy(&mut chunk, writer).await?;
            }
        }
    }
    writer.flush().await
}

async fn discard_body<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
    framing: &Framing,
) -> std::io::Result<()> {
    forward_body(reader, &mut tokio::io::sink(), framing, None).await
}

/// Reads and drops whatever the client still sends, until it closes (bounded, so a client
/// that never closes does not keep the task forever).
async fn drain_until_closed<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) {
    let mut sink = tokio::io::sink();
    let drain = tokio::io::copy(reader, &mut sink);
    let _ = tokio::time::timeout(Duration::from_secs(120), drain).await;
}

fn slow_down_response() -> String {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message>\
                <RequestId>fault-proxy</RequestId><HostId>fault-proxy</HostId></Error>";
    format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         x-amz-request-id: fault-proxy\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Counts requests per part number (for diagnostics in assertion messages).
pub fn attempts_by_part(requests: &[u32]) -> HashMap<u32, usize> {
    let mut counts = HashMap::new();
    for &n in requests {
        *counts.entry(n).or_insert(0) += 1;
    }
    counts
}
