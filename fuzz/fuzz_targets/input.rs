//! How both targets read a fuzz input.
//!
//! An input is the start of a GGUF file. Its last 8 bytes, little-endian, also say how many bytes
//! the whole file claims to hold beyond the input, so one input stands for a file of any length
//! with only its header present: `parse_prefix(input, claimed_len(input))`. A seed built from a
//! real model is its header (up to the data section) followed by the data section's length minus
//! 8, so it parses as that model whatever its weights.

/// The length of the file the input claims to be the start of: at least the input itself.
pub fn claimed_len(input: &[u8]) -> u64 {
    let extra = match input.len().checked_sub(8) {
        Some(at) => {
            let mut tail = [0u8; 8];
            tail.copy_from_slice(&input[at..]);
            u64::from_le_bytes(tail)
        }
        None => 0,
    };
    (input.len() as u64).saturating_add(extra)
}
