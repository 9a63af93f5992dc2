//! Server CPU time read from `/proc/<pid>/stat`: the user and system time of a process and of
//! every process below it, so a server that forks (Dovecot) is measured whole.

use std::collections::HashMap;
use std::time::Duration;

/// Clock ticks per second of the `/proc` times (`getconf CLK_TCK`; 100 on every Linux
/// architecture that does not say otherwise).
fn ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|t| *t > 0.0)
            .unwrap_or(100.0)
    })
}

/// `(ppid, ticks)` of one process: utime + stime + cutime + cstime (proc(5) fields 14–17).
/// The children's times count the children that exited and were reaped, so CPU spent by a
/// short-lived worker (a Dovecot imap process after LOGOUT) is not lost.
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): field n is at index n - 3.
    let ppid = fields.get(1)?.parse().ok()?;
    let ticks = (11..=14)
        .filter_map(|i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    Some((ppid, ticks))
}

/// CPU time of the process `pid` alone: utime + stime, without its children (the bench's own
/// process is the parent of the servers it measures).
pub fn cpu_of_process(pid: u32) -> Duration {
    let ticks = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|text| {
            let rest = text.get(text.rfind(')')? + 2..)?.to_owned();
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(
                (11..=12)
                    .filter_map(|i| fields.get(i)?.parse::<u64>().ok())
                    .sum::<u64>(),
            )
        })
        .unwrap_or(0);
    Duration::from_secs_f64(ticks as f64 / ticks_per_second())
}

/// CPU time of `roots` and all their descendants.
pub fn cpu_of_trees(roots: &[u32]) -> Duration {
    let mut parent_of: HashMap<u32, (u32, u64)> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            if let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok())
                && let Some(s) = stat(pid)
            {
                parent_of.insert(pid, s);
            }
        }
    }
    let mut ticks = 0u64;
    for (&pid, &(_, t)) in &parent_of {
        // Walk up to init: counted when a root is on the way (or is the process itself).
        let mut at = pid;
        for _ in 0..64 {
            if roots.contains(&at) {
                ticks += t;
                break;
            }
            match parent_of.get(&at) {
                Some(&(ppid, _)) if ppid != 0 && ppid != at => at = ppid,
                _ => break,
            }
        }
    }
    Duration::from_secs_f64(ticks as f64 / ticks_per_second())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_process_shows_cpu_time_and_a_missing_one_none() {
        let me = std::process::id();
        let before = cpu_of_trees(&[me]);
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let after = cpu_of_trees(&[me]);
        assert!(after > before, "{before:?} → {after:?}");
        assert!(cpu_of_process(me) > Duration::ZERO);
        assert_eq!(cpu_of_trees(&[u32::MAX]), Duration::ZERO);
    }
}
