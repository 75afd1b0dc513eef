//! The audit trail as pages, newest first (`/api/v1/me/activity` and the
//! help-desk twin). The cursor is the id of the last event of the previous
//! page.

use tessera_api::activity::{ACTIVITY_PAGE_DEFAULT, ACTIVITY_PAGE_MAX};
use tessera_api::{ActivityPage, ActivityQuery};

use super::audit::to_wire;
use super::problem::{ApiError, ApiResult};
use crate::state::Provider;

pub async fn page(app: &Provider, subject: &str, query: &ActivityQuery) -> ApiResult<ActivityPage> {
    let limit = query.limit.unwrap_or(ACTIVITY_PAGE_DEFAULT);
    if limit == 0 || limit > ACTIVITY_PAGE_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {ACTIVITY_PAGE_MAX}."
        )));
    }
    let before = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(c) => Some(
            c.parse::<u64>()
                .map_err(|_| ApiError::bad_request("The cursor is not one this API gave."))?,
        ),
    };
    // One more than asked tells whether another page follows.
    let mut events = app
        .store
        .list_audit(subject, before, limit as usize + 1)
        .await?;
    let more = events.len() > limit as usize;
    events.truncate(limit as usize);
    let next_cursor = if more {
        events.last().map(|e| e.id.to_string())
    } else {
        None
    };
    Ok(ActivityPage {
        events: events.iter().map(to_wire).collect(),
        next_cursor,
    })
}
