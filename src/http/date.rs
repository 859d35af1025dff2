//! Dates as HTTP wants them (IMF-fixdate, RFC 9110 §5.6.7) and as logs want them
//! (RFC 3339), from the system clock, without a calendar library.

use std::time::{SystemTime, UNIX_EPOCH};

/// `Sun, 06 Nov 1994 08:49:37 GMT` is always 29 bytes.
pub const IMF_FIXDATE_LEN: usize = 29;

/// A civil UTC time, broken down from seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday.
    pub weekday: u32,
}

impl Civil {
    /// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
    pub fn from_unix(secs: i64) -> Civil {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as u32,
        }
    }

    pub fn now() -> Civil {
        Civil::from_unix(unix_now())
    }

    /// IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
    pub fn imf_fixdate(&self) -> [u8; IMF_FIXDATE_LEN] {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let text = format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[self.weekday as usize],
            self.day,
            MONTHS[self.month as usize - 1],
            self.year,
            self.hour,
            self.minute,
            self.second
        );
        let mut out = [b' '; IMF_FIXDATE_LEN];
        out.copy_from_slice(&text.as_bytes()[..IMF_FIXDATE_LEN]);
        out
    }

    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_the_rfc_example_date() {
        // RFC 9110 §5.6.7: Sun, 06 Nov 1994 08:49:37 GMT
        let c = Civil::from_unix(784_111_777);
        assert_eq!(&c.imf_fixdate(), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(c.rfc3339(), "1994-11-06T08:49:37Z");
    }

    #[test]
    fn handles_leap_days_and_century_rules() {
        assert_eq!(
            &Civil::from_unix(951_782_400).imf_fixdate(),
            b"Tue, 29 Feb 2000 00:00:00 GMT"
        );
        assert_eq!(
            &Civil::from_unix(4_107_542_399).imf_fixdate(),
            b"Sun, 28 Feb 2100 23:59:59 GMT"
        );
        assert_eq!(Civil::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
    }
}
