//! `strftime_now(format)` for chat templates (Llama 3.x, gpt-oss, Granite and Mistral write the date
//! into the system turn): the time as Python's `datetime.strftime` formats it, for the directives
//! templates use. The time is UTC, where Hugging Face's `apply_chat_template` takes the local time zone:
//! WebAssembly has no time zone, and one rule for the browser and natively keeps prompts alike.

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// By `(days since 1970-01-01 + 4) mod 7`: the epoch was a Thursday.
const WEEKDAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

const SECONDS_PER_DAY: i64 = 86_400;

/// `format` with `%Y %y %m %d %j %B %b %A %a %H %I %M %S %p %%` replaced by the fields of `unix_seconds`
/// (seconds since 1970-01-01 00:00 UTC); any other directive is an error naming it.
pub(super) fn strftime(format: &str, unix_seconds: i64) -> Result<String, String> {
    let days = unix_seconds.div_euclid(SECONDS_PER_DAY);
    let seconds = unix_seconds.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let day_of_year = days - days_from_civil(year, 1, 1) + 1;
    let weekday = WEEKDAYS[(days + 4).rem_euclid(7) as usize];
    let month_name = MONTHS[month as usize - 1];
    let (hour, minute, second) = (seconds / 3600, seconds / 60 % 60, seconds % 60);

    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let field = match chars.next() {
            Some('Y') => year.to_string(),
            Some('y') => format!("{:02}", year.rem_euclid(100)),
            Some('m') => format!("{month:02}"),
            Some('d') => format!("{day:02}"),
            Some('j') => format!("{day_of_year:03}"),
            Some('B') => month_name.to_string(),
            Some('b') => month_name[..3].to_string(),
            Some('A') => weekday.to_string(),
            Some('a') => weekday[..3].to_string(),
            Some('H') => format!("{hour:02}"),
            Some('I') => format!("{:02}", (hour + 11) % 12 + 1),
            Some('M') => format!("{minute:02}"),
            Some('S') => format!("{second:02}"),
            Some('p') => (if hour < 12 { "AM" } else { "PM" }).to_string(),
            Some('%') => "%".to_string(),
            Some(other) => return Err(format!("strftime_now: the directive %{other} is not supported")),
            None => return Err("strftime_now: the format ends in a lone %".to_string()),
        };
        out.push_str(&field);
    }
    Ok(out)
}

/// (year, month 1..=12, day 1..=31) of a day counted from 1970-01-01, in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`: eras of 400 years, years starting in March).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// The day count from 1970-01-01 of a date, the inverse of [`civil_from_days`].
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_as_python_does() {
        // Python: datetime.fromtimestamp(t, timezone.utc).strftime(f)
        let cases: &[(i64, &str, &str)] = &[
            (0, "%Y-%m-%d %H:%M:%S %A %j", "1970-01-01 00:00:00 Thursday 001"),
            (1_700_000_000, "%d %b %Y, %I:%M %p (%a)", "14 Nov 2023, 10:13 PM (Tue)"),
            (951_782_400, "%B %d, %Y is day %j", "February 29, 2000 is day 060"),
            (1_735_689_599, "%Y-%m-%d %H:%M:%S %y %%", "2024-12-31 23:59:59 24 %"),
            (-86_400, "%Y-%m-%d %A", "1969-12-31 Wednesday"),
        ];
        for &(t, format, want) in cases {
            assert_eq!(strftime(format, t).unwrap(), want, "{t} formatted as {format:?}");
        }
    }

    #[test]
    fn unsupported_directives_are_named() {
        assert_eq!(strftime("%Q", 0).unwrap_err(), "strftime_now: the directive %Q is not supported");
        assert!(strftime("100%", 0).is_err());
    }

    #[test]
    fn day_counts_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
    }
}
