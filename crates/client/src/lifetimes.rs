//! Durations a provider states (a token's `expires_in`, a step-up's
//! `max_age`), turned into dates without trusting their size: a hostile or
//! buggy provider's huge value must not overflow the date arithmetic, which
//! panics.

use std::time::Duration;

use time::OffsetDateTime;

/// Assumed when the token response states no lifetime.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Longest access-token lifetime believed. Providers issue minutes to an
/// hour; a day keeps every expiry representable and the session the app
/// shows plausible. Capping is harmless: a shorter believed lifetime only
/// makes the client refresh earlier, and a token refused before its stated
/// end is refreshed anyway.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Tolerance between our clock and the provider's for `auth_time`.
const CLOCK_SKEW: i64 = 60;

/// When an access token issued at `now` and said to last `expires_in` is
/// treated as expired.
pub(crate) fn expires_at(now: OffsetDateTime, expires_in: Option<Duration>) -> OffsetDateTime {
    let lifetime = expires_in.unwrap_or(DEFAULT_LIFETIME).min(MAX_LIFETIME);
    now.saturating_add(time::Duration::seconds(lifetime.as_secs() as i64))
}

/// Whether a sign-in at `auth_time` is within the `max_age` seconds a
/// step-up asked for, give or take the clock skew.
pub(crate) fn signed_in_within(
    now: OffsetDateTime,
    auth_time: Option<OffsetDateTime>,
    max_age: u64,
) -> bool {
    let allowed = i64::try_from(max_age)
        .unwrap_or(i64::MAX)
        .saturating_add(CLOCK_SKEW);
    auth_time.is_some_and(|t| (now - t).whole_seconds() <= allowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_capped_at_a_day_and_never_overflow() {
        let now = OffsetDateTime::now_utc();
        let day = time::Duration::days(1);
        assert_eq!(expires_at(now, Some(Duration::MAX)), now + day);
        assert_eq!(
            expires_at(now, Some(Duration::from_secs(u64::MAX))),
            now + day
        );
        assert_eq!(
            expires_at(now, Some(Duration::from_secs(600))),
            now + time::Duration::minutes(10)
        );
        assert_eq!(expires_at(now, None), now + time::Duration::minutes(5));
        let end_of_time = time::PrimitiveDateTime::MAX.assume_utc();
        assert_eq!(
            expires_at(end_of_time, Some(Duration::from_secs(600))),
            end_of_time
        );
    }

    #[test]
    fn max_age_of_any_size_is_compared_without_overflow() {
        let now = OffsetDateTime::now_utc();
        let ago = |s| Some(now - time::Duration::seconds(s));
        assert!(signed_in_within(now, ago(100), 60));
        assert!(!signed_in_within(now, ago(121), 60));
        assert!(!signed_in_within(now, None, u64::MAX));
        for huge in [i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX] {
            assert!(signed_in_within(now, ago(86_400 * 365), huge), "{huge}");
        }
        let dawn = time::PrimitiveDateTime::MIN.assume_utc();
        assert!(signed_in_within(now, Some(dawn), u64::MAX));
        assert!(!signed_in_within(now, Some(dawn), 600));
    }
}
