//! Replication, Redis's way. This first part is the RDB encoding of values (version 10, Redis
//! 7.0's): what DUMP produces and RESTORE reads, and what the full-sync snapshot will be made
//! of. A value dumped by redis-server 7 restores here and the other way round.

mod crc64;
mod listpack;
mod lzf;
pub mod rdb;

pub use crc64::crc64;
pub use rdb::{dump_payload, load_rdb, restore_payload, LoadedKey, RdbError, RdbWriter, RDB_VERSION};
