//! Wall-clock helpers: epoch milliseconds and RFC 3339 UTC timestamps, without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `2026-11-24T17:54:25.123Z` for a time given in epoch milliseconds.
pub fn rfc3339_utc(epoch_ms: u64) -> String {
    let mut out = String::with_capacity(24);
    write_rfc3339_utc(&mut out, epoch_ms);
    out
}

/// Appends [`rfc3339_utc`]'s text to `out`.
pub fn write_rfc3339_utc(out: &mut String, epoch_ms: u64) {
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    // Written digit by digit: `format!` costs more than the rest of a healthz call.
    let mut put = |n: u64, width: u32, sep: char| {
        for k in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u64.pow(k) % 10) as u8));
        }
        out.push(sep);
    };
    put(y.clamp(0, 9999) as u64, 4, '-');
    put(m.into(), 2, '-');
    put(d.into(), 2, 'T');
    put(rem / 3600, 2, ':');
    put(rem % 3600 / 60, 2, ':');
    put(rem % 60, 2, '.');
    put(epoch_ms % 1000, 3, 'Z');
}

/// Days since 1970-01-01 to a (year, month, day) civil date (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_utc(1_795_542_865_123), "2026-11-24T17:54:25.123Z");
        assert_eq!(rfc3339_utc(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }
}
