//! `--partition K/N`: one CI job's share of the selected scenarios.
//!
//! Like nextest's `--partition count:K/N`, the selection (in id order, after the globs) is dealt
//! round-robin: the scenario at position `i` (from 0) belongs to partition `i mod N + 1`. So the
//! N partitions are disjoint, together they are the whole selection, and each is fixed by the
//! selection alone, whatever the machine, the order of the files or the seed. `count:K/N` is
//! accepted too.

use std::str::FromStr;

/// Partition `index` of `count`, from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    index: usize,
    count: usize,
}

impl Partition {
    /// The items of `all` that belong to this partition, in their order.
    pub fn take<T>(self, all: Vec<T>) -> Vec<T> {
        all.into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count + 1 == self.index)
            .map(|(_, item)| item)
            .collect()
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Partition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let spec = text.strip_prefix("count:").unwrap_or(text);
        let bad = || format!("--partition {text:?}: expected K/N with 1 ≤ K ≤ N, e.g. 2/3");
        let (k, n) = spec.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_disjoint_and_cover_the_selection() {
        let all: Vec<u32> = (0..10).collect();
        let parts: Vec<Vec<u32>> = (1..=3)
            .map(|k| {
                format!("{k}/3")
                    .parse::<Partition>()
                    .unwrap()
                    .take(all.clone())
            })
            .collect();
        assert_eq!(parts[0], [0, 3, 6, 9]);
        assert_eq!(parts[1], [1, 4, 7]);
        assert_eq!(parts[2], [2, 5, 8]);
        let mut union: Vec<u32> = parts.concat();
        union.sort_unstable();
        assert_eq!(union, all);
        let one: Partition = "count:1/1".parse().unwrap();
        assert_eq!(one.take(all.clone()), all);
        assert_eq!(one.to_string(), "1/1");
    }

    #[test]
    fn bad_partitions_are_refused() {
        for bad in [
            "", "3", "0/3", "4/3", "1/0", "a/3", "1/3/4", "hash:1/3", "-1/3",
        ] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
