//! The domain: workspaces, customers, events and their validation.

pub(crate) mod batch;
pub(crate) mod customer;
pub(crate) mod event;
pub(crate) mod ids;
pub mod names;
pub(crate) mod printable;
pub(crate) mod validate;
