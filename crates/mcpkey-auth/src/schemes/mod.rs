//! Built-in authentication schemes, one module each, with their test
//! vectors beside them.

pub mod bearer;
