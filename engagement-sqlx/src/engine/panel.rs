//! `customer_panel`: a customer's counters, trend and latest events, each read by the
//! statements of its own primitive, all in one read transaction.

use engagement_core::{CustomerPanel, CustomerPanelQuery, WorkspaceId};

use super::Engine;
use crate::dialect::{Dialect, begin};
use crate::error::{SqlError, SqlResult};

impl<D: Dialect> Engine<D> {
    pub(crate) async fn customer_panel(
        &self,
        workspace: &WorkspaceId,
        query: &CustomerPanelQuery,
    ) -> SqlResult<CustomerPanel> {
        // The log read's settings (`BEGIN_LOG_READ`) for the latest events; the counters and
        // the trend name their customers, whose keys every plan reads by index either way.
        let mut tx = begin::<D>(&self.pool, D::BEGIN_LOG_READ).await?;
        let counters = self
            .activity_page_in(&mut tx, workspace, &query.counters)
            .await?;
        let trend = self
            .bucket_counts_in(&mut tx, workspace, &query.trend)
            .await?;
        let recent = self
            .event_page_in(&mut tx, workspace, &query.recent)
            .await?;
        tx.commit()
            .await
            .map_err(SqlError::driver("end the customer panel's snapshot"))?;
        Ok(CustomerPanel {
            counters,
            trend,
            recent,
        })
    }
}
