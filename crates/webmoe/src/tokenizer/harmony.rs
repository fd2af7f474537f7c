//! gpt-oss's harmony format, read from the generated ids: which channel each piece of reply text
//! belongs to.
//!
//! A harmony reply is a series of messages, each a header then a body:
//!
//! ```text
//! <|channel|>analysis<|message|>The user asks …<|end|><|start|>assistant<|channel|>final<|message|>Hello!<|return|>
//! ```
//!
//! (a chat prompt ends with `<|start|>assistant`, so the first header is already open; the reader
//! follows the prompt's markers to know). The header
//! names the channel (`analysis` for the chain of thought, `commentary` for tool preambles,
//! `final` for the answer), and may carry a recipient or a `<|constrain|>` type; its words are not
//! reply text. The markers decode to no text, so without this reading a reply would come out as
//! "analysisThe user asks …assistantfinalHello!".

/// The ids of the harmony markers in a vocabulary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HarmonyMarkers {
    pub start: u32,
    pub end: u32,
    pub message: u32,
    pub channel: u32,
    pub constrain: Option<u32>,
}

impl HarmonyMarkers {
    /// The markers among a vocabulary's special tokens, when it has every one a message needs.
    pub(super) fn find<'a>(special_tokens: impl IntoIterator<Item = (u32, &'a str)>) -> Option<HarmonyMarkers> {
        let special: Vec<(u32, &str)> = special_tokens.into_iter().collect();
        let id = |text: &str| special.iter().find(|&&(_, t)| t == text).map(|&(id, _)| id);
        Some(HarmonyMarkers {
            start: id("<|start|>")?,
            end: id("<|end|>")?,
            message: id("<|message|>")?,
            channel: id("<|channel|>")?,
            constrain: id("<|constrain|>"),
        })
    }
}

/// Where the reader is in the message being generated.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    /// The role and recipient, before `<|channel|>`.
    Role,
    /// The channel's name.
    ChannelName,
    /// A `<|constrain|>` type (`json`): part of the header, not text.
    Constraint,
    Body,
    /// After `<|end|>`, until the next `<|start|>`.
    Between,
}

/// Follows the generated ids of a harmony reply; says which text is a message's body and in
/// which channel.
#[derive(Clone, Debug)]
pub struct HarmonyReader {
    markers: HarmonyMarkers,
    part: Part,
    channel: String,
}

impl HarmonyReader {
    /// A reader for a reply to `prompt`: where the prompt's markers leave it (inside the
    /// assistant's header after a chat prompt; in an unnamed body, read as `final`, after text
    /// without markers).
    pub fn new(markers: HarmonyMarkers, prompt: &[u32]) -> HarmonyReader {
        let mut reader = HarmonyReader { markers, part: Part::Body, channel: String::new() };
        for &id in prompt {
            reader.read(id, "");
        }
        reader
    }

    /// The channel of the message whose body is being generated; `final` for a body whose
    /// header named none.
    pub fn channel(&self) -> &str {
        if self.channel.is_empty() {
            "final"
        } else {
            &self.channel
        }
    }

    /// Whether `id` is a marker that closes the body being generated (so text held back from
    /// it must be given out with its channel now).
    pub fn closes_body(&self, id: u32) -> bool {
        let m = &self.markers;
        self.part == Part::Body && [m.end, m.start, m.channel].contains(&id)
    }

