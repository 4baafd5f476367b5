//! Syslog (RFC 5424) over TCP with octet-counting framing (RFC 6587 section 3.4.1).

use std::time::Duration;

use async_trait::async_trait;
use chrono::SecondsFormat;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::{SiemEvent, SiemSink, SinkError};
use provision_core::audit::AuditOutcome;
use provision_core::drift::Severity;

/// The structured-data id of our parameters. 32473 is the enterprise number
/// RFC 5612 reserves for documentation and examples; set your own with
/// [`SyslogTcpSink::with_sd_id`].
const DEFAULT_SD_ID: &str = "provision@32473";

/// `authpriv` (10): security and authorisation messages.
const DEFAULT_FACILITY: u8 = 10;

/// Syslog severity of an event: warning for failed changes and high or critical
/// findings, notice for other findings, informational otherwise.
fn severity(event: &SiemEvent) -> u8 {
    match event {
        SiemEvent::Audit { record } => match record.event.outcome {
            AuditOutcome::Failed { .. } => 4,
            _ => 6,
        },
        SiemEvent::DriftFinding { finding, .. } => match finding.severity {
            Severity::Critical | Severity::High => 4,
            _ => 5,
        },
    }
}

/// Escapes a structured-data parameter value (`"`, `\` and `]`, RFC 5424 section 6.3.3).
fn sd_escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A header field: printable US-ASCII without spaces, at most `max` characters,
/// `-` (NILVALUE) when empty.
fn header_field(value: &str, max: usize) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if cleaned.is_empty() {
        "-".to_owned()
    } else {
        cleaned
    }
}

/// One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME provision PROCID MSGID [SD] BOM JSON`.
///
/// The structured data carries the event's seq (audit records), system and
/// identity; the message is the event's JSON ([`SiemEvent::to_json_line`]).
pub fn format_rfc5424(
    event: &SiemEvent,
    facility: u8,
    hostname: &str,
    sd_id: &str,
) -> Result<String, serde_json::Error> {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(severity(event));
    let timestamp = event.at().to_rfc3339_opts(SecondsFormat::Micros, true);
    let mut params: Vec<(&str, String)> = Vec::new();
    match event {
        SiemEvent::Audit { record } => {
            params.push(("seq", record.seq.to_string()));
            params.push(("system", record.event.system.as_str().to_owned()));
            params.push(("identity", record.event.identity.as_str().to_owned()));
        }
        SiemEvent::DriftFinding { finding, .. } => {
            params.push(("system", finding.system.as_str().to_owned()));
            if let Some(identity) = &finding.identity {
                params.push(("identity", identity.as_str().to_owned()));
            }
        }
    }
    let sd_params: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", sd_escape(v)))
        .collect();
    Ok(format!(
        "<{pri}>1 {timestamp} {host} provision {procid} {msgid} [{sd_id} {params}] \u{feff}{json}",
        host = header_field(hostname, 255),
        procid = std::process::id(),
        msgid = header_field(&event.name(), 32),
        sd_id = header_field(sd_id, 32),
        params = sd_params.join(" "),
        json = event.to_json_line()?,
    ))
}

/// Octet-counting framing: `MSG-LEN SP SYSLOG-MSG`, the length in bytes.
pub fn frame_octet_counted(message: &str) -> String {
    format!("{} {message}", message.len())
}

/// Sends events as RFC 5424 messages over one TCP connection, reconnecting when
/// the receiver went away.
///
/// TCP gives no application acknowledgement: a batch counts as delivered once the
/// kernel accepted it. Before each batch the sink checks whether the receiver
/// closed the connection (and reconnects); a failed write drops the connection and
/// the whole batch is sent again on the next attempt.
#[derive(Debug)]
pub struct SyslogTcpSink {
    name: String,
    address: String,
    hostname: String,
    facility: u8,
    sd_id: String,
    connect_timeout: Duration,
    connection: Mutex<Option<TcpStream>>,
}

impl SyslogTcpSink {
    /// A sink sending to `address` (`host:port`), facility `authpriv`, hostname `-`.
    pub fn new(name: impl Into<String>, address: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            address: address.into(),
            hostname: "-".to_owned(),
            facility: DEFAULT_FACILITY,
            sd_id: DEFAULT_SD_ID.to_owned(),
            connect_timeout: Duration::from_secs(5),
            connection: Mutex::new(None),
        }
    }

    /// Sets the HOSTNAME field.
    pub fn with_hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// Sets the facility (0-23).
    pub fn with_facility(mut self, facility: u8) -> Self {
        self.facility = facility.min(23);
        self
    }

    /// Sets the structured-data id (`name@enterprise-number`).
    pub fn with_sd_id(mut self, sd_id: impl Into<String>) -> Self {
        self.sd_id = sd_id.into();
        self
    }

    async fn connect(&self) -> Result<TcpStream, SinkError> {
        match tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.address)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(e)) => Err(SinkError::Unavailable(format!(
                "connect {}: {e}",
                self.address
            ))),
            Err(_) => Err(SinkError::Unavailable(format!(
                "connect {}: timed out after {:?}",
                self.address, self.connect_timeout
            ))),
        }
    }
}

/// Whether the peer closed its end (a read would return end of file).
fn peer_closed(stream: &TcpStream) -> bool {
    let mut probe = [0u8; 64];
    loop {
        match stream.try_read(&mut probe) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

#[async_trait]
impl SiemSink for SyslogTcpSink {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, events: &[SiemEvent]) -> Result<(), SinkError> {
        let mut bytes = Vec::with_capacity(events.len() * 600);
        for event in events {
            let message = format_rfc5424(event, self.facility, &self.hostname, &self.sd_id)
                .map_err(|e| SinkError::Rejected(format!("event cannot be serialised: {e}")))?;
            bytes.extend_from_slice(frame_octet_counted(&message).as_bytes());
        }
        let mut connection = self.connection.lock().await;
        if connection.as_ref().is_some_and(peer_closed) {
            *connection = None;
        }
        let mut stream = match connection.take() {
            Some(stream) => stream,
            None => self.connect().await?,
        };
        match stream.write_all(&bytes).await {
            Ok(()) => match stream.flush().await {
                Ok(()) => {
                    *connection = Some(stream);
                    Ok(())
                }
                Err(e) => Err(SinkError::Unavailable(format!(
                    "flush to {}: {e}",
                    self.address
                ))),
            },
            Err(e) => Err(SinkError::Unavailable(format!(
                "write to {}: {e}",
                self.address
            ))),
        }
    }
}
