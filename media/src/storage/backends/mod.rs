//! The two places objects can be kept; [`Storage`](super::Storage) picks one
//! from the settings and checks keys before handing a call to it.

pub(super) mod local;
pub(super) mod s3;
