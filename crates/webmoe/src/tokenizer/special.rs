//! Finding special tokens' text in a prompt (`parse_special`).

use std::collections::HashMap;

/// A stretch of a prompt: plain text to tokenize, or the id of a special token written in it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Special(u32),
}

/// The special tokens of a vocabulary, bucketed by first byte, longest first in each bucket, so a
/// scan finds the leftmost-longest match (`<|im_start|>` wins over a shorter token at the same
/// position) in one pass over the text.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpecialMatcher {
    by_first_byte: HashMap<u8, Vec<(String, u32)>>,
}

impl SpecialMatcher {
    pub(crate) fn new(tokens: impl IntoIterator<Item = (String, u32)>) -> Self {
        let mut by_first_byte: HashMap<u8, Vec<(String, u32)>> = HashMap::new();
        for (text, id) in tokens {
            if let Some(&first) = text.as_bytes().first() {
                by_first_byte.entry(first).or_default().push((text, id));
            }
        }
        for bucket in by_first_byte.values_mut() {
            bucket.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        }
        SpecialMatcher { by_first_byte }
    }

    /// Every special token as `(id, text)`.
    pub(crate) fn tokens(&self) -> impl Iterator<Item = (u32, &str)> {
        self.by_first_byte.values().flatten().map(|(text, id)| (*id, text.as_str()))
    }

    /// `text` cut at every occurrence of a special token's text.
    pub(crate) fn split<'a>(&self, text: &'a str) -> Vec<Piece<'a>> {
        let mut pieces = Vec::new();
        let mut text_start = 0;
        let mut pos = 0;
        while pos < text.len() {
            let found = self
                .by_first_byte
                .get(&text.as_bytes()[pos])
                .and_then(|bucket| bucket.iter().find(|(token, _)| text[pos..].starts_with(token.as_str())));
            match found {
                Some((token, id)) => {
                    if text_start < pos {
                        pieces.push(Piece::Text(&text[text_start..pos]));
                    }
                    pieces.push(Piece::Special(*id));
                    pos += token.len();
                    text_start = pos;
                }
                None => pos += text[pos..].chars().next().map_or(1, char::len_utf8),
            }
        }
        if text_start < text.len() {
            pieces.push(Piece::Text(&text[text_start..]));
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_leftmost_longest_and_keeps_text_between() {
        let m =
            SpecialMatcher::new([("<|im_start|>".to_string(), 1), ("<|im".to_string(), 7), ("</s>".to_string(), 2)]);
        assert_eq!(
            m.split("<|im_start|>user\nhé</s></s>x<|i"),
            vec![Piece::Special(1), Piece::Text("user\nhé"), Piece::Special(2), Piece::Special(2), Piece::Text("x<|i"),]
        );
        assert_eq!(m.split(""), vec![]);
        assert_eq!(m.split("日本語"), vec![Piece::Text("日本語")]);
    }
}
