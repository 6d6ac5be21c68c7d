//! Words for numbers in messages: "1 snapshot", "2 snapshots".

/// `n` things in English: "1 snapshot", "0 snapshots", "2 directories", "3 index files".
pub fn count(n: impl TryInto<u64>, noun: &str) -> String {
    let n: u64 = n.try_into().unwrap_or(u64::MAX);
    if n == 1 {
        return format!("1 {noun}");
    }
    let consonant_y = noun.strip_suffix('y').filter(|stem| !stem.ends_with(['a', 'e', 'i', 'o', 'u']));
    match consonant_y {
        Some(stem) => format!("{n} {stem}ies"),
        None if noun.ends_with(['s', 'x']) || noun.ends_with("ch") || noun.ends_with("sh") => format!("{n} {noun}es"),
        None => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_singular_for_one_and_plural_otherwise() {
        assert_eq!(count(1u64, "snapshot"), "1 snapshot");
        assert_eq!(count(0u64, "snapshot"), "0 snapshots");
        assert_eq!(count(2u64, "directory"), "2 directories");
        assert_eq!(count(2u64, "key"), "2 keys");
        assert_eq!(count(3u64, "index file"), "3 index files");
        assert_eq!(count(2u64, "match"), "2 matches");
        assert_eq!(count(1u64, "entry"), "1 entry");
    }
}
