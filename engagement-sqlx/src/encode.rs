//! Rows ↔ model: how an [`Event`] and a [`Customer`] are laid out in our tables.

use std::net::IpAddr;

use engagement_core::{
    Actor, Customer, CustomerId, CustomerStatus, Device, Event, EventBatch, EventRef, Timestamp,
    WorkspaceId,
};

use crate::dialect::ReadRow;
use crate::error::{SqlError, SqlResult};
use crate::fetched::{RowSink, Value, ValueRow};
use crate::sql::{Arg, Sql};

/// The columns an event is read from, in [`event_from_row`] order.
pub(crate) const EVENT_COLUMNS: &str = "id, customer, actor, name, occurred_at, received_at, \
     url, path, domain, referrer, country, region, city, zone, device, ip, metadata";

/// The columns an event is written to: the workspace, then [`event_args`] in order.
pub(crate) const EVENT_INSERT_COLUMNS: &str = "workspace, id, customer, actor, name, \
     occurred_at, received_at, url, path, domain, referrer, country, region, city, zone, device, \
     ip, metadata";

/// Bound arguments per inserted event.
pub(crate) const EVENT_BINDS: usize = 18;

/// The columns a customer is read from, in [`customer_from_row`] order.
pub(crate) const CUSTOMER_COLUMNS: &str =
    "id, code, first_name, last_name, email, status, is_admin_placeholder";

/// The customer columns replaced by an upsert.
pub(crate) const CUSTOMER_UPDATE_COLUMNS: [&str; 8] = [
    "code",
    "first_name",
    "last_name",
    "email",
    "status",
    "is_admin_placeholder",
    "search_text",
    "sort_name",
];

/// The columns a customer is written to, in [`push_customer_values`] order.
pub(crate) const CUSTOMER_INSERT_COLUMNS: &str = "workspace, id, code, first_name, last_name, \
     email, status, is_admin_placeholder, search_text, sort_name";

/// Bound arguments per upserted customer.
pub(crate) const CUSTOMER_BINDS: usize = 10;

/// One event's values for every column of [`EVENT_INSERT_COLUMNS`] but the workspace.
pub(crate) fn event_args(e: &Event) -> SqlResult<[Arg; EVENT_BINDS - 1]> {
    let metadata = serde_json::to_string(&e.metadata).map_err(|e| SqlError::Encode(e.into()))?;
    Ok([
        e.id.as_str().into(),
        e.customer.0.into(),
        i64::from(e.actor.code()).into(),
        e.name.as_str().into(),
        e.occurred_at.as_micros().into(),
        e.received_at.as_micros().into(),
        e.page.url.as_str().into(),
        e.page.path.as_str().into(),
        e.page.domain.as_str().into(),
        e.page.referrer.as_str().into(),
        e.geo.country.as_str().into(),
        e.geo.region.as_str().into(),
        e.geo.city.as_str().into(),
        e.geo.zone.as_str().into(),
        Arg::OptInt(e.device.map(device_code)),
        Arg::OptText(e.ip.map(|ip| ip.to_string())),
        metadata.into(),
    ])
}

/// The event whose [`EVENT_COLUMNS`] start at column `at`.
pub(crate) fn event_from_row<R: ReadRow>(row: &R, at: usize) -> SqlResult<Event> {
    // `to_event` parses the metadata, which checks it on the way.
    borrowed_event(row, at)?
        .to_event()
        .map_err(|e| corrupt("metadata", e))
}

/// The event whose [`EVENT_COLUMNS`] start at column `at`, its text borrowed from the row.
///
/// # Errors
/// [`SqlError::Corrupt`] when a code, the IP or the metadata is not what `append` writes.
pub(crate) fn event_ref_from_row<R: ReadRow + ?Sized>(
    row: &R,
    at: usize,
) -> SqlResult<EventRef<'_>> {
    let event = borrowed_event(row, at)?;
    check_metadata(event.metadata)?;
    Ok(event)
}

