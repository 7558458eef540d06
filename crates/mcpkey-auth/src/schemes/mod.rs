//! Built-in authentication schemes, one module each, with their test
//! vectors beside them.

pub mod api_key;
pub mod basic;
pub mod bearer;
#[cfg(feature = "command")]
pub mod command;
pub mod digest;
pub mod multi_header;
pub mod query_param;
pub mod signature;