    /// Reads one generated id and the text it decoded to; returns the part of `text` that is
    /// reply text (a body's), the rest being header words or nothing.
    pub fn read<'t>(&mut self, id: u32, text: &'t str) -> &'t str {
        let m = self.markers;
        if id == m.start {
            self.part = Part::Role;
            self.channel.clear();
        } else if id == m.channel {
            self.part = Part::ChannelName;
            self.channel.clear();
        } else if Some(id) == m.constrain {
            self.part = Part::Constraint;
        } else if id == m.message {
            // A recipient (` to=functions.x`) can follow the name: the name is the first word.
            self.channel = self.channel.split_whitespace().next().unwrap_or_default().to_string();
            self.part = Part::Body;
        } else if id == m.end {
            self.part = Part::Between;
        } else {
            match self.part {
                Part::Body => return text,
                Part::ChannelName => self.channel.push_str(text),
                _ => {}
            }
        }
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKERS: HarmonyMarkers = HarmonyMarkers { start: 1, end: 2, message: 3, channel: 4, constrain: Some(5) };

    /// Feeds (id, text) pairs; returns the body text of each channel in order.
    fn read(ids: &[(u32, &str)]) -> Vec<(String, String)> {
        // The prompt ended `<|start|>assistant`.
        let mut r = HarmonyReader::new(MARKERS, &[1, 20]);
        let mut out: Vec<(String, String)> = Vec::new();
        for &(id, text) in ids {
            let body = r.read(id, text);
            if body.is_empty() {
                continue;
            }
            match out.last_mut() {
                Some((channel, t)) if channel == r.channel() => t.push_str(body),
                _ => out.push((r.channel().to_string(), body.to_string())),
            }
        }
        out
    }

    #[test]
    fn analysis_then_final() {
        let ids = [
            (4, ""),
            (10, "analysis"),
            (3, ""),
            (11, "The user"),
            (12, " greets."),
            (2, ""),
            (1, ""),
            (13, "assistant"),
            (4, ""),
            (14, "final"),
            (3, ""),
            (15, "Hello!"),
        ];
        let got = read(&ids);
        assert_eq!(got, [("analysis".to_string(), "The user greets.".to_string()), ("final".to_string(), "Hello!".to_string())]);
    }

    #[test]
    fn header_words_recipients_and_constraints_are_not_text() {
        // <|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city":"Oslo"}
        let ids = [(4, ""), (10, "comment"), (11, "ary"), (12, " to"), (13, "=functions.get_weather"), (5, ""), (14, "json"), (3, ""), (15, "{\"city\":\"Oslo\"}")];
        assert_eq!(read(&ids), [("commentary".to_string(), "{\"city\":\"Oslo\"}".to_string())]);
    }

    #[test]
    fn a_body_without_a_channel_is_final_and_closing_markers_are_known() {
        let mut r = HarmonyReader::new(MARKERS, &[1, 20]);
        assert_eq!(r.read(20, "assistant"), "");
        assert_eq!(r.read(3, ""), "");
        assert_eq!(r.read(9, "Hi"), "Hi");
        assert_eq!(r.channel(), "final");
        assert!(r.closes_body(2) && r.closes_body(1) && r.closes_body(4) && !r.closes_body(9));
        r.read(2, "");
        assert!(!r.closes_body(2));
        // Text between messages is not reply text.
        assert_eq!(r.read(9, "stray"), "");
    }

    #[test]
    fn a_prompt_without_markers_leaves_the_reply_as_text() {
        let mut r = HarmonyReader::new(MARKERS, &[20, 21, 22]);
        assert_eq!(r.read(23, "Once upon"), "Once upon");
        assert_eq!(r.channel(), "final");
        // A prompt that opened the final message itself.
        let mut r = HarmonyReader::new(MARKERS, &[1, 20, 4, 21, 3]);
        assert_eq!(r.read(23, "Sure"), "Sure");
    }

    #[test]
    fn markers_are_found_among_special_tokens() {
        let specials = [(503, "<|startoftext|>"), (507, "<|channel|>"), (508, "<|start|>"), (509, "<|end|>"), (510, "<|message|>"), (506, "<|constrain|>")];
        assert_eq!(HarmonyMarkers::find(specials), Some(HarmonyMarkers { start: 508, end: 509, message: 510, channel: 507, constrain: Some(506) }));
        assert_eq!(HarmonyMarkers::find([(1, "<|im_start|>"), (2, "<|im_end|>")]), None);
    }
}
