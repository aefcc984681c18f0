//! The ports: the small traits the core reaches DNS, SES and the outside world through, each
//! with its offline or in-memory implementation. Real implementations live in `edge`.

pub mod directory;
pub mod facts;
pub mod scope;
pub mod sink;
