//! TLS for cachet: rustls configurations built from Redis-named settings, the transit-encryption
//! modes, development certificates, handshake counters, and the per-connection session over
//! rustls's unbuffered API. No sockets and no io_uring: bytes in, bytes out.

mod config;
mod devcerts;
mod mode;
mod session;
mod stats;

pub use config::{
    client_config, load_certs, load_key, protocol_versions, provider, server_config, suite_name, TlsError,
    TlsSettings,
};
pub use devcerts::{dev_set_exists, make_dev_set, DevCerts, DEV_FILES};
pub use mode::{is_tls_record_start, ClientAuth, TlsMode, HANDSHAKE_FAILURE_ALERT, TLS_REQUIRED_ERROR};
pub use rustls;
pub use session::{Phase, ReadOutcome, TlsSession};
pub use stats::{HandshakeFailure, TlsStats};