/// An export chunk read by the store itself: each row of [`EVENT_COLUMNS`] decoded into the
/// batch as it is read, its text copied once, from the database's buffer into the batch's.
impl RowSink for EventBatch {
    fn push_row(&mut self, values: &[Value<'_>]) -> SqlResult<()> {
        self.push(event_ref_from_row(&ValueRow(values), 0)?);
        Ok(())
    }
}

/// Checks, without building it, that `metadata` is a JSON object, so that a corrupt row fails
/// the read as it would as an [`Event`]: valid JSON that starts with `{` is an object.
fn check_metadata(metadata: &str) -> SqlResult<()> {
    if metadata == "{}" {
        return Ok(());
    }
    if !metadata.trim_start().starts_with('{') {
        return Err(corrupt("metadata", "not a JSON object"));
    }
    serde_json::from_str::<serde::de::IgnoredAny>(metadata)
        .map(drop)
        .map_err(|e| corrupt("metadata", e))
}

/// The event at column `at` with its metadata unchecked.
fn borrowed_event<R: ReadRow + ?Sized>(row: &R, at: usize) -> SqlResult<EventRef<'_>> {
    let actor = row.small(at + 2)?;
    let device = row.opt_small(at + 14)?;
    let ip = row.opt_str(at + 15)?;
    let metadata = row.str(at + 16)?;
    Ok(EventRef {
        id: row.str(at)?,
        customer: CustomerId(row.int(at + 1)?),
        actor: u8::try_from(actor)
            .ok()
            .and_then(Actor::from_code)
            .ok_or_else(|| corrupt("actor", actor))?,
        name: row.str(at + 3)?,
        occurred_at: Timestamp::from_micros(row.int(at + 4)?),
        received_at: Timestamp::from_micros(row.int(at + 5)?),
        url: row.str(at + 6)?,
        path: row.str(at + 7)?,
        domain: row.str(at + 8)?,
        referrer: row.str(at + 9)?,
        country: row.str(at + 10)?,
        region: row.str(at + 11)?,
        city: row.str(at + 12)?,
        zone: row.str(at + 13)?,
        device: device
            .map(|d| {
                usize::try_from(d)
                    .ok()
                    .and_then(|i| Device::ALL.get(i).copied())
                    .ok_or_else(|| corrupt("device", d))
            })
            .transpose()?,
        ip: ip
            .map(|ip| ip.parse::<IpAddr>().map_err(|e| corrupt("ip", e)))
            .transpose()?,
        metadata,
    })
}

/// Appends `(?, …)` with one customer's values, including the derived search and sort text.
pub(crate) fn push_customer_values(sql: &mut Sql, workspace: &WorkspaceId, c: &Customer) {
    let values: [Arg; CUSTOMER_BINDS] = [
        workspace.as_str().into(),
        c.id.0.into(),
        c.code.as_str().into(),
        c.first_name.as_str().into(),
        c.last_name.as_str().into(),
        c.email.as_str().into(),
        status_code(c.status).into(),
        i64::from(c.is_admin_placeholder || c.has_placeholder_name()).into(),
        c.search_text().into(),
        c.full_name().to_lowercase().into(),
    ];
    sql.bind_list(values);
}

/// The customer whose [`CUSTOMER_COLUMNS`] start at column `at`.
pub(crate) fn customer_from_row<R: ReadRow>(row: &R, at: usize) -> SqlResult<Customer> {
    let status = row.small(at + 5)?;
    let placeholder = row.small(at + 6)?;
    Ok(Customer {
        id: CustomerId(row.int(at)?),
        code: row.text(at + 1)?,
        first_name: row.text(at + 2)?,
        last_name: row.text(at + 3)?,
        email: row.text(at + 4)?,
        status: match status {
            0 => CustomerStatus::Active,
            1 => CustomerStatus::Inactive,
            other => return Err(corrupt("status", other)),
        },
        is_admin_placeholder: match placeholder {
            0 => false,
            1 => true,
            other => return Err(corrupt("is_admin_placeholder", other)),
        },
    })
}

/// The stored code of a status.
pub(crate) fn status_code(status: CustomerStatus) -> i64 {
    match status {
        CustomerStatus::Active => 0,
        CustomerStatus::Inactive => 1,
    }
}

/// The stored code of an actor.
pub(crate) fn actor_code(actor: Actor) -> i64 {
    i64::from(actor.code())
}

fn device_code(device: Device) -> i64 {
    Device::ALL
        .iter()
        .position(|d| *d == device)
        .and_then(|i| i64::try_from(i).ok())
        .unwrap_or(0)
}

fn corrupt(column: &'static str, value: impl std::fmt::Display) -> SqlError {
    SqlError::Corrupt {
        column,
        reason: value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_lists_match_their_bind_counts() {
        assert_eq!(EVENT_INSERT_COLUMNS.split(',').count(), EVENT_BINDS);
        assert_eq!(EVENT_COLUMNS.split(',').count(), EVENT_BINDS - 1);
        assert_eq!(CUSTOMER_INSERT_COLUMNS.split(',').count(), CUSTOMER_BINDS);
        for column in CUSTOMER_UPDATE_COLUMNS {
            assert!(CUSTOMER_INSERT_COLUMNS.contains(column));
        }
    }

    #[test]
    fn only_json_objects_pass_the_metadata_check() {
        for ok in ["{}", " {} ", r#"{"a":[1,{"b":null}]}"#, r#"{"k":"v \" }"}"#] {
            assert!(check_metadata(ok).is_ok(), "{ok}");
        }
        for bad in ["", "[]", " [1]", "1", "{", r#"{"a":1} x"#, r#"{"a"}"#] {
            assert!(
                matches!(
                    check_metadata(bad),
                    Err(SqlError::Corrupt {
                        column: "metadata",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn device_codes_follow_storage_order() {
        for (i, d) in Device::ALL.into_iter().enumerate() {
            assert_eq!(device_code(d), i64::try_from(i).unwrap());
        }
    }
}
