//! RESP2/RESP3 for cachet: request parsing into borrowed arguments, and reply encoding.
//!
//! No I/O and no knowledge of TLS or the keyspace: the connection hands this crate bytes and
//! gets back argument spans, and hands it values and gets back reply bytes.

mod encode;
mod parse;

pub use encode::{Protocol, ReplyWriter};
pub use parse::{
    parse_i64, split_args, Args, Limits, Parsed, ProtocolError, RequestParser, Span, INLINE_MAX_SIZE,
    MAX_MULTIBULK_LEN,
};
